/**
 * Layer normalisation over one axis (PyTorch's `F.layer_norm` over the last axis, with biased variance), and
 * over any axis without materialising transposes: the model's CNNLayerNorm normalises the feature axis H of an
 * (N, C, H, W) tensor, which PyTorch does as transpose -> LayerNorm(H) -> transpose.
 *
 * The tensor is viewed as [outer, D, inner] around the normalised axis; each invocation owns one row (o, i),
 * whose D elements sit `inner` apart, so neighbouring invocations read neighbouring addresses. The forward
 * pass saves each row's mean and 1/std for the backward pass. The weight and bias gradients are sums over all
 * rows: rows are cut into chunks, each invocation sums one chunk for one feature, and the partials are summed.
 * Operands over the storage binding limit are processed in chunks of `outer` (see conv2d.ts).
 */
import { record } from "../engine/autograd.ts";
import { gpu } from "../engine/device.ts";
import { f32, FLAT_ARGS, flatIndex, grid1d, launch } from "../engine/kernel.ts";
import { normAxis } from "../engine/shape.ts";
import { empty, full, shapeString, type Tensor } from "../engine/tensor.ts";
import { batchRanges, batchRelease, batchSlice, batchStore } from "./conv2d.ts";
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

function forwardRaw(x: Tensor, w: Tensor, b: Tensor, y: Tensor, stats: Tensor, l: Layout, eps: number): void {
  const rows = x.size / l.D;
  launch({
    key: "layernorm:fwd",
    wgsl: () => `
struct P { rows: u32, D: u32, inner: u32, eps: f32 };
@group(0) @binding(0) var<uniform> u: P;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> w: array<f32>;
@group(0) @binding(3) var<storage, read> b: array<f32>;
@group(0) @binding(4) var<storage, read_write> y: array<f32>;
@group(0) @binding(5) var<storage, read_write> stats: array<f32>;
@compute @workgroup_size(${WG}) fn main(${FLAT_ARGS}) {
  let r = ${flatIndex(WG)};
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
  stats[2u * r + 1u] = rstd;
}`,
    tensors: [x, w, b, y, stats],
    params: [rows, l.D, l.inner, f32(eps)],
    workgroups: grid1d(rows, WG),
  });
}

function gradInputRaw(g: Tensor, x: Tensor, stats: Tensor, w: Tensor, dx: Tensor, l: Layout): void {
  const rows = x.size / l.D;
  launch({
    key: "layernorm:gin",
    wgsl: () => `
struct P { rows: u32, D: u32, inner: u32 };
@group(0) @binding(0) var<uniform> u: P;
@group(0) @binding(1) var<storage, read> g: array<f32>;
@group(0) @binding(2) var<storage, read> x: array<f32>;
@group(0) @binding(3) var<storage, read> stats: array<f32>;
@group(0) @binding(4) var<storage, read> w: array<f32>;
@group(0) @binding(5) var<storage, read_write> dx: array<f32>;
@compute @workgroup_size(${WG}) fn main(${FLAT_ARGS}) {
  let r = ${flatIndex(WG)};
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
  }
}`,
    tensors: [g, x, stats, w, dx],
    params: [rows, l.D, l.inner],
    workgroups: grid1d(rows, WG),
  });
}

function gradAffineRaw(
  g: Tensor,
  x: Tensor,
  stats: Tensor,
  pw: Tensor,
  pb: Tensor,
  base: number,
  l: Layout,
): void {
  const rows = x.size / l.D;
  const total = Math.ceil(rows / ROWS_PER_CHUNK) * l.D;
  launch({
    key: "layernorm:gaffine",
    wgsl: () => `
struct P { rows: u32, D: u32, inner: u32, RC: u32, chunkBase: u32, total: u32 };
@group(0) @binding(0) var<uniform> u: P;
@group(0) @binding(1) var<storage, read> g: array<f32>;
@group(0) @binding(2) var<storage, read> x: array<f32>;
@group(0) @binding(3) var<storage, read> stats: array<f32>;
@group(0) @binding(4) var<storage, read_write> pw: array<f32>;
@group(0) @binding(5) var<storage, read_write> pb: array<f32>;
@compute @workgroup_size(${WG}) fn main(${FLAT_ARGS}) {
  let i = ${flatIndex(WG)};
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
  pb[(u.chunkBase + ch) * u.D + d] = sb;
}`,
    tensors: [g, x, stats, pw, pb],
    params: [rows, l.D, l.inner, ROWS_PER_CHUNK, base, total],
    workgroups: grid1d(total, WG),
  });
}

