/**
 * The engine's own gradient accumulation: `a + b` for two f32 gradients of the same size, one tiny WGSL kernel.
 * `backward()` uses it unless the kernels registered their `add` (engine/autograd.ts `setGradientAccumulator`),
 * so the tape works with no kernel module imported.
 */
import { launch } from "./kernel.ts";
import { program } from "./program.ts";
import { empty, shapeString, type Tensor } from "./tensor.ts";

const ACCUMULATE = program({
  name: "engine:accumulate",
  uniforms: { n: "u32" },
  inputs: { a: "f32", b: "f32" },
  outputs: { o: "f32" },
  workgroupSize: 256,
  body: `
  if (gidx >= u.n) { return; }
  o[gidx] = a[gidx] + b[gidx];`,
});

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
  launch(ACCUMULATE, { uniforms: { n: a.size }, inputs: { a, b }, outputs: { o: out }, invocations: a.size });
  return out;
}
