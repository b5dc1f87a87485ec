/**
 * NIST CTM (time-marked conversation) lines, the word-timing format of sclite, Kaldi and NeMo Forced Aligner:
 * `<recording> <channel> <start> <duration> <word> [<confidence>]`, one word a line, times in seconds. Our
 * recordings are one channel, written as 1; the recording is named by its file name without folder and
 * extension, as CTM's first field may not contain spaces.
 */
import type { TimedWord, TranscriptDocument } from "../../model/transcript_document.ts";

export interface CtmOptions {
  /** The recording's path or name; its base name without extension is the first field. */
  name: string;
  /** Append each word's probability as the confidence (when it has one). Default true. */
  confidence?: boolean;
}

/** The CTM recording id of a path: its base name without the extension, spaces replaced by underscores. */
export function ctmRecordingId(path: string): string {
  const base = path.split(/[\\/]/).pop() ?? path;
  const dot = base.lastIndexOf(".");
  const stem = dot > 0 ? base.slice(0, dot) : base;
  return (stem === "" ? "recording" : stem).replace(/\s/g, "_");
}

function line(id: string, w: TimedWord, confidence: boolean): string {
  const fields = [id, "1", w.start.toFixed(3), (w.end - w.start).toFixed(3), w.word];
  if (confidence && w.probability !== undefined) fields.push(w.probability.toFixed(3));
  return fields.join(" ") + "\n";
}

/** The words of `doc`, in order, as CTM lines. */
export function formatCtm(doc: TranscriptDocument, opts: CtmOptions): string {
  const id = ctmRecordingId(opts.name);
  const confidence = opts.confidence ?? true;
  return doc.segments.flatMap((s) => s.words).map((w) => line(id, w, confidence)).join("");
}
