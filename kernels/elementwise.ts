/**
 * Elementwise kernels: unary maps (with an optional scalar) and binary ops with NumPy/PyTorch broadcasting.
 *
 * Each binary operand is read in one of three ways, chosen on the host and baked into the pipeline: directly
 * (same shape as the output), modulo its size (broadcast along leading axes only, e.g. a bias), or through full
 * strides (any other broadcast). The first two cover nearly every launch in the model without index arithmetic.
 */
import { record, setGradientAccumulator } from "../engine/autograd.ts";
import { launch, program, variants } from "../engine/kernel.ts";
import { broadcastShapes, broadcastStrides, sameShape } from "../engine/shape.ts";
import { empty, type Shape, Tensor } from "../engine/tensor.ts";
import { sumTo } from "./reduce.ts";

const WG = 256;

/** WGSL helpers shared by the unary maps. `erf` is Abramowitz & Stegun 7.1.26 (|error| < 1.5e-7). */
export const WGSL_MATH = /* wgsl */ `
fn erf_approx(v: f32) -> f32 {
  let x = abs(v);
  let t = 1.0 / (1.0 + 0.3275911 * x);
  let poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))));
  return sign(v) * (1.0 - poly * exp(-x * x));
}
fn gelu_f(x: f32) -> f32 { return 0.5 * x * (1.0 + erf_approx(x * 0.7071067811865476)); }
fn gelu_grad(x: f32) -> f32 {
  return 0.5 * (1.0 + erf_approx(x * 0.7071067811865476)) + x * 0.3989422804014327 * exp(-0.5 * x * x);
}
// tanh through exp(-2|x|), which cannot overflow (a naive (e^2x - 1)/(e^2x + 1) gives NaN for large x).
fn tanh_f(x: f32) -> f32 { let e = exp(-2.0 * abs(x)); return sign(x) * (1.0 - e) / (1.0 + e); }
fn sigmoid_f(x: f32) -> f32 {
  let e = exp(-abs(x));
  return select(e / (1.0 + e), 1.0 / (1.0 + e), x >= 0.0);
}
`;

interface UnaryDef {
  /** Output as a WGSL expression of `x` and scalar `s`. */
  fwd: string;
  /** Input gradient as a WGSL expression of `g`, `x`, `y` (the output) and `s`. */
  bwd: string;
}

const UNARY = {
  neg: { fwd: "-x", bwd: "-g" },
  exp: { fwd: "exp(x)", bwd: "g * y" },
  log: { fwd: "log(x)", bwd: "g / x" },
  sqrt: { fwd: "sqrt(x)", bwd: "g * 0.5 / y" },
  tanh: { fwd: "tanh_f(x)", bwd: "g * (1.0 - y * y)" },
  sigmoid: { fwd: "sigmoid_f(x)", bwd: "g * y * (1.0 - y)" },
  gelu: { fwd: "gelu_f(x)", bwd: "g * gelu_grad(x)" },
  relu: { fwd: "max(x, 0.0)", bwd: "select(0.0, g, x > 0.0)" },
  square: { fwd: "x * x", bwd: "2.0 * g * x" },
  scale: { fwd: "x * s", bwd: "g * s" },
  addScalar: { fwd: "x + s", bwd: "g" },
  /** Clamps below at s (the gradient passes where x > s). */
  clampMin: { fwd: "max(x, s)", bwd: "select(0.0, g, x > s)" },
} satisfies Record<string, UnaryDef>;

export type UnaryOp = keyof typeof UNARY;

function checkF32(t: Tensor, op: string): void {
  if (t.dtype !== "f32") throw new TypeError(`${op}: expected an f32 tensor, got ${t.dtype}`);
}

const unaryFwd = variants((op: UnaryOp) =>
  program({
    name: `unary:${op}`,
    uniforms: { n: "u32", s: "f32" },
    inputs: { a: "f32" },
    outputs: { o: "f32" },
    workgroupSize: WG,
    helpers: WGSL_MATH,
    body: `
  if (gidx >= u.n) { return; }
  let x = a[gidx];
  let s = u.s;
  o[gidx] = ${UNARY[op].fwd};`,
  })
);

