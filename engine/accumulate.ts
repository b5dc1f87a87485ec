/**
 * The engine's own gradient accumulation: `a + b` for two f32 gradients of the same size, one tiny WGSL kernel.
 * `backward()` uses it unless the kernels registered their `add` (engine/autograd.ts `setGradientAccumulator`),
 * so the tape works with no kernel module imported.
 */
import { FLAT_ARGS, flatIndex, grid1d, launch } from "./kernel.ts";
import { empty, shapeString, type Tensor } from "./tensor.ts";

const WG = 256;

/** A new tensor `a + b` (shape of `a`; `b` may have another shape of the same size). Not recorded on the tape. */
export function addGradients(a: Tensor, b: Tensor): Tensor {
  if (a.dtype !== "f32" || b.dtype !== "f32") {
    throw new TypeError(`backward: gradients must be f32, got ${a} and ${b}`);
  }
  if (a.size !== b.size) {
    throw new RangeError(
      `backward: cannot sum gradients ${shapeString(a.shape)} and ${shapeString(b.shape)} (sizes differ)`,
    );
  }
  const out = empty(a.shape, "f32", "gradient");
  launch({
    key: "engine:accumulate",
    wgsl: () => `
struct P { n: u32 };
@group(0) @binding(0) var<uniform> u: P;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> o: array<f32>;
@compute @workgroup_size(${WG}) fn main(${FLAT_ARGS}) {
  let i = ${flatIndex(WG)};
  if (i >= u.n) { return; }
  o[i] = a[i] + b[i];
}`,
    tensors: [a, b, out],
    params: [a.size],
    workgroups: grid1d(a.size, WG),
  });
  return out;
}
