/**
 * The checkpoints of a run folder:
 *
 *     <run>/checkpoints/step-000123.safetensors        the model (PyTorch state_dict names, config metadata)
 *     <run>/checkpoints/step-000123.state.safetensors  what resuming needs (optimizer, data order, RNG, ...)
 *     <run>/checkpoints/best.safetensors               a copy of the model with the lowest dev CER so far
 *     <run>/checkpoints/best.json                      {"step", "cer", "epoch", "source"} of that copy
 *
 * A checkpoint is complete when both its files are complete safetensors files (the header's data fits the
 * file size exactly). Each file is written to a temporary name and renamed, the state file first and the model
 * last, so a crash leaves at worst a lone state file or a `.tmp` leftover, which {@link CheckpointManager.latest}
 * ignores and the next save or open cleans up. Older checkpoints are deleted only after a new one is
 * complete, model file first, so a crash while deleting leaves a lone state file, never a model that looks
 * resumable without its state.
 *
 * @module
 */
import {
  type ReadableTensor,
  saveCheckpoint,
  saveTrainingState,
  type TrainingState,
} from "../model/checkpoint.ts";
import type { ModelConfig } from "../model/config.ts";
import { copyFileAtomic, writeFileAtomic } from "../data/atomic_write.ts";

export interface CheckpointManagerOptions {
  /** How many of the newest checkpoints to keep (default 3, at least 1). The best is kept apart as a copy. */
  keepLast?: number;
  /** Also save every this many global steps (default 0: only at epoch ends). */
  everySteps?: number;
}

/** A complete checkpoint on disk. */
export interface CheckpointEntry {
  step: number;
  model: string;
  state: string;
}

/** What `best.json` records. */
export interface BestRecord {
  step: number;
  cer: number;
  epoch?: number;
  /** The step file it was copied from (its name in the checkpoints folder). */
  source: string;
}

export interface SaveOptions {
  params: ReadonlyMap<string, ReadableTensor>;
  config: ModelConfig;
  state: TrainingState;
  /** Extra model metadata (epoch, ...); the step is added. */
  extraMeta?: Record<string, string | number | boolean>;
  /** The dev CER of these weights, when known: the best so far is copied to `best.safetensors`. */
  cer?: number;
  epoch?: number;
}

const MODEL_RE = /^step-(\d+)\.safetensors$/;
const STATE_RE = /^step-(\d+)\.state\.safetensors$/;
export const CHECKPOINTS_DIR = "checkpoints";
export const BEST_MODEL = "best.safetensors";
export const BEST_RECORD = "best.json";

/** The file names of a step's checkpoint. */
export function checkpointNames(step: number): { model: string; state: string } {
  const s = String(step).padStart(6, "0");
  return { model: `step-${s}.safetensors`, state: `step-${s}.state.safetensors` };
}

/** Whether `path` is a whole safetensors file: its header parses and its data ends exactly at the file's end. */
export async function isCompleteSafetensors(path: string): Promise<boolean> {
  let file: Deno.FsFile;
  try {
    file = await Deno.open(path, { read: true });
  } catch {
    return false;
  }
  try {
    const size = (await file.stat()).size;
    if (size < 8) return false;
    const head = new Uint8Array(8);
    if (!(await readExactly(file, head))) return false;
    const headerLength = Number(new DataView(head.buffer).getBigUint64(0, true));
    if (headerLength > size - 8 || headerLength > 100_000_000) return false;
    const header = new Uint8Array(headerLength);
    if (!(await readExactly(file, header))) return false;
    const parsed = JSON.parse(new TextDecoder().decode(header)) as Record<
      string,
      { data_offsets?: number[] }
    >;
    let end = 0;
    for (const [name, entry] of Object.entries(parsed)) {
      if (name === "__metadata__") continue;
      end = Math.max(end, entry.data_offsets?.[1] ?? Infinity);
    }
    return 8 + headerLength + end === size;
  } catch {
    return false;
  } finally {
    file.close();
  }
}

async function readExactly(file: Deno.FsFile, into: Uint8Array): Promise<boolean> {
  let done = 0;
  while (done < into.length) {
    const n = await file.read(into.subarray(done));
    if (n === null) return false;
    done += n;
  }
  return true;
}

