/** Plain text: each segment's text on a line of its own, nothing else (for reading or for a text pipeline). */
import type { TranscriptDocument } from "../../model/transcript_document.ts";

export function formatTxt(doc: TranscriptDocument): string {
  return doc.segments.map((s) => s.text + "\n").join("");
}
