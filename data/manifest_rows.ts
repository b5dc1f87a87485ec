/**
 * The part every manifest reader shares: turning one row's fields (audio path, transcript, and the optional
 * duration, file size and split) into an utterance, or into a problem naming the file, line and field when a
 * field is missing or malformed. Relative audio paths resolve against a base folder the format chooses.
 */
import { basename, extname, isAbsolute, resolve } from "node:path";
import { CORPUS_SPLITS, type CorpusSplit, type RowProblem, type UtteranceInfo } from "./corpus.ts";

/** A field's value as the format gave it (JSON values, or the text of a CSV or TSV cell) and its name. */
export interface Field {
  name: string;
  value: unknown;
}

/** One row's fields, named as the format names them. */
export interface ManifestRow {
  line: number;
  audio: Field;
  transcript: Field;
  seconds?: Field;
  bytes?: Field;
  split?: Field;
}

/** What a manifest reader returns: the rows that are utterances, in file order, and those that are not. */
export interface ManifestRows {
  utterances: UtteranceInfo[];
  problems: RowProblem[];
}

/** Collects a manifest's rows, resolving audio paths against `audioBase`. */
export class RowCollector implements ManifestRows {
  readonly utterances: UtteranceInfo[] = [];
  readonly problems: RowProblem[] = [];

  constructor(readonly file: string, readonly audioBase: string) {}

  /** Records a problem that is not about one field (a line that is not JSON, a wrong cell count). */
  problem(line: number, reason: string, field?: string): void {
    this.problems.push({ file: this.file, line, field, reason });
  }

  add(row: ManifestRow): void {
    const fail = (field: Field, reason: string, audio?: string): void => {
      this.problems.push({ file: this.file, line: row.line, field: field.name, reason, audio });
    };
    const audio = row.audio.value;
    if (typeof audio !== "string" || audio.trim() === "") {
      return fail(row.audio, audio === undefined ? "missing" : "expected a file path");
    }
    const transcript = row.transcript.value;
    if (typeof transcript !== "string") {
      return fail(row.transcript, transcript === undefined ? "missing" : "expected text", audio);
    }
    const u: UtteranceInfo = {
      fileId: basename(audio, extname(audio)),
      audioPath: isAbsolute(audio) ? audio : resolve(this.audioBase, audio),
      transcriptPath: this.file,
      transcriptLine: row.line,
      transcript,
    };
    if (row.seconds && !isBlank(row.seconds.value)) {
      const seconds = numberOf(row.seconds.value);
      if (seconds === null || seconds < 0) return fail(row.seconds, "expected a duration in seconds", audio);
      u.declaredSeconds = seconds;
      u.seconds = seconds;
    }
    if (row.bytes && !isBlank(row.bytes.value)) {
      const bytes = numberOf(row.bytes.value);
      if (bytes === null || bytes < 0 || !Number.isInteger(bytes)) {
        return fail(row.bytes, "expected a file size in bytes", audio);
      }
      u.declaredBytes = bytes;
    }
    if (row.split && !isBlank(row.split.value)) {
      const split = typeof row.split.value === "string" ? row.split.value.trim().toLowerCase() : "";
      if (!(CORPUS_SPLITS as readonly string[]).includes(split)) {
        return fail(
          row.split,
          `expected one of ${CORPUS_SPLITS.join(", ")}, got ${JSON.stringify(row.split.value)}`,
          audio,
        );
      }
      u.split = split as CorpusSplit;
    }
    this.utterances.push(u);
  }
}

function isBlank(value: unknown): boolean {
  return value === undefined || value === null || (typeof value === "string" && value.trim() === "");
}

/** A JSON number, or the text of one; null for anything else. */
function numberOf(value: unknown): number | null {
  const n = typeof value === "number" ? value : typeof value === "string" ? Number(value.trim()) : NaN;
  return Number.isFinite(n) ? n : null;
}

/** The text of a manifest file: a leading byte-order mark dropped, lines split on LF or CRLF. */
export function manifestLines(text: string): string[] {
  return (text.startsWith("\uFEFF") ? text.slice(1) : text).split(/\r?\n/);
}
