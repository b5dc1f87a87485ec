/**
 * WGSL for the CTC loss (host side: ctc.ts): the alpha (forward) and beta (backward) recursions over the
 * extended label sequence l' = (blank, l1, blank, l2, ..., lS, blank) of length 2S + 1, the loss, and the
 * gradient with respect to the log-probabilities.
 *
 * Everything is in log space. WGSL has no infinity literal (and constant expressions may not overflow), so
 * log(0) is the finite sentinel NEG = -1e30: `lae` (log-add-exp) returns NEG when both operands are at or below
 * it, and otherwise exp(NEG - m) underflows to exactly 0, so a sentinel operand contributes nothing, as -inf
 * would. Adding a log-probability to NEG leaves it at about -1e30, and results are clamped at NEG so sentinels
 * never drift. The limit: a real log-likelihood below -1e30 would read as impossible; with f32 log-softmax
 * outputs (each >= about -104) that needs over 1e28 frames. A true infinite loss (an infeasible alignment) is
 * written as +inf, passed in as a uniform (a runtime value, not a constant); the NaN gradient PyTorch gives
 * such a sample when zero_infinity is off is inf - inf of that uniform.
 *
 * Two ways to run a recursion over time, chosen on the host: `loop` runs one workgroup per sample that walks
 * every frame with a storage barrier between frames; otherwise one launch per frame, one invocation per (s, b).
 * Buffers: ab = [alpha | beta], each [N][T][L] with L = 2 * S_max + 1; lens = [input lengths | target lengths].
 *
 * Each kernel is a program (engine/program.ts): its uniforms and bindings are declared here once, by name.
 */
import { program, variants } from "../engine/kernel.ts";

export const WG = 64;

/**
 * The uniforms every recursion kernel reads. `t` is the frame of a per-frame launch (0 in loop mode); the
 * gradient kernel reuses it for its mode (see {@link gradProgram}). `inf` is +inf, passed at run time.
 */
const UNIFORMS = {
  N: "u32",
  T: "u32",
  C: "u32",
  S: "u32",
  L: "u32",
  stT: "u32",
  stB: "u32",
  blank: "u32",
  t: "u32",
  inf: "f32",
} as const;

/** The inputs every kernel but the reduction reads: log-probabilities, padded targets, lengths. */
const INPUTS = { lp: "f32", targets: "i32", lens: "i32" } as const;

const COMMON = /* wgsl */ `
const NEG: f32 = -1e30;
fn lae(a: f32, b: f32) -> f32 {
  let m = max(a, b);
  if (m <= NEG) { return NEG; }
  return m + log(exp(a - m) + exp(b - m));
}
fn label(b: u32, s: u32) -> u32 {
  if (s % 2u == 0u) { return u.blank; }
  // Clamped so that an out-of-range target cannot index past the per-class array (PyTorch rejects those).
  return min(u32(max(targets[b * u.S + s / 2u], 0)), u.C - 1u);
}
fn lp_at(t: u32, b: u32, c: u32) -> f32 { return lp[t * u.stT + b * u.stB + c]; }
fn in_len(b: u32) -> u32 { return min(u32(max(lens[b], 0)), u.T); }
fn ext_len(b: u32) -> u32 { return 2u * min(u32(max(lens[u.N + b], 0)), u.S) + 1u; }
`;

/** alpha[t][s] from alpha[t-1] (t > 0) or the start (t = 0). */
const ALPHA_CELL = /* wgsl */ `
fn alpha_cell(b: u32, t: u32, s: u32) {
  let base = (b * u.T + t) * u.L;
  let c = label(b, s);
  var v = NEG;
  if (t == 0u) {
    if (s < 2u) { v = lp_at(0u, b, c); }
  } else {
    let prev = base - u.L;
    var a = ab[prev + s];
    if (s >= 1u) { a = lae(a, ab[prev + s - 1u]); }
    if (s >= 3u && s % 2u == 1u && c != label(b, s - 2u)) { a = lae(a, ab[prev + s - 2u]); }
    if (a > NEG) { v = max(a + lp_at(t, b, c), NEG); }
  }
  ab[base + s] = v;
}`;

