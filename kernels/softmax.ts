/**
 * log_softmax over the last axis, one row per invocation: subtract the row max before exponentiating so no
 * exp overflows, then y = x - max - log(sum exp(x - max)). Backward: dx = g - exp(y) * sum(g).
 */
import { record } from "../engine/autograd.ts";
import { launch, program } from "../engine/kernel.ts";
import { normAxis } from "../engine/shape.ts";
import { empty, type Tensor } from "../engine/tensor.ts";
import { transpose } from "./layout.ts";

const WG = 64;

function rowsOf(x: Tensor): [number, number] {
  const cols = x.shape[x.rank - 1];
  return [x.size / cols, cols];
}

const forward = program({
  name: "log_softmax",
  uniforms: { rows: "u32", cols: "u32" },
  inputs: { x: "f32" },
  outputs: { y: "f32" },
  workgroupSize: WG,
  body: `
  let r = gidx;
  if (r >= u.rows) { return; }
  let base = r * u.cols;
  var m = x[base];
  for (var j = 1u; j < u.cols; j++) { m = max(m, x[base + j]); }
  var s = 0.0;
  for (var j = 0u; j < u.cols; j++) { s += exp(x[base + j] - m); }
  let lse = m + log(s);
  for (var j = 0u; j < u.cols; j++) { y[base + j] = x[base + j] - lse; }`,
});

const backward = program({
  name: "log_softmax:grad",
  uniforms: { rows: "u32", cols: "u32" },
  inputs: { g: "f32", y: "f32" },
  outputs: { dx: "f32" },
  workgroupSize: WG,
  body: `
  let r = gidx;
  if (r >= u.rows) { return; }
  let base = r * u.cols;
  var s = 0.0;
  for (var j = 0u; j < u.cols; j++) { s += g[base + j]; }
  for (var j = 0u; j < u.cols; j++) { dx[base + j] = g[base + j] - exp(y[base + j]) * s; }`,
});

function logSoftmaxLast(x: Tensor): Tensor {
  const [rows, cols] = rowsOf(x);
  const y = empty(x.shape, "f32", "log_softmax");
  launch(forward, { uniforms: { rows, cols }, inputs: { x }, outputs: { y }, invocations: rows });
  return record(y, "log_softmax", [x], (g) => {
    const dx = empty(x.shape, "f32", "log_softmax backward");
    launch(backward, { uniforms: { rows, cols }, inputs: { g, y }, outputs: { dx }, invocations: rows });
    return [dx];
  });
}

/** PyTorch's `F.log_softmax(x, dim)`. */
export function logSoftmax(x: Tensor, axis = -1): Tensor {
  if (x.dtype !== "f32") throw new TypeError("log_softmax: expected f32");
  const ax = normAxis(axis, x.rank, "log_softmax");
  if (ax === x.rank - 1) return logSoftmaxLast(x);
  return transpose(logSoftmaxLast(transpose(x, ax, -1)), ax, -1);
}
