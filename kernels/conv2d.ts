/**
 * 2-D convolution (PyTorch's `F.conv2d`, NCHW, no dilation or groups) with its three gradients, as implicit
 * GEMMs with register tiling and no workgroup memory.
 *
 * - Forward: each invocation owns TC output channels x TP neighbouring output columns of one output row. For
 *   every input channel and kernel row it loads the one input-row segment all TP x kW taps need (with stride s
 *   that is (TP - 1) s + kW values) and TC/4 vec4s of weights per tap, then does TP x kW vec4 FMAs. Weights are
 *   first repacked to [Cin kH kW, Cout padded to TC] so the TC channels of a tap are contiguous vec4s.
 * - Input gradient: the transposed convolution in gather form. With stride s, input column iw receives only
 *   the taps kw = (iw + p) mod s (+ s m), so an invocation takes TP columns of one phase (iw = ph + s j): they
 *   share their taps, and the output columns they read are consecutive, one segment of TP + ceil(kW/s) - 1.
 *   Rows do the same with a runtime check per kernel row. Weights are repacked to [Cout kH kW, Cin padded].
 * - Weight gradient: a reduction over N x OH x OW. The rows (n, oh) are cut into chunks; an invocation owns TC
 *   output channels x one input channel x all kH x kW taps over one chunk and writes a partial sum; the partials
 *   are then summed over chunks. The bias gradient uses the same chunks.
 *
 * A storage binding must stay under the adapter's limit (128 MiB on the CPU adapter), which the model's
 * activations can exceed (20 x 32 x 64 x 875 floats). When an operand's buffer is over the limit, launches run
 * on batch chunks copied to and from temporary tensors (a buffer copy is cheap next to the convolution).
 */
import { record } from "../engine/autograd.ts";
import { sizeClass } from "../engine/buffer_pool.ts";
import { commands } from "../engine/commands.ts";
import { gpu } from "../engine/device.ts";
import { FLAT_ARGS, flatIndex, grid1d, launch } from "../engine/kernel.ts";
import { empty, shapeString, type Tensor } from "../engine/tensor.ts";
import { sum } from "./reduce.ts";

const WG = 64;
/** Forward tile: output channels x output columns per invocation. */
const FWD_TC = 8;
const FWD_TP = 8;
/** Input-gradient tile: input channels x input columns (of one stride phase) per invocation. */
const GIN_TC = 8;
const GIN_TP = 8;
/** Weight-gradient tile: output channels per invocation, and output columns per inner step. */
const GW_TC = 8;
const GW_TQ = 4;
/** Output positions summed by one weight-gradient invocation (whole rows, at least one). */
const GW_CHUNK_POSITIONS = 2048;

export interface Conv2dOptions {
  /** Stride, one number or [h, w] (default 1). */
  stride?: number | readonly [number, number];
  /** Zero padding on each side, one number or [h, w] (default 0). */
  padding?: number | readonly [number, number];
  /**
   * Largest storage binding in bytes (default: the adapter's `maxStorageBufferBindingSize`). Tests lower it to
   * exercise the batch-chunked path.
   */
  maxBindingBytes?: number;
}

interface Geometry {
  N: number;
  Cin: number;
  H: number;
  W: number;
  Cout: number;
  kH: number;
  kW: number;
  sH: number;
  sW: number;
  pH: number;
  pW: number;
  OH: number;
  OW: number;
}

function pair(
  v: number | readonly [number, number] | undefined,
  dflt: number,
  what: string,
): [number, number] {
  const p: [number, number] = v === undefined ? [dflt, dflt] : typeof v === "number" ? [v, v] : [v[0], v[1]];
  for (const x of p) {
    if (!Number.isInteger(x) || x < 0) throw new RangeError(`conv2d: invalid ${what} ${JSON.stringify(v)}`);
  }
  return p;
}

