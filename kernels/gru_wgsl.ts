/**
 * WGSL for one time step of a bidirectional GRU, forward and backward (host side: gru.ts).
 *
 * Each invocation owns a register block of RB batch rows x UB hidden units of one direction, for all three
 * gates: the hidden matmul of the step (W_hh h_{t-1} forward, dGh_{t+1} W_hh backward) is fused with the gate
 * math, with no workgroup memory and no barriers (what the CPU adapter's SIMD compiler handles well, and sound on
 * a real GPU). Rows of a block may sit at different frames: with packed lengths the reverse direction of row b
 * starts at frame len_b - 1, and rows whose sequence has ended write the zeros of their padded frame instead.
 *
 * Index conventions (all in 32-bit words):
 * - frame rows of x / y / gi / dGi: row(b, t) = b * sb + t * st (batch-first or time-first layout);
 * - gi, dGi: [row][dir][gate][H] (the stacked input projection of both directions, 6H wide);
 * - y: [row][dir][H]; saves: [dir][row][r, z, n, W_hn h + b_hn][H]; hp, the previous hidden: [dir][row][H];
 * - dGh: [dir][row][gate][H]; carry, dh_t * z_t handed to the previous frame: [dir][b][H];
 * - whh: [dir][gate * H + unit][H]; bias: [b_ih fwd, b_ih rev, b_hh fwd, b_hh rev][3H].
 *
 * In the vec4 variant (H % 4 == 0) every row offset above is a multiple of 4 and the arrays are bound as
 * vec4<f32>; otherwise they are scalar arrays and loads past the last unit clamp to it (their results are
 * never written).
 *
 * Both kernels are programs (engine/program.ts), uniforms and bindings declared once by name; one launch per
 * step runs {@link stepInvocations} invocations, the flat index `gidx` numbering the register blocks.
 */
import { type ElementType, program, variants } from "../engine/kernel.ts";
import { WGSL_MATH } from "./elementwise.ts";

/** Batch rows per invocation. */
export const RB = 4;
/** Hidden units per invocation. */
export const UB = 4;
export const WG = 64;

/**
 * The step uniforms: batch rows, frames, hidden size, the row strides sb (batch) and st (time), the step s
 * (frame for the forward direction; the reverse direction's frame of row b is len_b - 1 - s) and rows = B * T.
 */
const UNIFORMS = { B: "u32", T: "u32", H: "u32", sb: "u32", st: "u32", s: "u32", rows: "u32" } as const;

/** Element type of the float arrays (the vec4 variant binds them as vec4<f32>). */
function elem(vec: boolean): "vec4<f32>" | "f32" {
  return vec ? "vec4<f32>" : "f32";
}

/** Invocations of one step launch: one per (unit block, row block, direction). */
export function stepInvocations(B: number, H: number): number {
  return Math.ceil(H / UB) * Math.ceil(B / RB) * 2;
}

/** Units j0..j0+3 of a row starting at element `base` (clamped to the last unit in the scalar variant). */
function load4(name: string, vec: boolean, base: string): string {
  if (vec) return `${name}[(${base} + j0) / 4u]`;
  return `vec4<f32>(${[0, 1, 2, 3].map((q) => `${name}[${base} + jc${q}]`).join(", ")})`;
}

/** Stores units j0..j0+3 of a row starting at element `base`, skipping units past H. */
function store4(name: string, vec: boolean, base: string, value: string): string {
  if (vec) return `${name}[(${base} + j0) / 4u] = ${value};`;
  return [0, 1, 2, 3].map((q) =>
    `if (j0 + ${q}u < u.H) { ${name}[${base} + j0 + ${q}u] = (${value})[${q}]; }`
  )
    .join(" ");
}

