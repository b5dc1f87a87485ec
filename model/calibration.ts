/**
 * Checking and fitting word confidence (model/confidence.ts) against references: which hypothesis words are
 * right, the expected calibration error (ECE), and the Platt-scaling map fitted on a dev split. Fitting on the set
 * that is then scored would make the ECE meaningless, so callers fit on a dev split and score on the test split.
 */

import { type ConfidenceCalibration, IDENTITY_CALIBRATION } from "./confidence.ts";

/**
 * For each hypothesis word, whether a minimum-edit alignment with the reference words matches it to an equal
 * word (among alignments of equal cost, matches are preferred, then substitutions, deletions, insertions).
 */
export function wordCorrectness(reference: readonly string[], hypothesis: readonly string[]): boolean[] {
  const n = reference.length, m = hypothesis.length;
  const w = m + 1;
  const cost = new Int32Array((n + 1) * w);
  for (let j = 0; j <= m; j++) cost[j] = j;
  for (let i = 1; i <= n; i++) {
    cost[i * w] = i;
    for (let j = 1; j <= m; j++) {
      const diag = cost[(i - 1) * w + j - 1] + (reference[i - 1] === hypothesis[j - 1] ? 0 : 1);
      cost[i * w + j] = Math.min(diag, cost[(i - 1) * w + j] + 1, cost[i * w + j - 1] + 1);
    }
  }
  const right = new Array<boolean>(m).fill(false);
  let i = n, j = m;
  while (i > 0 && j > 0) {
    const here = cost[i * w + j];
    const same = reference[i - 1] === hypothesis[j - 1];
    if (here === cost[(i - 1) * w + j - 1] + (same ? 0 : 1)) {
      right[j - 1] = same;
      i--;
      j--;
    } else if (here === cost[(i - 1) * w + j] + 1) i--;
    else j--;
  }
  return right;
}

/**
 * Expected calibration error: confidences put in `bins` equal-width bins over [0, 1]; the mean over words of
 * |accuracy of the word's bin - mean confidence of its bin|. NaN for no words.
 */
export function expectedCalibrationError(
  confidence: ArrayLike<number>,
  correct: ArrayLike<boolean>,
  bins = 10,
): number {
  if (confidence.length !== correct.length) {
    throw new RangeError(`${confidence.length} confidences but ${correct.length} correctness flags`);
  }
  const n = confidence.length;
  if (n === 0) return NaN;
  const count = new Float64Array(bins), sumConf = new Float64Array(bins), sumRight = new Float64Array(bins);
  for (let k = 0; k < n; k++) {
    const p = confidence[k];
    if (!(p >= 0 && p <= 1)) throw new RangeError(`confidence ${p} at ${k} is outside [0, 1]`);
    const b = Math.min(bins - 1, Math.floor(p * bins));
    count[b]++;
    sumConf[b] += p;
    if (correct[k]) sumRight[b]++;
  }
  let ece = 0;
  for (let b = 0; b < bins; b++) if (count[b] > 0) ece += Math.abs(sumRight[b] - sumConf[b]) / n;
  return ece;
}

/**
 * Logistic regression of correctness on the log-odds `z` of the current confidences: the (slope, offset) that
 * maximise the likelihood of sigmoid(slope * z + offset), by Newton's method in Float64. The targets are Platt's
 * smoothed labels ((right + 1) / (right + 2) and 1 / (wrong + 2)), so a set with no errors still gives a finite
 * map; each Newton step is halved until the loss goes down. Returns the map from the same raw values: composed with `current`, the calibration that produced `z`.
 */