function geometry(x: Tensor, w: Tensor, bias: Tensor | null, opts: Conv2dOptions): Geometry {
  if (x.rank !== 4) throw new RangeError(`conv2d: input must be [N, Cin, H, W], got ${shapeString(x.shape)}`);
  if (w.rank !== 4) {
    throw new RangeError(`conv2d: weight must be [Cout, Cin, kH, kW], got ${shapeString(w.shape)}`);
  }
  if (x.dtype !== "f32" || w.dtype !== "f32") throw new TypeError("conv2d: expected f32 input and weight");
  const [N, Cin, H, W] = x.shape;
  const [Cout, wCin, kH, kW] = w.shape;
  if (wCin !== Cin) {
    throw new RangeError(
      `conv2d: input ${shapeString(x.shape)} has ${Cin} channels, weight ${
        shapeString(w.shape)
      } expects ${wCin}`,
    );
  }
  if (bias && (bias.rank !== 1 || bias.shape[0] !== Cout || bias.dtype !== "f32")) {
    throw new RangeError(`conv2d: bias must be f32 [${Cout}], got ${shapeString(bias.shape)}`);
  }
  const [sH, sW] = pair(opts.stride, 1, "stride");
  const [pH, pW] = pair(opts.padding, 0, "padding");
  if (sH === 0 || sW === 0) throw new RangeError(`conv2d: stride must be positive`);
  const OH = Math.floor((H + 2 * pH - kH) / sH) + 1;
  const OW = Math.floor((W + 2 * pW - kW) / sW) + 1;
  if (OH < 1 || OW < 1 || kH < 1 || kW < 1) {
    throw new RangeError(
      `conv2d: kernel ${kH}x${kW} does not fit input ${H}x${W} with padding ${pH},${pW} (output ${OH}x${OW})`,
    );
  }
  return { N, Cin, H, W, Cout, kH, kW, sH, sW, pH, pW, OH, OW };
}

// ---- batch chunking under the binding limit ---------------------------------------------------------------

/** A batch-major operand: its tensor and the bytes one sample takes. */
export interface BatchOperand {
  t: Tensor;
  perSample: number;
}

/**
 * Splits a batch of `n` into ranges whose operands each fit one storage binding of `limit` bytes. A single
 * range [0, n] means the whole tensors can be bound as they are.
 */
export function batchRanges(
  n: number,
  operands: readonly BatchOperand[],
  limit: number,
  op: string,
): [number, number][] {
  if (operands.every((o) => o.t.buffer.size <= limit)) return [[0, n]];
  const fits = (k: number) => operands.every((o) => sizeClass(Math.max(k * o.perSample, 4)) <= limit);
  if (!fits(1)) {
    const worst = Math.max(...operands.map((o) => o.perSample));
    throw new RangeError(
      `${op}: one sample needs ${worst} bytes, over the ${limit}-byte storage binding limit; ` +
        `use shorter inputs`,
    );
  }
  // The largest buffer size class within the limit; every operand of k samples must fit in it.
  const step = limit <= 4096 ? 256 : 2 ** Math.floor(Math.log2(limit)) / 4;
  const cls = Math.floor(limit / step) * step;
  const k = Math.max(1, Math.floor(cls / Math.max(...operands.map((o) => o.perSample))));
  const ranges: [number, number][] = [];
  for (let n0 = 0; n0 < n; n0 += k) ranges.push([n0, Math.min(k, n - n0)]);
  return ranges;
}

/** Samples [n0, n0 + count) of a batch-major tensor: the tensor itself when that is all of it, else a copy. */
export function batchSlice(t: Tensor, n0: number, count: number): Tensor {
  if (n0 === 0 && count === t.shape[0]) return t;
  const per = t.size / t.shape[0];
  const out = empty([count, ...t.shape.slice(1)], t.dtype, "batch chunk");
  commands().copy(t.buffer, n0 * per * 4, out.buffer, 0, count * per * 4);
  return out;
}

