/**
 * CTC forced alignment: the single most probable way a known label sequence lies over a recording's frames
 * (the Viterbi path through the CTC topology), from which words and characters get their times.
 *
 * The topology is the one the CTC loss sums over: 2L + 1 states for L labels, a blank before, between and after
 * the labels. From a state a path may stay, advance to the next state, or skip the blank between two labels when
 * they differ (two equal labels in a row need a blank between them, or they would collapse into one). A path
 * starts in the first blank or the first label and ends in the last label or the blank after it.
 *
 * Scores are summed in float64 from the float32 log-probabilities. The back-pointers are one byte per frame and
 * state (how far the best predecessor was: 0 stay, 1 advance, 2 skip), so aligning T frames keeps
 * T x (2L + 1) bytes: 10 minutes of speech (24,000 frames) with 9,000 characters is 432 MB, hence the limit.
 */

/** The most back-pointer memory an alignment takes unless told otherwise: 512 MiB. */
export const DEFAULT_MAX_ALIGNMENT_BYTES = 512 * 2 ** 20;

/** A byte count as the errors give it: MiB when it is at least one, else bytes. */
export function describeBytes(bytes: number): string {
  return bytes >= 2 ** 20 ? `${(bytes / 2 ** 20).toFixed(0)} MiB` : `${bytes} bytes`;
}

/** A label sequence that cannot be aligned to the given frames; the message says why, with the numbers. */
export class AlignmentError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "AlignmentError";
  }
}

export interface CtcAlignment {
  /** The first frame of each label of the target. */
  starts: Int32Array;
  /** One past the last frame of each label. */
  ends: Int32Array;
  /** The class the best path takes at each frame (a label's class, or the blank). */
  path: Int32Array;
  /** The state of the best path at each frame: 2k + 1 for label k, even for the blanks. */
  states: Int32Array;
  /** The best path's log-probability. */
  logProb: number;
}

export interface CtcViterbiOptions {
  /** The limit on T x (2L + 1) back-pointer bytes (default {@link DEFAULT_MAX_ALIGNMENT_BYTES}). */
  maxBytes?: number;
}

/** Frames a label sequence needs at least: one per label, plus a blank between each pair of equal neighbours. */
export function minimumFrames(labels: ArrayLike<number>): number {
  let frames = labels.length;
  for (let i = 1; i < labels.length; i++) if (labels[i] === labels[i - 1]) frames++;
  return frames;
}

function repeatsOf(labels: ArrayLike<number>): number {
  return minimumFrames(labels) - labels.length;
}

function checkInputs(
  logProbs: ArrayLike<number>,
  frames: number,
  nClass: number,
  labels: ArrayLike<number>,
  blank: number,
  maxBytes: number,
): void {
  if (!Number.isInteger(frames) || frames < 0) throw new RangeError(`ctcViterbi: ${frames} frames`);
  if (!Number.isInteger(blank) || blank < 0 || blank >= nClass) {
    throw new RangeError(`ctcViterbi: blank ${blank} is not one of the ${nClass} classes`);
  }
  if (logProbs.length < frames * nClass) {
    throw new RangeError(
      `ctcViterbi: ${logProbs.length} values cannot hold ${frames} frames x ${nClass} classes`,
    );
  }
  for (let i = 0; i < labels.length; i++) {
    const c = labels[i];
    if (!Number.isInteger(c) || c < 0 || c >= nClass || c === blank) {
      throw new RangeError(
        `ctcViterbi: label ${c} at index ${i} is not a non-blank class (0..${nClass - 1})`,
      );
    }
  }
  const needed = minimumFrames(labels);
  if (needed > frames) {
    throw new AlignmentError(
      `the text needs at least ${needed} frames (${labels.length} characters + ${repeatsOf(labels)} blanks ` +
        `between repeated ones) but the audio has only ${frames}`,
    );
  }
  const bytes = frames * (2 * labels.length + 1);
  if (bytes > maxBytes) {
    throw new AlignmentError(
      `aligning ${labels.length} characters to ${frames} frames needs ${frames} x ${
        2 * labels.length + 1
      } = ` +
        `${describeBytes(bytes)} of back-pointers, over the limit of ${describeBytes(maxBytes)}: ` +
        `split the recording and its text`,
    );
  }
}

