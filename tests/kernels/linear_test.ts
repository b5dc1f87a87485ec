import { tensor, tidy } from "../../engine/mod.ts";
import { gelu } from "../../kernels/elementwise.ts";
import { linear } from "../../kernels/linear.ts";
import { checkOp, checkTorchParity, randn, Random } from "../harness.ts";
import { haveTorchFixture } from "../torch_fixtures.ts";
import { ok } from "node:assert/strict";

const rng = new Random(41);

function linearRef(x: Float64Array, w: Float64Array, b: Float64Array | null, inF: number, outF: number) {
  const rows = x.length / inF;
  const y = new Float64Array(rows * outF);
  for (let r = 0; r < rows; r++) {
    for (let o = 0; o < outF; o++) {
      let s = b ? b[o] : 0;
      for (let i = 0; i < inF; i++) s += x[r * inF + i] * w[o * inF + i];
      y[r * outF + o] = s;
    }
  }
  return y;
}

const CASES: [string, number[], number, boolean][] = [
  ["[3, 5, 7] -> 11 with bias", [3, 5, 7], 11, true],
  ["[4, 9] -> 6 with bias", [4, 9], 6, true],
  ["[2, 3, 2, 5] -> 3 without bias", [2, 3, 2, 5], 3, false],
  ["a vector [13] -> 5", [13], 5, true],
];

for (const [name, shape, outF, hasBias] of CASES) {
  Deno.test(`linear ${name}: forward and gradients`, async () => {
    const inF = shape[shape.length - 1];
    const inputs = [
      { shape, data: randn(rng, shape.reduce((a, c) => a * c, 1)) },
      { shape: [outF, inF], data: randn(rng, outF * inF, 0.5) },
    ];
    if (hasBias) inputs.push({ shape: [outF], data: randn(rng, outF) });
    await checkOp({
      name: `linear ${name}`,
      inputs,
      gpu: ([x, w, b]) => {
        const y = linear(x, w, b ?? null);
        const want = [...shape.slice(0, -1), outF];
        ok(y.shape.length === want.length && y.shape.every((d, i) => d === want[i]), `shape ${y.shape}`);
        return y;
      },
      ref: ([x, w, b]) => linearRef(x, w, b ?? null, inF, outF),
    });
  });
}

Deno.test("linear names the mismatched sizes", () => {
  tidy(() => {
    let msg = "";
    try {
      linear(tensor(new Float32Array(6), [2, 3]), tensor(new Float32Array(8), [2, 4]));
    } catch (e) {
      msg = (e as Error).message;
    }
    ok(msg.includes("[2, 3]") && msg.includes("4 features"), msg);
  });
});

Deno.test({
  name: "linear matches PyTorch's F.linear and its gradients",
  ignore: !haveTorchFixture(),
  fn: () =>
    checkTorchParity({
      prefix: "linear.odd",
      inputs: ["input", "weight", "bias"],
      op: ([x, w, b]) => linear(x, w, b),
    }),
});

Deno.test({
  name: "gelu matches PyTorch's exact F.gelu and its gradient",
  ignore: !haveTorchFixture(),
  fn: () => checkTorchParity({ prefix: "gelu.odd", inputs: ["input"], op: ([x]) => gelu(x) }),
});