/** Writes a chunk computed by {@link batchSlice}'s counterpart back into samples n0.. of `dst`; frees it. */
export function batchStore(dst: Tensor, chunk: Tensor, n0: number): void {
  if (chunk === dst) return;
  const per = dst.size / dst.shape[0];
  commands().copy(chunk.buffer, 0, dst.buffer, n0 * per * 4, chunk.size * 4);
  chunk.dispose();
}

/** Frees a chunk made by {@link batchSlice} (not the tensor it came from). */
export function batchRelease(chunk: Tensor, whole: Tensor): void {
  if (chunk !== whole) chunk.dispose();
}

function bindingLimit(opts: Conv2dOptions): number {
  return opts.maxBindingBytes ?? gpu().limits.maxStorageBufferBindingSize;
}

// ---- weight repacking -------------------------------------------------------------------------------------

/**
 * out[a][b] (b padded to `bPad` with zeros) = w[((a / G) * B + b) * G + a % G]. With G = A this is the
 * transpose [B, A] -> [A, Bpad] (forward); with G = kH kW it maps [Cout, Cin, kHkW] -> [Cout kHkW, Cin pad].
 */
function repack(w: Tensor, A: number, B: number, bPad: number, G: number): Tensor {
  const out = empty([A, bPad], "f32", "conv2d weight repack");
  launch({
    key: "conv2d:repack",
    wgsl: () => `
struct P { A: u32, B: u32, bPad: u32, G: u32 };
@group(0) @binding(0) var<uniform> u: P;
@group(0) @binding(1) var<storage, read> w: array<f32>;
@group(0) @binding(2) var<storage, read_write> o: array<f32>;
@compute @workgroup_size(${WG}) fn main(${FLAT_ARGS}) {
  let i = ${flatIndex(WG)};
  if (i >= u.A * u.bPad) { return; }
  let a = i / u.bPad;
  let b = i % u.bPad;
  let src = ((a / u.G) * u.B + min(b, u.B - 1u)) * u.G + a % u.G;
  o[i] = select(0.0, w[src], b < u.B);
}`,
    tensors: [w, out],
    params: [A, B, bPad, G],
    workgroups: grid1d(A * bPad, WG),
  });
  return out;
}

const roundUp = (n: number, m: number) => Math.ceil(n / m) * m;
const range = (n: number) => Array.from({ length: n }, (_, i) => i);

// ---- forward ----------------------------------------------------------------------------------------------

