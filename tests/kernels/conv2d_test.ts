import { backward, commands, noGrad, tensor, tidy } from "../../engine/mod.ts";
import { conv2d } from "../../kernels/conv2d.ts";
import { assertClose, checkOp, checkTorchParity, randn, Random } from "../harness.ts";
import { haveTorchFixture } from "../torch_fixtures.ts";
import { ok } from "node:assert/strict";
import type { Geometry } from "../../kernels/conv2d_geometry.ts";

const rng = new Random(11);

/** The operand sizes (named as in the kernel's geometry), stride, padding and whether there is a bias. */
type Case = Pick<Geometry, "N" | "Cin" | "H" | "W" | "Cout" | "kH" | "kW"> & {
  stride: [number, number];
  padding: [number, number];
  bias: boolean;
};

/**
 * The output size, written out here rather than taken from kernels/conv2d_geometry.ts: the reference must not
 * share the formula with the code it checks, or a wrong output size would agree with itself.
 */
function outSize(c: Case): [number, number] {
  return [
    Math.floor((c.H + 2 * c.padding[0] - c.kH) / c.stride[0]) + 1,
    Math.floor((c.W + 2 * c.padding[1] - c.kW) / c.stride[1]) + 1,
  ];
}

/**
 * Calls `tap(yi, xi, wi)` for every product of a direct convolution: output element yi takes input element xi
 * times weight element wi (flat NCHW / [Cout, Cin, kH, kW] indices; taps in the zero padding are skipped).
 */
function forEachTap(c: Case, tap: (yi: number, xi: number, wi: number) => void): void {
  const [OH, OW] = outSize(c);
  for (let n = 0; n < c.N; n++) {
    for (let co = 0; co < c.Cout; co++) {
      for (let oh = 0; oh < OH; oh++) {
        for (let ow = 0; ow < OW; ow++) {
          const yi = ((n * c.Cout + co) * OH + oh) * OW + ow;
          for (let ci = 0; ci < c.Cin; ci++) {
            for (let kh = 0; kh < c.kH; kh++) {
              const ih = oh * c.stride[0] - c.padding[0] + kh;
              if (ih < 0 || ih >= c.H) continue;
              for (let kw = 0; kw < c.kW; kw++) {
                const iw = ow * c.stride[1] - c.padding[1] + kw;
                if (iw < 0 || iw >= c.W) continue;
                tap(
                  yi,
                  ((n * c.Cin + ci) * c.H + ih) * c.W + iw,
                  ((co * c.Cin + ci) * c.kH + kh) * c.kW + kw,
                );
              }
            }
          }
        }
      }
    }
  }
}

/** The output channel of flat output index yi. */
const channelOf = (c: Case, yi: number): number => {
  const [OH, OW] = outSize(c);
  return Math.floor(yi / (OH * OW)) % c.Cout;
};

/** Direct float64 convolution. */
function convRef(c: Case, x: Float64Array, w: Float64Array, b: Float64Array | null): Float64Array {
  const [OH, OW] = outSize(c);
  const y = new Float64Array(c.N * c.Cout * OH * OW);
  if (b) y.forEach((_, yi) => y[yi] = b[channelOf(c, yi)]);
  forEachTap(c, (yi, xi, wi) => y[yi] += w[wi] * x[xi]);
  return y;
}

function inputsOf(c: Case) {
  const inputs = [
    { shape: [c.N, c.Cin, c.H, c.W], data: randn(rng, c.N * c.Cin * c.H * c.W) },
    { shape: [c.Cout, c.Cin, c.kH, c.kW], data: randn(rng, c.Cout * c.Cin * c.kH * c.kW, 0.5) },
  ];
  if (c.bias) inputs.push({ shape: [c.Cout], data: randn(rng, c.Cout) });
  return inputs;
}

const base = { N: 2, Cin: 3, H: 7, W: 9, Cout: 5, kH: 3, kW: 3, bias: true };
const CASES: [string, Case][] = [
  ["k3 stride 1 padding 1", { ...base, stride: [1, 1], padding: [1, 1] }],
  ["k3 stride 2 padding 1", { ...base, stride: [2, 2], padding: [1, 1] }],
  ["Cin 1, stride 2, 9 output channels", { ...base, Cin: 1, Cout: 9, stride: [2, 2], padding: [1, 1] }],
  ["no bias, no padding", { ...base, bias: false, stride: [1, 1], padding: [0, 0] }],
  ["k2x4, stride [2, 3], padding [0, 2]", { ...base, kH: 2, kW: 4, stride: [2, 3], padding: [0, 2] }],
  ["stride 3 wider than the kernel", { ...base, H: 8, W: 11, kH: 2, kW: 2, stride: [3, 3], padding: [1, 0] }],
  ["long rows, 9 channels in, 10 out", {
    ...base,
    N: 1,
    Cin: 9,
    H: 3,
    W: 21,
    Cout: 10,
    stride: [1, 1],
    padding: [1, 1],
  }],
];

for (const [name, c] of CASES) {
  Deno.test(`conv2d ${name}: forward and gradients`, async () => {
    await checkOp({
      name: `conv2d ${name}`,
      inputs: inputsOf(c),
      gpu: ([x, w, b]) => conv2d(x, w, b ?? null, { stride: c.stride, padding: c.padding }),
      ref: ([x, w, b]) => convRef(c, x, w, b ?? null),
    });
  });
}

