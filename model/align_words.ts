/**
 * Forced alignment of a text to a recording's log-probabilities, as timed words and characters: the Viterbi path
 * (model/align.ts) over the text's labels (model/align_text.ts), read back per character and per word.
 *
 * A character lasts from the first to the end of the last frame the path spends on it. A word lasts from its
 * first character's first frame to the end of its last character's last frame, so the blanks inside it count,
 * those around it do not. A word's `probability` is the mean posterior, along the path, of its frames (blanks
 * inside it included); a character's, of its own frames. Given the recording's frame levels, a word's edges are
 * then moved off silence (model/speech_edges.ts), its first character's start and last character's end with them.
 */
import { type CtcAlignment, ctcViterbi, type CtcViterbiOptions } from "./align.ts";
import type { AlignmentText } from "./align_text.ts";
import { roundSeconds } from "./segments.ts";
import { trimSilentEdges } from "./speech_edges.ts";
import type { TimedWord } from "./transcript_document.ts";
import { FRAME_HOP_SECONDS } from "./word_timestamps.ts";

/** One character with its times in seconds and its mean posterior. */
export interface AlignedCharacter {
  char: string;
  start: number;
  end: number;
  probability: number;
}

/** A word of the text with its times, its score and its characters'. */
export interface AlignedWord extends TimedWord {
  probability: number;
  chars: AlignedCharacter[];
}

/** Log-probabilities of a whole recording: `frames` rows of `nClass`. */
export interface RecordingLogProbs {
  logProbs: Float32Array;
  frames: number;
  nClass: number;
}

/** A frame boundary in seconds, no later than the recording's end (its last frame may run past it). */
function seconds(frame: number, hop: number, duration: number): number {
  return roundSeconds(Math.min(frame * hop, duration));
}

/** Scores to 4 decimals: more would be noise in the output. */
function score(p: number): number {
  return Math.round(p * 1e4) / 1e4;
}

/** Mean of exp(log-probability) of the path's class over frames [from, to). */
function meanPosterior(lp: RecordingLogProbs, path: Int32Array, from: number, to: number): number {
  let sum = 0;
  for (let t = from; t < to; t++) sum += Math.exp(lp.logProbs[t * lp.nClass + path[t]]);
  return to > from ? sum / (to - from) : 0;
}

/** How alignment frames become times. */
export interface WordTimingOptions {
  /** Seconds between frames (default FRAME_HOP_SECONDS). */
  hop?: number;
  /** The recording's length in seconds: no time is later. */
  duration?: number;
  /** Each frame's level (model/speech_edges.ts); given, word edges are moved off silence. */
  levels?: ArrayLike<number>;
}

/** The words of `text` timed by an alignment of its labels. */
export function wordsOfAlignment(
  text: AlignmentText,
  alignment: CtcAlignment,
  lp: RecordingLogProbs,
  opts: WordTimingOptions = {},
): AlignedWord[] {
  const hop = opts.hop ?? FRAME_HOP_SECONDS;
  const duration = opts.duration ?? Infinity;
  const words: AlignedWord[] = text.words.map((w) => ({
    word: w.word,
    start: 0,
    end: 0,
    probability: 0,
    chars: [],
  }));
  const firstFrame = new Int32Array(words.length);
  const lastFrame = new Int32Array(words.length);
  for (let k = 0; k < text.labels.length; k++) {
    const w = text.wordOf[k];
    if (w < 0) continue;
    const c = text.charOf[k];
    const start = alignment.starts[k];
    const end = alignment.ends[k];
    words[w].chars.push({
      char: text.words[w].characters[c],
      start: seconds(start, hop, duration),
      end: seconds(end, hop, duration),
      probability: score(meanPosterior(lp, alignment.path, start, end)),
    });
    if (c === 0) firstFrame[w] = start;
    lastFrame[w] = end;
  }
  words.forEach((w, i) => {
    if (opts.levels && w.chars.length > 0) {
      const span = trimSilentEdges(firstFrame[i], lastFrame[i] - 1, opts.levels);
      firstFrame[i] = span.start;
      lastFrame[i] = span.end + 1;
      const first = w.chars[0], last = w.chars[w.chars.length - 1];
      first.start = Math.min(seconds(span.start, hop, duration), first.end);
      last.end = Math.max(seconds(span.end + 1, hop, duration), last.start);
    }
    w.start = seconds(firstFrame[i], hop, duration);
    w.end = seconds(lastFrame[i], hop, duration);
    w.probability = score(meanPosterior(lp, alignment.path, firstFrame[i], lastFrame[i]));
  });
  return words;
}

/**
 * Aligns `text` to a recording's log-probabilities; the blank is the last class. `hop` is the seconds between
 * frames, `duration` the recording's length (no time is later). Errors as {@link ctcViterbi}.
 */
export function alignText(
  text: AlignmentText,
  lp: RecordingLogProbs,
  opts: CtcViterbiOptions & WordTimingOptions = {},
): AlignedWord[] {
  const alignment = ctcViterbi(lp.logProbs, lp.frames, lp.nClass, text.labels, lp.nClass - 1, opts);
  return wordsOfAlignment(text, alignment, lp, opts);
}