function forwardSource(kH: number, kW: number, sH: number, sW: number, hasBias: boolean): string {
  const TC = FWD_TC, TP = FWD_TP, Q = TC / 4;
  const L = (TP - 1) * sW + kW;
  const S: string[] = [];
  S.push(`
struct P { Cin: u32, H: u32, W: u32, Cout: u32, OH: u32, OW: u32, cp4: u32, pH: i32, pW: i32, nPB: u32,
  coTiles: u32, total: u32 };
@group(0) @binding(0) var<uniform> u: P;
@group(0) @binding(1) var<storage, read> xs: array<f32>;
@group(0) @binding(2) var<storage, read> wf: array<vec4<f32>>;
${hasBias ? "@group(0) @binding(3) var<storage, read> bs: array<f32>;" : ""}
@group(0) @binding(${hasBias ? 4 : 3}) var<storage, read_write> ys: array<f32>;
@compute @workgroup_size(${WG}) fn main(${FLAT_ARGS}) {
  let i = ${flatIndex(WG)};
  if (i >= u.total) { return; }
  let pb = i % u.nPB;
  var t = i / u.nPB;
  let oh = t % u.OH;
  t = t / u.OH;
  let ct = t % u.coTiles;
  let n = t / u.coTiles;
  let ow0 = pb * ${TP}u;
  let co0 = ct * ${TC}u;
  let iw0 = i32(ow0 * ${sW}u) - u.pW;
  let ih0 = i32(oh * ${sH}u) - u.pH;
  let wmax = i32(u.W) - 1;`);
  for (const t of range(L)) {
    S.push(
      `  let c${t} = u32(clamp(iw0 + ${t}, 0, wmax)); let v${t} = iw0 + ${t} >= 0 && iw0 + ${t} <= wmax;`,
    );
  }
  for (const j of range(TP)) for (const q of range(Q)) S.push(`  var a${j}_${q} = vec4<f32>(0.0);`);
  for (const kh of range(kH)) {
    S.push(`  if (ih0 + ${kh} >= 0 && ih0 + ${kh} < i32(u.H)) {
    var row = (n * u.Cin * u.H + u32(ih0 + ${kh})) * u.W;
    var wk = ${kh * kW}u * u.cp4 + ct * ${Q}u;
    for (var ci = 0u; ci < u.Cin; ci++) {`);
    for (const t of range(L)) S.push(`      let s${t} = select(0.0, xs[row + c${t}], v${t});`);
    for (const kw of range(kW)) {
      for (const q of range(Q)) S.push(`      let w${kw}_${q} = wf[wk + ${kw}u * u.cp4 + ${q}u];`);
    }
    for (const kw of range(kW)) {
      for (const j of range(TP)) {
        for (const q of range(Q)) {
          S.push(`      a${j}_${q} = fma(vec4<f32>(s${j * sW + kw}), w${kw}_${q}, a${j}_${q});`);
        }
      }
    }
    S.push(`      row += u.H * u.W;
      wk += ${kH * kW}u * u.cp4;
    }
  }`);
  }
  for (const q of range(Q)) {
    for (const c of range(4)) {
      S.push(`  if (co0 + ${4 * q + c}u < u.Cout) {
    let co = co0 + ${4 * q + c}u;
    let b = ${hasBias ? "bs[co]" : "0.0"};
    let yb = ((n * u.Cout + co) * u.OH + oh) * u.OW + ow0;`);
      for (const j of range(TP)) {
        S.push(`    if (ow0 + ${j}u < u.OW) { ys[yb + ${j}u] = a${j}_${q}[${c}] + b; }`);
      }
      S.push(`  }`);
    }
  }
  S.push(`}`);
  return S.join("\n");
}

function forwardRaw(x: Tensor, wf: Tensor, bias: Tensor | null, out: Tensor, g: Geometry): void {
  const N = x.shape[0];
  const nPB = Math.ceil(g.OW / FWD_TP);
  const coTiles = Math.ceil(g.Cout / FWD_TC);
  const total = N * g.OH * nPB * coTiles;
  const { kH, kW, sH, sW } = g;
  launch({
    key: `conv2d:fwd:${kH}:${kW}:${sH}:${sW}:${+!!bias}`,
    wgsl: () => forwardSource(kH, kW, sH, sW, !!bias),
    tensors: bias ? [x, wf, bias, out] : [x, wf, out],
    params: [g.Cin, g.H, g.W, g.Cout, g.OH, g.OW, wf.shape[1] / 4, g.pH, g.pW, nPB, coTiles, total],
    workgroups: grid1d(total, WG),
  });
}

// ---- input gradient ---------------------------------------------------------------------------------------

