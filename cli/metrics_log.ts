/**
 * The run's metrics as JSON lines (`metrics.jsonl` in the run folder), one record a line:
 * `{"type":"train","step":..,"epoch":..,"loss":..,"lr":..,"time":..}`,
 * `{"type":"eval","step":..,"epoch":..,"cer":..,"wer":..,"cer_tutorial":..,"wer_tutorial":..,"loss":..}`, and any
 * other record with a string `type`. `time` is Unix seconds. Non-finite numbers (a diverged loss) are kept, as
 * the strings "NaN", "Infinity", "-Infinity", which JSON cannot hold as numbers.
 *
 * Crash safety: each record is one `write` of a whole line to a file opened for appending. A crash may leave a
 * cut last line; reading ignores it, and opening the log for more records first removes it. Resuming from a
 * checkpoint at step S drops the records after S, so the curves do not double back.
 *
 * @module
 */

import { writeFileAtomic } from "../data/atomic_write.ts";

export interface TrainRecord {
  type: "train";
  step: number;
  epoch: number;
  loss: number;
  lr: number;
  time: number;
  [field: string]: unknown;
}

export interface EvalRecord {
  type: "eval";
  step: number;
  epoch: number;
  cer: number;
  wer: number;
  cer_tutorial?: number;
  wer_tutorial?: number;
  loss?: number;
  time: number;
  [field: string]: unknown;
}

/** Any record: `type` says which; `step` (the global optimizer step) is present on all but run-level ones. */
export interface MetricsRecord {
  type: string;
  step?: number;
  epoch?: number;
  time?: number;
  [field: string]: unknown;
}

/** A line of the file that is not a record, with its 1-based line number. */
export interface SkippedLine {
  line: number;
  text: string;
  reason: string;
}

export interface ParsedMetrics {
  records: MetricsRecord[];
  /** Bad lines other than a cut last line. */
  skipped: SkippedLine[];
  /** Whether the last line was cut (no newline and not valid JSON): a crash during a write. */
  truncatedTail: boolean;
}

export const METRICS_FILE = "metrics.jsonl";

const NON_FINITE: Record<string, number> = { "NaN": NaN, "Infinity": Infinity, "-Infinity": -Infinity };

/** One record as a JSON line (with its newline). */
export function encodeRecord(record: MetricsRecord): string {
  return JSON.stringify(record, (_k, v) => (typeof v === "number" && !Number.isFinite(v) ? String(v) : v)) +
    "\n";
}

function decodeRecord(text: string): MetricsRecord | string {
  let value: unknown;
  try {
    value = JSON.parse(text, (_k, v) => (typeof v === "string" && v in NON_FINITE ? NON_FINITE[v] : v));
  } catch (e) {
    return `not JSON (${(e as Error).message})`;
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) return "not a JSON object";
  const r = value as MetricsRecord;
  if (typeof r.type !== "string") return 'no string "type"';
  if (r.step !== undefined && typeof r.step !== "number") return '"step" is not a number';
  return r;
}

/**
 * Parses the text of a metrics log. A cut last line is left out (and flagged); other bad lines are left out
 * and listed. With `upToStep`, records with a step after it are dropped (records without a step are kept).
 */
export function parseMetrics(text: string, opts: { upToStep?: number } = {}): ParsedMetrics {
  const lines = text.split("\n");
  const endsCleanly = lines[lines.length - 1] === "";
  if (endsCleanly) lines.pop();
  const records: MetricsRecord[] = [];
  const skipped: SkippedLine[] = [];
  let truncatedTail = false;
  lines.forEach((line, i) => {
    if (line.trim() === "") return;
    const r = decodeRecord(line);
    if (typeof r === "string") {
      if (i === lines.length - 1 && !endsCleanly) truncatedTail = true;
      else {skipped.push({
          line: i + 1,
          text: line.length > 200 ? line.slice(0, 200) + "..." : line,
          reason: r,
        });}
      return;
    }
    if (opts.upToStep !== undefined && r.step !== undefined && r.step > opts.upToStep) return;
    records.push(r);
  });
  return { records, skipped, truncatedTail };
}

