/**
 * Weight repacking for the conv2d kernels: the forward and backward-data kernels read the channels of one tap
 * as contiguous vec4s, so the [Cout, Cin, kH, kW] weight is first copied into [taps, channels padded to the
 * tile] (zeros in the padding, so partial tiles need no mask on the weights).
 */
import { launch, program } from "../engine/kernel.ts";
import { empty, type Tensor } from "../engine/tensor.ts";
import { WG } from "./conv2d_geometry.ts";

const repackProgram = program({
  name: "conv2d:repack",
  uniforms: { A: "u32", B: "u32", bPad: "u32", G: "u32" },
  inputs: { w: "f32" },
  outputs: { o: "f32" },
  workgroupSize: WG,
  body: `
  let i = gidx;
  if (i >= u.A * u.bPad) { return; }
  let a = i / u.bPad;
  let b = i % u.bPad;
  let src = ((a / u.G) * u.B + min(b, u.B - 1u)) * u.G + a % u.G;
  o[i] = select(0.0, w[src], b < u.B);`,
});

/**
 * out[a][b] (b padded to `bPad` with zeros) = w[((a / G) * B + b) * G + a % G]. With G = A this is the
 * transpose [B, A] -> [A, Bpad] (forward); with G = kH kW it maps [Cout, Cin, kHkW] -> [Cout kHkW, Cin pad].
 */
export function repack(w: Tensor, A: number, B: number, bPad: number, G: number): Tensor {
  const o = empty([A, bPad], "f32", "conv2d weight repack");
  launch(repackProgram, {
    uniforms: { A, B, bPad, G },
    inputs: { w },
    outputs: { o },
    invocations: A * bPad,
  });
  return o;
}