function gradInputSource(kH: number, kW: number, sH: number, sW: number): string {
  const TC = GIN_TC, TP = GIN_TP, Q = TC / 4;
  const M = Math.ceil(kW / sW);
  const L = TP + M - 1;
  const S: string[] = [];
  S.push(`
struct P { Cin: u32, H: u32, W: u32, Cout: u32, OH: u32, OW: u32, cp4: u32, pH: u32, pW: u32, nb: u32,
  ciTiles: u32, total: u32 };
@group(0) @binding(0) var<uniform> u: P;
@group(0) @binding(1) var<storage, read> gy: array<f32>;
@group(0) @binding(2) var<storage, read> wg: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> gx: array<f32>;
@compute @workgroup_size(${WG}) fn main(${FLAT_ARGS}) {
  let i = ${flatIndex(WG)};
  if (i >= u.total) { return; }
  let blk = i % u.nb;
  var t = i / u.nb;
  let ph = t % ${sW}u;
  t = t / ${sW}u;
  let ih = t % u.H;
  t = t / u.H;
  let ct = t % u.ciTiles;
  let n = t / u.ciTiles;
  let iwFirst = ph + ${sW}u * blk * ${TP}u;
  if (iwFirst >= u.W) { return; }
  let ci0 = ct * ${TC}u;
  // Taps kw = kwStart + s m reach this phase; output column (iw + p - kw) / s = c0 + j - m.
  let kwStart = (ph + u.pW) % ${sW}u;
  let owBase = i32((iwFirst + u.pW - kwStart) / ${sW}u);
  let owmax = i32(u.OW) - 1;`);
  for (const t of range(L)) {
    const ow = `owBase + ${t - (M - 1)}`;
    S.push(`  let c${t} = u32(clamp(${ow}, 0, owmax)); let v${t} = ${ow} >= 0 && ${ow} <= owmax;`);
  }
  for (const m of range(M)) {
    S.push(
      `  let kw${m} = kwStart + ${sW * m}u; let kv${m} = kw${m} < ${kW}u; let kc${m} = min(kw${m}, ${
        kW - 1
      }u);`,
    );
  }
  for (const j of range(TP)) for (const q of range(Q)) S.push(`  var a${j}_${q} = vec4<f32>(0.0);`);
  for (const kh of range(kH)) {
    S.push(`  {
    let num = i32(ih + u.pH) - ${kh};
    if (num >= 0 && num % ${sH} == 0 && num / ${sH} < i32(u.OH)) {
      var row = (n * u.Cout * u.OH + u32(num / ${sH})) * u.OW;
      var wk = ${kh * kW}u * u.cp4 + ct * ${Q}u;
      for (var co = 0u; co < u.Cout; co++) {`);
    for (const t of range(L)) S.push(`        let s${t} = select(0.0, gy[row + c${t}], v${t});`);
    for (const m of range(M)) {
      for (const q of range(Q)) {
        // Every phase uses all M taps when s divides kW (always with stride 1): no mask needed then.
        const load = `wg[wk + kc${m} * u.cp4 + ${q}u]`;
        S.push(
          `        let w${m}_${q} = ${kW % sW === 0 ? load : `select(vec4<f32>(0.0), ${load}, kv${m})`};`,
        );
      }
    }
    for (const m of range(M)) {
      for (const j of range(TP)) {
        for (const q of range(Q)) {
          S.push(`        a${j}_${q} = fma(vec4<f32>(s${M - 1 - m + j}), w${m}_${q}, a${j}_${q});`);
        }
      }
    }
    S.push(`        row += u.OH * u.OW;
        wk += ${kH * kW}u * u.cp4;
      }
    }
  }`);
  }
  for (const q of range(Q)) {
    for (const c of range(4)) {
      S.push(`  if (ci0 + ${4 * q + c}u < u.Cin) {
    let xb = ((n * u.Cin + ci0 + ${4 * q + c}u) * u.H + ih) * u.W + iwFirst;`);
      for (const j of range(TP)) {
        S.push(`    if (iwFirst + ${sW * j}u < u.W) { gx[xb + ${sW * j}u] = a${j}_${q}[${c}]; }`);
      }
      S.push(`  }`);
    }
  }
  S.push(`}`);
  return S.join("\n");
}

function gradInputRaw(gy: Tensor, wg: Tensor, out: Tensor, g: Geometry): void {
  const N = gy.shape[0];
  const nb = Math.ceil(Math.ceil(g.W / g.sW) / GIN_TP);
  const ciTiles = Math.ceil(g.Cin / GIN_TC);
  const total = N * ciTiles * g.H * g.sW * nb;
  const { kH, kW, sH, sW } = g;
  launch({
    key: `conv2d:gin:${kH}:${kW}:${sH}:${sW}`,
    wgsl: () => gradInputSource(kH, kW, sH, sW),
    tensors: [gy, wg, out],
    params: [g.Cin, g.H, g.W, g.Cout, g.OH, g.OW, wg.shape[1] / 4, g.pH, g.pW, nb, ciTiles, total],
    workgroups: grid1d(total, WG),
  });
}