/** beta[t][s] (including lp at t, as PyTorch defines it) from beta[t+1], or the end at t = len - 1. */
const BETA_CELL = /* wgsl */ `
fn beta_cell(b: u32, t: u32, s: u32, tb: u32, lb: u32) {
  let off = u.N * u.T * u.L;
  let base = off + (b * u.T + t) * u.L;
  let c = label(b, s);
  var v = NEG;
  if (t + 1u == tb) {
    if (s + 2u >= lb) { v = lp_at(t, b, c); }
  } else {
    let next = base + u.L;
    var a = ab[next + s];
    if (s + 1u < lb) { a = lae(a, ab[next + s + 1u]); }
    if (s + 2u < lb && s % 2u == 1u && c != label(b, s + 2u)) { a = lae(a, ab[next + s + 2u]); }
    if (a > NEG) { v = max(a + lp_at(t, b, c), NEG); }
  }
  ab[base + s] = v;
}`;

/** -log p(target | input) from alpha at the last frame; +inf when no alignment exists. */
const LOSS = /* wgsl */ `
fn sample_loss(b: u32) -> f32 {
  let tb = in_len(b);
  let lb = ext_len(b);
  if (tb == 0u) { return select(u.inf, 0.0, lb == 1u); }
  let base = (b * u.T + tb - 1u) * u.L;
  var ll = ab[base + lb - 1u];
  if (lb >= 2u) { ll = lae(ll, ab[base + lb - 2u]); }
  if (ll <= NEG) { return u.inf; }
  return -ll;
}`;

/**
 * The loop-mode body start: one workgroup per sample sweeps `u.T` steps (counted by `step`); at each step below
 * the sample's length every extended label position runs `cell`, and a storage barrier ends the step.
 */
function loopSweep(step: string, cell: string): string {
  return `
  let b = gid.x / ${WG}u;
  let li = lid.x;
  let tb = in_len(b);
  let lb = ext_len(b);
  for (var ${step} = 0u; ${step} < u.T; ${step}++) {
    if (${step} < tb) {
      for (var s = li; s < lb; s += ${WG}u) { ${cell}; }
    }
    storageBarrier();
  }`;
}

/**
 * The alpha recursion and the per-sample losses. Loop mode: one workgroup per sample (workgroups [N, 1, 1]);
 * per-frame mode: x over the extended labels, y over the samples, launched for t = 0..T (t = T writes the losses).
 */
export const alphaProgram = variants((loop: boolean) =>
  program({
    name: `ctc:alpha:${loop ? "loop" : "frame"}`,
    uniforms: UNIFORMS,
    inputs: INPUTS,
    outputs: { ab: "f32", losses: "f32" },
    workgroupSize: [WG, 1, 1],
    helpers: `${COMMON}${ALPHA_CELL}${LOSS}`,
    body: loop
      ? `${loopSweep("t", "alpha_cell(b, t, s)")}
  if (li == 0u) { losses[b] = sample_loss(b); }`
      : `
  let s = gid.x;
  let b = gid.y;
  if (u.t == u.T) {
    // The launch after the last frame: the losses.
    if (s == 0u) { losses[b] = sample_loss(b); }
    return;
  }
  if (u.t < in_len(b) && s < ext_len(b)) { alpha_cell(b, u.t, s); }`,
  })
);

/**
 * The beta recursion (for the gradient), with the grids of {@link alphaProgram}. In per-frame mode `u.t` counts
 * frames back from each sample's end.
 */
export const betaProgram = variants((loop: boolean) =>
  program({
    name: `ctc:beta:${loop ? "loop" : "frame"}`,
    uniforms: UNIFORMS,
    inputs: INPUTS,
    outputs: { ab: "f32" },
    workgroupSize: [WG, 1, 1],
    helpers: `${COMMON}${BETA_CELL}`,
    body: loop ? loopSweep("k", "beta_cell(b, tb - 1u - k, s, tb, lb)") : `
  let s = gid.x;
  let b = gid.y;
  let tb = in_len(b);
  let lb = ext_len(b);
  if (u.t < tb && s < lb) { beta_cell(b, tb - 1u - u.t, s, tb, lb); }`,
  })
);