async function removeIfPresent(path: string): Promise<void> {
  try {
    await Deno.remove(path);
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
}

export class CheckpointManager {
  readonly runDir: string;
  /** `<run>/checkpoints`. */
  readonly dir: string;
  readonly keepLast: number;
  readonly everySteps: number;
  private bestRecord: BestRecord | null;

  private constructor(runDir: string, opts: CheckpointManagerOptions, best: BestRecord | null) {
    this.runDir = runDir;
    this.dir = `${runDir}/${CHECKPOINTS_DIR}`;
    this.keepLast = Math.max(1, Math.floor(opts.keepLast ?? 3));
    this.everySteps = Math.max(0, Math.floor(opts.everySteps ?? 0));
    this.bestRecord = best;
  }

  /**
   * Opens the checkpoints of a run folder (creating the folder), removing `.tmp` leftovers of an interrupted
   * write and reading the best record. One training process per run folder.
   */
  static async open(runDir: string, opts: CheckpointManagerOptions = {}): Promise<CheckpointManager> {
    const dir = `${runDir}/${CHECKPOINTS_DIR}`;
    await Deno.mkdir(dir, { recursive: true });
    for await (const entry of Deno.readDir(dir)) {
      if (entry.isFile && entry.name.endsWith(".tmp")) await removeIfPresent(`${dir}/${entry.name}`);
    }
    return new CheckpointManager(runDir, opts, await readBest(`${dir}/${BEST_RECORD}`));
  }

  /**
   * The manager of a run folder this process must not write (a data-parallel rank other than 0): it answers
   * paths and when to save, without touching the disk.
   */
  static unopened(runDir: string, opts: CheckpointManagerOptions = {}): CheckpointManager {
    return new CheckpointManager(runDir, opts, null);
  }

  /** The best checkpoint so far by dev CER (null before the first evaluated save). */
  get best(): BestRecord | null {
    return this.bestRecord ? { ...this.bestRecord } : null;
  }

  /** `<run>/checkpoints/best.safetensors`. */
  get bestPath(): string {
    return `${this.dir}/${BEST_MODEL}`;
  }

  /** Whether to save after global step `step`: at every epoch end, and every `everySteps` steps. */
  shouldSave(step: number, endOfEpoch: boolean): boolean {
    return endOfEpoch || (this.everySteps > 0 && step > 0 && step % this.everySteps === 0);
  }

  /** Full paths of a step's two files. */
  paths(step: number): { model: string; state: string } {
    const n = checkpointNames(step);
    return { model: `${this.dir}/${n.model}`, state: `${this.dir}/${n.state}` };
  }

  /**
   * Saves the checkpoint of global step `step` (state file, then model file), updates the best copy when
   * `cer` is given and lower than the best so far, then deletes checkpoints beyond the newest `keepLast` and
   * leftovers of interrupted saves or deletions.
   */
  async save(step: number, opts: SaveOptions): Promise<CheckpointEntry> {
    if (!Number.isInteger(step) || step < 0) {
      throw new RangeError(`checkpoint step must be an integer >= 0: ${step}`);
    }
    const { model, state } = this.paths(step);
    await saveTrainingState(state, opts.state);
    const meta: Record<string, string | number | boolean> = { ...opts.extraMeta, step };
    if (opts.epoch !== undefined) meta.epoch = opts.epoch;
    if (opts.cer !== undefined) meta.dev_cer = opts.cer;
    try {
      await saveCheckpoint(model, opts.params, opts.config, meta);
    } catch (e) {
      await removeIfPresent(state);
      throw e;
    }
    if (opts.cer !== undefined) await this.updateBest(step, opts.cer, opts.epoch);
    await this.prune();
    return { step, model, state };
  }

  /**
   * Records the dev CER of the saved checkpoint of `step`; when it beats the best so far (or there is none),
   * copies its model to `best.safetensors` and rewrites `best.json`. Returns whether it became the best.
   */
  async updateBest(step: number, cer: number, epoch?: number): Promise<boolean> {
    if (!Number.isFinite(cer)) return false;
    if (this.bestRecord && !(cer < this.bestRecord.cer)) return false;
    const names = checkpointNames(step);
    const source = `${this.dir}/${names.model}`;
    if (!(await isCompleteSafetensors(source))) {
      throw new Error(`${source}: no complete checkpoint of step ${step} to mark as the best`);
    }
    await copyFileAtomic(source, this.bestPath, { fsync: true });
    const record: BestRecord = { step, cer, ...(epoch !== undefined ? { epoch } : {}), source: names.model };
    await writeFileAtomic(`${this.dir}/${BEST_RECORD}`, JSON.stringify(record, null, 2) + "\n", {
      fsync: true,
    });
    this.bestRecord = record;
    return true;
  }

  /** Every complete checkpoint, oldest first. */
  async list(): Promise<CheckpointEntry[]> {
    const { complete } = await this.scan();
    return complete;
  }

  /** The newest complete checkpoint (to resume from), or null. */
  async latest(): Promise<CheckpointEntry | null> {
    const all = await this.list();
    return all.length > 0 ? all[all.length - 1] : null;
  }

  /**
   * Deletes complete checkpoints older than the newest `keepLast`, and the files of incomplete ones (a lone
   * model or state file, or a cut file). Each model file goes before its state file.
   */
  async prune(): Promise<void> {
    const { complete, incomplete } = await this.scan();
    const doomed = [...complete.slice(0, Math.max(0, complete.length - this.keepLast)), ...incomplete];
    for (const entry of doomed) {
      await removeIfPresent(entry.model);
      await removeIfPresent(entry.state);
    }
  }

  /** Sorts the step files into complete checkpoints and the rest (by step, oldest first). */
  private async scan(): Promise<{ complete: CheckpointEntry[]; incomplete: CheckpointEntry[] }> {
    const steps = new Set<number>();
    for await (const entry of Deno.readDir(this.dir)) {
      if (!entry.isFile) continue;
      const m = MODEL_RE.exec(entry.name) ?? STATE_RE.exec(entry.name);
      if (m) steps.add(Number(m[1]));
    }
    const complete: CheckpointEntry[] = [];
    const incomplete: CheckpointEntry[] = [];
    for (const step of [...steps].sort((a, b) => a - b)) {
      const entry = { step, ...this.paths(step) };
      const whole = (await isCompleteSafetensors(entry.model)) && (await isCompleteSafetensors(entry.state));
      (whole ? complete : incomplete).push(entry);
    }
    return { complete, incomplete };
  }
}

async function readBest(path: string): Promise<BestRecord | null> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return null;
    throw e;
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new Error(`${path}: not JSON (${(e as Error).message}); delete it to start the best record afresh`);
  }
  const r = value as BestRecord;
  if (typeof r?.step !== "number" || typeof r.cer !== "number" || typeof r.source !== "string") {
    throw new Error(`${path}: expected {"step", "cer", "source"}; delete it to start the best record afresh`);
  }
  return r;
}
