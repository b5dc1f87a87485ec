/**
 * 2-D convolution (PyTorch's `F.conv2d`, NCHW, no dilation or groups) with its three gradients, as implicit
 * GEMMs with register tiling and no workgroup memory. This file is the op: it checks the geometry, repacks
 * the weights, runs the kernels over batch chunks and wires the gradients into autograd. The kernels live
 * beside it, one file per pass (as gru.ts + gru_wgsl.ts and ctc.ts + ctc_wgsl.ts split host and WGSL):
 *
 * - kernels/conv2d_geometry.ts: shapes, stride, padding and output size, checked once;
 * - kernels/conv2d_repack.ts: weights repacked so the channels of one tap are contiguous vec4s;
 * - kernels/conv2d_forward.ts: forward, TC output channels x TP output columns per invocation;
 * - kernels/conv2d_backward_data.ts: input gradient, the transposed convolution in gather form over the
 *   stride phases;
 * - kernels/conv2d_backward_weight.ts: weight and bias gradients, partial sums over chunks of rows, summed here.
 *
 * A storage binding must stay under the adapter's limit (128 MiB on the CPU adapter), which the model's
 * activations can exceed (20 x 32 x 64 x 875 floats). When an operand's buffer is over the limit, launches run
 * on batch chunks copied to and from temporary tensors (kernels/batch_chunks.ts; a buffer copy is cheap next
 * to the convolution).
 */
import { record } from "../engine/autograd.ts";
import { empty, type Tensor } from "../engine/tensor.ts";
import { BatchChunks, forEachBatchChunk } from "./batch_chunks.ts";
import { GIN_TC, gradInputLaunch } from "./conv2d_backward_data.ts";
import { gradBiasLaunch, gradWeightLaunch, rowsPerChunk } from "./conv2d_backward_weight.ts";
import { forwardLaunch, FWD_TC } from "./conv2d_forward.ts";
import { bindingLimit, type Conv2dOptions, type Geometry, geometry, roundUp } from "./conv2d_geometry.ts";
import { repack } from "./conv2d_repack.ts";
import { sum } from "./reduce.ts";

export type { Conv2dOptions } from "./conv2d_geometry.ts";

/** Sums partials [chunks, ...shape] over the chunks. */
function sumChunks(part: Tensor, shape: readonly number[]): Tensor {
  const s = sum(part, 0);
  const out = s.view(shape);
  s.dispose();
  part.dispose();
  return out;
}

function forward(x: Tensor, weight: Tensor, bias: Tensor | null, g: Geometry, limit: number): Tensor {
  const out = empty([g.N, g.Cout, g.OH, g.OW], "f32", "conv2d");
  const wf = repack(weight, g.Cin * g.kH * g.kW, g.Cout, roundUp(g.Cout, FWD_TC), g.Cin * g.kH * g.kW);
  forEachBatchChunk("conv2d", limit, { inputs: { x }, outputs: { out } }, (c) => {
    forwardLaunch(c.inputs.x, wf, bias, c.outputs.out, g);
  });
  wf.dispose();
  return out;
}

function gradInput(gy: Tensor, weight: Tensor, g: Geometry, limit: number): Tensor {
  const gx = empty([g.N, g.Cin, g.H, g.W], "f32", "conv2d input gradient");
  const wg = repack(weight, g.Cout * g.kH * g.kW, g.Cin, roundUp(g.Cin, GIN_TC), g.kH * g.kW);
  forEachBatchChunk("conv2d backward", limit, { inputs: { gy }, outputs: { gx } }, (c) => {
    gradInputLaunch(c.inputs.gy, wg, c.outputs.gx, g);
  });
  wg.dispose();
  return gx;
}

function gradWeightAndBias(
  x: Tensor,
  gy: Tensor,
  g: Geometry,
  limit: number,
  wantW: boolean,
  wantB: boolean,
): [Tensor | null, Tensor | null] {
  // x sets the chunks even when only the bias gradient is wanted (it is then never copied).
  const chunks = new BatchChunks("conv2d backward", limit, { x, gy }, {});
  const R = rowsPerChunk(g.OW);
  const chunksOf = (count: number) => Math.ceil(count * g.OH / R);
  const totalChunks = chunks.ranges.reduce((s, [, count]) => s + chunksOf(count), 0);
  const K = g.Cin * g.kH * g.kW;
  const pw = wantW ? empty([totalChunks, g.Cout * K], "f32", "conv2d weight gradient partials") : null;
  const pb = wantB ? empty([totalChunks, g.Cout], "f32", "conv2d bias gradient partials") : null;
  let base = 0;
  chunks.forEach((c) => {
    const gc = c.inputs.gy;
    if (pw) gradWeightLaunch(c.inputs.x, gc, pw, base, g);
    if (pb) gradBiasLaunch(gc, pb, base, g);
    base += chunksOf(c.count);
  });
  return [
    pw ? sumChunks(pw, [g.Cout, g.Cin, g.kH, g.kW]) : null,
    pb ? sumChunks(pb, [g.Cout]) : null,
  ];
}

/**
 * PyTorch's `F.conv2d(x, weight, bias, stride, padding)`: x [N, Cin, H, W], weight [Cout, Cin, kH, kW],
 * bias [Cout] or null; output [N, Cout, floor((H + 2p - kH) / s) + 1, ...]. Differentiable in all three.
 */
export function conv2d(x: Tensor, weight: Tensor, bias: Tensor | null, opts: Conv2dOptions = {}): Tensor {
  const g = geometry(x, weight, bias, opts);
  const limit = bindingLimit(opts);
  const out = forward(x, weight, bias, g, limit);
  const inputs = bias ? [x, weight, bias] : [x, weight];
  return record(out, "conv2d", inputs, (gy) => {
    const gx = x.requiresGrad ? gradInput(gy, weight, g, limit) : null;
    const [gw, gb] = gradWeightAndBias(x, gy, g, limit, weight.requiresGrad, !!bias?.requiresGrad);
    return bias ? [gx, gw, gb] : [gx, gw];
  });
}
