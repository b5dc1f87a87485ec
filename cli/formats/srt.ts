/**
 * SubRip (.srt): numbered cues, `HH:MM:SS,mmm --> HH:MM:SS,mmm`, the text, a blank line. The writer numbers cues
 * from 1; the parser reads what common tools write (a byte-order mark, CRLF, position hints after the times).
 */
import type { TranscriptDocument } from "../../model/transcript_document.ts";
import { blocksOf, type Cue, cuesOf } from "./cue.ts";
import { formatTimecode, parseTimecode } from "./timecode.ts";

/** The document's segments as an SRT file. */
export function formatSrt(doc: TranscriptDocument): string {
  return cuesOf(doc.segments, "srt").map((c, i) => srtCue(i + 1, c)).join("\n");
}

/** Cue number `n` (from 1), ending with its newline; cues are separated by one blank line. */
export function srtCue(n: number, c: Cue): string {
  if (c.text.includes("-->")) throw new RangeError(`srt: cue ${n}'s text contains "-->": "${c.text}"`);
  return `${n}\n${formatTimecode(c.start, ",")} --> ${formatTimecode(c.end, ",")}\n${c.text}\n`;
}

/** The cues of an SRT file; a malformed cue is an error naming its line. */
export function parseSrt(text: string, name = "srt"): Cue[] {
  return blocksOf(text).map(({ line, lines }) => {
    if (!/^\d+$/.test(lines[0].trim())) {
      throw new SyntaxError(`${name}:${line}: expected a cue number, got "${lines[0]}"`);
    }
    const times = lines[1]?.trim().split(/\s+/) ?? [];
    const start = parseTimecode(times[0] ?? "", ",");
    const end = parseTimecode(times[2] ?? "", ",");
    if (times[1] !== "-->" || start === null || end === null) {
      throw new SyntaxError(
        `${name}:${line + 1}: expected "HH:MM:SS,mmm --> HH:MM:SS,mmm", got "${lines[1] ?? ""}"`,
      );
    }
    return { start, end, text: lines.slice(2).join("\n") };
  });
}
