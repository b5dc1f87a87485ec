import { backward, commands, tensor, tidy } from "../../engine/mod.ts";
import { ok } from "node:assert/strict";
import { layerNorm, layerNormAxis } from "../../kernels/layernorm.ts";
import { permute } from "../../kernels/layout.ts";
import { assertClose, checkOp, checkTorchParity, randn, Random } from "../harness.ts";
import { haveTorchFixture } from "../torch_fixtures.ts";

const rng = new Random(21);

/** Float64 layer norm over `axis` of a row-major tensor. */
function layerNormRef(
  x: Float64Array,
  shape: number[],
  axis: number,
  w: Float64Array | null,
  b: Float64Array | null,
  eps = 1e-5,
): Float64Array {
  const D = shape[axis];
  const outer = shape.slice(0, axis).reduce((a, c) => a * c, 1);
  const inner = shape.slice(axis + 1).reduce((a, c) => a * c, 1);
  const y = new Float64Array(x.length);
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) {
      const at = (d: number) => (o * D + d) * inner + i;
      let mean = 0;
      for (let d = 0; d < D; d++) mean += x[at(d)];
      mean /= D;
      let v = 0;
      for (let d = 0; d < D; d++) v += (x[at(d)] - mean) ** 2;
      const rstd = 1 / Math.sqrt(v / D + eps);
      for (let d = 0; d < D; d++) y[at(d)] = (x[at(d)] - mean) * rstd * (w ? w[d] : 1) + (b ? b[d] : 0);
    }
  }
  return y;
}

const data = (shape: number[], scale = 1.5) =>
  randn(rng, shape.reduce((a, c) => a * c, 1), scale).map((v, i) => v + (i % 3) * 0.4);

Deno.test("layerNorm over the last axis: forward and gradients", async () => {
  const shape = [3, 5, 7];
  await checkOp({
    name: "layerNorm",
    inputs: [
      { shape, data: data(shape) },
      { shape: [7], data: randn(rng, 7) },
      { shape: [7], data: randn(rng, 7) },
    ],
    gpu: ([x, w, b]) => layerNorm(x, w, b),
    ref: ([x, w, b]) => layerNormRef(x, shape, 2, w, b),
  });
});

for (const axis of [0, 1, 2, 3]) {
  Deno.test(`layerNormAxis over axis ${axis} of [2, 3, 6, 5]`, async () => {
    const shape = [2, 3, 6, 5];
    const D = shape[axis];
    await checkOp({
      name: `layerNormAxis ${axis}`,
      inputs: [
        { shape, data: data(shape) },
        { shape: [D], data: randn(rng, D) },
        { shape: [D], data: randn(rng, D) },
      ],
      gpu: ([x, w, b]) => layerNormAxis(x, w, b, axis, 1e-5),
      ref: ([x, w, b]) => layerNormRef(x, shape, axis, w, b),
    });
  });
}

Deno.test("layerNorm with more rows than one gradient chunk", async () => {
  const shape = [45, 8, 3];
  await checkOp({
    name: "layerNorm many rows",
    inputs: [
      { shape, data: data(shape) },
      { shape: [3], data: randn(rng, 3) },
      { shape: [3], data: randn(rng, 3) },
    ],
    gpu: ([x, w, b]) => layerNorm(x, w, b),
    ref: ([x, w, b]) => layerNormRef(x, shape, 2, w, b),
  });
});

Deno.test("layerNorm without affine parameters, large eps", async () => {
  const shape = [4, 9];
  await checkOp({
    name: "layerNorm plain",
    inputs: [{ shape, data: data(shape) }],
    gpu: ([x]) => layerNorm(x, null, null, 0.1),
    ref: ([x]) => layerNormRef(x, shape, 1, null, null, 0.1),
  });
});

Deno.test("layerNormAxis splits over the leading axes under a small binding limit", async () => {
  const shape = [5, 3, 6, 7];
  await checkOp({
    name: "layerNormAxis chunked",
    inputs: [
      { shape, data: data(shape) },
      { shape: [6], data: randn(rng, 6) },
      { shape: [6], data: randn(rng, 6) },
    ],
    // One outer row (6 x 7 floats) is 168 bytes: a 512-byte limit takes two per launch.
    gpu: ([x, w, b]) => layerNormAxis(x, w, b, 2, 1e-5, { maxBindingBytes: 512 }),
    ref: ([x, w, b]) => layerNormRef(x, shape, 2, w, b),
  });
});

Deno.test("layerNormAxis over H equals PyTorch's CNNLayerNorm transpose, LayerNorm, transpose", async () => {
  const shape = [2, 3, 8, 5];
  const xd = data(shape);
  const wd = randn(rng, 8);
  const bd = randn(rng, 8);
  const [a, b2] = tidy(() => {
    const x = tensor(Float32Array.from(xd), shape);
    const w = tensor(Float32Array.from(wd), [8]);
    const b = tensor(Float32Array.from(bd), [8]);
    const direct = layerNormAxis(x, w, b, 2);
    const viaT = permute(layerNorm(permute(x, [0, 1, 3, 2]), w, b), [0, 1, 3, 2]);
    return [direct, viaT];
  });
  assertClose(await a.data(), await b2.data(), 1e-6, "axis form vs transposed form");
  a.dispose();
  b2.dispose();
});

Deno.test({
  name: "layerNorm matches PyTorch's F.layer_norm and its gradients",
  ignore: !haveTorchFixture(),
  fn: () =>
    checkTorchParity({
      prefix: "layer_norm.last",
      inputs: ["input", "weight", "bias"],
      op: ([x, w, b]) => layerNorm(x, w, b, 1e-5),
    }),
});

Deno.test("layerNorm forward and backward inside tidy leave no live buffers behind", async () => {
  const pool = commands().pool;
  const x = tensor(Float32Array.from(data([2, 3, 6, 5])), [2, 3, 6, 5]);
  x.requiresGrad = true;
  const before = pool.liveCount;
  for (const limit of [undefined, 512]) {
    tidy(() => {
      const y = layerNormAxis(x, null, null, 2, 1e-5, { maxBindingBytes: limit });
      backward(y, tensor(Float32Array.from(randn(rng, y.size)), y.shape));
      x.grad!.dispose();
      x.grad = null;
    });
  }
  await commands().sync();
  ok(pool.liveCount === before, `live buffers ${before} -> ${pool.liveCount}`);
  x.dispose();
});