/**
 * The reduced loss from the per-sample losses: mode 0 none, 1 mean (each divided by its clamped target length,
 * then the batch mean), 2 sum. With `zinf`, infinite losses count as 0. One invocation (workgroups [1, 1, 1]).
 */
export const reduceProgram = program({
  name: "ctc:reduce",
  uniforms: { N: "u32", mode: "u32", zinf: "u32" },
  inputs: { losses: "f32", lens: "i32" },
  outputs: { out: "f32" },
  workgroupSize: [1, 1, 1],
  helpers: `
fn value(b: u32) -> f32 {
  let l = losses[b];
  if (u.zinf == 1u && l >= 1e30) { return 0.0; }
  return l;
}`,
  body: `
  if (u.mode == 0u) {
    for (var b = 0u; b < u.N; b++) { out[b] = value(b); }
    return;
  }
  var acc = 0.0;
  for (var b = 0u; b < u.N; b++) {
    var v = value(b);
    if (u.mode == 1u) { v = v / f32(max(lens[u.N + b], 1)); }
    acc += v;
  }
  if (u.mode == 1u) { acc = acc / f32(u.N); }
  out[0] = acc;`,
});

/**
 * Gradient with respect to the log-probabilities, one invocation per (t, b), as PyTorch's ctc_loss backward
 * computes it (it treats the input as log-softmax outputs):
 *   grad[t, b, c] = scale_b * (exp(lp[t, b, c]) - exp(log sum_{s: l'(s) = c} alpha[t, s] beta[t, s] + nll_b - lp[t, b, c]))
 * where alpha * beta counts lp[t] twice, hence the division by it. The first term is what makes the gradient
 * through log_softmax come out right (it sums to 1 over c, as the second term does). Frames past the input
 * length get 0; an infinite loss gets 0 with zero_infinity, NaN (as in PyTorch) without. `C` is baked in (a
 * per-class accumulator array in registers). Launched over N * T invocations.
 */
export const gradProgram = variants((C: number) =>
  program({
    name: `ctc:grad:${C}`,
    uniforms: UNIFORMS,
    inputs: { ...INPUTS, ab: "f32", losses: "f32", gout: "f32" },
    outputs: { grad: "f32" },
    workgroupSize: WG,
    helpers: COMMON,
    body: `
  let i = gidx;
  if (i >= u.N * u.T) { return; }
  let b = i % u.N;
  let t = i / u.N;
  // u.t carries the mode here: the reduction (0 none, 1 mean, 2 sum) + 8 with zero_infinity.
  let mode = u.t;
  let o = t * u.stT + b * u.stB;
  let tb = in_len(b);
  let nll = losses[b];
  if (t >= tb || (nll >= 1e30 && mode >= 8u)) {
    for (var c = 0u; c < u.C; c++) { grad[o + c] = 0.0; }
    return;
  }
  if (nll >= 1e30) {
    for (var c = 0u; c < u.C; c++) { grad[o + c] = u.inf - u.inf; }
    return;
  }
  var scale = gout[0];
  let m = mode % 8u;
  if (m == 0u) { scale = gout[b]; }
  if (m == 1u) { scale = scale / (f32(u.N) * f32(max(lens[u.N + b], 1))); }
  var lc: array<f32, ${C}>;
  for (var c = 0u; c < ${C}u; c++) { lc[c] = NEG; }
  let lb = ext_len(b);
  let ba = (b * u.T + t) * u.L;
  let bb = u.N * u.T * u.L + ba;
  for (var s = 0u; s < lb; s++) {
    let c = label(b, s);
    lc[c] = lae(lc[c], ab[ba + s] + ab[bb + s]);
  }
  for (var c = 0u; c < ${C}u; c++) {
    let v = lp_at(t, b, c);
    grad[o + c] = scale * (exp(v) - exp(lc[c] + nll - v));
  }`,
  })
);
