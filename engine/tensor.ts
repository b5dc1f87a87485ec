/**
 * Tensors: a shape, a dtype and a reference-counted GPU buffer. Every tensor is contiguous (row-major);
 * `reshape` shares the buffer, and layout changes (permute, slice, pad, concat) run copy kernels. Autograd
 * state (the node that made the tensor, its gradient) lives here too; the tape logic is in autograd.ts.
 */
import { commands } from "./commands.ts";
import { keep, track } from "./scope.ts";

export type DType = "f32" | "i32";
export type Shape = readonly number[];

/** A node of the autograd tape: how to turn the output's gradient into the inputs' gradients. */
export interface GradNode {
  /** Operation name, used in error messages. */
  op: string;
  inputs: readonly Tensor[];
  /** Gradients for each input (null where an input needs none). Runs with gradient recording off. */
  backward: (grad: Tensor) => (Tensor | null)[];
}

class Storage {
  refs = 1;
  constructor(readonly buffer: GPUBuffer) {}
}

let nextId = 1;

export function sizeOf(shape: Shape): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export function shapeString(shape: Shape): string {
  return `[${shape.join(", ")}]`;
}

function checkShape(shape: Shape, what: string): void {
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0) throw new RangeError(`${what}: invalid shape ${shapeString(shape)}`);
  }
}

export class Tensor {
  readonly id = nextId++;
  readonly size: number;
  private storage: Storage | null;
  /** Whether gradients flow to (leaf) or through (intermediate) this tensor. */
  requiresGrad = false;
  /** Accumulated gradient of a leaf after `backward()`. Kept out of scopes; freed by `zeroGrad`/`dispose`. */
  grad: Tensor | null = null;
  /** The op that produced this tensor, when it was recorded on the tape. */
  node: GradNode | null = null;
  /** Optional name (parameters), used in messages. */
  name?: string;

  /** Use the creation functions (`tensor`, `zeros`, ...) or kernels instead. */
  constructor(readonly shape: Shape, readonly dtype: DType, buffer: GPUBuffer | Storage) {
    this.size = sizeOf(shape);
    this.storage = buffer instanceof Storage ? buffer : new Storage(buffer);
    track(this);
  }

  get rank(): number {
    return this.shape.length;
  }

  get isDisposed(): boolean {
    return this.storage === null;
  }

  /** The GPU buffer (its size is a pool size class, at least `size * 4` bytes). */
  get buffer(): GPUBuffer {
    if (!this.storage) {
      throw new Error(
        `tensor #${this.id}${this.name ? ` (${this.name})` : ""} ${shapeString(this.shape)} ` +
          `was used after dispose() or releaseBuffer()`,
      );
    }
    return this.storage.buffer;
  }

  /** A new tensor object with the same data and another shape of the same size (no copy, no autograd). */
  view(shape: Shape): Tensor {
    checkShape(shape, "view");
    if (sizeOf(shape) !== this.size) {
      throw new RangeError(`cannot view ${shapeString(this.shape)} as ${shapeString(shape)}`);
    }
    const s = this.storage;
    if (!s) void this.buffer;
    s!.refs++;
    return new Tensor([...shape], this.dtype, s!);
  }

  /**
   * Frees the data but keeps the tensor on the tape: for an intermediate whose value no backward closure reads
   * (the input of an add, of a dropout, of a layout copy), so that training holds only what backward needs.
   * Gradients still flow through it; reading its buffer afterwards throws.
   */
  releaseBuffer(): void {
    const s = this.storage;
    if (!s) return;
    this.storage = null;
    if (--s.refs === 0) commands().pool.release(s.buffer);
  }

  /** Frees the GPU buffer once no other view shares it. Safe to call twice. */
  dispose(): void {
    const s = this.storage;
    if (!s) return;
    this.storage = null;
    this.node = null;
    if (this.grad) {
      this.grad.dispose();
      this.grad = null;
    }
    if (--s.refs === 0) commands().pool.release(s.buffer);
  }

  /** Copies the data back to the CPU (waits for the GPU: about 10 ms on the CPU adapter; do it rarely). */
  async data(): Promise<Float32Array | Int32Array> {
    const buf = await commands().read(this.buffer, 0, this.size * 4, `reading ${shapeString(this.shape)}`);
    return this.dtype === "f32" ? new Float32Array(buf) : new Int32Array(buf);
  }

  /** `data()` as a Float32Array (throws for i32 tensors). */
  async f32(): Promise<Float32Array> {
    if (this.dtype !== "f32") throw new TypeError(`tensor is ${this.dtype}, not f32`);
    return await this.data() as Float32Array;
  }

  /** The single value of a one-element tensor. */
  async item(): Promise<number> {
    if (this.size !== 1) throw new RangeError(`item() needs one element, got ${shapeString(this.shape)}`);
    return (await this.data())[0];
  }

