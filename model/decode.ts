/**
 * CTC decoding of the recognizer's output: greedy (the tutorial's GreedyDecoder) and the public entry points that
 * pick greedy or prefix beam search (model/beam_search.ts) for a batch.
 *
 * Input layout: log-probabilities (log_softmax over the alphabet's classes, default the tutorial's 29), row-major
 * (time x classes) for one utterance or (batch x time x classes) for a batch, with a valid length per utterance.
 * Every word comes with a confidence (model/confidence.ts).
 */

import { type Alphabet, TUTORIAL_ALPHABET } from "../data/alphabet.ts";
import { intsToText } from "../data/text.ts";
import { type BeamSearchOptions, ctcBeamSearch } from "./beam_search.ts";
import type { ConfidenceCalibration } from "./confidence.ts";
import { type WordTiming, wordTimings } from "./word_timestamps.ts";

/** What greedy decoding needs besides the log-probabilities. */
export interface GreedyOptions {
  /** The model's classes (default the tutorial's 29). */
  alphabet?: Alphabet;
  /** Raw-to-calibrated word confidence map (default the identity). */
  calibration?: ConfidenceCalibration;
}

/** A decoded utterance: the text, the class ids emitted and where each was emitted. */
export interface DecodedText {
  text: string;
  /** Class ids of the characters of `text`, in order. */
  labels: Int32Array;
  /** Frame at which each character was first emitted. */
  startFrames: Int32Array;
  /** Last frame of each character (greedy: the end of its run of frames; beam search: equal to the start). */
  endFrames: Int32Array;
  /** Words split at spaces, with their first and last frames and their confidence. */
  words: WordTiming[];
  /** Natural-log evidence of each character: its highest posterior over its frames (model/confidence.ts). */
  characterLogConfidence: Float64Array;
}

function checkShape(what: string, logProbs: Float32Array, time: number, validLength: number, nClass: number) {
  if (!Number.isInteger(time) || time < 0) {
    throw new RangeError(`${what}: time ${time} is not a whole number >= 0`);
  }
  if (logProbs.length < time * nClass) {
    throw new RangeError(`${what}: ${logProbs.length} values cannot hold ${time} frames x ${nClass} classes`);
  }
  if (!Number.isInteger(validLength) || validLength < 0 || validLength > time) {
    throw new RangeError(`${what}: valid length ${validLength} is outside 0..${time}`);
  }
}

/**
 * Greedy CTC decoding fed frame by frame (a long recording window after window): the argmax class of each frame
 * (the first on ties, like torch.argmax), repeats collapsed, blanks dropped. The last frame's class carries over
 * between pushes, so decoding in pieces gives exactly what decoding the concatenation would. Each character's
 * confidence evidence is the highest log-posterior over its run of frames.
 */
export class GreedyDecoder {
  private labels: number[] = [];
  private starts: number[] = [];
  private ends: number[] = [];
  private evidence: number[] = [];
  private previous = -1;
  /** Frames pushed so far (the whole-recording index of the next frame). */
  frames = 0;
  readonly alphabet: Alphabet;
  readonly calibration: ConfidenceCalibration | undefined;

  constructor(options: GreedyOptions = {}) {
    this.alphabet = options.alphabet ?? TUTORIAL_ALPHABET;
    this.calibration = options.calibration;
  }

  /** Decodes `count` frames of the alphabet's `size` values each, starting at `offset` of `logProbs`. */
  push(logProbs: Float32Array, count: number, offset = 0): void {
    const nClass = this.alphabet.size, blank = this.alphabet.blank;
    for (let t = 0; t < count; t++, this.frames++) {
      const row = offset + t * nClass;
      let best = 0;
      let bestValue = logProbs[row];
      for (let c = 1; c < nClass; c++) {
        const v = logProbs[row + c];
        // NaN never wins, so a NaN row decodes as its first finite maximum (class 0 if all are NaN).
        if (v > bestValue || (bestValue !== bestValue && v === v)) {
          bestValue = v;
          best = c;
        }
      }
      if (best !== blank) {
        if (best === this.previous) {
          const last = this.ends.length - 1;
          this.ends[last] = this.frames;
          if (bestValue > this.evidence[last]) this.evidence[last] = bestValue;
        } else {
          this.labels.push(best);
          this.starts.push(this.frames);
          this.ends.push(this.frames);
          this.evidence.push(bestValue);
        }
      }
      this.previous = best;
    }
  }

  /** The text so far, with each character's and word's frames. */
  result(): DecodedText {
    const l = Int32Array.from(this.labels);
    const s = Int32Array.from(this.starts);
    const e = Int32Array.from(this.ends);
    const evidence = Float64Array.from(this.evidence);
    const words = wordTimings(l, s, e, {
      alphabet: this.alphabet,
      characterLogConfidence: evidence,
      calibration: this.calibration,
    });
    return {
      text: intsToText(l, this.alphabet),
      labels: l,
      startFrames: s,
      endFrames: e,
      words,
      characterLogConfidence: evidence,
    };
  }
}

/**
 * Greedy CTC decoding of one utterance, as the tutorial's GreedyDecoder but within the valid length.
 * `logProbs` holds `time` rows of the alphabet's `size` values starting at `offset`.
 */
export function greedyDecode(
  logProbs: Float32Array,
  time: number,
  validLength: number = time,
  offset = 0,
  options: GreedyOptions = {},
): DecodedText {
  checkShape(
    "greedyDecode",
    logProbs.subarray(offset),
    time,
    validLength,
    (options.alphabet ?? TUTORIAL_ALPHABET).size,
  );
  const d = new GreedyDecoder(options);
  d.push(logProbs, validLength, offset);
  return d.result();
}

/** How to decode: greedy, or beam search with its options (and an optional language model). */
export type DecodeOptions = ({ method: "greedy" } & GreedyOptions) | ({ method: "beam" } & BeamSearchOptions);

/**
 * Decodes one utterance with greedy or beam search. Beam search returns its best hypothesis; call
 * `ctcBeamSearch` directly for the n-best list and scores.
 */
export function decodeUtterance(
  logProbs: Float32Array,
  time: number,
  validLength: number = time,
  options: DecodeOptions = { method: "greedy" },
): DecodedText {
  if (options.method === "greedy") return greedyDecode(logProbs, time, validLength, 0, options);
  const best = ctcBeamSearch(logProbs, time, validLength, { ...options, nBest: 1 })[0];
  return {
    text: best.text,
    labels: best.labels,
    startFrames: best.frames,
    endFrames: best.frames,
    words: best.words,
    characterLogConfidence: best.characterLogConfidence,
  };
}

/**
 * Decodes a batch laid out (batch x time x classes), each utterance within its valid length.
 */
export function decodeBatch(
  logProbs: Float32Array,
  batch: number,
  time: number,
  validLengths: ArrayLike<number>,
  options: DecodeOptions = { method: "greedy" },
): DecodedText[] {
  if (validLengths.length !== batch) {
    throw new RangeError(`decodeBatch: ${validLengths.length} valid lengths for a batch of ${batch}`);
  }
  const nClass = (options.alphabet ?? TUTORIAL_ALPHABET).size;
  if (logProbs.length !== batch * time * nClass) {
    throw new RangeError(
      `decodeBatch: ${logProbs.length} values, expected ${batch} x ${time} x ${nClass} = ${
        batch * time * nClass
      }`,
    );
  }
  const out: DecodedText[] = [];
  for (let b = 0; b < batch; b++) {
    const one = logProbs.subarray(b * time * nClass, (b + 1) * time * nClass);
    out.push(decodeUtterance(one, time, validLengths[b], options));
  }
  return out;
}