/** Per-row bookkeeping shared by both kernels: validity, length, the frame of this step and of a neighbour. */
function rowSetup(next: "prev" | "next"): string {
  const L: string[] = [];
  for (let i = 0; i < RB; i++) {
    L.push(`  let bb${i} = min(b0 + ${i}u, u.B - 1u);
  let len${i} = i32(lens[bb${i}]);
  let valid${i} = b0 + ${i}u < u.B;
  let act${i} = valid${i} && s < len${i};
  let t${i} = select(s, len${i} - 1 - s, d == 1u);`);
    // The frame whose hidden state feeds this one (forward pass) or that this one feeds (backward pass).
    if (next === "prev") {
      L.push(`  let tn${i} = clamp(select(s - 1, t${i} + 1, d == 1u), 0, i32(u.T) - 1);`);
    } else {
      L.push(`  let nv${i} = act${i} && s + 1 < len${i};
  let tn${i} = clamp(select(s + 1, len${i} - 2 - s, d == 1u), 0, i32(u.T) - 1);`);
    }
    L.push(`  let row${i} = bb${i} * u.sb + u32(clamp(t${i}, 0, i32(u.T) - 1)) * u.st;
  let rown${i} = bb${i} * u.sb + u32(tn${i}) * u.st;
  let rowpad${i} = bb${i} * u.sb + min(u32(s), u.T - 1u) * u.st;`);
  }
  return L.join("\n");
}

function header(): string {
  return `  let nub = (u.H + ${UB - 1}u) / ${UB}u;
  let nrb = (u.B + ${RB - 1}u) / ${RB}u;
  let idx = gidx;
  if (idx >= nub * nrb * 2u) { return; }
  let j0 = (idx % nub) * ${UB}u;
  let b0 = ((idx / nub) % nrb) * ${RB}u;
  let d = idx / (nub * nrb);
  let s = i32(u.s);
  let H = u.H;
  let jc0 = min(j0, H - 1u);
  let jc1 = min(j0 + 1u, H - 1u);
  let jc2 = min(j0 + 2u, H - 1u);
  let jc3 = min(j0 + 3u, H - 1u);
  _ = jc0; _ = jc1; _ = jc2; _ = jc3;`;
}

/** The body of the forward step (see {@link forwardStep}). */
function forwardStepBody(vec: boolean, save: boolean): string {
  const L: string[] = [];
  L.push(`${header()}
${rowSetup("prev")}
  let zero = vec4<f32>(0.0);`);
  // Padded frames of ended rows: exact zeros (and no hidden state for the weight gradient).
  for (let i = 0; i < RB; i++) {
    L.push(`  if (valid${i} && !act${i}) {
    ${store4("y", vec, `rowpad${i} * 2u * H + d * H`, "zero")}
    ${save ? store4("hp", vec, `(d * u.rows + rowpad${i}) * H`, "zero") : ""}
  }`);
  }
  L.push(`  if (!(act0 || act1 || act2 || act3)) { return; }`);
  // acc{i}_{g}: W_hg h_{t-1} for row i, gate g, units j0..j0+3.
  for (let i = 0; i < RB; i++) {
    for (let g = 0; g < 3; g++) L.push(`  var acc${i}_${g} = vec4<f32>(0.0);`);
  }
  L.push(`  if (s > 0) {`);
  if (vec) {
    L.push(`    let H4 = H / 4u;`);
    for (let i = 0; i < RB; i++) L.push(`    let hb${i} = (rown${i} * 2u * H + d * H) / 4u;`);
    for (let g = 0; g < 3; g++) {
      for (let q = 0; q < UB; q++) L.push(`    let wb${g}_${q} = ((d * 3u + ${g}u) * H + j0 + ${q}u) * H4;`);
    }
    L.push(`    for (var k = 0u; k < H4; k++) {`);
    for (let i = 0; i < RB; i++) L.push(`      let h${i} = y[hb${i} + k];`);
    for (let g = 0; g < 3; g++) {
      for (let q = 0; q < UB; q++) L.push(`      let w${g}_${q} = whh[wb${g}_${q} + k];`);
      for (let i = 0; i < RB; i++) {
        L.push(
          `      acc${i}_${g} += vec4<f32>(${[0, 1, 2, 3].map((q) => `dot(h${i}, w${g}_${q})`).join(", ")});`,
        );
      }
    }
    L.push(`    }`);
  } else {
    for (let i = 0; i < RB; i++) L.push(`    let hb${i} = rown${i} * 2u * H + d * H;`);
    L.push(`    for (var k = 0u; k < H; k++) {`);
    for (let i = 0; i < RB; i++) L.push(`      let h${i} = y[hb${i} + k];`);
    for (let g = 0; g < 3; g++) {
      L.push(
        `      let w${g} = vec4<f32>(${
          [0, 1, 2, 3].map((q) => `whh[((d * 3u + ${g}u) * H + jc${q}) * H + k]`).join(", ")
        });`,
      );
      for (let i = 0; i < RB; i++) L.push(`      acc${i}_${g} += h${i} * w${g};`);
    }
    L.push(`    }`);
  }
  L.push(`  }`);
  L.push(`  let bir = ${load4("bias", vec, "(d * 3u + 0u) * H")};
  let biz = ${load4("bias", vec, "(d * 3u + 1u) * H")};
  let bin = ${load4("bias", vec, "(d * 3u + 2u) * H")};
  let bhr = ${load4("bias", vec, "((2u + d) * 3u + 0u) * H")};
  let bhz = ${load4("bias", vec, "((2u + d) * 3u + 1u) * H")};
  let bhn = ${load4("bias", vec, "((2u + d) * 3u + 2u) * H")};`);
  for (let i = 0; i < RB; i++) {
    L.push(`  if (act${i}) {
    let gb = row${i} * 6u * H + d * 3u * H;
    let r = sigmoid4(${load4("gi", vec, "gb")} + bir + acc${i}_0 + bhr);
    let z = sigmoid4(${load4("gi", vec, "gb + H")} + biz + acc${i}_1 + bhz);
    let hn = acc${i}_2 + bhn;
    let n = tanh4(${load4("gi", vec, "gb + 2u * H")} + bin + r * hn);
    var hprev = vec4<f32>(0.0);
    if (s > 0) { hprev = ${load4("y", vec, `rown${i} * 2u * H + d * H`)}; }
    let h = (1.0 - z) * n + z * hprev;
    ${store4("y", vec, `row${i} * 2u * H + d * H`, "h")}`);
    if (save) {
      L.push(`    let sb = (d * u.rows + row${i}) * 4u * H;
    ${store4("saves", vec, "sb", "r")}
    ${store4("saves", vec, "sb + H", "z")}
    ${store4("saves", vec, "sb + 2u * H", "n")}
    ${store4("saves", vec, "sb + 3u * H", "hn")}
    ${store4("hp", vec, `(d * u.rows + row${i}) * H`, "hprev")}`);
    }
    L.push(`  }`);
  }
  return L.join("\n");
}

