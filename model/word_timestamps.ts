/**
 * Word timings from the frame positions of the characters a CTC decoder emitted.
 *
 * Our model's output frames are 2 * 200 / 16000 s = 25 ms apart: the spectrogram hop is 200 samples at 16 kHz and
 * the first ResCNN layer has stride 2.
 */

import { type Alphabet, TUTORIAL_ALPHABET } from "../data/alphabet.ts";
import { calibrate, type ConfidenceCalibration, IDENTITY_CALIBRATION, wordLogit } from "./confidence.ts";

/** Seconds between two output frames of our recognizer. */
export const FRAME_HOP_SECONDS = (2 * 200) / 16000;

/** One word with the frames of its first and last character (both inclusive). */
export interface WordTiming {
  word: string;
  startFrame: number;
  endFrame: number;
  /** Confidence in [0, 1] that the word is right (model/confidence.ts), when the decoder computed it. */
  probability?: number;
}

/** How wordTimings reads labels and scores words. */
export interface WordTimingOptions {
  /** The labels' alphabet (default the tutorial's 29 classes). */
  alphabet?: Alphabet;
  /** Natural-log evidence of each character (model/confidence.ts); given, each word gets a `probability`. */
  characterLogConfidence?: ArrayLike<number>;
  /** The map from raw to calibrated confidence (default the identity). */
  calibration?: ConfidenceCalibration;
}

/** One word with its start and end in seconds. */
export interface WordTime {
  word: string;
  start: number;
  end: number;
}

/**
 * Splits emitted class ids into words at spaces (ignoring empty words) and returns each word's first and last
 * frame. `startFrames[i]` is the frame where character `i` was emitted; `endFrames[i]`, if given, the last frame
 * it lasted (defaults to the start frame). Without a space in the alphabet the whole text is one word.
 */
export function wordTimings(
  labels: ArrayLike<number>,
  startFrames: ArrayLike<number>,
  endFrames: ArrayLike<number> = startFrames,
  options: WordTimingOptions = {},
): WordTiming[] {
  const { characters, space } = options.alphabet ?? TUTORIAL_ALPHABET;
  const evidence = options.characterLogConfidence;
  const calibration = options.calibration ?? IDENTITY_CALIBRATION;
  if (evidence !== undefined && evidence.length !== labels.length) {
    throw new Error(`wordTimings: ${labels.length} labels but ${evidence.length} confidences`);
  }
  if (startFrames.length !== labels.length || endFrames.length !== labels.length) {
    throw new Error(
      `wordTimings: ${labels.length} labels but ${startFrames.length} start and ${endFrames.length} end frames`,
    );
  }
  const words: WordTiming[] = [];
  let word = "";
  let start = -1;
  let end = -1;
  let first = 0;
  for (let i = 0; i <= labels.length; i++) {
    const c = i < labels.length ? labels[i] : space;
    if (c === space || i === labels.length) {
      if (word !== "") {
        const w: WordTiming = { word, startFrame: start, endFrame: end };
        if (evidence) w.probability = calibrate(wordLogit(evidence, first, i), calibration);
        words.push(w);
      }
      word = "";
      continue;
    }
    const ch = Number.isInteger(c) ? characters[c] : undefined;
    if (ch === undefined) {
      throw new RangeError(`wordTimings: label ${c} at index ${i} is not a character class`);
    }
    if (word === "") {
      start = startFrames[i];
      first = i;
    }
    word += ch;
    end = endFrames[i];
  }
  return words;
}

/** The time in seconds at which a frame begins. */
export function frameToSeconds(frame: number, hopSeconds: number = FRAME_HOP_SECONDS): number {
  return frame * hopSeconds;
}

/** Converts frame timings to seconds: a word starts where its first frame begins and ends where its last ends. */
export function wordTimesInSeconds(
  words: readonly WordTiming[],
  hopSeconds: number = FRAME_HOP_SECONDS,
): WordTime[] {
  return words.map((w) => ({
    word: w.word,
    start: frameToSeconds(w.startFrame, hopSeconds),
    end: frameToSeconds(w.endFrame + 1, hopSeconds),
  }));
}