/** Reads a metrics log (a missing file is an empty log). */
export async function readMetrics(path: string, opts: { upToStep?: number } = {}): Promise<ParsedMetrics> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return { records: [], skipped: [], truncatedTail: false };
    throw e;
  }
  return parseMetrics(text, opts);
}

/** Just the records of a type, e.g. `ofType(records, "eval")`. */
export function ofType<T extends "train" | "eval">(
  records: readonly MetricsRecord[],
  type: T,
): (T extends "train" ? TrainRecord : EvalRecord)[] {
  return records.filter((r) => r.type === type) as (T extends "train" ? TrainRecord : EvalRecord)[];
}

export interface OpenMetricsOptions {
  /** Resuming from a checkpoint of this step: records after it are dropped from the file. */
  resumeStep?: number;
  /** Unix-seconds clock for records without a `time` (default: `Date.now() / 1000`). */
  now?: () => number;
}

/** An open metrics log that appends records. */
export class MetricsLog {
  readonly path: string;
  private file: Deno.FsFile | null;
  private readonly now: () => number;
  private readonly encoder = new TextEncoder();

  private constructor(path: string, file: Deno.FsFile | null, now: () => number) {
    this.path = path;
    this.file = file;
    this.now = now;
  }

  /**
   * Opens (creating) `<dir>/metrics.jsonl` for appending. A cut last line is removed first, and with
   * `resumeStep` so are the records after that step (the file is rewritten atomically; bad lines in the
   * middle are kept as they were, so nothing is lost).
   */
  static async open(dir: string, opts: OpenMetricsOptions = {}): Promise<MetricsLog> {
    await Deno.mkdir(dir, { recursive: true });
    const path = `${dir}/${METRICS_FILE}`;
    let text = "";
    try {
      text = await Deno.readTextFile(path);
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    }
    if (text !== "") {
      const kept = MetricsLog.keptText(text, opts.resumeStep);
      if (kept !== text) await writeFileAtomic(path, kept);
    }
    const file = await Deno.open(path, { append: true, create: true });
    return new MetricsLog(path, file, opts.now ?? (() => Date.now() / 1000));
  }

  /** The file's text without a cut last line and without records after `resumeStep`. */
  private static keptText(text: string, resumeStep: number | undefined): string {
    const lines = text.split("\n");
    // The piece after the last newline is either "" or a line cut by a crash.
    const tail = lines.pop()!;
    if (tail.trim() !== "" && typeof decodeRecord(tail) !== "string") lines.push(tail);
    const kept = lines.filter((line) => {
      if (line.trim() === "") return false;
      if (resumeStep === undefined) return true;
      const r = decodeRecord(line);
      return typeof r === "string" || r.step === undefined || r.step <= resumeStep;
    });
    return kept.length > 0 ? kept.join("\n") + "\n" : "";
  }

  /**
   * A log that writes nothing, for the ranks of a data-parallel run other than rank 0 (rank 0 alone writes the
   * run folder).
   */
  static discarding(dir: string): MetricsLog {
    const log = new MetricsLog(`${dir}/${METRICS_FILE}`, null, () => Date.now() / 1000);
    log.discard = true;
    return log;
  }

  private discard = false;

  /** Appends one record (adding `time` when missing) as a single write. */
  append(record: MetricsRecord): void {
    if (this.discard) return;
    if (!this.file) throw new Error(`${this.path}: the metrics log is closed`);
    const full = record.time === undefined ? { ...record, time: this.now() } : record;
    const bytes = this.encoder.encode(encodeRecord(full));
    let done = 0;
    while (done < bytes.length) done += this.file.writeSync(bytes.subarray(done));
  }

  /** A training step's record. */
  train(step: number, epoch: number, loss: number, lr: number, extra: Record<string, number> = {}): void {
    this.append({ type: "train", step, epoch, loss, lr, ...extra });
  }

  /** An evaluation's record (cer, wer, cer_tutorial, wer_tutorial, loss, ...). */
  eval(
    step: number,
    epoch: number,
    values: { cer: number; wer: number; [k: string]: number | undefined },
  ): void {
    const clean = Object.fromEntries(Object.entries(values).filter(([, v]) => v !== undefined));
    this.append({ type: "eval", step, epoch, ...clean });
  }

  close(): void {
    this.file?.close();
    this.file = null;
  }
}