function sumChunks(part: Tensor): Tensor {
  const s = sum(part, 0);
  part.dispose();
  return s;
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
  const l: Layout = {
    outer: x.shape.slice(0, ax).reduce((a, b) => a * b, 1),
    D,
    inner: x.shape.slice(ax + 1).reduce((a, b) => a * b, 1),
  };
  const limit = opts.maxBindingBytes ?? gpu().limits.maxStorageBufferBindingSize;
  const w = weight ?? full([D], 1);
  const b = bias ?? full([D], 0);
  const y = empty(x.shape, "f32", "layerNorm");
  if (x.size === 0) return y;
  const rowBytes = D * l.inner * 4;
  const stats = empty([l.outer, 2 * l.inner], "f32", "layerNorm stats");
  const xv = x.view([l.outer, D * l.inner]);
  const yv = y.view([l.outer, D * l.inner]);
  const ranges = batchRanges(
    l.outer,
    [
      { t: xv, perSample: rowBytes },
      { t: yv, perSample: rowBytes },
      { t: stats, perSample: l.inner * 8 },
    ],
    limit,
    "layerNorm",
  );
  for (const [o0, count] of ranges) {
    const xc = batchSlice(xv, o0, count);
    const single = ranges.length === 1;
    const yc = single ? yv : empty([count, D * l.inner], "f32", "layerNorm chunk");
    const sc = single ? stats : empty([count, 2 * l.inner], "f32", "layerNorm chunk");
    forwardRaw(xc, w, b, yc, sc, l, eps);
    batchRelease(xc, xv);
    batchStore(yv, yc, o0);
    batchStore(stats, sc, o0);
  }
  xv.dispose();
  yv.dispose();
  const out = record(y, "layerNorm", [x, w, b], (g) => {
    const gv = g.view([l.outer, D * l.inner]);
    const xv = x.view([l.outer, D * l.inner]);
    let dx: Tensor | null = null;
    if (x.requiresGrad) {
      dx = empty(x.shape, "f32", "layerNorm input gradient");
      const dxv = dx.view([l.outer, D * l.inner]);
      const ranges = batchRanges(
        l.outer,
        [
          { t: gv, perSample: rowBytes },
          { t: xv, perSample: rowBytes },
          { t: dxv, perSample: rowBytes },
          { t: stats, perSample: l.inner * 8 },
        ],
        limit,
        "layerNorm backward",
      );
      for (const [o0, count] of ranges) {
        const gc = batchSlice(gv, o0, count);
        const xc = batchSlice(xv, o0, count);
        const sc = batchSlice(stats, o0, count);
        const dc = ranges.length === 1 ? dxv : empty([count, D * l.inner], "f32", "layerNorm chunk");
        gradInputRaw(gc, xc, sc, w, dc, l);
        batchRelease(gc, gv);
        batchRelease(xc, xv);
        batchRelease(sc, stats);
        batchStore(dxv, dc, o0);
      }
      dxv.dispose();
    }
    let dw: Tensor | null = null;
    let db: Tensor | null = null;
    if (w.requiresGrad || b.requiresGrad) {
      const ranges = batchRanges(
        l.outer,
        [
          { t: gv, perSample: rowBytes },
          { t: xv, perSample: rowBytes },
          { t: stats, perSample: l.inner * 8 },
        ],
        limit,
        "layerNorm backward",
      );
      const chunksOf = (count: number) => Math.ceil(count * l.inner / ROWS_PER_CHUNK);
      const chunks = ranges.reduce((s, [, count]) => s + chunksOf(count), 0);
      const pw = empty([chunks, D], "f32", "layerNorm weight gradient partials");
      const pb = empty([chunks, D], "f32", "layerNorm bias gradient partials");
      let base = 0;
      for (const [o0, count] of ranges) {
        const gc = batchSlice(gv, o0, count);
        const xc = batchSlice(xv, o0, count);
        const sc = batchSlice(stats, o0, count);
        gradAffineRaw(gc, xc, sc, pw, pb, base, l);
        batchRelease(gc, gv);
        batchRelease(xc, xv);
        batchRelease(sc, stats);
        base += chunksOf(count);
      }
      dw = sumChunks(pw);
      db = sumChunks(pb);
    }
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
