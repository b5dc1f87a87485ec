/**
 * backward() needs no kernel module loaded first: this file imports only engine modules (the harness imports
 * engine/mod.ts alone) and defines its ops inline, so kernels/elementwise.ts never registers its `add` and the
 * engine's own gradient accumulation (engine/accumulate.ts) sums the gradients.
 */
import { deepEqual, equal as assertEquals, throws } from "node:assert/strict";
import { record } from "../../engine/autograd.ts";
import { f32, FLAT_ARGS, flatIndex, grid1d, launch } from "../../engine/kernel.ts";
import { backward, copyInto, empty, parameter, type Tensor, tensor, tidy } from "../../engine/mod.ts";
import { assertClose } from "../harness.ts";

const WG = 64;

/** out[i] = k * x[i], in a kernel of its own (no kernels/ import). */
function scaleRaw(x: Tensor, k: number, shape = x.shape): Tensor {
  const out = empty(shape, "f32", "test scale");
  launch({
    key: "test:scale",
    wgsl: () => `
struct P { n: u32, k: f32 };
@group(0) @binding(0) var<uniform> u: P;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> o: array<f32>;
@compute @workgroup_size(${WG}) fn main(${FLAT_ARGS}) {
  let i = ${flatIndex(WG)};
  if (i >= u.n) { return; }
  o[i] = u.k * x[i];
}`,
    tensors: [x, out],
    params: [x.size, f32(k)],
    workgroups: grid1d(x.size, WG),
  });
  return out;
}

/** A differentiable y = k * x. */
function scale(x: Tensor, k: number): Tensor {
  return record(scaleRaw(x, k), "testScale", [x], (g) => [scaleRaw(g, k, x.shape)]);
}

/** A differentiable sum of all elements, [] (one workgroup loop; tests are tiny). */
function sumAll(x: Tensor): Tensor {
  const out = empty([], "f32", "test sum");
  launch({
    key: "test:sum",
    wgsl: () => `
struct P { n: u32 };
@group(0) @binding(0) var<uniform> u: P;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> o: array<f32>;
@compute @workgroup_size(1) fn main() {
  var s = 0.0;
  for (var i = 0u; i < u.n; i++) { s += x[i]; }
  o[0] = s;
}`,
    tensors: [x, out],
    params: [x.size],
    workgroups: [1, 1, 1],
  });
  return record(out, "testSumAll", [x], (g) => {
    // Broadcast g[0] to x's shape: copy it into every element.
    const gx = empty(x.shape, "f32", "test sum grad");
    for (let i = 0; i < x.size; i++) copyInto(g, gx, { dstOffset: i, count: 1 });
    return [gx];
  });
}

/** A differentiable a + b for two scalars, whose backward hands the same gradient to both inputs. */
function addScalars(a: Tensor, b: Tensor): Tensor {
  const out = empty([2], "f32", "test pair");
  copyInto(a, out, { count: 1 });
  copyInto(b, out, { dstOffset: 1, count: 1 });
  const s = sumAll(out);
  out.dispose();
  return record(s, "testAdd", [a, b], (g) => [g, g]);
}

Deno.test("backward sums the gradients of a tensor used twice without kernels/elementwise.ts", async () => {
  const x = parameter(Float32Array.of(1, 2, 3), [3], "x");
  tidy(() => {
    // L = sum(2x) + sum(5x): dL/dx = 7 everywhere, and the two branches meet at x and at the shared seed.
    backward(addScalars(sumAll(scale(x, 2)), sumAll(scale(x, 5))));
  });
  assertClose(await x.grad!.data(), [7, 7, 7], 1e-6, "x.grad");
  // A second backward adds into the leaf's gradient (the other accumulation path).
  tidy(() => backward(sumAll(scale(x, 3))));
  assertClose(await x.grad!.data(), [10, 10, 10], 1e-6, "x.grad after a second backward");
  x.dispose();
});

Deno.test("copyInto copies element ranges in order with kernels and checks its arguments", async () => {
  const a = tensor(Float32Array.of(1, 2, 3, 4));
  const b = tensor(new Float32Array(6));
  const doubled = scaleRaw(a, 2);
  copyInto(doubled, b, { srcOffset: 1, dstOffset: 2, count: 3 });
  copyInto(a, b, { count: 1 });
  deepEqual(Array.from(await b.data()), [1, 0, 4, 6, 8, 0]);
  throws(() => copyInto(a, b, { dstOffset: 3 }), /outside the destination/);
  throws(() => copyInto(a, b, { srcOffset: 2, count: 3 }), /outside the source/);
  throws(() => copyInto(a, b, { count: -1 }), /count -1/);
  throws(() => copyInto(a, b, { srcOffset: 0.5 }), /srcOffset 0.5/);
  const ints = tensor(Int32Array.of(1, 2, 3, 4), [4], "i32");
  throws(() => copyInto(ints, b), /cannot copy i32/);
  const view = a.view([2, 2]);
  throws(() => copyInto(a, view), /share storage/);
  assertEquals(copyInto(a, b, { count: 0 }), b);
  [a, b, doubled, ints, view].forEach((t) => t.dispose());
  throws(() => copyInto(a, b), /after dispose/);
});