const unaryBwd = variants((op: UnaryOp) =>
  program({
    name: `unary-grad:${op}`,
    uniforms: { n: "u32", s: "f32" },
    inputs: { gs: "f32", xs: "f32", ys: "f32" },
    outputs: { o: "f32" },
    workgroupSize: WG,
    helpers: WGSL_MATH,
    body: `
  if (gidx >= u.n) { return; }
  let g = gs[gidx];
  let x = xs[gidx];
  let y = ys[gidx];
  let s = u.s;
  _ = x; _ = y; _ = s;
  o[gidx] = ${UNARY[op].bwd};`,
  })
);

function unaryForward(op: UnaryOp, x: Tensor, s: number): Tensor {
  const out = empty(x.shape, "f32", op);
  launch(unaryFwd(op), {
    uniforms: { n: x.size, s },
    inputs: { a: x },
    outputs: { o: out },
    invocations: x.size,
  });
  return out;
}

function unaryBackward(op: UnaryOp, g: Tensor, x: Tensor, y: Tensor, s: number): Tensor {
  const out = empty(x.shape, "f32", `${op} backward`);
  launch(unaryBwd(op), {
    uniforms: { n: x.size, s },
    inputs: { gs: g, xs: x, ys: y },
    outputs: { o: out },
    invocations: x.size,
  });
  return out;
}

/** Applies a unary map (with scalar `s` for `scale`, `addScalar`, `clampMin`), differentiably. */
export function unary(op: UnaryOp, x: Tensor, s = 0): Tensor {
  checkF32(x, op);
  const y = unaryForward(op, x, s);
  return record(y, op, [x], (g) => [unaryBackward(op, g, x, y, s)]);
}

export const neg = (x: Tensor): Tensor => unary("neg", x);
export const exp = (x: Tensor): Tensor => unary("exp", x);
export const log = (x: Tensor): Tensor => unary("log", x);
export const sqrt = (x: Tensor): Tensor => unary("sqrt", x);
export const tanh = (x: Tensor): Tensor => unary("tanh", x);
export const sigmoid = (x: Tensor): Tensor => unary("sigmoid", x);
/** GELU in PyTorch's exact erf form: x * Phi(x). */
export const gelu = (x: Tensor): Tensor => unary("gelu", x);
export const relu = (x: Tensor): Tensor => unary("relu", x);
export const square = (x: Tensor): Tensor => unary("square", x);
export const scale = (x: Tensor, s: number): Tensor => unary("scale", x, s);
export const addScalar = (x: Tensor, s: number): Tensor => unary("addScalar", x, s);
export const clampMin = (x: Tensor, s: number): Tensor => unary("clampMin", x, s);

const BINARY = {
  add: "x + y",
  sub: "x - y",
  mul: "x * y",
  div: "x / y",
} as const;

export type BinaryOp = keyof typeof BINARY;

type ReadMode = "direct" | "mod" | "strided";

function readMode(shape: Shape, out: Shape): ReadMode {
  if (sameShape(shape, out)) return "direct";
  // Broadcast along leading axes only: the operand equals a suffix of the output shape.
  const lead = out.length - shape.length;
  let k = 0;
  while (k < shape.length && shape[k] === 1) k++;
  for (let i = k; i < shape.length; i++) if (shape[i] !== out[lead + i]) return "strided";
  let inner = 1;
  for (let i = k; i < shape.length; i++) inner *= shape[i];
  let outInner = 1;
  for (let i = lead + k; i < out.length; i++) outInner *= out[i];
  return inner === outInner ? "mod" : "strided";
}

const MAX_RANK = 8;

function indexExpr(mode: ReadMode, which: "a" | "b"): string {
  if (mode === "direct") return "gidx";
  if (mode === "mod") return `gidx % u.${which}size`;
  return `strided_index(gidx, ${which === "a" ? "u.astr" : "u.bstr"})`;
}