// ---- weight and bias gradients ----------------------------------------------------------------------------

function gradWeightSource(kH: number, kW: number, sH: number, sW: number): string {
  const TC = GW_TC, TQ = GW_TQ, Q = TC / 4;
  const L = (TQ - 1) * sW + kW;
  const S: string[] = [];
  S.push(`
struct P { Cin: u32, H: u32, W: u32, Cout: u32, OH: u32, OW: u32, pH: i32, pW: i32, rows: u32, R: u32,
  chunkBase: u32, coTiles: u32, total: u32 };
@group(0) @binding(0) var<uniform> u: P;
@group(0) @binding(1) var<storage, read> xs: array<f32>;
@group(0) @binding(2) var<storage, read> gy: array<f32>;
@group(0) @binding(3) var<storage, read_write> part: array<f32>;
@compute @workgroup_size(${WG}) fn main(${FLAT_ARGS}) {
  let i = ${flatIndex(WG)};
  if (i >= u.total) { return; }
  let ct = i % u.coTiles;
  var t = i / u.coTiles;
  let ci = t % u.Cin;
  let ch = t / u.Cin;
  let co0 = ct * ${TC}u;
  let r0 = ch * u.R;
  let r1 = min(r0 + u.R, u.rows);
  let wmax = i32(u.W) - 1;
  let plane = u.OH * u.OW;`);
  for (const q of range(Q)) {
    S.push(
      `  let cm${q} = vec4<f32>(${
        range(4).map((c) => `select(0.0, 1.0, co0 + ${4 * q + c}u < u.Cout)`).join(", ")
      });`,
    );
  }
  for (const c of range(TC)) S.push(`  let cc${c} = min(co0 + ${c}u, u.Cout - 1u);`);
  for (const kh of range(kH)) {
    for (const kw of range(kW)) for (const q of range(Q)) S.push(`  var a${kh}_${kw}_${q} = vec4<f32>(0.0);`);
  }
  S.push(`  for (var r = r0; r < r1; r++) {
    let n = r / u.OH;
    let oh = r % u.OH;
    let ih0 = i32(oh * ${sH}u) - u.pH;
    let gbase = n * u.Cout * plane + oh * u.OW;
    let xplane = (n * u.Cin + ci) * u.H;`);
  for (const c of range(TC)) S.push(`    let gb${c} = gbase + cc${c} * plane;`);
  for (const kh of range(kH)) {
    S.push(`    let rv${kh} = ih0 + ${kh} >= 0 && ih0 + ${kh} < i32(u.H);
    let xr${kh} = (xplane + u32(clamp(ih0 + ${kh}, 0, i32(u.H) - 1))) * u.W;`);
  }
  S.push(`    for (var ow0 = 0u; ow0 < u.OW; ow0 += ${TQ}u) {
      let iw0 = i32(ow0 * ${sW}u) - u.pW;`);
  for (const j of range(TQ)) {
    S.push(`      let oc${j} = min(ow0 + ${j}u, u.OW - 1u);`);
    for (const q of range(Q)) {
      S.push(
        `      let g${j}_${q} = select(vec4<f32>(0.0), cm${q}, ow0 + ${j}u < u.OW) * vec4<f32>(${
          range(4).map((c) => `gy[gb${4 * q + c} + oc${j}]`).join(", ")
        });`,
      );
    }
  }
  for (const t of range(L)) {
    S.push(
      `      let c${t} = u32(clamp(iw0 + ${t}, 0, wmax)); let v${t} = iw0 + ${t} >= 0 && iw0 + ${t} <= wmax;`,
    );
  }
  for (const kh of range(kH)) {
    S.push(`      if (rv${kh}) {`);
    for (const t of range(L)) S.push(`        let s${t} = select(0.0, xs[xr${kh} + c${t}], v${t});`);
    for (const kw of range(kW)) {
      for (const j of range(TQ)) {
        for (const q of range(Q)) {
          S.push(
            `        a${kh}_${kw}_${q} = fma(g${j}_${q}, vec4<f32>(s${j * sW + kw}), a${kh}_${kw}_${q});`,
          );
        }
      }
    }
    S.push(`      }`);
  }
  S.push(`    }
  }
  let K = u.Cin * ${kH * kW}u;
  let pb = (u.chunkBase + ch) * u.Cout * K + ci * ${kH * kW}u;`);
  for (const q of range(Q)) {
    for (const c of range(4)) {
      const co = `co0 + ${4 * q + c}u`;
      S.push(`  if (${co} < u.Cout) {`);
      for (const kh of range(kH)) {
        for (const kw of range(kW)) {
          S.push(`    part[pb + (${co}) * K + ${kh * kW + kw}u] = a${kh}_${kw}_${q}[${c}];`);
        }
      }
      S.push(`  }`);
    }
  }
  S.push(`}`);
  return S.join("\n");
}

