/**
 * The global L2 norm of a list of gradients, PyTorch's `clip_grad_norm_` scale and a non-finite flag, computed
 * on the GPU without a readback.
 *
 * Pass 1 cuts every gradient into chunks of {@link CHUNK} elements; one invocation sums the squares of a chunk
 * and notes the largest magnitude bit pattern it saw (an integer max, so NaN and Inf are caught exactly even
 * where the shader compiler assumes finite floats). Several gradients share one launch (one storage binding
 * each). Pass 2, a single workgroup, reduces the partial sums and writes the {@link GradStats} vector that the
 * AdamW kernel reads: the norm, the clip scale and the skip flag.
 */
import { launch, program, variants } from "../engine/kernel.ts";
import { gpu } from "../engine/device.ts";
import { copyInto, empty, type Tensor } from "../engine/tensor.ts";

/** Elements summed by one invocation of pass 1. */
export const CHUNK = 512;
const WG = 64;
const FINAL_WG = 256;
/** Most gradients bound by one pass-1 launch. */
const MAX_SLOTS = 8;

/** Word indices of the stats vector written by {@link gradStats} (an f32 tensor of {@link STATS_SIZE}). */
export const GradStats = {
  /** sqrt(sum of squares of every gradient element). */
  norm: 0,
  /** min(maxNorm / (norm + 1e-6), 1) when clipping, else 1: what `clip_grad_norm_` multiplies gradients by. */
  scale: 1,
  /** 1 when the step must be skipped (non-finite gradient or loss and the guard is on), else 0. */
  skip: 2,
  /** 1 when a gradient or the loss is non-finite (whether or not the guard is on), else 0. */
  nonFinite: 3,
} as const;
export const STATS_SIZE = 4;

export interface GradStatsOptions {
  /** Clip to this global norm (PyTorch's `max_norm`); omitted or Infinity: no clipping, scale 1. */
  maxNorm?: number;
  /** A loss tensor (one element) whose non-finiteness also sets the flags. */
  loss?: Tensor;
  /** Whether a non-finite value sets the skip flag (default true). */
  guard?: boolean;
  /** Write into this f32 tensor of at least {@link STATS_SIZE} elements instead of a new one. */
  into?: Tensor;
}

function slotsPerLaunch(): number {
  return Math.max(1, Math.min(MAX_SLOTS, gpu().limits.maxStorageBuffersPerShaderStage - 1));
}

function vec4Words(values: number[], slots: number): number[] {
  const n = Math.ceil(slots / 4) * 4;
  return [...values, ...new Array(n - values.length).fill(0)];
}

/** Pass 1 over `k` gradients `g0..g{k-1}`: per chunk, the sum of squares and a non-finite flag. */
const partialsProgram = variants((k: number) => {
  const arrays = Math.ceil(k / 4);
  const cases = Array.from({ length: k }, (_, s) =>
    `    case ${s}u: {
      for (var j = start; j < end; j++) {
        let x = g${s}[j];
        acc += x * x;
        bits = max(bits, bitcast<u32>(x) & 0x7fffffffu);
      }
    }`).join("\n");
  return program({
    name: `grad-norm:partials:${k}`,
    uniforms: {
      nchunks: "u32",
      pbase: "u32",
      cstart: `array<vec4<u32>, ${arrays}>`,
      len: `array<vec4<u32>, ${arrays}>`,
    },
    inputs: Object.fromEntries(Array.from({ length: k }, (_, s) => [`g${s}`, "f32"])),
    outputs: { partials: "f32" },
    workgroupSize: WG,
    body: `
  let c = gidx;
  if (c >= u.nchunks) { return; }
  var s = 0u;
  for (var t = 1u; t < ${k}u; t++) {
    if (c >= u.cstart[t / 4u][t % 4u]) { s = t; }
  }
  let start = (c - u.cstart[s / 4u][s % 4u]) * ${CHUNK}u;
  let end = min(u.len[s / 4u][s % 4u], start + ${CHUNK}u);
  var acc = 0.0;
  var bits = 0u;
  switch s {
${cases}
    default: {}
  }
  partials[2u * (u.pbase + c)] = acc;
  partials[2u * (u.pbase + c) + 1u] = select(0.0, 1.0, bits >= 0x7f800000u);`,
  });
});

const FINAL_UNIFORMS = { nchunks: "u32", clip: "u32", guard: "u32", max_norm: "f32" } as const;

/** Pass 2, one workgroup: reduces the partials (and checks the loss) into the stats vector. */
const finalProgram = variants((withLoss: boolean) =>
  program({
    name: `grad-norm:final:${withLoss ? "loss" : "noloss"}`,
    uniforms: FINAL_UNIFORMS,
    inputs: withLoss ? { partials: "f32", loss: "f32" } : { partials: "f32" },
    outputs: { stats: "f32" },
    workgroupSize: FINAL_WG,
    helpers: `
var<workgroup> sums: array<f32, ${FINAL_WG}>;
var<workgroup> flags: array<f32, ${FINAL_WG}>;
fn non_finite(x: f32) -> bool { return (bitcast<u32>(x) & 0x7f800000u) == 0x7f800000u; }`,
    body: `
  let li = lid.x;
  var acc = 0.0;
  var flag = 0.0;
  for (var c = li; c < u.nchunks; c += ${FINAL_WG}u) {
    acc += partials[2u * c];
    flag = max(flag, partials[2u * c + 1u]);
  }
  sums[li] = acc;
  flags[li] = flag;
  workgroupBarrier();
  for (var stride = ${FINAL_WG / 2}u; stride > 0u; stride >>= 1u) {
    if (li < stride) {
      sums[li] += sums[li + stride];
      flags[li] = max(flags[li], flags[li + stride]);
    }
    workgroupBarrier();
  }
  if (li == 0u) {
    let total = sums[0];
    let norm = sqrt(total);
    // An overflowing sum of squares (|g| > ~1e19) counts as non-finite too.
    var bad = flags[0] > 0.0 || non_finite(total);
    ${withLoss ? "bad = bad || non_finite(loss[0]);" : ""}
    var scale = 1.0;
    if (u.clip != 0u) { scale = min(u.max_norm / (norm + 1e-6), 1.0); }
    stats[0] = norm;
    stats[1] = scale;
    stats[2] = select(0.0, 1.0, bad && u.guard != 0u);
    stats[3] = select(0.0, 1.0, bad);
  }`,
  })
);