const GATES = /* wgsl */ `${WGSL_MATH}
fn sigmoid4(x: vec4<f32>) -> vec4<f32> {
  return vec4<f32>(sigmoid_f(x[0]), sigmoid_f(x[1]), sigmoid_f(x[2]), sigmoid_f(x[3]));
}
fn tanh4(x: vec4<f32>) -> vec4<f32> {
  return vec4<f32>(tanh_f(x[0]), tanh_f(x[1]), tanh_f(x[2]), tanh_f(x[3]));
}`;

/**
 * Forward step: h_t for every row and both directions. With `save`, also writes what the backward pass needs
 * (gates and W_hn h + b_hn into `saves`, the previous hidden state into `hp`, zeros at padded frames).
 */
export const forwardStep = variants((vec: boolean, save: boolean, H: number) => {
  const A = elem(vec);
  // The saves for the backward pass are bound only in the saving variant.
  const outputs: { y: ElementType; saves?: ElementType; hp?: ElementType } = save
    ? { y: A, saves: A, hp: A }
    : { y: A };
  return program({
    name: `gru:fwd:${+vec}${+save}:${H}`,
    uniforms: UNIFORMS,
    inputs: { gi: A, whh: A, bias: A, lens: "i32" },
    outputs,
    workgroupSize: WG,
    helpers: GATES,
    body: withHiddenSize(forwardStepBody(vec, save), H),
  });
});

/**
 * Backward step (steps run from the last to the first): dh_t = upstream gradient + carry + dGh_{next} W_hh, then
 * the gate gradients of this frame into dGi (pre-activation, input side) and dGh (hidden side: the n gate's is
 * multiplied by r), and dh_t * z_t into carry for the frame before. Padded frames get zero gate gradients.
 */
export const backwardStep = variants((vec: boolean, H: number) => {
  const A = elem(vec);
  return program({
    name: `gru:bwd:${+vec}:${H}`,
    uniforms: UNIFORMS,
    inputs: { gy: A, saves: A, whh: A, lens: "i32", hp: A },
    outputs: { dgi: A, dgh: A, carry: A },
    workgroupSize: WG,
    body: withHiddenSize(backwardStepBody(vec), H),
  });
});

