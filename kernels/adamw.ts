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
import { launch, program, variants } from "../engine/kernel.ts";
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

/** Per parameter: the step count and the coefficients, or one more skipped step. */
const prepareProgram = program({
  name: "adamw:prepare",
  uniforms: { first: "u32", end: "u32", count_skip: "u32", lr: "f32", d1: "f32", d2: "f32" },
  inputs: { stats: "f32" },
  outputs: { steps: "f32", coefs: "f32", skipped: "f32" },
  workgroupSize: 64,
  helpers: WGSL_BIAS_CORRECTION,
  body: `
  let k = u.first + gidx;
  if (k >= u.end) { return; }
  if (stats[${GradStats.skip}] != 0.0) {
    if (k == u.first && u.count_skip != 0u) { skipped[0] = skipped[0] + 1.0; }
    return;
  }
  let t = steps[k] + 1.0;
  steps[k] = t;
  coefs[2u * k] = u.lr / bias_correction(u.d1, t);
  coefs[2u * k + 1u] = sqrt(bias_correction(u.d2, t));`,
});

/** Records the per-parameter step-count and coefficient update (see the module comment). */
export function adamwPrepare(a: PrepareArgs): void {
  const n = a.end - a.first;
  if (n <= 0) return;
  launch(prepareProgram, {
    uniforms: {
      first: a.first,
      end: a.end,
      count_skip: a.countSkip ? 1 : 0,
      lr: a.lr,
      d1: 1 - a.beta1,
      d2: 1 - a.beta2,
    },
    inputs: { stats: a.stats },
    outputs: { steps: a.steps, coefs: a.coefs, skipped: a.skipped },
    invocations: n,
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

/** The update, one element (f32) or four (vec4<f32>) per invocation. */
const updateProgram = variants((vec4: boolean) => {
  const t = vec4 ? "vec4<f32>" : "f32";
  return program({
    name: `adamw:update:${vec4 ? "vec4" : "f32"}`,
    uniforms: {
      n: "u32",
      index: "u32",
      decay: "f32",
      b1: "f32",
      omb1: "f32",
      b2: "f32",
      omb2: "f32",
      eps: "f32",
    },
    inputs: { stats: "f32", coefs: "f32", grad: t },
    outputs: { p: t, m: t, v: t },
    workgroupSize: vec4 ? 64 : WG,
    body: `
  let i = gidx;
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
  v[i] = vi;`,
  });
});

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
  const invocations = vec4 ? Math.ceil(n / 4) : n;
  launch(updateProgram(vec4), {
    uniforms: {
      n: invocations,
      index: a.index,
      decay: 1 - a.lr * a.weightDecay,
      b1: a.beta1,
      omb1: 1 - a.beta1,
      b2: a.beta2,
      omb2: 1 - a.beta2,
      eps: a.eps,
    },
    inputs: { stats: a.stats, coefs: a.coefs, grad: a.grad },
    outputs: { p: a.param, m: a.expAvg, v: a.expAvgSq },
    invocations,
  });
}
