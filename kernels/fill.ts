/** Fills a buffer with a constant on the GPU (cheaper than uploading a large array of zeros). */
import { f32, FLAT_ARGS, flatIndex, grid1d, launch } from "../engine/kernel.ts";
import { type DType, empty, type Shape, type Tensor } from "../engine/tensor.ts";

const WG = 256;

/** Writes `value` into every element of `t` (in place, ordered with the other recorded work). */
export function fillInPlace(t: Tensor, value: number): Tensor {
  launch({
    key: `fill:${t.dtype}`,
    wgsl: () => `
struct P { n: u32, v: ${t.dtype} };
@group(0) @binding(0) var<uniform> u: P;
@group(0) @binding(1) var<storage, read_write> o: array<${t.dtype}>;
@compute @workgroup_size(${WG}) fn main(${FLAT_ARGS}) {
  let i = ${flatIndex(WG)};
  if (i >= u.n) { return; }
  o[i] = u.v;
}`,
    tensors: [t],
    params: [t.size, t.dtype === "f32" ? f32(value) : value],
    workgroups: grid1d(t.size, WG),
  });
  return t;
}

/** A new tensor filled with `value`, without a CPU upload. */
export function filled(shape: Shape, value: number, dtype: DType = "f32"): Tensor {
  return fillInPlace(empty(shape, dtype, "fill"), value);
}