/**
 * The hidden size baked into a step kernel as a constant. With it as a constant the compiler unrolls and
 * vectorises the recurrent matmul's inner loop (over H); a model has one or two hidden sizes, so this adds
 * a pipeline or two, where baking the per-launch values (the step) would add one per frame.
 */
function withHiddenSize(body: string, H: number): string {
  return body.replaceAll("u.H", `${H}u`);
}

function backwardStepBody(vec: boolean): string {
  const L: string[] = [];
  L.push(`${header()}
${rowSetup("next")}
  let zero = vec4<f32>(0.0);`);
  for (let i = 0; i < RB; i++) {
    L.push(`  if (valid${i} && !act${i}) {
    let gb = rowpad${i} * 6u * H + d * 3u * H;
    ${store4("dgi", vec, "gb", "zero")}
    ${store4("dgi", vec, "gb + H", "zero")}
    ${store4("dgi", vec, "gb + 2u * H", "zero")}
    let hb = (d * u.rows + rowpad${i}) * 3u * H;
    ${store4("dgh", vec, "hb", "zero")}
    ${store4("dgh", vec, "hb + H", "zero")}
    ${store4("dgh", vec, "hb + 2u * H", "zero")}
  }`);
  }
  L.push(`  if (!(act0 || act1 || act2 || act3)) { return; }`);
  for (let i = 0; i < RB; i++) L.push(`  var acc${i} = vec4<f32>(0.0);`);
  L.push(`  if (nv0 || nv1 || nv2 || nv3) {`);
  if (vec) {
    L.push(`    let M4 = 3u * H / 4u;`);
    for (let i = 0; i < RB; i++) L.push(`    let db${i} = (d * u.rows + rown${i}) * 3u * H / 4u;`);
    L.push(`    let wb = (d * 3u * H * H + j0) / 4u;
    let wstride = H / 4u;
    for (var m = 0u; m < M4; m++) {`);
    for (let i = 0; i < RB; i++) L.push(`      let g${i} = dgh[db${i} + m];`);
    for (let q = 0; q < 4; q++) {
      L.push(`      let w${q} = whh[wb + (4u * m + ${q}u) * wstride];`);
      for (let i = 0; i < RB; i++) L.push(`      acc${i} += g${i}[${q}] * w${q};`);
    }
    L.push(`    }`);
  } else {
    for (let i = 0; i < RB; i++) L.push(`    let db${i} = (d * u.rows + rown${i}) * 3u * H;`);
    L.push(`    for (var m = 0u; m < 3u * H; m++) {
      let wr = (d * 3u * H + m) * H;
      let w = vec4<f32>(whh[wr + jc0], whh[wr + jc1], whh[wr + jc2], whh[wr + jc3]);`);
    for (let i = 0; i < RB; i++) L.push(`      acc${i} += dgh[db${i} + m] * w;`);
    L.push(`    }`);
  }
  L.push(`  }`);
  for (let i = 0; i < RB; i++) {
    L.push(`  if (act${i}) {
    let cb = (d * u.B + bb${i}) * H;
    var dh = ${load4("gy", vec, `row${i} * 2u * H + d * H`)};
    if (nv${i}) { dh += ${load4("carry", vec, "cb")} + acc${i}; }
    let sb = (d * u.rows + row${i}) * 4u * H;
    let r = ${load4("saves", vec, "sb")};
    let z = ${load4("saves", vec, "sb + H")};
    let n = ${load4("saves", vec, "sb + 2u * H")};
    let hn = ${load4("saves", vec, "sb + 3u * H")};
    let hprev = ${load4("hp", vec, `(d * u.rows + row${i}) * H`)};
    let dnp = dh * (1.0 - z) * (1.0 - n * n);
    let dzp = dh * (hprev - n) * z * (1.0 - z);
    let drp = dnp * hn * r * (1.0 - r);
    let gb = row${i} * 6u * H + d * 3u * H;
    ${store4("dgi", vec, "gb", "drp")}
    ${store4("dgi", vec, "gb + H", "dzp")}
    ${store4("dgi", vec, "gb + 2u * H", "dnp")}
    let hb = (d * u.rows + row${i}) * 3u * H;
    ${store4("dgh", vec, "hb", "drp")}
    ${store4("dgh", vec, "hb + H", "dzp")}
    ${store4("dgh", vec, "hb + 2u * H", "dnp * r")}
    ${store4("carry", vec, "cb", "dh * z")}
  }`);
  }
  return L.join("\n");
}
