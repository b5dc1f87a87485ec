/**
 * Grouping timed words into segments, the unit of a subtitle cue and of Whisper's `verbose_json` segments. A
 * segment ends where the speaker pauses, or before it grows too long to read as one cue. The same rules run on a
 * whole transcript ({@link segmentWords}) and on words arriving while a stream is decoded ({@link Segmenter}),
 * and give the same segments either way: a segment is closed only by facts that later words cannot change.
 */
import type { Transcript } from "./inference.ts";
import type { Segment, TimedWord, TranscriptDocument } from "./transcript_document.ts";
import { FRAME_HOP_SECONDS } from "./word_timestamps.ts";

export interface SegmentOptions {
  /** A silence longer than this (seconds, from one word's end to the next one's start) ends a segment. */
  maxPause: number;
  /** A segment never lasts longer than this many seconds (unless one word alone does). */
  maxDuration: number;
  /** A segment's text fits `maxLines` lines of this many characters, broken at spaces (unless one word alone does not). */
  lineChars: number;
  maxLines: number;
}

/**
 * Subtitle conventions: at most two lines of 42 characters, shown for at most 7 s; a pause of half a second is
 * where a listener hears a sentence or phrase end. (Filling lines word by word needs the fewest lines, so the
 * segmenter's count is the least any wrapping needs.)
 */
export const DEFAULT_SEGMENT_OPTIONS: Readonly<SegmentOptions> = {
  maxPause: 0.5,
  maxDuration: 7,
  lineChars: 42,
  maxLines: 2,
};

/** Checks the options and fills in the defaults; errors name the option. */
export function segmentOptions(opts: Partial<SegmentOptions> = {}): SegmentOptions {
  const o = { ...DEFAULT_SEGMENT_OPTIONS, ...opts };
  for (const [name, v] of Object.entries(o)) {
    const whole = name === "lineChars" || name === "maxLines";
    if (!(typeof v === "number" && v > 0 && Number.isFinite(v)) || (whole && !Number.isInteger(v))) {
      throw new RangeError(`segment option ${name} must be a ${whole ? "whole " : ""}number > 0, got ${v}`);
    }
  }
  return o;
}

/** Seconds rounded to whole milliseconds, so 7 frames of 25 ms print as 0.175 and not 0.17500000000000002. */
export function roundSeconds(s: number): number {
  return Math.round(s * 1000) / 1000;
}

/**
 * Builds segments from words fed in order. `push` returns the segments that have become final; `advance(t)`
 * says no word starts before `t` seconds (the stream has been decoded that far), which closes the open segment
 * once the pause after it is long enough; `finish` closes the rest.
 */
export class Segmenter {
  private readonly o: SegmentOptions;
  private open: TimedWord[] = [];
  /** Lines the open segment's text fills when wrapped, and the length of its last line. */
  private lines = 0;
  private lineLength = 0;
  private nextId = 0;
  private lastEnd = -Infinity;

  constructor(opts: Partial<SegmentOptions> = {}) {
    this.o = segmentOptions(opts);
  }

  push(words: readonly TimedWord[]): Segment[] {
    const out: Segment[] = [];
    for (const w of words) {
      if (!(w.start >= this.lastEnd - 1e-9) || !(w.end >= w.start)) {
        throw new RangeError(
          `word "${w.word}" at ${w.start}-${w.end} s does not follow the previous word (ended ${this.lastEnd} s)`,
        );
      }
      if (this.open.length > 0 && this.breaksBefore(w)) out.push(this.close());
      this.open.push(w);
      if (this.lines > 0 && this.lineLength + 1 + w.word.length <= this.o.lineChars) {
        this.lineLength += 1 + w.word.length;
      } else {
        this.lines++;
        this.lineLength = w.word.length;
      }
      this.lastEnd = w.end;
    }
    return out;
  }

  advance(seconds: number): Segment[] {
    if (this.open.length > 0 && seconds - this.lastEnd > this.o.maxPause) return [this.close()];
    return [];
  }

  finish(): Segment[] {
    return this.open.length > 0 ? [this.close()] : [];
  }

  private breaksBefore(w: TimedWord): boolean {
    const first = this.open[0];
    return w.start - this.lastEnd > this.o.maxPause ||
      w.end - first.start > this.o.maxDuration ||
      (this.lines >= this.o.maxLines && this.lineLength + 1 + w.word.length > this.o.lineChars);
  }

  private close(): Segment {
    const words = this.open;
    this.open = [];
    this.lines = 0;
    this.lineLength = 0;
    return {
      id: this.nextId++,
      start: words[0].start,
      end: words[words.length - 1].end,
      text: words.map((w) => w.word).join(" "),
      words,
    };
  }
}

/** Splits a whole transcript's words into segments. */
export function segmentWords(words: readonly TimedWord[], opts: Partial<SegmentOptions> = {}): Segment[] {
  const s = new Segmenter(opts);
  return [...s.push(words), ...s.finish()];
}

/** A decoder's words (frame positions) in seconds, with the decoder's confidence when it gives one. */
export function timedWords(
  transcript: Pick<Transcript, "words">,
  offsetSeconds = 0,
  hopSeconds = FRAME_HOP_SECONDS,
): TimedWord[] {
  return transcript.words.map((w) => {
    const t: TimedWord = {
      word: w.word,
      start: roundSeconds(offsetSeconds + w.startFrame * hopSeconds),
      end: roundSeconds(offsetSeconds + (w.endFrame + 1) * hopSeconds),
    };
    const p = (w as { probability?: number }).probability;
    if (typeof p === "number") t.probability = p;
    return t;
  });
}

/** The document of one recording: its text as decoded, its length, and its words cut into segments. */
export function transcriptDocument(
  transcript: Transcript,
  durationSeconds: number,
  opts: Partial<SegmentOptions> = {},
): TranscriptDocument {
  return {
    text: transcript.text,
    duration: roundSeconds(durationSeconds),
    segments: segmentWords(timedWords(transcript), opts),
  };
}