export function fitCalibration(
  z: ArrayLike<number>,
  correct: ArrayLike<boolean>,
  current: ConfidenceCalibration = IDENTITY_CALIBRATION,
): ConfidenceCalibration {
  const n = z.length;
  if (n !== correct.length) throw new RangeError(`${n} log-odds but ${correct.length} correctness flags`);
  if (n === 0) return current;
  let right = 0;
  for (let k = 0; k < n; k++) if (correct[k]) right++;
  const hi = (right + 1) / (right + 2), lo = 1 / (n - right + 2);
  const target = (k: number) => (correct[k] ? hi : lo);
  // Negative log-likelihood (cross-entropy against the smoothed targets) of the map (a, b).
  const loss = (a: number, b: number) => {
    let sum = 0;
    for (let k = 0; k < n; k++) {
      const u = a * z[k] + b, y = target(k);
      // -[y ln s(u) + (1 - y) ln(1 - s(u))] = softplus(u) - y u, computed without overflow.
      sum += (u > 0 ? u + Math.log1p(Math.exp(-u)) : Math.log1p(Math.exp(u))) - y * u;
    }
    return sum;
  };
  let a = 1, b = 0, currentLoss = loss(a, b);
  for (let iter = 0; iter < 100; iter++) {
    let ga = 0, gb = 0, haa = 0, hab = 0, hbb = 0;
    for (let k = 0; k < n; k++) {
      const x = z[k];
      const p = 1 / (1 + Math.exp(-(a * x + b)));
      const d = p - target(k);
      const v = p * (1 - p);
      ga += d * x;
      gb += d;
      haa += v * x * x;
      hab += v * x;
      hbb += v;
    }
    // A small ridge keeps the step defined when every z is equal or every p saturates.
    haa += 1e-9 * n;
    hbb += 1e-9 * n;
    const det = haa * hbb - hab * hab;
    let da = (hbb * ga - hab * gb) / det, db = (haa * gb - hab * ga) / det;
    // Newton can overshoot far from the optimum: halve the step until the loss goes down.
    let next = loss(a - da, b - db);
    for (let halving = 0; halving < 50 && !(next <= currentLoss); halving++) {
      da /= 2;
      db /= 2;
      next = loss(a - da, b - db);
    }
    if (!(next <= currentLoss)) break;
    a -= da;
    b -= db;
    currentLoss = next;
    if (Math.abs(da) < 1e-10 && Math.abs(db) < 1e-10) break;
  }
  return { slope: a * current.slope, offset: a * current.offset + b };
}

/** Log-odds of a probability, clamped to +-30 like the decoders' confidences. */
export function logit(p: number): number {
  const z = Math.log(p) - Math.log1p(-p);
  return Math.max(-30, Math.min(30, z));
}

/** How well word confidences match correctness over a set of utterances. */
export interface ConfidenceSummary {
  /** Expected calibration error over 10 bins. */
  ece: number;
  words: number;
  /** Fraction of hypothesis words that are right. */
  accuracy: number;
  meanConfidence: number;
  /** The calibration fitted on this set (composed with the one used): to be applied on another set. */
  fitted: ConfidenceCalibration;
}

/**
 * Scores the words of each hypothesis against its reference (words split at spaces). Words without a
 * probability are an error: every decoder fills it.
 */
export function confidenceSummary(
  references: readonly string[],
  hypotheses: readonly { words: readonly { word: string; probability?: number }[] }[],
  current: ConfidenceCalibration = IDENTITY_CALIBRATION,
): ConfidenceSummary {
  const confidence: number[] = [];
  const correct: boolean[] = [];
  hypotheses.forEach((h, u) => {
    const ref = references[u].split(" ").filter((w) => w !== "");
    const right = wordCorrectness(ref, h.words.map((w) => w.word));
    h.words.forEach((w, k) => {
      if (w.probability === undefined) throw new Error(`utterance ${u}: word ${k} has no confidence`);
      confidence.push(w.probability);
      correct.push(right[k]);
    });
  });
  const n = confidence.length;
  let sum = 0, nRight = 0;
  for (let k = 0; k < n; k++) {
    sum += confidence[k];
    if (correct[k]) nRight++;
  }
  return {
    ece: expectedCalibrationError(confidence, correct),
    words: n,
    accuracy: n > 0 ? nRight / n : NaN,
    meanConfidence: n > 0 ? sum / n : NaN,
    fitted: fitCalibration(confidence.map(logit), correct, current),
  };
}
