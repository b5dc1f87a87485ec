/**
 * JSON in the shape of Whisper's `verbose_json` ({text, duration, segments: [{id, start, end, text, words:
 * [{word, start, end, probability}]}]}), so tools that read Whisper's output read ours. Pretty-printed for one
 * file; one object per line (JSON Lines, with a `file` field) when many recordings share one output.
 */
import type { TranscriptDocument } from "../../model/transcript_document.ts";

export interface JsonOptions {
  /** One line with a leading `file` field (for JSON Lines) instead of an indented document. */
  line?: boolean;
  /** The input's path, written as `file` in line mode. */
  name?: string;
}

export function formatJson(doc: TranscriptDocument, opts: JsonOptions = {}): string {
  if (opts.line) return JSON.stringify({ file: opts.name ?? "", ...doc }) + "\n";
  return JSON.stringify(doc, null, 2) + "\n";
}

/** Reads a document written by {@link formatJson} (either form) back, checking the fields every reader needs. */
export function parseJson(text: string, name = "json"): TranscriptDocument {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new SyntaxError(`${name}: ${(e as Error).message}`);
  }
  const doc = value as TranscriptDocument;
  if (typeof doc?.text !== "string" || typeof doc.duration !== "number" || !Array.isArray(doc.segments)) {
    throw new SyntaxError(`${name}: expected an object with text, duration and segments`);
  }
  doc.segments.forEach((s, i) => {
    if (typeof s.start !== "number" || typeof s.end !== "number" || !Array.isArray(s.words)) {
      throw new SyntaxError(`${name}: segment ${i} lacks start, end or words`);
    }
  });
  return doc;
}