/** Binary op `op` with each operand read as `am` / `bm` (the read modes are baked into the WGSL). */
const binaryProgram = variants((op: BinaryOp, am: ReadMode, bm: ReadMode) =>
  program({
    name: `binary:${op}:${am}:${bm}`,
    uniforms: {
      n: "u32",
      rank: "u32",
      asize: "u32",
      bsize: "u32",
      shape: `array<vec4<u32>, ${MAX_RANK / 4}>`,
      astr: `array<vec4<u32>, ${MAX_RANK / 4}>`,
      bstr: `array<vec4<u32>, ${MAX_RANK / 4}>`,
    },
    inputs: { as_: "f32", bs: "f32" },
    outputs: { o: "f32" },
    workgroupSize: WG,
    helpers: `
fn strided_index(flat: u32, str: array<vec4<u32>, ${MAX_RANK / 4}>) -> u32 {
  var rem = flat;
  var idx = 0u;
  for (var k = i32(u.rank) - 1; k >= 0; k--) {
    let d = u.shape[k / 4][k % 4];
    idx += (rem % d) * str[k / 4][k % 4];
    rem = rem / d;
  }
  return idx;
}`,
    body: `
  if (gidx >= u.n) { return; }
  let x = as_[${indexExpr(am, "a")}];
  let y = bs[${indexExpr(bm, "b")}];
  o[gidx] = ${BINARY[op]};`,
  })
);

/** Exported for tests/engine/program_test.ts (the generated WGSL and packing of a real kernel). */
export { binaryProgram };

function binaryForward(op: BinaryOp, a: Tensor, b: Tensor, outShape: number[]): Tensor {
  const out = empty(outShape, "f32", op);
  const am = readMode(a.shape, outShape);
  const bm = readMode(b.shape, outShape);
  const rank = outShape.length;
  const shape = new Array(MAX_RANK).fill(1);
  const astr = new Array(MAX_RANK).fill(0);
  const bstr = new Array(MAX_RANK).fill(0);
  if (am === "strided" || bm === "strided") {
    if (rank > MAX_RANK) throw new RangeError(`${op}: broadcasting supports rank <= ${MAX_RANK}`);
    outShape.forEach((d, i) => (shape[i] = d));
    broadcastStrides(a.shape, outShape).forEach((s, i) => (astr[i] = s));
    broadcastStrides(b.shape, outShape).forEach((s, i) => (bstr[i] = s));
  }
  launch(binaryProgram(op, am, bm), {
    uniforms: { n: out.size, rank, asize: a.size, bsize: b.size, shape, astr, bstr },
    inputs: { as_: a, bs: b },
    outputs: { o: out },
    invocations: out.size,
  });
  return out;
}

/** A binary op with broadcasting, differentiable in both operands. */
export function binary(op: BinaryOp, a: Tensor, b: Tensor): Tensor {
  checkF32(a, op);
  checkF32(b, op);
  const outShape = broadcastShapes(a.shape, b.shape, op);
  const out = binaryForward(op, a, b, outShape);
  return record(out, op, [a, b], (g) => {
    const wantA = a.requiresGrad;
    const wantB = b.requiresGrad;
    switch (op) {
      case "add":
        return [wantA ? sumTo(g, a.shape) : null, wantB ? sumTo(g, b.shape) : null];
      case "sub":
        return [wantA ? sumTo(g, a.shape) : null, wantB ? sumTo(unaryForward("neg", g, 0), b.shape) : null];
      case "mul":
        return [
          wantA ? reduceOwned(binaryForward("mul", g, b, outShape), a.shape) : null,
          wantB ? reduceOwned(binaryForward("mul", g, a, outShape), b.shape) : null,
        ];
      case "div": {
        const ga = wantA ? reduceOwned(binaryForward("div", g, b, outShape), a.shape) : null;
        let gb: Tensor | null = null;
        if (wantB) {
          // d(a/b)/db = -(a/b)/b = -out/b
          const t = binaryForward("mul", g, out, outShape);
          const t2 = binaryForward("div", t, b, outShape);
          t.dispose();
          gb = reduceOwned(unaryOwned("neg", t2), b.shape);
        }
        return [ga, gb];
      }
    }
  });
}

/** sumTo of a temporary: frees the temporary when the reduction made a new tensor. */
function reduceOwned(t: Tensor, shape: Shape): Tensor {
  const r = sumTo(t, shape);
  if (r !== t) t.dispose();
  return r;
}

function unaryOwned(op: UnaryOp, t: Tensor): Tensor {
  const r = unaryForward(op, t, 0);
  t.dispose();
  return r;
}

export const add = (a: Tensor, b: Tensor): Tensor => binary("add", a, b);
export const sub = (a: Tensor, b: Tensor): Tensor => binary("sub", a, b);
export const mul = (a: Tensor, b: Tensor): Tensor => binary("mul", a, b);
export const div = (a: Tensor, b: Tensor): Tensor => binary("div", a, b);

setGradientAccumulator((a, b) => binaryForward("add", a, b, [...a.shape]));
