/** Per-sample lengths (sequence lengths for the BiGRU, input/target lengths for CTC) as an i32 tensor. */
import { type Tensor, tensor } from "../engine/tensor.ts";

export interface LengthsCheck {
  /** The op named in errors ("ctcLoss", "biGru"). */
  op: string;
  /** The argument named in errors ("lengths", "inputLengths"). */
  what: string;
  /** The smallest and largest length allowed (checked for numbers; tensors are not read back). */
  min: number;
  max: number;
}

/**
 * `lengths` as an i32 tensor of `n` values: numbers are checked and uploaded (a new tensor the caller disposes),
 * a tensor is checked for dtype and size and returned as is (so `result !== lengths` tells whether to dispose).
 */
export function lengthsTensor(lengths: Tensor | readonly number[], n: number, check: LengthsCheck): Tensor {
  const { op, what, min, max } = check;
  if (Array.isArray(lengths)) {
    const ls: readonly number[] = lengths;
    if (ls.length !== n) throw new RangeError(`${op}: ${ls.length} ${what} for a batch of ${n}`);
    ls.forEach((l, i) => {
      if (!Number.isInteger(l) || l < min || l > max) {
        throw new RangeError(`${op}: ${what}[${i}] = ${l} is not in ${min}..${max}`);
      }
    });
    return tensor(Int32Array.from(ls), [n], "i32");
  }
  const t = lengths as Tensor;
  if (t.dtype !== "i32" || t.size !== n) {
    throw new TypeError(`${op}: ${what} must be an i32 tensor of ${n} values, got ${t}`);
  }
  return t;
}