function gradBiasSource(): string {
  return `
struct P { Cout: u32, OH: u32, OW: u32, rows: u32, R: u32, chunkBase: u32, total: u32 };
@group(0) @binding(0) var<uniform> u: P;
@group(0) @binding(1) var<storage, read> gy: array<f32>;
@group(0) @binding(2) var<storage, read_write> part: array<f32>;
@compute @workgroup_size(${WG}) fn main(${FLAT_ARGS}) {
  let i = ${flatIndex(WG)};
  if (i >= u.total) { return; }
  let co = i % u.Cout;
  let ch = i / u.Cout;
  let r0 = ch * u.R;
  let r1 = min(r0 + u.R, u.rows);
  var acc = vec4<f32>(0.0);
  var tail = 0.0;
  let ow4 = u.OW & ~3u;
  for (var r = r0; r < r1; r++) {
    let base = ((r / u.OH) * u.Cout + co) * u.OH * u.OW + (r % u.OH) * u.OW;
    for (var ow = 0u; ow < ow4; ow += 4u) {
      acc += vec4<f32>(gy[base + ow], gy[base + ow + 1u], gy[base + ow + 2u], gy[base + ow + 3u]);
    }
    for (var ow = ow4; ow < u.OW; ow++) { tail += gy[base + ow]; }
  }
  part[(u.chunkBase + ch) * u.Cout + co] = acc.x + acc.y + acc.z + acc.w + tail;
}`;
}

function rowsPerChunk(OW: number): number {
  return Math.max(1, Math.ceil(GW_CHUNK_POSITIONS / OW));
}

function gradWeightRaw(x: Tensor, gy: Tensor, part: Tensor, chunkBase: number, g: Geometry): void {
  const rows = x.shape[0] * g.OH;
  const R = rowsPerChunk(g.OW);
  const chunks = Math.ceil(rows / R);
  const coTiles = Math.ceil(g.Cout / GW_TC);
  const total = coTiles * g.Cin * chunks;
  const { kH, kW, sH, sW } = g;
  launch({
    key: `conv2d:gw:${kH}:${kW}:${sH}:${sW}`,
    wgsl: () => gradWeightSource(kH, kW, sH, sW),
    tensors: [x, gy, part],
    params: [g.Cin, g.H, g.W, g.Cout, g.OH, g.OW, g.pH, g.pW, rows, R, chunkBase, coTiles, total],
    workgroups: grid1d(total, WG),
  });
}

function gradBiasRaw(gy: Tensor, part: Tensor, chunkBase: number, g: Geometry): void {
  const rows = gy.shape[0] * g.OH;
  const R = rowsPerChunk(g.OW);
  const total = Math.ceil(rows / R) * g.Cout;
  launch({
    key: "conv2d:gb",
    wgsl: gradBiasSource,
    tensors: [gy, part],
    params: [g.Cout, g.OH, g.OW, rows, R, chunkBase, total],
    workgroups: grid1d(total, WG),
  });
}

