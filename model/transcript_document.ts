/**
 * What a transcription produces, in seconds, before it is written in some format (cli/formats/). The shape is
 * Whisper's `verbose_json` (text, duration, segments with words), so tools that read Whisper's output read ours;
 * forced alignment (model/align.ts) fills the same shape from a given text.
 */

/** One word with its start and end in seconds and, when the decoder gives one, a confidence in [0, 1]. */
export interface TimedWord {
  word: string;
  start: number;
  end: number;
  probability?: number;
}

/** A run of words between pauses (or cut at a maximum length): one subtitle cue. */
export interface Segment {
  id: number;
  start: number;
  end: number;
  text: string;
  words: TimedWord[];
}

/** A whole recording's transcript. */
export interface TranscriptDocument {
  text: string;
  /** The recording's length in seconds. */
  duration: number;
  segments: Segment[];
}