/**
 * The Viterbi alignment of `labels` (class ids, no blanks) to `frames` rows of `nClass` log-probabilities.
 * Throws {@link AlignmentError} when the labels cannot fit the frames, the back-pointers would exceed the limit,
 * or no path has a finite probability.
 */
export function ctcViterbi(
  logProbs: ArrayLike<number>,
  frames: number,
  nClass: number,
  labels: ArrayLike<number>,
  blank: number,
  opts: CtcViterbiOptions = {},
): CtcAlignment {
  checkInputs(logProbs, frames, nClass, labels, blank, opts.maxBytes ?? DEFAULT_MAX_ALIGNMENT_BYTES);
  const L = labels.length;
  const S = 2 * L + 1;
  const classOf = new Int32Array(S).fill(blank);
  // A label state may skip the blank before it when the label two states back differs.
  const canSkip = new Uint8Array(S);
  for (let k = 0; k < L; k++) {
    classOf[2 * k + 1] = labels[k];
    canSkip[2 * k + 1] = k > 0 && labels[k] !== labels[k - 1] ? 1 : 0;
  }
  const back = new Uint8Array(frames * S);
  let prev = new Float64Array(S).fill(-Infinity);
  let cur = new Float64Array(S);
  if (frames > 0) {
    prev[0] = logProbs[blank];
    if (S > 1) prev[1] = logProbs[classOf[1]];
  }
  for (let t = 1; t < frames; t++) {
    const row = t * nClass;
    const at = t * S;
    // States beyond 2t + 1 cannot be reached yet, nor can states from which the end is out of reach.
    const last = Math.min(S - 1, 2 * t + 1);
    const first = Math.max(0, S - 2 * (frames - t) - 1);
    for (let s = 0; s < first; s++) cur[s] = -Infinity;
    for (let s = first; s <= last; s++) {
      let best = prev[s];
      let step = 0;
      if (s >= 1 && prev[s - 1] > best) {
        best = prev[s - 1];
        step = 1;
      }
      if (canSkip[s] === 1 && prev[s - 2] > best) {
        best = prev[s - 2];
        step = 2;
      }
      cur[s] = best + logProbs[row + classOf[s]];
      back[at + s] = step;
    }
    for (let s = last + 1; s < S; s++) cur[s] = -Infinity;
    [prev, cur] = [cur, prev];
  }
  let end = S - 1;
  if (S > 1 && prev[S - 2] > prev[S - 1]) end = S - 2;
  const logProb = frames > 0 ? prev[end] : L === 0 ? 0 : -Infinity;
  if (!(logProb > -Infinity)) {
    throw new AlignmentError(
      `no alignment of the ${L} characters to the ${frames} frames has a finite probability`,
    );
  }
  return backtrack(back, frames, S, end, classOf, L, logProb);
}

function backtrack(
  back: Uint8Array,
  frames: number,
  S: number,
  end: number,
  classOf: Int32Array,
  L: number,
  logProb: number,
): CtcAlignment {
  const states = new Int32Array(frames);
  const path = new Int32Array(frames);
  const starts = new Int32Array(L);
  const ends = new Int32Array(L);
  let s = end;
  for (let t = frames - 1; t >= 0; t--) {
    states[t] = s;
    path[t] = classOf[s];
    if (s % 2 === 1) {
      const k = (s - 1) / 2;
      if (ends[k] === 0) ends[k] = t + 1;
      starts[k] = t;
    }
    s -= back[t * S + s];
  }
  return { starts, ends, path, states, logProb };
}
