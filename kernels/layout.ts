/**
 * Layout ops: reshape (a view), and permute, slice, pad and concat, which all run one strided-copy kernel:
 * walk the copied block's shape, read through source strides, write through destination strides. The kernel
 * copies 32-bit words, so it serves f32 and i32 alike.
 */
import { record } from "../engine/autograd.ts";
import { launch, program } from "../engine/kernel.ts";
import { normAxis, stridesOf } from "../engine/shape.ts";
import { empty, type Shape, shapeString, sizeOf, type Tensor } from "../engine/tensor.ts";
import { fillInPlace } from "./fill.ts";

const WG = 256;
const MAX_RANK = 8;

interface Block {
  shape: readonly number[];
  srcOffset: number;
  srcStrides: readonly number[];
  dstOffset: number;
  dstStrides: readonly number[];
}

function padTo(values: readonly number[], fill: number): number[] {
  const out = [...values];
  while (out.length < MAX_RANK) out.push(fill);
  return out;
}

/**
 * The strided copy. It moves 32-bit words of either dtype: the element type is the alias `word` (= u32), which
 * the engine's dtype check of bindings does not tie to i32 tensors, so f32 and i32 tensors share one pipeline and
 * every bit pattern (NaN payloads included) is copied exactly.
 */
const copyProgram = program({
  name: "layout:copy",
  uniforms: {
    n: "u32",
    rank: "u32",
    src_off: "u32",
    dst_off: "u32",
    shape: `array<vec4<u32>, ${MAX_RANK / 4}>`,
    sstr: `array<vec4<u32>, ${MAX_RANK / 4}>`,
    dstr: `array<vec4<u32>, ${MAX_RANK / 4}>`,
  },
  inputs: { s: "word" },
  outputs: { d: "word" },
  workgroupSize: WG,
  helpers: "alias word = u32;",
  body: `
  let i = gidx;
  if (i >= u.n) { return; }
  var rem = i;
  var si = u.src_off;
  var di = u.dst_off;
  for (var k = i32(u.rank) - 1; k >= 0; k--) {
    let dim = u.shape[k / 4][k % 4];
    let c = rem % dim;
    rem = rem / dim;
    si += c * u.sstr[k / 4][k % 4];
    di += c * u.dstr[k / 4][k % 4];
  }
  d[di] = s[si];`,
});

/** Copies a strided block of `src` into a strided block of `dst`. */
function stridedCopy(src: Tensor, dst: Tensor, b: Block, op: string): void {
  const n = sizeOf(b.shape);
  if (n === 0) return;
  if (b.shape.length > MAX_RANK) throw new RangeError(`${op}: rank ${b.shape.length} > ${MAX_RANK}`);
  launch(copyProgram, {
    uniforms: {
      n,
      rank: b.shape.length,
      src_off: b.srcOffset,
      dst_off: b.dstOffset,
      shape: padTo(b.shape, 1),
      sstr: padTo(b.srcStrides, 0),
      dstr: padTo(b.dstStrides, 0),
    },
    inputs: { s: src },
    outputs: { d: dst },
    invocations: n,
  });
}

/** Same data, another shape (`-1` infers one axis). Differentiable; no copy. */
export function reshape(x: Tensor, shape: readonly number[]): Tensor {
  const known = shape.filter((d) => d !== -1).reduce((a, b) => a * b, 1);
  const resolved = shape.map((d) => (d === -1 ? x.size / known : d));
  if (sizeOf(resolved) !== x.size || resolved.some((d) => !Number.isInteger(d))) {
    throw new RangeError(`reshape: cannot reshape ${shapeString(x.shape)} to ${shapeString(shape)}`);
  }
  const out = x.view(resolved);
  return record(out, "reshape", [x], (g) => [g.view(x.shape)]);
}

/** Reorders axes: output axis i is input axis `perm[i]` (PyTorch's `permute`). */
export function permute(x: Tensor, perm: readonly number[]): Tensor {
  if (perm.length !== x.rank || new Set(perm.map((p) => normAxis(p, x.rank, "permute"))).size !== x.rank) {
    throw new RangeError(`permute: [${perm}] is not a permutation of ${x.rank} axes`);
  }
  const p = perm.map((a) => normAxis(a, x.rank, "permute"));
  const shape = p.map((a) => x.shape[a]);
  const inStrides = stridesOf(x.shape);
  const out = empty(shape, x.dtype, "permute");
  stridedCopy(x, out, {
    shape,
    srcOffset: 0,
    srcStrides: p.map((a) => inStrides[a]),
    dstOffset: 0,
    dstStrides: stridesOf(shape),
  }, "permute");
  const inverse = new Array(p.length);
  p.forEach((a, i) => (inverse[a] = i));
  return record(out, "permute", [x], (g) => [permute(g, inverse)]);
}

