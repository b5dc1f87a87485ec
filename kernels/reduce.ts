/**
 * Reductions over one axis (sum, mean, max) and `sumTo`, the broadcast-undoing sum used by backward passes.
 *
 * A tensor is viewed as [outer, len, inner] around the reduced axis; each invocation owns one output and walks
 * `len`. When there are few outputs and a long axis (e.g. summing a whole loss vector) the axis is first cut
 * into chunks reduced in parallel, then the partial sums are reduced again, so no single invocation walks a
 * million elements.
 */
import { record } from "../engine/autograd.ts";
import { type ElementType, launch, program } from "../engine/kernel.ts";
import { normAxis, sameShape } from "../engine/shape.ts";
import { empty, type Shape, shapeString, type Tensor } from "../engine/tensor.ts";
import { scale } from "./elementwise.ts";

const WG = 64;
const CHUNK = 1024;

/** Sums chunks of `chunk` elements of the axis: one output per (outer, chunk, inner). */
const sumProgram = program({
  name: "reduce:sum",
  uniforms: { outer: "u32", len: "u32", inner: "u32", chunk: "u32", chunks: "u32" },
  inputs: { x: "f32" },
  outputs: { o: "f32" },
  workgroupSize: WG,
  body: `
  let i = gidx;
  if (i >= u.outer * u.chunks * u.inner) { return; }
  let oi = i / (u.chunks * u.inner);
  let rem = i % (u.chunks * u.inner);
  let c = rem / u.inner;
  let ii = rem % u.inner;
  let start = c * u.chunk;
  let end = min(u.len, start + u.chunk);
  var acc = 0.0;
  var base = (oi * u.len + start) * u.inner + ii;
  for (var j = start; j < end; j++) {
    acc += x[base];
    base += u.inner;
  }
  o[i] = acc;`,
});

/**
 * A kernel that spreads the reduced [outer, inner] values back over [outer, len, inner] (`u.n` outputs `o`):
 * `body` follows the index `i` and its outer index `oi`.
 */
function expandOver<const I extends Record<string, ElementType>>(name: string, inputs: I, body: string) {
  return program({
    name,
    uniforms: { n: "u32", len: "u32", inner: "u32" },
    inputs,
    outputs: { o: "f32" },
    workgroupSize: WG * 4,
    body: `
  let i = gidx;
  if (i >= u.n) { return; }
  let oi = i / (u.len * u.inner);${body}`,
  });
}

const expandProgram = expandOver(
  "reduce:expand",
  { g: "f32" },
  `
  let ii = i % u.inner;
  o[i] = g[oi * u.inner + ii];`,
);

const maxProgram = program({
  name: "reduce:max",
  uniforms: { outer: "u32", len: "u32", inner: "u32" },
  inputs: { x: "f32" },
  outputs: { o: "f32", idx: "i32" },
  workgroupSize: WG,
  body: `
  let i = gidx;
  if (i >= u.outer * u.inner) { return; }
  let oi = i / u.inner;
  let ii = i % u.inner;
  var base = oi * u.len * u.inner + ii;
  var best = x[base];
  var arg = 0u;
  for (var j = 1u; j < u.len; j++) {
    base += u.inner;
    let v = x[base];
    // NaN propagates, as in PyTorch.
    if (v > best || (v != v && best == best)) { best = v; arg = j; }
  }
  o[i] = best;
  idx[i] = i32(arg);`,
});

const maxGradProgram = expandOver(
  "reduce:max-grad",
  { g: "f32", idx: "i32" },
  `
  let j = (i / u.inner) % u.len;
  let ii = i % u.inner;
  let k = oi * u.inner + ii;
  o[i] = select(0.0, g[k], u32(idx[k]) == j);`,
);

function sumRaw(x: Tensor, outer: number, len: number, inner: number): Tensor {
  let cur = x;
  let curLen = len;
  while (true) {
    const chunks = outer * inner < 512 && curLen > 2 * CHUNK ? Math.ceil(curLen / CHUNK) : 1;
    const chunk = Math.ceil(curLen / chunks);
    const out = empty([outer * chunks * inner], "f32", "sum");
    launch(sumProgram, {
      uniforms: { outer, len: curLen, inner, chunk, chunks },
      inputs: { x: cur },
      outputs: { o: out },
      invocations: outer * chunks * inner,
    });
    if (cur !== x) cur.dispose();
    cur = out;
    if (chunks === 1) return cur;
    curLen = chunks;
  }
}

