/**
 * Word confidence from the acoustic model's frame posteriors, for greedy and beam-search hypotheses alike.
 *
 * A character's evidence is the highest posterior its label reaches over the frames the best CTC path gives it
 * (greedy: its run of argmax frames; a beam hypothesis: from the frame its prefix was first kept to the next
 * label's, see spanLogConfidence). A word's raw confidence is the geometric mean of its characters' evidence;
 * a two-parameter logistic map on the raw value's log-odds (Platt scaling, fitted on a dev split by
 * model/calibration.ts) turns it into a calibrated probability.
 */

/**
 * The mapping raw -> sigmoid(slope * logit(raw) + offset). The identity (slope 1, offset 0) leaves the raw value
 * as it is.
 */
export interface ConfidenceCalibration {
  slope: number;
  offset: number;
}

export const IDENTITY_CALIBRATION: ConfidenceCalibration = Object.freeze({ slope: 1, offset: 0 });

/** Log-odds are clamped to this magnitude, so a posterior of exactly 0 or 1 still maps to a finite value. */
const MAX_LOGIT = 30;

/** ln(p / (1 - p)) of a probability given by its natural log, clamped to +-30. */
export function logitOfLog(logP: number): number {
  if (!(logP < 0)) return logP === 0 ? MAX_LOGIT : -MAX_LOGIT; // 0 (p = 1) or NaN.
  // ln(1 - p) = log1p(-exp(logP)) is exact for small p; for p near 1 use log(-expm1(logP)).
  const log1mP = logP > -Math.LN2 ? Math.log(-Math.expm1(logP)) : Math.log1p(-Math.exp(logP));
  return Math.max(-MAX_LOGIT, Math.min(MAX_LOGIT, logP - log1mP));
}

/** The calibrated probability of a word whose raw confidence has log-odds `logit`. */
export function calibrate(logit: number, c: ConfidenceCalibration = IDENTITY_CALIBRATION): number {
  const z = c.slope * logit + c.offset;
  return z >= 0 ? 1 / (1 + Math.exp(-z)) : Math.exp(z) / (1 + Math.exp(z));
}

/** Raw log-odds of a word from the natural-log evidence of its characters [from, to). */
export function wordLogit(characterLogConfidence: ArrayLike<number>, from: number, to: number): number {
  let sum = 0;
  for (let i = from; i < to; i++) sum += characterLogConfidence[i];
  return logitOfLog(to > from ? sum / (to - from) : 0);
}

/**
 * Parses "SLOPE,OFFSET" (e.g. from a flag); throws an Error saying what is wrong.
 */
export function parseCalibration(text: string): ConfidenceCalibration {
  const parts = text.split(",").map((s) => s.trim());
  const nums = parts.map((s) => (s === "" ? NaN : Number(s)));
  if (parts.length !== 2 || !nums.every(Number.isFinite)) {
    throw new Error(`expected SLOPE,OFFSET (two finite numbers, e.g. 1.2,0.3), got "${text}"`);
  }
  return { slope: nums[0], offset: nums[1] };
}

/** "SLOPE,OFFSET" with enough digits to reproduce the mapping. */
export function formatCalibration(c: ConfidenceCalibration): string {
  return `${Number(c.slope.toPrecision(6))},${Number(c.offset.toPrecision(6))}`;
}

/**
 * Character evidence of a beam-search hypothesis: for label i, emitted first at frame `frames[i]`, the highest
 * log-posterior of that label from there until the next label's first frame (the last label: until
 * `validLength`). The best path spends the label's frames in that span, so this is its peak there. O(frames).
 */
export function spanLogConfidence(
  logProbs: Float32Array,
  labels: ArrayLike<number>,
  frames: ArrayLike<number>,
  validLength: number,
  nClass: number,
  offset = 0,
): Float64Array {
  const out = new Float64Array(labels.length);
  for (let i = 0; i < labels.length; i++) {
    const from = frames[i];
    const to = i + 1 < labels.length ? Math.max(frames[i + 1], from + 1) : validLength;
    let best = -Infinity;
    for (let t = from; t < to; t++) {
      const v = logProbs[offset + t * nClass + labels[i]];
      if (v > best) best = v;
    }
    out[i] = best;
  }
  return out;
}
