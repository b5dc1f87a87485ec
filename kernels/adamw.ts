/**
 * The AdamW update as PyTorch 1.13's `_single_tensor_adamw` (amsgrad off), in two kernels:
 *
 * - {@link adamwPrepare}, one invocation per parameter: unless the step is flagged for skipping, advances the
 *   parameter's step count and writes its step size lr / (1 - beta1^t) and sqrt(1 - beta2^t); when skipping,
 *   adds one to the skipped-step counter. Step counts live on the GPU so that a skipped step leaves them alone
 *   without the CPU ever knowing.
 * - {@link adamwUpdate}, one launch per parameter, one invocation per element:
 *   p *= 1 - lr wd; m = b1 m + (1 - b1) g; v = b2 v + (1 - b2) g g; p += (-step_size m) / (sqrt(v) / bc2_sqrt + eps)
 *   with g already multiplied by the clip scale, in PyTorch's order of operations. Does nothing when skipping.
 *
 * PyTorch computes 1 - beta^t in double precision on the CPU. The step count is only known on the GPU here, so
 * the shader evaluates it as -expm1(t log1p(-(1 - beta))) with series for the small arguments, where the naive
 * f32 form 1 - pow(0.999, t) would lose four digits: the result stays within a few f32 ulps of the double.
 */
import { f32, FLAT_ARGS, flatIndex, grid1d, launch } from "../engine/kernel.ts";
import type { Tensor } from "../engine/tensor.ts";
import { GradStats } from "./grad_norm.ts";

const WG = 256;

/** WGSL for 1 - beta^t given d = 1 - beta in (0, 1] and t >= 1, accurate to a few f32 ulps. */
export const WGSL_BIAS_CORRECTION = /* wgsl */ `
// log(1 - d) for 0 < d < 1.
fn log_one_minus(d: f32) -> f32 {
  if (d > 0.25) { return log(1.0 - d); }
  var term = d;
  var acc = 0.0;
  for (var k = 1; k <= 24; k++) {
    acc += term / f32(k);
    term *= d;
  }
  return -acc;
}
// 1 - exp(x) for x <= 0.
fn one_minus_exp(x: f32) -> f32 {
  if (x < -1.0) { return 1.0 - exp(x); }
  var term = x;
  var acc = 0.0;
  for (var k = 1; k <= 18; k++) {
    acc += term;
    term *= x / f32(k + 1);
  }
  return -acc;
}
fn bias_correction(d: f32, t: f32) -> f32 {
  if (d >= 1.0) { return 1.0; }
  return one_minus_exp(t * log_one_minus(d));
}
`;

export interface PrepareArgs {
  /** The stats vector of {@link gradStats} (reads the skip flag). */
  stats: Tensor;
  /** Per-parameter step counts (f32, one per parameter). */
  steps: Tensor;
  /** Per-parameter [step_size, sqrt(bias_correction2)] pairs (f32, two per parameter), written here. */
  coefs: Tensor;
  /** Skipped-step counter (f32, one element). */
  skipped: Tensor;
  /** Parameter indices [first, end) that take part in this step. */
  first: number;
  end: number;
  lr: number;
  beta1: number;
  beta2: number;
  /** Whether this launch counts a skipped step (exactly one launch per optimizer step should). */
  countSkip: boolean;
}

/** Records the per-parameter step-count and coefficient update (see the module comment). */
export function adamwPrepare(a: PrepareArgs): void {
  const n = a.end - a.first;
  if (n <= 0) return;
  launch({
    key: "adamw:prepare",
    wgsl: () =>
      `${WGSL_BIAS_CORRECTION}
struct P { first: u32, end: u32, count_skip: u32, _pad: u32, lr: f32, d1: f32, d2: f32 };
@group(0) @binding(0) var<uniform> u: P;
@group(0) @binding(1) var<storage, read> stats: array<f32>;
@group(0) @binding(2) var<storage, read_write> steps: array<f32>;
@group(0) @binding(3) var<storage, read_write> coefs: array<f32>;
@group(0) @binding(4) var<storage, read_write> skipped: array<f32>;
@compute @workgroup_size(64) fn main(${FLAT_ARGS}) {
  let k = u.first + ${flatIndex(64)};
  if (k >= u.end) { return; }
  if (stats[${GradStats.skip}] != 0.0) {
    if (k == u.first && u.count_skip != 0u) { skipped[0] = skipped[0] + 1.0; }
    return;
  }
  let t = steps[k] + 1.0;
  steps[k] = t;
  coefs[2u * k] = u.lr / bias_correction(u.d1, t);
  coefs[2u * k + 1u] = sqrt(bias_correction(u.d2, t));
}`,
    tensors: [a.stats, a.steps, a.coefs, a.skipped],
    params: [a.first, a.end, a.countSkip ? 1 : 0, 0, f32(a.lr), f32(1 - a.beta1), f32(1 - a.beta2)],
    workgroups: grid1d(n, 64),
  });
}