function splitAt(shape: Shape, axis: number): [number, number, number] {
  let outer = 1;
  let inner = 1;
  for (let i = 0; i < axis; i++) outer *= shape[i];
  for (let i = axis + 1; i < shape.length; i++) inner *= shape[i];
  return [outer, shape[axis], inner];
}

function reducedShape(shape: Shape, axis: number, keepDim: boolean): number[] {
  return keepDim ? shape.map((d, i) => (i === axis ? 1 : d)) : shape.filter((_, i) => i !== axis);
}

/** Broadcasts `g` (reduced shape, kept dims) back along an axis of length `len`. */
function expandAxis(g: Tensor, outer: number, len: number, inner: number, shape: Shape): Tensor {
  const out = empty(shape, "f32", "sum backward");
  launch(expandProgram, {
    uniforms: { n: outer * len * inner, len, inner },
    inputs: { g },
    outputs: { o: out },
    invocations: outer * len * inner,
  });
  return out;
}

/** Sum over `axis` (PyTorch's `x.sum(axis, keepdim)`). */
export function sum(x: Tensor, axis: number, keepDim = false): Tensor {
  const ax = normAxis(axis, x.rank, "sum");
  const [outer, len, inner] = splitAt(x.shape, ax);
  const raw = sumRaw(x, outer, len, inner);
  const out = raw.view(reducedShape(x.shape, ax, keepDim));
  raw.dispose();
  return record(out, "sum", [x], (g) => [expandAxis(g, outer, len, inner, x.shape)]);
}

/** Mean over `axis`. */
export function mean(x: Tensor, axis: number, keepDim = false): Tensor {
  const ax = normAxis(axis, x.rank, "mean");
  return scale(sum(x, ax, keepDim), 1 / x.shape[ax]);
}

/** Sum of every element, as a tensor of shape []. */
export function sumAll(x: Tensor): Tensor {
  const raw = sumRaw(x, 1, x.size, 1);
  const out = raw.view([]);
  raw.dispose();
  return record(out, "sumAll", [x], (g) => [expandAxis(g, 1, x.size, 1, x.shape)]);
}

/** Max over `axis` with the index of the first maximum (as PyTorch's `x.max(axis)`); gradient flows to it. */
export function max(x: Tensor, axis: number, keepDim = false): { values: Tensor; indices: Tensor } {
  const ax = normAxis(axis, x.rank, "max");
  const [outer, len, inner] = splitAt(x.shape, ax);
  if (len === 0) throw new RangeError(`max: axis ${axis} of ${shapeString(x.shape)} is empty`);
  const shape = reducedShape(x.shape, ax, keepDim);
  const values = empty(shape, "f32", "max");
  const indices = empty(shape, "i32", "argmax");
  launch(maxProgram, {
    uniforms: { outer, len, inner },
    inputs: { x },
    outputs: { o: values, idx: indices },
    invocations: outer * inner,
  });
  record(values, "max", [x], (g) => {
    const out = empty(x.shape, "f32", "max backward");
    launch(maxGradProgram, {
      uniforms: { n: x.size, len, inner },
      inputs: { g, idx: indices },
      outputs: { o: out },
      invocations: x.size,
    });
    return [out];
  });
  return { values, indices };
}

/**
 * Sums `g` down to `shape` (undoing broadcasting: leading axes and axes of size 1). Returns `g` itself when the
 * shapes already match. Not recorded on the tape (used inside backward passes).
 */
export function sumTo(g: Tensor, shape: Shape): Tensor {
  if (sameShape(g.shape, shape)) return g;
  const rank = g.rank;
  const target = [...new Array(rank - shape.length).fill(1), ...shape];
  // Merge neighbouring axes of the same kind (reduced or kept), then reduce the reduced groups.
  const groups: { len: number; reduce: boolean }[] = [];
  for (let i = 0; i < rank; i++) {
    const reduce = target[i] === 1 && g.shape[i] !== 1;
    if (g.shape[i] === 1) continue;
    const last = groups[groups.length - 1];
    if (last && last.reduce === reduce) last.len *= g.shape[i];
    else groups.push({ len: g.shape[i], reduce });
  }
  let cur = g;
  for (let k = groups.length - 1; k >= 0; k--) {
    if (!groups[k].reduce) continue;
    let outer = 1;
    let inner = 1;
    for (let i = 0; i < k; i++) outer *= groups[i].len;
    for (let i = k + 1; i < groups.length; i++) inner *= groups[i].len;
    const next = sumRaw(cur, outer, groups[k].len, inner);
    if (cur !== g) cur.dispose();
    cur = next;
    groups[k].len = 1;
  }
  const out = cur.view(shape);
  if (cur !== g) cur.dispose();
  return out;
}