/** Swaps two axes. */
export function transpose(x: Tensor, a: number, b: number): Tensor {
  const perm = x.shape.map((_, i) => i);
  const i = normAxis(a, x.rank, "transpose");
  const j = normAxis(b, x.rank, "transpose");
  [perm[i], perm[j]] = [perm[j], perm[i]];
  return permute(x, perm);
}

/** The block starting at `begin` with extent `size` (-1: to the end) along every axis. */
export function slice(x: Tensor, begin: readonly number[], size: readonly number[]): Tensor {
  if (begin.length !== x.rank || size.length !== x.rank) {
    throw new RangeError(`slice: begin/size need ${x.rank} entries for ${shapeString(x.shape)}`);
  }
  const shape = size.map((s, i) => (s === -1 ? x.shape[i] - begin[i] : s));
  shape.forEach((s, i) => {
    if (begin[i] < 0 || s < 0 || begin[i] + s > x.shape[i]) {
      throw new RangeError(`slice: [${begin}] + [${shape}] is outside ${shapeString(x.shape)}`);
    }
  });
  const strides = stridesOf(x.shape);
  const out = empty(shape, x.dtype, "slice");
  stridedCopy(x, out, {
    shape,
    srcOffset: begin.reduce((acc, b, i) => acc + b * strides[i], 0),
    srcStrides: strides,
    dstOffset: 0,
    dstStrides: stridesOf(shape),
  }, "slice");
  return record(
    out,
    "slice",
    [x],
    (g) => [padRaw(g, begin.map((b, i) => [b, x.shape[i] - b - shape[i]] as [number, number]), 0)],
  );
}

/** `x.narrow(axis, start, length)`. */
export function narrow(x: Tensor, axis: number, start: number, length: number): Tensor {
  const ax = normAxis(axis, x.rank, "narrow");
  return slice(
    x,
    x.shape.map((_, i) => (i === ax ? start : 0)),
    x.shape.map((d, i) => (i === ax ? length : d)),
  );
}

function padRaw(x: Tensor, pads: readonly (readonly [number, number])[], value: number): Tensor {
  const shape = x.shape.map((d, i) => d + pads[i][0] + pads[i][1]);
  const out = fillInPlace(empty(shape, x.dtype, "pad"), value);
  const dstStrides = stridesOf(shape);
  stridedCopy(x, out, {
    shape: x.shape,
    srcOffset: 0,
    srcStrides: stridesOf(x.shape),
    dstOffset: pads.reduce((acc, p, i) => acc + p[0] * dstStrides[i], 0),
    dstStrides,
  }, "pad");
  return out;
}

/** Constant padding: `pads[i] = [before, after]` for every axis. */
export function pad(x: Tensor, pads: readonly (readonly [number, number])[], value = 0): Tensor {
  if (pads.length !== x.rank || pads.some(([a, b]) => a < 0 || b < 0)) {
    throw new RangeError(
      `pad: need ${x.rank} non-negative [before, after] pairs for ${shapeString(x.shape)}`,
    );
  }
  const out = padRaw(x, pads, value);
  return record(out, "pad", [x], (g) => [slice(g, pads.map((p) => p[0]), x.shape)]);
}

/** Joins tensors along `axis` (all other axes equal). */
export function concat(xs: readonly Tensor[], axis: number): Tensor {
  if (xs.length === 0) throw new RangeError("concat: no tensors");
  const ax = normAxis(axis, xs[0].rank, "concat");
  for (const t of xs) {
    if (
      t.rank !== xs[0].rank || t.dtype !== xs[0].dtype ||
      t.shape.some((d, i) => i !== ax && d !== xs[0].shape[i])
    ) {
      throw new RangeError(`concat: ${xs.map((t) => shapeString(t.shape)).join(", ")} differ off axis ${ax}`);
    }
  }
  const shape = xs[0].shape.map((d, i) => (i === ax ? xs.reduce((a, t) => a + t.shape[ax], 0) : d));
  const out = empty(shape, xs[0].dtype, "concat");
  const dstStrides = stridesOf(shape);
  const starts: number[] = [];
  let at = 0;
  for (const t of xs) {
    starts.push(at);
    stridedCopy(t, out, {
      shape: t.shape,
      srcOffset: 0,
      srcStrides: stridesOf(t.shape),
      dstOffset: at * dstStrides[ax],
      dstStrides,
    }, "concat");
    at += t.shape[ax];
  }
  return record(
    out,
    "concat",
    xs,
    (g) =>
      xs.map((t, k) =>
        t.requiresGrad ? slice(g, shape.map((_, i) => (i === ax ? starts[k] : 0)), t.shape) : null
      ),
  );
}

export type { Shape };
