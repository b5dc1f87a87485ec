/**
 * Model checkpoints from bytes: what a browser (which has no file paths) needs to load a `.safetensors` checkpoint
 * it fetched or was given, and the checks shared with the file-based loader of model/checkpoint.ts (which
 * re-exports everything here).
 *
 * @module
 */
import { configFromMetadata, type ModelConfig } from "./config.ts";
import { readSafetensors, type SafeTensor } from "./safetensors_codec.ts";

/** The expected name and shape of a parameter (`parameterSpecs(config)` gives them). */
export interface WeightSpec {
  name: string;
  shape: readonly number[];
}

export interface LoadedCheckpoint {
  config: ModelConfig;
  /** Every tensor of the file as F32, by name. */
  weights: Map<string, Float32Array>;
  /** Each tensor's shape, by name. */
  shapes: Map<string, number[]>;
  /** The file's `__metadata__` strings (config and any extra). */
  metadata: Record<string, string>;
}

export interface LoadCheckpointOptions {
  /** When given, the weights are checked against the specs of the file's config (see {@link checkWeights}). */
  specs?: (config: ModelConfig) => readonly WeightSpec[];
}

/** A checkpoint that does not fit: the message names the file and every problem. */
export class CheckpointError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "CheckpointError";
  }
}

const shapeText = (shape: readonly number[]) => `[${shape.join(", ")}]`;

/**
 * Reads a model checkpoint from the bytes of a `.safetensors` file: the config from its metadata (the tutorial's
 * when there is none) and every tensor as F32 (F16 and F64 are converted; integer tensors are an error, since a
 * model's weights are floats). `name` (a file name or URL) is what errors call it.
 */
export function readCheckpoint(
  bytes: Uint8Array,
  name: string,
  opts: LoadCheckpointOptions = {},
): LoadedCheckpoint {
  const { tensors, metadata } = readSafetensors(bytes, name);
  return checkpointFromTensors(tensors, metadata, name, opts);
}

/** A checkpoint from the parsed tensors and metadata of `path` (see {@link readCheckpoint}). */
export function checkpointFromTensors(
  tensors: ReadonlyMap<string, SafeTensor>,
  metadata: Record<string, string>,
  path: string,
  opts: LoadCheckpointOptions = {},
): LoadedCheckpoint {
  const config = configFromMetadata(metadata, path);
  const weights = new Map<string, Float32Array>();
  const shapes = new Map<string, number[]>();
  const integer: string[] = [];
  for (const [name, t] of tensors) {
    if (t.dtype === "F32" || t.dtype === "F16") {
      weights.set(name, t.data as Float32Array);
    } else if (t.dtype === "F64") {
      weights.set(name, Float32Array.from(t.data as Float64Array));
    } else {
      integer.push(`${name} (${t.dtype})`);
      continue;
    }
    shapes.set(name, [...t.shape]);
  }
  if (integer.length > 0) {
    throw new CheckpointError(
      `${path}: model weights must be floating point (F32, F16 or F64); these tensors are not: ${
        integer.join(", ")
      }`,
    );
  }
  if (opts.specs) checkWeights(weights, opts.specs(config), path, shapes);
  return { config, weights, shapes, metadata };
}

/**
 * Checks that `weights` holds exactly the tensors of `specs`, and throws one error listing every missing,
 * unexpected and wrongly shaped tensor. With `shapes` the shapes are compared exactly; without, the element
 * counts.
 */
export function checkWeights(
  weights: ReadonlyMap<string, Float32Array>,
  specs: readonly WeightSpec[],
  file: string,
  shapes?: ReadonlyMap<string, readonly number[]>,
): void {
  const expected = new Map(specs.map((s) => [s.name, s.shape]));
  const missing: string[] = [];
  const wrong: string[] = [];
  for (const [name, shape] of expected) {
    const w = weights.get(name);
    if (!w) {
      missing.push(`${name} ${shapeText(shape)}`);
      continue;
    }
    const got = shapes?.get(name);
    const count = shape.reduce((a, b) => a * b, 1);
    if (got ? shapeText(got) !== shapeText(shape) : w.length !== count) {
      wrong.push(`${name}: expected ${shapeText(shape)}, got ${got ? shapeText(got) : `${w.length} values`}`);
    }
  }
  const unexpected = [...weights.keys()].filter((n) => !expected.has(n)).map((n) => {
    const got = shapes?.get(n);
    return got ? `${n} ${shapeText(got)}` : n;
  });
  if (missing.length + wrong.length + unexpected.length === 0) return;
  const parts = [`${file}: the checkpoint does not match the model`];
  if (missing.length > 0) parts.push(`missing (${missing.length}): ${missing.join(", ")}`);
  if (unexpected.length > 0) parts.push(`unexpected (${unexpected.length}): ${unexpected.join(", ")}`);
  if (wrong.length > 0) parts.push(`wrong shape (${wrong.length}): ${wrong.join("; ")}`);
  throw new CheckpointError(parts.join("\n  "));
}