  toString(): string {
    return `Tensor#${this.id}(${shapeString(this.shape)}, ${this.dtype}${this.requiresGrad ? ", grad" : ""})`;
  }
}

/** An uninitialised tensor (kernels write every element). */
export function empty(shape: Shape, dtype: DType = "f32", label = "tensor"): Tensor {
  checkShape(shape, label);
  const bytes = Math.max(sizeOf(shape), 1) * 4;
  return new Tensor([...shape], dtype, commands().pool.acquire(bytes, label));
}

/** A tensor with the given values (copied to the GPU; numbers are converted to the dtype). */
export function tensor(
  values: ArrayLike<number>,
  shape: Shape = [values.length],
  dtype: DType = values instanceof Int32Array ? "i32" : "f32",
): Tensor {
  checkShape(shape, "tensor");
  if (values.length !== sizeOf(shape)) {
    throw new RangeError(`tensor: ${values.length} values do not fill shape ${shapeString(shape)}`);
  }
  const t = empty(shape, dtype);
  const typed = dtype === "f32"
    ? (values instanceof Float32Array ? values : Float32Array.from(values))
    : (values instanceof Int32Array ? values : Int32Array.from(values));
  if (typed.length > 0) commands().writeFresh(t.buffer, 0, typed);
  return t;
}

/** A tensor filled with `value`. */
export function full(shape: Shape, value: number, dtype: DType = "f32"): Tensor {
  const n = sizeOf(shape);
  return tensor(
    dtype === "f32" ? new Float32Array(n).fill(value) : new Int32Array(n).fill(value),
    shape,
    dtype,
  );
}

export function zeros(shape: Shape, dtype: DType = "f32"): Tensor {
  return full(shape, 0, dtype);
}

export function ones(shape: Shape): Tensor {
  return full(shape, 1);
}

/** Overwrites a tensor's values from the CPU, in order with the GPU work recorded before. */
export function assign(t: Tensor, values: Float32Array | Int32Array): void {
  if (values.length !== t.size) {
    throw new RangeError(`assign: ${values.length} values for ${shapeString(t.shape)}`);
  }
  commands().writeOrdered(t.buffer, 0, values);
}

export interface CopyOptions {
  /** First element read from `src` (default 0). */
  srcOffset?: number;
  /** First element written in `dst` (default 0). */
  dstOffset?: number;
  /** Elements copied (default: the rest of `src` from `srcOffset`). */
  count?: number;
}

function checkCount(v: number, what: string): void {
  if (!Number.isInteger(v) || v < 0) {
    throw new RangeError(`copyInto: ${what} ${v} is not a non-negative integer`);
  }
}

/**
 * Copies `count` elements of `src` (from `srcOffset`) into `dst` (from `dstOffset`) on the GPU, in order with
 * the work recorded before and after it: the one way outside the engine to move data between tensors without a
 * kernel (a loss into a ring of losses, a loaded state into an optimizer's). Offsets and count are in elements;
 * the dtypes must match and both ranges must lie inside the tensors. It writes `dst` in place and is not
 * recorded on the autograd tape. Returns `dst`.
 */
export function copyInto(src: Tensor, dst: Tensor, opts: CopyOptions = {}): Tensor {
  const srcOffset = opts.srcOffset ?? 0;
  const dstOffset = opts.dstOffset ?? 0;
  checkCount(srcOffset, "srcOffset");
  checkCount(dstOffset, "dstOffset");
  const count = opts.count ?? src.size - srcOffset;
  checkCount(count, "count");
  if (src.dtype !== dst.dtype) {
    throw new TypeError(`copyInto: cannot copy ${src.dtype} ${src} into ${dst.dtype} ${dst}`);
  }
  if (srcOffset + count > src.size) {
    throw new RangeError(
      `copyInto: elements ${srcOffset}..${srcOffset + count} are outside the source ${
        shapeString(src.shape)
      } ` +
        `(${src.size} elements)`,
    );
  }
  if (dstOffset + count > dst.size) {
    throw new RangeError(
      `copyInto: elements ${dstOffset}..${dstOffset + count} are outside the destination ` +
        `${shapeString(dst.shape)} (${dst.size} elements)`,
    );
  }
  const from = src.buffer;
  const to = dst.buffer;
  if (count === 0) return dst;
  if (from === to) {
    throw new RangeError(`copyInto: ${src} and ${dst} share storage (a view); copy through a new tensor`);
  }
  commands().copy(from, srcOffset * 4, to, dstOffset * 4, count * 4);
  return dst;
}

/** A trainable parameter: a leaf that requires a gradient and is kept out of scopes. */
export function parameter(values: Float32Array, shape: Shape, name?: string): Tensor {
  const t = keep(tensor(values, shape, "f32"));
  t.requiresGrad = true;
  t.name = name;
  return t;
}
