/**
 * WebVTT (.vtt): `WEBVTT`, then cues of `HH:MM:SS.mmm --> HH:MM:SS.mmm` and text. The writer escapes the three
 * characters WebVTT gives meaning to (& < >); the parser skips NOTE, STYLE and REGION blocks and cue settings,
 * drops tags and unescapes character references, leaving the words a viewer sees.
 */
import type { TranscriptDocument } from "../../model/transcript_document.ts";
import { blocksOf, type Cue, cuesOf } from "./cue.ts";
import { formatTimecode, parseTimecode } from "./timecode.ts";

const ESCAPES: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;" };
const UNESCAPES: Record<string, string> = {
  amp: "&",
  lt: "<",
  gt: ">",
  nbsp: "\u00a0",
  lrm: "\u200e",
  rlm: "\u200f",
};

/** The first line of every WebVTT file, with its newline; cues follow, each after a blank line. */
export const VTT_HEADER = "WEBVTT\n";

/** The document's segments as a WebVTT file. */
export function formatVtt(doc: TranscriptDocument): string {
  return [VTT_HEADER, ...cuesOf(doc.segments, "vtt").map(vttCue)].join("\n");
}

/** One cue, ending with its newline. */
export function vttCue(c: Cue): string {
  return `${formatTimecode(c.start, ".")} --> ${formatTimecode(c.end, ".")}\n` +
    c.text.replace(/[&<>]/g, (ch) => ESCAPES[ch]) + "\n";
}

/** The cues of a WebVTT file; a missing header or a malformed timing line is an error naming its line. */
export function parseVtt(text: string, name = "vtt"): Cue[] {
  const blocks = blocksOf(text);
  const header = blocks[0];
  if (!header || header.line !== 1 || !/^WEBVTT([ \t].*)?$/.test(header.lines[0])) {
    throw new SyntaxError(`${name}:1: a WebVTT file starts with "WEBVTT"`);
  }
  const cues: Cue[] = [];
  for (const { line, lines } of blocks.slice(1)) {
    if (/^(NOTE|STYLE|REGION)([ \t]|$)/.test(lines[0])) continue;
    const at = lines[0].includes("-->") ? 0 : 1;
    const times = lines[at]?.trim().split(/\s+/) ?? [];
    const start = parseTimecode(times[0] ?? "", ".");
    const end = parseTimecode(times[2] ?? "", ".");
    if (times[1] !== "-->" || start === null || end === null) {
      throw new SyntaxError(
        `${name}:${line + at}: expected "HH:MM:SS.mmm --> HH:MM:SS.mmm", got "${lines[at] ?? ""}"`,
      );
    }
    const body = lines.slice(at + 1).join("\n").replace(/<[^>]*>/g, "")
      .replace(/&(amp|lt|gt|nbsp|lrm|rlm);/g, (_, e: string) => UNESCAPES[e]);
    cues.push({ start, end, text: body });
  }
  return cues;
}
