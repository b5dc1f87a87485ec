/**
 * What SRT and WebVTT share: a cue is a time range and a few lines of text. Segments become cues (checked to be
 * in time order and not overlapping, their text wrapped to readable lines), and parsed files come back as cues.
 */
import type { Segment } from "../../model/transcript_document.ts";

/** One subtitle cue; `text` is its lines joined with "\n". */
export interface Cue {
  start: number;
  end: number;
  text: string;
}

/** Characters per subtitle line: the common broadcast and streaming limit. */
export const CUE_LINE_CHARS = 42;

/**
 * Breaks text into lines of at most `width` characters at spaces (a longer word stays whole on its own line).
 * Two lines are balanced: the break nearest the middle is taken when it fits, so no line is a lone word.
 */
export function wrapCueText(text: string, width = CUE_LINE_CHARS): string[] {
  const words = text.split(/\s+/).filter((w) => w !== "");
  const joined = words.join(" ");
  if (joined.length <= width) return joined === "" ? [] : [joined];
  if (joined.length <= 2 * width + 1) {
    let best = -1;
    let bestDiff = Infinity;
    let left = 0;
    for (let i = 0; i < words.length - 1; i++) {
      left += words[i].length;
      const right = joined.length - left - 1;
      if (left <= width && right <= width && Math.abs(left - right) < bestDiff) {
        best = left;
        bestDiff = Math.abs(left - right);
      }
      left += 1;
    }
    if (best > 0) return [joined.slice(0, best), joined.slice(best + 1)];
  }
  const lines: string[] = [];
  let line = "";
  for (const w of words) {
    if (line !== "" && line.length + 1 + w.length > width) {
      lines.push(line);
      line = w;
    } else line = line === "" ? w : `${line} ${w}`;
  }
  if (line !== "") lines.push(line);
  return lines;
}

/**
 * Segments as cues, checking what both formats require: each cue ends after it starts, and starts no earlier than
 * the one before it ended (`previousEnd`, for cues written one at a time).
 */
export function cuesOf(segments: readonly Segment[], format: string, previousEnd = 0): Cue[] {
  return segments.map((s) => {
    if (!(s.start >= previousEnd - 5e-4) || !(s.end > s.start)) {
      throw new RangeError(
        `${format}: segment ${s.id} (${s.start}-${s.end} s) overlaps the one before (ended ${previousEnd} s) ` +
          `or does not end after it starts`,
      );
    }
    previousEnd = s.end;
    return { start: Math.max(s.start, 0), end: s.end, text: wrapCueText(s.text).join("\n") };
  });
}

/** Splits subtitle text into blocks of non-blank lines, each with the 1-based number of its first line. */
export function blocksOf(text: string): { line: number; lines: string[] }[] {
  const all = text.replace(/^\uFEFF/, "").split(/\r\n|\r|\n/);
  const blocks: { line: number; lines: string[] }[] = [];
  let current: { line: number; lines: string[] } | null = null;
  all.forEach((l, i) => {
    if (l.trim() === "") current = null;
    else if (current) current.lines.push(l);
    else blocks.push(current = { line: i + 1, lines: [l] });
  });
  return blocks;
}