Deno.test("conv2d splits launches over the batch when a binding would exceed the limit", async () => {
  const c: Case = { ...base, N: 5, stride: [1, 1], padding: [1, 1] };
  // One input sample is 756 bytes and one output sample 1260: a 1536-byte limit allows one sample per launch
  // (size classes round up to 256 bytes), so five launches of each kernel run on copied chunks.
  const before = commands().totalDispatches;
  await checkOp({
    name: "conv2d chunked",
    inputs: inputsOf(c),
    gpu: ([x, w, b]) => conv2d(x, w, b, { stride: 1, padding: 1, maxBindingBytes: 1536 }),
    ref: ([x, w, b]) => convRef(c, x, w, b),
  });
  const launches = commands().totalDispatches - before;
  ok(launches >= 5 * 4, `expected per-sample launches, saw ${launches} in all`);
});

Deno.test("conv2d rejects mismatched shapes with a clear error", () => {
  tidy(() => {
    const x = tensor(new Float32Array(2 * 3 * 4 * 4), [2, 3, 4, 4]);
    const w = tensor(new Float32Array(5 * 2 * 3 * 3), [5, 2, 3, 3]);
    let msg = "";
    try {
      conv2d(x, w, null);
    } catch (e) {
      msg = (e as Error).message;
    }
    ok(msg.includes("3 channels") && msg.includes("expects 2"), msg);
  });
});

for (const [name, stride] of [["s2p1", 2], ["s1p1", 1], ["cin1", 2]] as const) {
  Deno.test({
    name: `conv2d matches PyTorch (${name})`,
    ignore: !haveTorchFixture(),
    fn: () =>
      checkTorchParity({
        prefix: `conv2d.${name}`,
        inputs: ["input", "weight", "bias"],
        op: ([x, w, b]) => conv2d(x, w, b, { stride, padding: 1 }),
      }),
  });
}

Deno.test("conv2d at a model-like shape agrees with the float64 reference", async () => {
  // Exercises full tiles and the chunked weight-gradient reduction (more than one row chunk).
  const c: Case = { ...base, Cin: 8, H: 9, W: 300, Cout: 8, stride: [1, 1], padding: [1, 1] };
  const [xd, wd, bd] = inputsOf(c).map((i) => Float64Array.from(Float32Array.from(i.data)));
  const [OH, OW] = outSize(c);
  const gyd = randn(rng, c.N * c.Cout * OH * OW);
  const { y, gx, gw, gb } = tidy(() => {
    const x = tensor(Float32Array.from(xd), [c.N, c.Cin, c.H, c.W]);
    const w = tensor(Float32Array.from(wd), [c.Cout, c.Cin, 3, 3]);
    const b = tensor(Float32Array.from(bd), [c.Cout]);
    for (const t of [x, w, b]) t.requiresGrad = true;
    const y = conv2d(x, w, b, { padding: 1 });
    backward(y, tensor(Float32Array.from(gyd), y.shape));
    const out = { y, gx: x.grad!, gw: w.grad!, gb: b.grad! };
    x.grad = w.grad = b.grad = null;
    return out;
  });
  assertClose(await y.data(), convRef(c, xd, wd, bd), 1e-5, "forward");
  // Weight and bias gradients: sums of gy * x over all positions.
  const wantW = new Float64Array(wd.length);
  const wantB = new Float64Array(c.Cout);
  const wantX = new Float64Array(xd.length);
  gyd.forEach((g, yi) => wantB[channelOf(c, yi)] += g);
  forEachTap(c, (yi, xi, wi) => {
    wantW[wi] += gyd[yi] * xd[xi];
    wantX[xi] += gyd[yi] * wd[wi];
  });
  assertClose(await gx.data(), wantX, 1e-5, "input gradient");
  assertClose(await gw.data(), wantW, 1e-5, "weight gradient");
  assertClose(await gb.data(), wantB, 1e-5, "bias gradient");
  noGrad(() => [y, gx, gw, gb].forEach((t) => t.dispose()));
});

Deno.test("conv2d forward and backward inside tidy leave no live buffers behind", async () => {
  const pool = commands().pool;
  const x = tensor(Float32Array.from(randn(rng, 2 * 3 * 7 * 9)), [2, 3, 7, 9]);
  const w = tensor(Float32Array.from(randn(rng, 5 * 3 * 9)), [5, 3, 3, 3]);
  const b = tensor(Float32Array.from(randn(rng, 5)), [5]);
  for (const t of [x, w, b]) t.requiresGrad = true;
  const before = pool.liveCount;
  for (const limit of [undefined, 1536]) {
    tidy(() => {
      const y = conv2d(x, w, b, { stride: 2, padding: 1, maxBindingBytes: limit });
      backward(y, tensor(Float32Array.from(randn(rng, y.size)), y.shape));
      for (const t of [x, w, b]) {
        t.grad!.dispose();
        t.grad = null;
      }
    });
  }
  await commands().sync();
  ok(pool.liveCount === before, `live buffers ${before} -> ${pool.liveCount}`);
  for (const t of [x, w, b]) t.dispose();
});