/** Sums partials [chunks, ...shape] over the chunks. */
function sumChunks(part: Tensor, shape: readonly number[]): Tensor {
  const s = sum(part, 0);
  const out = s.view(shape);
  s.dispose();
  part.dispose();
  return out;
}

// ---- public ops -------------------------------------------------------------------------------------------

function forward(x: Tensor, weight: Tensor, bias: Tensor | null, g: Geometry, limit: number): Tensor {
  const out = empty([g.N, g.Cout, g.OH, g.OW], "f32", "conv2d");
  const wf = repack(weight, g.Cin * g.kH * g.kW, g.Cout, roundUp(g.Cout, FWD_TC), g.Cin * g.kH * g.kW);
  const ranges = batchRanges(
    g.N,
    [
      { t: x, perSample: g.Cin * g.H * g.W * 4 },
      { t: out, perSample: g.Cout * g.OH * g.OW * 4 },
    ],
    limit,
    "conv2d",
  );
  for (const [n0, count] of ranges) {
    const xc = batchSlice(x, n0, count);
    const oc = ranges.length === 1 ? out : empty([count, g.Cout, g.OH, g.OW], "f32", "conv2d chunk");
    forwardRaw(xc, wf, bias, oc, g);
    batchRelease(xc, x);
    batchStore(out, oc, n0);
  }
  wf.dispose();
  return out;
}

function gradInput(gy: Tensor, weight: Tensor, g: Geometry, limit: number): Tensor {
  const out = empty([g.N, g.Cin, g.H, g.W], "f32", "conv2d input gradient");
  const wg = repack(weight, g.Cout * g.kH * g.kW, g.Cin, roundUp(g.Cin, GIN_TC), g.kH * g.kW);
  const ranges = batchRanges(
    g.N,
    [
      { t: gy, perSample: g.Cout * g.OH * g.OW * 4 },
      { t: out, perSample: g.Cin * g.H * g.W * 4 },
    ],
    limit,
    "conv2d backward",
  );
  for (const [n0, count] of ranges) {
    const gc = batchSlice(gy, n0, count);
    const oc = ranges.length === 1 ? out : empty([count, g.Cin, g.H, g.W], "f32", "conv2d chunk");
    gradInputRaw(gc, wg, oc, g);
    batchRelease(gc, gy);
    batchStore(out, oc, n0);
  }
  wg.dispose();
  return out;
}

function gradWeightAndBias(
  x: Tensor,
  gy: Tensor,
  g: Geometry,
  limit: number,
  wantW: boolean,
  wantB: boolean,
): [Tensor | null, Tensor | null] {
  const ranges = batchRanges(
    g.N,
    [
      { t: x, perSample: g.Cin * g.H * g.W * 4 },
      { t: gy, perSample: g.Cout * g.OH * g.OW * 4 },
    ],
    limit,
    "conv2d backward",
  );
  const R = rowsPerChunk(g.OW);
  const chunksOf = (count: number) => Math.ceil(count * g.OH / R);
  const totalChunks = ranges.reduce((s, [, count]) => s + chunksOf(count), 0);
  const K = g.Cin * g.kH * g.kW;
  const pw = wantW ? empty([totalChunks, g.Cout * K], "f32", "conv2d weight gradient partials") : null;
  const pb = wantB ? empty([totalChunks, g.Cout], "f32", "conv2d bias gradient partials") : null;
  let base = 0;
  for (const [n0, count] of ranges) {
    const gc = batchSlice(gy, n0, count);
    if (pw) {
      const xc = batchSlice(x, n0, count);
      gradWeightRaw(xc, gc, pw, base, g);
      batchRelease(xc, x);
    }
    if (pb) gradBiasRaw(gc, pb, base, g);
    batchRelease(gc, gy);
    base += chunksOf(count);
  }
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
