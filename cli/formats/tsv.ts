/**
 * The transcribe command's original output: `NAME<TAB>TEXT` per recording and, with timestamps, one
 * `<TAB>START<TAB>END<TAB>WORD` line per word (seconds, 3 decimals). Scripts written against it keep working.
 */
import type { TranscriptDocument } from "../../model/transcript_document.ts";

export interface TsvOptions {
  /** What the first column says (the input's path); default empty. */
  name?: string;
  /** Add a line per word with its start and end. */
  timestamps?: boolean;
}

export function formatTsv(doc: TranscriptDocument, opts: TsvOptions = {}): string {
  const lines = [`${opts.name ?? ""}\t${doc.text}`];
  if (opts.timestamps) {
    for (const w of doc.segments.flatMap((s) => s.words)) {
      lines.push(`\t${w.start.toFixed(3)}\t${w.end.toFixed(3)}\t${w.word}`);
    }
  }
  return lines.join("\n") + "\n";
}
