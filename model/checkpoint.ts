/**
 * Model checkpoints and training state, as `.safetensors` files.
 *
 * A model checkpoint holds every parameter as F32 under its PyTorch `state_dict` name and shape, and the model
 * config in `__metadata__` (see `configToMetadata`), so PyTorch's `safetensors.torch.load_file` reads it into
 * the tutorial model and we read PyTorch's files back. A checkpoint without metadata is taken to be the
 * tutorial's model.
 *
 * A training state file (beside the model, e.g. `step-000123.state.safetensors`) holds what resuming needs
 * besides the weights: named F32/I32 arrays (optimizer moments, the epoch's sample order, ...) and JSON values
 * in the metadata (step, epoch, RNG states, scheduler step, best CER, ...).
 *
 * All files are written to a temporary file and renamed, so a crash never leaves a half-written checkpoint
 * under the final name.
 *
 * Reading a checkpoint from bytes (a browser's fetch or file input) is model/checkpoint_bytes.ts, re-exported here.
 *
 * @module
 */
import { configToMetadata, type ModelConfig } from "./config.ts";
import { loadSafetensorsFile, type SafeTensor, saveSafetensorsFile } from "./safetensors.ts";
import {
  CheckpointError,
  checkpointFromTensors,
  type LoadCheckpointOptions,
  type LoadedCheckpoint,
} from "./checkpoint_bytes.ts";

export * from "./checkpoint_bytes.ts";

/** What saving needs of a tensor (the engine's `Tensor` has it). */
export interface ReadableTensor {
  readonly shape: readonly number[];
  readonly dtype: "f32" | "i32";
  data(): Promise<Float32Array | Int32Array>;
}

/** Reads every tensor back from the GPU (all readbacks in flight together: one wait, not one per tensor). */
export async function readBack(
  tensors: ReadonlyMap<string, ReadableTensor>,
): Promise<Map<string, Float32Array | Int32Array>> {
  const entries = [...tensors];
  const data = await Promise.all(entries.map(([, t]) => t.data()));
  return new Map(entries.map(([name], i) => [name, data[i]]));
}

/**
 * Saves the parameters (read back from the GPU) as F32 tensors named as PyTorch's state_dict, with the config
 * and `extraMeta` (e.g. step, epoch, dev CER) in the metadata. Atomic.
 */
export async function saveCheckpoint(
  path: string,
  params: ReadonlyMap<string, ReadableTensor>,
  config: ModelConfig,
  extraMeta: Record<string, string | number | boolean> = {},
): Promise<void> {
  for (const [name, t] of params) {
    if (t.dtype !== "f32") throw new CheckpointError(`${path}: parameter ${name} is ${t.dtype}, not f32`);
  }
  const metadata = configToMetadata(config);
  for (const [k, v] of Object.entries(extraMeta)) {
    if (Object.hasOwn(metadata, k)) {
      throw new CheckpointError(`${path}: extra metadata "${k}" would overwrite the model config`);
    }
    metadata[k] = String(v);
  }
  const data = await readBack(params);
  const tensors = new Map<string, SafeTensor>();
  for (const [name, t] of params) {
    const values = data.get(name)!;
    tensors.set(name, { dtype: "F32", shape: [...t.shape], data: values });
  }
  await saveSafetensorsFile(path, tensors, metadata);
}

/**
 * Loads a model checkpoint file: the config from its metadata (the tutorial's when there is none) and every
 * tensor as F32 (see {@link readCheckpoint}, which does the same from bytes).
 */
export async function loadCheckpoint(
  path: string,
  opts: LoadCheckpointOptions = {},
): Promise<LoadedCheckpoint> {
  const { tensors, metadata } = await loadSafetensorsFile(path);
  return checkpointFromTensors(tensors, metadata, path, opts);
}

// ---- training state ----------------------------------------------------------------------------------------

/** What resuming needs besides the weights. `meta` values must survive JSON (non-finite numbers do). */
export interface TrainingState {
  tensors: Map<string, Float32Array | Int32Array>;
  meta: Record<string, unknown>;
}

/** The metadata key that marks a training state file (and its format version). */
const FORMAT_KEY = "format";
const FORMAT = "speech-training-state/1";
/** JSON has no NaN or Infinity; they are written as `{"$number": "Infinity"}`. */
const NUMBER_TAG = "$number";