export interface UpdateArgs {
  param: Tensor;
  grad: Tensor;
  expAvg: Tensor;
  expAvgSq: Tensor;
  /** The parameter's index in `steps` / `coefs`. */
  index: number;
  stats: Tensor;
  coefs: Tensor;
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
}

/** The update over `T` (f32, or vec4<f32> for four elements per invocation). */
function updateWgsl(t: string, wg: number): string {
  return `
struct P { n: u32, index: u32, decay: f32, b1: f32, omb1: f32, b2: f32, omb2: f32, eps: f32 };
@group(0) @binding(0) var<uniform> u: P;
@group(0) @binding(1) var<storage, read> stats: array<f32>;
@group(0) @binding(2) var<storage, read> coefs: array<f32>;
@group(0) @binding(3) var<storage, read_write> p: array<${t}>;
@group(0) @binding(4) var<storage, read> grad: array<${t}>;
@group(0) @binding(5) var<storage, read_write> m: array<${t}>;
@group(0) @binding(6) var<storage, read_write> v: array<${t}>;
@compute @workgroup_size(${wg}) fn main(${FLAT_ARGS}) {
  let i = ${flatIndex(wg)};
  if (i >= u.n || stats[${GradStats.skip}] != 0.0) { return; }
  let step_size = coefs[2u * u.index];
  let bc2_sqrt = coefs[2u * u.index + 1u];
  // PyTorch's order: p.mul_(1 - lr wd); m.mul_(b1).add_(g, alpha=1-b1); v.mul_(b2).addcmul_(g, g, value=1-b2);
  // denom = v.sqrt() / bc2_sqrt + eps; p.addcdiv_(m, denom, value=-step_size). g is clip-scaled first.
  let g = grad[i] * stats[${GradStats.scale}];
  let mi = m[i] * u.b1 + u.omb1 * g;
  let vi = v[i] * u.b2 + (u.omb2 * g) * g;
  let denom = sqrt(vi) / bc2_sqrt + u.eps;
  p[i] = p[i] * u.decay + (-step_size * mi) / denom;
  m[i] = mi;
  v[i] = vi;
}`;
}

/**
 * Records the elementwise AdamW update of one parameter (see the module comment). One launch per parameter:
 * packing several parameters into one launch behind a switch ran 3x slower on the CPU adapter, whose SIMD
 * lanes execute every case. Four elements per invocation (vec4) ran 3x faster than one there. Pooled buffers
 * are padded to 16 bytes, so the vec4 form may compute on the padding after the last element: harmless, since
 * nothing reads it; buffers without that padding take the scalar form.
 */
export function adamwUpdate(a: UpdateArgs): void {
  const n = a.param.size;
  if (n === 0) return;
  const tensors = [a.param, a.grad, a.expAvg, a.expAvgSq];
  const vec4 = tensors.every((t) => t.buffer.size >= Math.ceil(n / 4) * 16);
  const wg = vec4 ? 64 : WG;
  const invocations = vec4 ? Math.ceil(n / 4) : n;
  launch({
    key: `adamw:update:${vec4 ? "vec4" : "f32"}`,
    wgsl: () => updateWgsl(vec4 ? "vec4<f32>" : "f32", wg),
    tensors: [a.stats, a.coefs, ...tensors],
    params: [
      invocations,
      a.index,
      f32(1 - a.lr * a.weightDecay),
      f32(a.beta1),
      f32(1 - a.beta1),
      f32(a.beta2),
      f32(1 - a.beta2),
      f32(a.eps),
    ],
    workgroups: grid1d(invocations, wg),
  });
}
