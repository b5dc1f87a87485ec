/**
 * Loads the PyTorch reference fixtures of tests/fixtures/torch/ (see README.md there for every file and tensor)
 * for parity tests.
 *
 * ```ts
 * const ops = loadTorchFixture("ops.safetensors");
 * const x = ops.f32("conv2d.s2p1.input"), want = ops.f64("conv2d.s2p1.output");
 * const shape = ops.shape("conv2d.s2p1.output");
 * ```
 *
 * @module
 */
import { readSafetensors, type SafeTensor } from "../model/safetensors.ts";

/** The folder holding the fixture files. */
export const TORCH_FIXTURES_DIR: URL = new URL("./fixtures/torch/", import.meta.url);

/** Whether tests/fixtures/torch/ holds `file` (default "ops.safetensors"): parity tests are ignored without it. */
export function haveTorchFixture(file = "ops.safetensors"): boolean {
  try {
    Deno.statSync(new URL(file, TORCH_FIXTURES_DIR));
    return true;
  } catch {
    return false;
  }
}

/** One fixture file, with typed accessors that fail with the file and tensor name when something is missing. */
export class TorchFixture {
  constructor(
    /** File name relative to tests/fixtures/torch/, e.g. "ops.safetensors". */
    readonly file: string,
    /** Every tensor by name. */
    readonly tensors: Map<string, SafeTensor>,
    /** The `__metadata__` strings (model config, descriptions, source file names). */
    readonly metadata: Record<string, string>,
  ) {}

  /** Whether the file holds a tensor of that name. */
  has(name: string): boolean {
    return this.tensors.has(name);
  }

  /** The tensor, or an error naming the file and listing tensors that share its first name part. */
  get(name: string): SafeTensor {
    const t = this.tensors.get(name);
    if (t) return t;
    const head = name.split(".")[0];
    const near = [...this.tensors.keys()].filter((k) => k.startsWith(head)).slice(0, 12);
    throw new Error(
      `fixture ${this.file} has no tensor "${name}"${near.length ? ` (similar: ${near.join(", ")})` : ""}`,
    );
  }

  /** The tensor's shape. */
  shape(name: string): number[] {
    return this.get(name).shape;
  }

  /** The tensor's values as float64 (F32 and F64 tensors; F32 values are widened exactly). */
  f64(name: string): Float64Array {
    const t = this.get(name);
    if (t.data instanceof Float64Array) return t.data;
    if (t.data instanceof Float32Array) return Float64Array.from(t.data);
    throw new Error(`fixture ${this.file}: tensor "${name}" is ${t.dtype}, not a float tensor`);
  }

  /**
   * The tensor's values as float32. Inputs and weights are stored as F32 and come back unchanged; F64 outputs
   * are rounded (for feeding a float32 engine, not for comparing against).
   */
  f32(name: string): Float32Array {
    const t = this.get(name);
    if (t.data instanceof Float32Array) return t.data;
    if (t.data instanceof Float64Array) return Float32Array.from(t.data);
    throw new Error(`fixture ${this.file}: tensor "${name}" is ${t.dtype}, not a float tensor`);
  }

  /** The values of an integer (I32 or I64) tensor. */
  i32(name: string): Int32Array {
    const t = this.get(name);
    if (t.data instanceof Int32Array) return t.data;
    throw new Error(`fixture ${this.file}: tensor "${name}" is ${t.dtype}, not an integer tensor`);
  }

  /** The single value of a one-element tensor (e.g. `output.loss`, shape []). */
  scalar(name: string): number {
    const t = this.get(name);
    if (t.data.length !== 1) {
      throw new Error(`fixture ${this.file}: tensor "${name}" has shape [${t.shape}], not a single value`);
    }
    return Number(t.data[0]);
  }

  /** The tensors whose names start with `prefix`, keyed by the rest of the name (e.g. "param." -> state_dict). */
  withPrefix(prefix: string): Map<string, SafeTensor> {
    const out = new Map<string, SafeTensor>();
    for (const [k, v] of this.tensors) if (k.startsWith(prefix)) out.set(k.slice(prefix.length), v);
    return out;
  }
}

const cache = new Map<string, TorchFixture>();

/**
 * Reads a fixture file, e.g. `loadTorchFixture("model_small_default.safetensors")` or
 * `loadTorchFixture("pytorch_trained/model.safetensors")`. Parsed files are cached, so tests share them; do not
 * modify the returned arrays.
 */
export function loadTorchFixture(file: string): TorchFixture {
  const cached = cache.get(file);
  if (cached) return cached;
  const url = new URL(file, TORCH_FIXTURES_DIR);
  let bytes: Uint8Array;
  try {
    bytes = Deno.readFileSync(url);
  } catch (e) {
    throw new Error(
      `fixture ${url.pathname} cannot be read (${(e as Error).message}); regenerate with ` +
        `/usr/bin/python3 tests/fixtures/torch/make_fixtures.py`,
    );
  }
  const { tensors, metadata } = readSafetensors(bytes, url.pathname);
  const fixture = new TorchFixture(file, tensors, metadata);
  cache.set(file, fixture);
  return fixture;
}

/** One row of pytorch_trained/greedy.tsv. */
export interface GreedyReference {
  /** Audio path relative to /work/shared/speech (the repo's ../shared/speech), e.g. "fsdd/librispeech/...flac". */
  file: string;
  /** The true transcript. */
  reference: string;
  /** What the PyTorch-trained model's greedy CTC decoding gave. */
  pytorchGreedy: string;
}

/** The rows of pytorch_trained/greedy.tsv: 20 FSDD test clips with PyTorch's greedy transcripts. */
export function loadGreedyReferences(): GreedyReference[] {
  const text = Deno.readTextFileSync(new URL("pytorch_trained/greedy.tsv", TORCH_FIXTURES_DIR));
  const lines = text.split("\n").filter((l) => l.length > 0);
  if (lines[0] !== "file\treference\tpytorch_greedy") {
    throw new Error(`greedy.tsv: unexpected header ${lines[0]}`);
  }
  return lines.slice(1).map((line, i) => {
    const cols = line.split("\t");
    if (cols.length !== 3) throw new Error(`greedy.tsv line ${i + 2}: ${cols.length} columns, expected 3`);
    return { file: cols[0], reference: cols[1], pytorchGreedy: cols[2] };
  });
}
