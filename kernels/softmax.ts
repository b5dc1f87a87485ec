/**
 * log_softmax over the last axis, one row per invocation: subtract the row max before exponentiating so no
 * exp overflows, then y = x - max - log(sum exp(x - max)). Backward: dx = g - exp(y) * sum(g).
 */
import { record } from "../engine/autograd.ts";
import { FLAT_ARGS, flatIndex, grid1d, launch } from "../engine/kernel.ts";
import { normAxis } from "../engine/shape.ts";
import { empty, type Tensor } from "../engine/tensor.ts";
import { transpose } from "./layout.ts";

const WG = 64;

function rowsOf(x: Tensor): [number, number] {
  const cols = x.shape[x.rank - 1];
  return [x.size / cols, cols];
}

function logSoftmaxLast(x: Tensor): Tensor {
  const [rows, cols] = rowsOf(x);
  const y = empty(x.shape, "f32", "log_softmax");
  launch({
    key: "log_softmax",
    wgsl: () => `
struct P { rows: u32, cols: u32 };
@group(0) @binding(0) var<uniform> u: P;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
@compute @workgroup_size(${WG}) fn main(${FLAT_ARGS}) {
  let r = ${flatIndex(WG)};
  if (r >= u.rows) { return; }
  let base = r * u.cols;
  var m = x[base];
  for (var j = 1u; j < u.cols; j++) { m = max(m, x[base + j]); }
  var s = 0.0;
  for (var j = 0u; j < u.cols; j++) { s += exp(x[base + j] - m); }
  let lse = m + log(s);
  for (var j = 0u; j < u.cols; j++) { y[base + j] = x[base + j] - lse; }
}`,
    tensors: [x, y],
    params: [rows, cols],
    workgroups: grid1d(rows, WG),
  });
  return record(y, "log_softmax", [x], (g) => {
    const dx = empty(x.shape, "f32", "log_softmax backward");
    launch({
      key: "log_softmax:grad",
      wgsl: () => `
struct P { rows: u32, cols: u32 };
@group(0) @binding(0) var<uniform> u: P;
@group(0) @binding(1) var<storage, read> g: array<f32>;
@group(0) @binding(2) var<storage, read> y: array<f32>;
@group(0) @binding(3) var<storage, read_write> dx: array<f32>;
@compute @workgroup_size(${WG}) fn main(${FLAT_ARGS}) {
  let r = ${flatIndex(WG)};
  if (r >= u.rows) { return; }
  let base = r * u.cols;
  var s = 0.0;
  for (var j = 0u; j < u.cols; j++) { s += g[base + j]; }
  for (var j = 0u; j < u.cols; j++) { dx[base + j] = g[base + j] - exp(y[base + j]) * s; }
}`,
      tensors: [g, y, dx],
      params: [rows, cols],
      workgroups: grid1d(rows, WG),
    });
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
