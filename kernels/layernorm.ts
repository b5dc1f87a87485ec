/**
 * Layer normalisation over one axis (PyTorch's `F.layer_norm` over the last axis, with biased variance), and
 * over any axis without materialising transposes: the model's CNNLayerNorm normalises the feature axis H of an
 * (N, C, H, W) tensor, which PyTorch does as transpose -> LayerNorm(H) -> transpose.
 *
 * The tensor is viewed as [outer, D, inner] around the normalised axis; each invocation owns one row (o, i),
 * whose D elements sit `inner` apart, so neighbouring invocations read neighbouring addresses. The forward
 * pass saves each row's mean and 1/std for the backward pass. The weight and bias gradients are sums over all
 * rows: rows are cut into chunks, each invocation sums one chunk for one feature, and the partials are summed.
 * Operands over the storage binding limit are processed in chunks of `outer` (kernels/batch_chunks.ts).
 */
import { record } from "../engine/autograd.ts";
import { gpu } from "../engine/device.ts";
import { launch, program } from "../engine/kernel.ts";
import { normAxis } from "../engine/shape.ts";
import { empty, full, shapeString, type Tensor } from "../engine/tensor.ts";
import { BatchChunks, forEachBatchChunk } from "./batch_chunks.ts";
import { sum } from "./reduce.ts";

const WG = 64;
/** Rows summed by one invocation of the weight/bias gradient kernel. */
const ROWS_PER_CHUNK = 256;

export interface LayerNormOptions {
  /** Largest storage binding in bytes (default: the adapter's limit); tests lower it to force chunking. */
  maxBindingBytes?: number;
}

interface Layout {
  outer: number;
  D: number;
  inner: number;
}

const ROW_INDEX = `
  let o = r / u.inner;
  let base = o * u.D * u.inner + r % u.inner;`;

const forwardProgram = program({
  name: "layernorm:fwd",
  uniforms: { rows: "u32", D: "u32", inner: "u32", eps: "f32" },
  inputs: { x: "f32", w: "f32", b: "f32" },
  outputs: { y: "f32", stats: "f32" },
  workgroupSize: WG,
  body: `
  let r = gidx;
  if (r >= u.rows) { return; }${ROW_INDEX}
  var s = 0.0;
  for (var d = 0u; d < u.D; d++) { s += x[base + d * u.inner]; }
  let mean = s / f32(u.D);
  var v = 0.0;
  for (var d = 0u; d < u.D; d++) { let t = x[base + d * u.inner] - mean; v += t * t; }
  let rstd = 1.0 / sqrt(v / f32(u.D) + u.eps);
  for (var d = 0u; d < u.D; d++) {
    let a = base + d * u.inner;
    y[a] = (x[a] - mean) * rstd * w[d] + b[d];
  }
  stats[2u * r] = mean;
  stats[2u * r + 1u] = rstd;`,
});

const gradInputProgram = program({
  name: "layernorm:gin",
  uniforms: { rows: "u32", D: "u32", inner: "u32" },
  inputs: { g: "f32", x: "f32", stats: "f32", w: "f32" },
  outputs: { dx: "f32" },
  workgroupSize: WG,
  body: `
  let r = gidx;
  if (r >= u.rows) { return; }${ROW_INDEX}
  let mean = stats[2u * r];
  let rstd = stats[2u * r + 1u];
  var s1 = 0.0;
  var s2 = 0.0;
  for (var d = 0u; d < u.D; d++) {
    let a = base + d * u.inner;
    let gw = g[a] * w[d];
    s1 += gw;
    s2 += gw * (x[a] - mean) * rstd;
  }
  let m1 = s1 / f32(u.D);
  let m2 = s2 / f32(u.D);
  for (var d = 0u; d < u.D; d++) {
    let a = base + d * u.inner;
    dx[a] = rstd * (g[a] * w[d] - m1 - (x[a] - mean) * rstd * m2);
  }`,
});

/** Partial weight and bias gradients: one feature d over one chunk of RC rows, at row chunk chunkBase + ch. */
const gradAffineProgram = program({
  name: "layernorm:gaffine",
  uniforms: { rows: "u32", D: "u32", inner: "u32", RC: "u32", chunkBase: "u32", total: "u32" },
  inputs: { g: "f32", x: "f32", stats: "f32" },
  outputs: { pw: "f32", pb: "f32" },
  workgroupSize: WG,
  body: `
  let i = gidx;
  if (i >= u.total) { return; }
  let d = i % u.D;
  let ch = i / u.D;
  let r1 = min((ch + 1u) * u.RC, u.rows);
  var sw = 0.0;
  var sb = 0.0;
  for (var r = ch * u.RC; r < r1; r++) {
    let a = ((r / u.inner) * u.D + d) * u.inner + r % u.inner;
    let gv = g[a];
    sw += gv * (x[a] - stats[2u * r]) * stats[2u * r + 1u];
    sb += gv;
  }
  pw[(u.chunkBase + ch) * u.D + d] = sw;
  pb[(u.chunkBase + ch) * u.D + d] = sb;`,
});

function sumChunks(part: Tensor): Tensor {
  const s = sum(part, 0);
  part.dispose();
  return s;
}

