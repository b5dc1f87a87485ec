/**
 * Subtitle times: `HH:MM:SS,mmm` in SRT, `HH:MM:SS.mmm` in WebVTT (where the hours may be left out). Times are
 * written rounded to whole milliseconds, the precision both formats have.
 */

/** `seconds` as `HH:MM:SS<sep>mmm` (hours grow past two digits when needed). */
export function formatTimecode(seconds: number, separator: "," | "."): string {
  if (!(seconds >= 0) || !Number.isFinite(seconds)) {
    throw new RangeError(`a subtitle time must be a finite number of seconds >= 0, got ${seconds}`);
  }
  const ms = Math.round(seconds * 1000);
  const h = Math.floor(ms / 3_600_000);
  const m = Math.floor(ms / 60_000) % 60;
  const s = Math.floor(ms / 1000) % 60;
  const two = (n: number) => String(n).padStart(2, "0");
  return `${two(h)}:${two(m)}:${two(s)}${separator}${String(ms % 1000).padStart(3, "0")}`;
}

const TIMECODE = {
  ",": /^(\d{2,}):([0-5]\d):([0-5]\d),(\d{3})$/,
  ".": /^(?:(\d{2,}):)?([0-5]\d):([0-5]\d)\.(\d{3})$/,
};

/** Seconds of a timecode, or null when `text` is not one. */
export function parseTimecode(text: string, separator: "," | "."): number | null {
  const m = TIMECODE[separator].exec(text);
  if (!m) return null;
  const [h, min, s, ms] = [m[1] ?? "0", m[2], m[3], m[4]].map(Number);
  return (h * 3_600_000 + min * 60_000 + s * 1000 + ms) / 1000;
}
