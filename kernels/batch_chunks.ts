/**
 * Batch chunking under the storage binding limit: the one slice -> run -> release -> store loop of the kernels
 * whose operands can outgrow a binding (conv2d, layerNorm, dropout).
 *
 * A storage binding must stay under the adapter's `maxStorageBufferBindingSize` (128 MiB on the CPU adapter),
 * which the model's activations can exceed (20 x 32 x 64 x 875 floats). The operands of such a launch are
 * batch-major: axis 0 is the batch (or, for a flat view, the element). When every operand's buffer fits the
 * limit the launch runs once on the tensors themselves; otherwise it runs on ranges of the batch, each on
 * copies: inputs are copied into temporary tensors, outputs are written into temporary tensors and copied back
 * into their samples of the whole output (a buffer copy is cheap next to the kernels it serves).
 *
 * The number of samples per range is the largest whose biggest operand's buffer size class
 * (engine/buffer_pool.ts `sizeClass`) still fits the limit: a temporary tensor gets a buffer of that class.
 */
import { sizeClass } from "../engine/buffer_pool.ts";
import { copyInto, empty, shapeString, type Tensor } from "../engine/tensor.ts";

/** Batch-major operands by name. */
export type BatchTensors = Record<string, Tensor>;

/** One range of the batch, with its operands: the whole tensors when there is one range, else copies. */
export interface BatchChunk<I extends BatchTensors, O extends BatchTensors> {
  /** First sample of the range. */
  start: number;
  /** Samples in the range. */
  count: number;
  /** Samples [start, start + count) of each input (copied on first read when the batch is chunked). */
  inputs: I;
  /** Where to write samples [start, start + count) of each output (stored back after the run). */
  outputs: O;
}

/** Elements of one sample (one index along axis 0) of a batch-major tensor. */
function sampleElements(t: Tensor): number {
  return t.size / t.shape[0];
}

/** The batch size shared by all operands (their axis 0). */
function batchSize(label: string, tensors: readonly Tensor[]): number {
  if (tensors.length === 0) throw new TypeError(`${label}: batch chunking needs an operand`);
  const n = tensors[0].shape[0];
  for (const t of tensors) {
    if (t.rank === 0 || t.shape[0] !== n) {
      throw new RangeError(
        `${label}: batch-major operands disagree on axis 0: ${
          tensors.map((t) => shapeString(t.shape)).join(", ")
        }`,
      );
    }
  }
  return n;
}

/**
 * Splits the batch of `tensors` (all batch-major, with one batch size) into [start, count] ranges whose
 * operands each fit one storage binding of `limit` bytes. A single range [0, n] means the whole tensors can be
 * bound as they are.
 */
export function batchRanges(label: string, limit: number, tensors: readonly Tensor[]): [number, number][] {
  const n = batchSize(label, tensors);
  if (tensors.every((t) => t.buffer.size <= limit)) return [[0, n]];
  const worst = Math.max(...tensors.map((t) => sampleElements(t) * 4));
  const fits = (k: number) => sizeClass(k * worst) <= limit;
  if (!fits(1)) {
    throw new RangeError(
      `${label}: one sample needs ${worst} bytes, over the ${limit}-byte storage binding limit; ` +
        `use shorter inputs`,
    );
  }
  // The largest k in [1, n] that fits (sizeClass is non-decreasing).
  let lo = 1, hi = n;
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (fits(mid)) lo = mid;
    else hi = mid - 1;
  }
  const ranges: [number, number][] = [];
  for (let n0 = 0; n0 < n; n0 += lo) ranges.push([n0, Math.min(lo, n - n0)]);
  return ranges;
}

/** Samples [start, start + count) of a batch-major tensor, copied into a new tensor. */
function sliceBatch(t: Tensor, start: number, count: number, label: string): Tensor {
  const per = sampleElements(t);
  const out = empty([count, ...t.shape.slice(1)], t.dtype, `${label} chunk`);
  return copyInto(t, out, { srcOffset: start * per, count: count * per });
}

/**
 * The chunks of one batch-major launch: the ranges of the batch (from all inputs and outputs), and
 * {@link BatchChunks.forEach}, which runs a launch per range on the tensors or their copies.
 */
export class BatchChunks<I extends BatchTensors, O extends BatchTensors = Record<never, Tensor>> {
  /** [start, count] of each range; one range [0, n] when nothing is chunked. */
  readonly ranges: readonly (readonly [number, number])[];

  constructor(readonly label: string, limit: number, readonly inputs: I, readonly outputs: O) {
    this.ranges = batchRanges(label, limit, [...Object.values(inputs), ...Object.values(outputs)]);
  }

  /** Whether the launch runs on copies (more than one range). */
  get chunked(): boolean {
    return this.ranges.length > 1;
  }

  /**
   * Runs `run` once per range. An input is copied the first time `run` reads it from `chunk.inputs` (so an
   * operand needed only sometimes costs nothing otherwise); outputs are fresh tensors of `count` samples. After
   * the run the input copies are freed and the output chunks are copied into the whole outputs and freed.
   */
  forEach(run: (chunk: BatchChunk<I, O>) => void): void {
    for (const [start, count] of this.ranges) {
      if (!this.chunked) {
        run({ start, count, inputs: this.inputs, outputs: this.outputs });
        continue;
      }
      const copies: Tensor[] = [];
      const inputs = {} as I;
      for (const [name, t] of Object.entries(this.inputs)) {
        let copy: Tensor | null = null;
        Object.defineProperty(inputs, name, {
          enumerable: true,
          get: () => {
            if (!copy) copies.push(copy = sliceBatch(t, start, count, this.label));
            return copy;
          },
        });
      }
      const outputs = Object.fromEntries(
        Object.entries(this.outputs).map((
          [name, t],
        ) => [name, empty([count, ...t.shape.slice(1)], t.dtype, `${this.label} chunk`)]),
      ) as O;
      try {
        run({ start, count, inputs, outputs });
      } catch (e) {
        for (const t of Object.values(outputs)) t.dispose();
        throw e;
      } finally {
        for (const t of copies) t.dispose();
      }
      for (const [name, t] of Object.entries(outputs)) {
        const whole = this.outputs[name];
        copyInto(t, whole, { dstOffset: start * sampleElements(whole) });
        t.dispose();
      }
    }
  }
}

/** `new BatchChunks(label, limit, inputs, outputs).forEach(run)`. */
export function forEachBatchChunk<I extends BatchTensors, O extends BatchTensors>(
  label: string,
  limit: number,
  operands: { inputs: I; outputs: O },
  run: (chunk: BatchChunk<I, O>) => void,
): void {
  new BatchChunks(label, limit, operands.inputs, operands.outputs).forEach(run);
}