/** Multiplies a gradient in place by `stats[index]`. */
const scaleProgram = program({
  name: "grad-norm:scale",
  uniforms: { n: "u32", index: "u32" },
  inputs: { stats: "f32" },
  outputs: { g: "f32" },
  workgroupSize: 256,
  body: `
  let i = gidx;
  if (i >= u.n) { return; }
  g[i] = g[i] * stats[u.index];`,
});

/**
 * Records the two passes and returns the stats tensor ({@link GradStats} layout). `grads` must be f32; an empty
 * list gives norm 0, scale 1 and no flag (unless the loss is non-finite).
 */
export function gradStats(grads: readonly Tensor[], opts: GradStatsOptions = {}): Tensor {
  const maxNorm = opts.maxNorm ?? Infinity;
  if (!(maxNorm > 0)) throw new RangeError(`gradStats: maxNorm must be positive, got ${maxNorm}`);
  if (opts.loss && opts.loss.size !== 1) {
    throw new RangeError(`gradStats: the loss must have one element, got shape [${opts.loss.shape}]`);
  }
  if (opts.into && (opts.into.size < STATS_SIZE || opts.into.dtype !== "f32")) {
    throw new RangeError(`gradStats: 'into' must be an f32 tensor of at least ${STATS_SIZE} elements`);
  }
  grads.forEach((g, i) => {
    if (g.dtype !== "f32") throw new TypeError(`gradStats: gradient ${i} (${g.name ?? g}) is ${g.dtype}`);
  });
  const live = grads.filter((g) => g.size > 0);
  const chunksOf = (g: Tensor) => Math.ceil(g.size / CHUNK);
  const totalChunks = live.reduce((s, g) => s + chunksOf(g), 0);
  const partials = empty([Math.max(1, 2 * totalChunks)], "f32", "grad norm partials");
  const k = slotsPerLaunch();
  let pbase = 0;
  for (let first = 0; first < live.length; first += k) {
    const group = live.slice(first, first + k);
    const cstart: number[] = [];
    let n = 0;
    for (const g of group) {
      cstart.push(n);
      n += chunksOf(g);
    }
    const inputs = Object.fromEntries(group.map((g, s) => [`g${s}`, g]));
    launch(partialsProgram(group.length), {
      uniforms: {
        nchunks: n,
        pbase,
        cstart: vec4Words(cstart, group.length),
        len: vec4Words(group.map((g) => g.size), group.length),
      },
      inputs,
      outputs: { partials },
      invocations: n,
    });
    pbase += n;
  }
  const stats = opts.into ?? empty([STATS_SIZE], "f32", "grad stats");
  const clip = Number.isFinite(maxNorm);
  launch(finalProgram(!!opts.loss), {
    uniforms: {
      nchunks: totalChunks,
      clip: clip ? 1 : 0,
      guard: opts.guard === false ? 0 : 1,
      max_norm: clip ? maxNorm : 0,
    },
    inputs: opts.loss ? { partials, loss: opts.loss } : { partials },
    outputs: { stats },
    workgroups: [1, 1, 1],
  });
  partials.dispose();
  return stats;
}

/** The word at `index` of a stats vector, as a new tensor of shape [] (a buffer copy, no readback). */
export function statsWord(stats: Tensor, index: number): Tensor {
  const out = empty([], "f32", "grad stats word");
  return copyInto(stats, out, { srcOffset: index, count: 1 });
}

/** The global L2 norm of all gradients (PyTorch's total norm for `norm_type=2`), as a tensor of shape []. */
export function gradNorm(grads: readonly Tensor[]): Tensor {
  const stats = gradStats(grads, { guard: false });
  const norm = statsWord(stats, GradStats.norm);
  stats.dispose();
  return norm;
}

/** Multiplies every gradient in place by `stats[index]` (read on the GPU). */
export function scaleByStat(grads: readonly Tensor[], stats: Tensor, index: number): void {
  for (const g of grads) {
    if (g.size === 0) continue;
    launch(scaleProgram, {
      uniforms: { n: g.size, index },
      inputs: { stats },
      outputs: { g },
      invocations: g.size,
    });
  }
}

/**
 * PyTorch's `clip_grad_norm_(grads, maxNorm)` (norm type 2): multiplies every gradient in place by
 * min(maxNorm / (total_norm + 1e-6), 1) and returns the total norm (shape []), all without a readback. As in
 * PyTorch, a non-finite norm spreads into the gradients; {@link gradStats} with the guard is how the optimizer
 * skips such steps instead.
 */
export function clipGradNorm(grads: readonly Tensor[], maxNorm: number): Tensor {
  const stats = gradStats(grads, { maxNorm, guard: false });
  scaleByStat(grads, stats, GradStats.scale);
  const norm = statsWord(stats, GradStats.norm);
  stats.dispose();
  return norm;
}