/** The [outer, D, inner] view of `x` around `axis`, checking the affine parameters against D. */
function layoutOf(x: Tensor, weight: Tensor | null, bias: Tensor | null, axis: number): Layout {
  if (x.dtype !== "f32") throw new TypeError("layerNorm: expected an f32 input");
  const ax = normAxis(axis, x.rank, "layerNorm");
  const D = x.shape[ax];
  for (const [t, what] of [[weight, "weight"], [bias, "bias"]] as const) {
    if (t && (t.rank !== 1 || t.shape[0] !== D)) {
      throw new RangeError(
        `layerNorm: ${what} ${shapeString(t.shape)} does not match axis ${axis} of ${shapeString(x.shape)}`,
      );
    }
  }
  return {
    outer: x.shape.slice(0, ax).reduce((a, b) => a * b, 1),
    D,
    inner: x.shape.slice(ax + 1).reduce((a, b) => a * b, 1),
  };
}

/** [outer, D inner]: the batch-major view chunked over `outer` (the caller disposes it). */
const rowsView = (t: Tensor, l: Layout) => t.view([l.outer, l.D * l.inner]);

/** Writes y and the per-row stats [outer, 2 inner] (mean, 1/std). */
function forward(
  x: Tensor,
  w: Tensor,
  b: Tensor,
  y: Tensor,
  stats: Tensor,
  l: Layout,
  eps: number,
  limit: number,
) {
  const xv = rowsView(x, l);
  const yv = rowsView(y, l);
  forEachBatchChunk("layerNorm", limit, { inputs: { x: xv }, outputs: { y: yv, stats } }, (c) => {
    const rows = c.count * l.inner;
    launch(forwardProgram, {
      uniforms: { rows, D: l.D, inner: l.inner, eps },
      inputs: { x: c.inputs.x, w, b },
      outputs: c.outputs,
      invocations: rows,
    });
  });
  xv.dispose();
  yv.dispose();
}

function gradInput(gv: Tensor, xv: Tensor, stats: Tensor, w: Tensor, dx: Tensor, l: Layout, limit: number) {
  const dxv = rowsView(dx, l);
  const operands = { inputs: { g: gv, x: xv, stats }, outputs: { dx: dxv } };
  forEachBatchChunk("layerNorm backward", limit, operands, (c) => {
    const rows = c.count * l.inner;
    launch(gradInputProgram, {
      uniforms: { rows, D: l.D, inner: l.inner },
      inputs: { ...c.inputs, w },
      outputs: c.outputs,
      invocations: rows,
    });
  });
  dxv.dispose();
}

/** The weight and bias gradients: partial sums over chunks of ROWS_PER_CHUNK rows, then summed. */
function gradAffine(gv: Tensor, xv: Tensor, stats: Tensor, l: Layout, limit: number): [Tensor, Tensor] {
  const chunks = new BatchChunks("layerNorm backward", limit, { g: gv, x: xv, stats }, {});
  const chunksOf = (count: number) => Math.ceil(count * l.inner / ROWS_PER_CHUNK);
  const total = chunks.ranges.reduce((s, [, count]) => s + chunksOf(count), 0);
  const pw = empty([total, l.D], "f32", "layerNorm weight gradient partials");
  const pb = empty([total, l.D], "f32", "layerNorm bias gradient partials");
  let chunkBase = 0;
  chunks.forEach((c) => {
    const rows = c.count * l.inner;
    const total = chunksOf(c.count) * l.D;
    launch(gradAffineProgram, {
      uniforms: { rows, D: l.D, inner: l.inner, RC: ROWS_PER_CHUNK, chunkBase, total },
      inputs: c.inputs,
      outputs: { pw, pb },
      invocations: total,
    });
    chunkBase += chunksOf(c.count);
  });
  return [sumChunks(pw), sumChunks(pb)];
}

/**
 * Layer norm over `axis` of `x`: (x - mean) / sqrt(var + eps) * weight + bias, with the biased variance, mean
 * and variance taken along `axis` alone. `weight` and `bias` are [x.shape[axis]] (null: 1 and 0).
 * Differentiable in x, weight and bias.
 */
export function layerNormAxis(
  x: Tensor,
  weight: Tensor | null,
  bias: Tensor | null,
  axis: number,
  eps = 1e-5,
  opts: LayerNormOptions = {},
): Tensor {
  const l = layoutOf(x, weight, bias, axis);
  const limit = opts.maxBindingBytes ?? gpu().limits.maxStorageBufferBindingSize;
  const w = weight ?? full([l.D], 1);
  const b = bias ?? full([l.D], 0);
  const y = empty(x.shape, "f32", "layerNorm");
  if (x.size === 0) return y;
  const stats = empty([l.outer, 2 * l.inner], "f32", "layerNorm stats");
  forward(x, w, b, y, stats, l, eps, limit);
  const out = record(y, "layerNorm", [x, w, b], (g) => {
    const gv = rowsView(g, l);
    const xv = rowsView(x, l);
    let dx: Tensor | null = null;
    if (x.requiresGrad) {
      dx = empty(x.shape, "f32", "layerNorm input gradient");
      gradInput(gv, xv, stats, w, dx, l, limit);
    }
    const [dw, db] = w.requiresGrad || b.requiresGrad ? gradAffine(gv, xv, stats, l, limit) : [null, null];
    gv.dispose();
    xv.dispose();
    return [dx, dw, db];
  });
  if (!out.requiresGrad) {
    stats.dispose();
    // Stand-in affine parameters stay alive for the backward pass when one is recorded (the scope frees them).
    if (!weight) w.dispose();
    if (!bias) b.dispose();
  }
  return out;
}

/** PyTorch's `F.layer_norm(x, [D], weight, bias, eps)`: layer norm over the last axis. */
export function layerNorm(x: Tensor, weight: Tensor | null, bias: Tensor | null, eps = 1e-5): Tensor {
  return layerNormAxis(x, weight, bias, -1, eps);
}