function encodeMeta(value: unknown): string {
  return JSON.stringify(
    value,
    (_k, v) => (typeof v === "number" && !Number.isFinite(v) ? { [NUMBER_TAG]: String(v) } : v),
  );
}

function decodeMeta(text: string, key: string, path: string): unknown {
  try {
    return JSON.parse(text, (_k, v) => {
      if (v && typeof v === "object" && !Array.isArray(v)) {
        const keys = Object.keys(v);
        if (keys.length === 1 && keys[0] === NUMBER_TAG) return Number(v[NUMBER_TAG]);
      }
      return v;
    });
  } catch (e) {
    throw new CheckpointError(`${path}: metadata "${key}" is not JSON (${(e as Error).message})`);
  }
}

/** Saves a training state: the arrays as 1-D F32/I32 tensors, each meta value as a JSON string. Atomic. */
export async function saveTrainingState(path: string, state: TrainingState): Promise<void> {
  const metadata: Record<string, string> = { [FORMAT_KEY]: FORMAT };
  for (const [k, v] of Object.entries(state.meta)) {
    if (k === FORMAT_KEY) throw new CheckpointError(`${path}: meta key "${FORMAT_KEY}" is reserved`);
    if (v === undefined) continue;
    metadata[k] = encodeMeta(v);
  }
  const tensors = new Map<string, SafeTensor>();
  for (const [name, data] of state.tensors) {
    if (!(data instanceof Float32Array) && !(data instanceof Int32Array)) {
      throw new CheckpointError(`${path}: state tensor ${name} must be a Float32Array or Int32Array`);
    }
    tensors.set(name, { dtype: data instanceof Float32Array ? "F32" : "I32", shape: [data.length], data });
  }
  await saveSafetensorsFile(path, tensors, metadata);
}

/** Loads a training state written by {@link saveTrainingState}. */
export async function loadTrainingState(path: string): Promise<TrainingState> {
  const { tensors, metadata } = await loadSafetensorsFile(path);
  if (metadata[FORMAT_KEY] !== FORMAT) {
    throw new CheckpointError(
      `${path}: not a training state file (metadata "${FORMAT_KEY}" is ${
        JSON.stringify(metadata[FORMAT_KEY] ?? null)
      }, expected "${FORMAT}")`,
    );
  }
  const meta: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(metadata)) if (k !== FORMAT_KEY) meta[k] = decodeMeta(v, k, path);
  const out = new Map<string, Float32Array | Int32Array>();
  for (const [name, t] of tensors) {
    if (t.dtype === "F32") out.set(name, t.data as Float32Array);
    else if (t.dtype === "I32") out.set(name, t.data as Int32Array);
    else throw new CheckpointError(`${path}: state tensor ${name} is ${t.dtype}, expected F32 or I32`);
  }
  return { tensors: out, meta };
}

/** Prefix for the optimizer's arrays in a training state (`optimizer.<param>.exp_avg`, `optimizer.step`). */
export const OPTIMIZER_PREFIX = "optimizer.";

/**
 * The optimizer's state tensors (e.g. `AdamW.stateTensors()`) read back and named for a training state, with
 * `prefix` in front of each name.
 */
export async function optimizerStateArrays(
  stateTensors: ReadonlyMap<string, ReadableTensor>,
  prefix = OPTIMIZER_PREFIX,
): Promise<Map<string, Float32Array | Int32Array>> {
  const data = await readBack(stateTensors);
  return new Map([...data].map(([name, values]) => [prefix + name, values]));
}

/** The arrays of a training state under `prefix`, with the prefix taken off (for `AdamW.loadState`). */
export function optimizerStateFrom(
  tensors: ReadonlyMap<string, Float32Array | Int32Array>,
  prefix = OPTIMIZER_PREFIX,
): Map<string, Float32Array> {
  const out = new Map<string, Float32Array>();
  for (const [name, data] of tensors) {
    if (!name.startsWith(prefix)) continue;
    if (!(data instanceof Float32Array)) throw new CheckpointError(`optimizer state ${name} is not F32`);
    out.set(name.slice(prefix.length), data);
  }
  return out;
}
