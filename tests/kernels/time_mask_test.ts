/** timeMask: zeroes each sample's frames past its length, forward and gradient, whole and chunked, in place. */
import * as assert from "node:assert/strict";
import { initGpu, noGrad, setQuiet, tensor, tidy } from "../../mod.ts";
import type { Tensor } from "../../engine/tensor.ts";
import { timeMask, timeMaskOwned } from "../../kernels/time_mask.ts";
import { checkOp, randn, Random } from "../harness.ts";

setQuiet(true);
await initGpu();
const rng = new Random(41);

/** The float64 reference: x (batch, ..., time) with frames t >= lengths[b] set to 0. */
function reference(x: Float64Array, shape: number[], lengths: number[]): Float64Array {
  const nt = shape[shape.length - 1];
  const per = x.length / shape[0];
  return x.map((v, i) => (i % nt < lengths[Math.floor(i / per)] ? v : 0));
}

for (
  const [shape, lengths] of [[[3, 2, 4, 7], [7, 0, 4]], [[2, 5], [1, 5]], [[4, 3, 6], [6, 2, 3, 5]]] as const
) {
  Deno.test(`timeMask ${JSON.stringify(shape)} lengths ${lengths}: forward and finite-difference gradient`, async () => {
    const n = shape.reduce((a, b) => a * b, 1);
    await checkOp({
      name: "timeMask",
      inputs: [{ shape: [...shape], data: randn(rng, n) }],
      gpu: ([x]) => timeMask(x, lengths),
      ref: ([x]) => reference(x, [...shape], [...lengths]),
      forwardTol: 0,
    });
  });
}

Deno.test("timeMask keeps values bit for bit and zeroes infinities and NaN past the length", async () => {
  const v = Float32Array.from([1.1, -0, Infinity, NaN, 3.3, NaN, -Infinity, 7]);
  const y = tidy(() => timeMask(tensor(v, [2, 4]), [3, 1]));
  const got = await y.f32();
  y.dispose();
  assert.deepEqual(Array.from(got), [Math.fround(1.1), -0, Infinity, 0, Math.fround(3.3), 0, 0, 0]);
});

Deno.test("timeMask chunked under a small binding limit equals the whole launch", async () => {
  const shape = [9, 4, 5, 11];
  const n = shape.reduce((a, b) => a * b, 1);
  const lengths = [11, 0, 3, 5, 8, 1, 10, 11, 6];
  const x = Float32Array.from(randn(rng, n));
  const [whole, chunked] = tidy(() => {
    const t = tensor(x, shape);
    return [timeMask(t, lengths), timeMask(t, lengths, { maxBindingBytes: 4 * 4 * 5 * 11 * 2 })];
  });
  const a = await whole.f32(), b = await chunked.f32();
  whole.dispose();
  chunked.dispose();
  assert.deepEqual(b, a);
  assert.deepEqual(a, Float32Array.from(reference(Float64Array.from(x), shape, lengths)));
});

Deno.test("timeMask refuses lengths that do not fit the batch", () => {
  tidy(() => {
    const x = tensor(new Float32Array(12), [2, 6]);
    assert.throws(() => timeMask(x, [6]), /timeMask: 1 lengths for a batch of 2/);
    assert.throws(() => timeMask(x, [3, 7]), /timeMask: lengths\[1\] = 7 is not in 0\.\.6/);
    assert.throws(
      () => timeMask(tensor(new Float32Array(2), [2]), [1, 1]),
      /timeMask: expected an f32 tensor/,
    );
  });
});

Deno.test("timeMaskOwned masks in place without gradient recording, and copies where gradients flow", async () => {
  const shape = [4, 16, 64];
  const lengths = [64, 2, 0, 33];
  const x = Float32Array.from(randn(rng, 4 * 16 * 64));
  const want = Float32Array.from(reference(Float64Array.from(x), shape, lengths));
  const inPlace = noGrad(() =>
    tidy(() => {
      const t = tensor(x, shape);
      const y = timeMaskOwned(t, lengths);
      assert.equal(y, t, "masked in place");
      return y;
    })
  );
  assert.deepEqual(await inPlace.f32(), want);
  inPlace.dispose();
  // Over the binding limit, or recording for backward: a new tensor, and the input untouched.
  for (const [grad, limit] of [[true, undefined], [false, 8192]] as const) {
    const [t, y] = (grad ? (f: () => Tensor[]) => f() : (f: () => Tensor[]) => noGrad(f))(() =>
      tidy(() => {
        const t = tensor(x, shape);
        return [t, timeMaskOwned(t, lengths, { maxBindingBytes: limit })];
      })
    );
    assert.notEqual(y, t);
    assert.deepEqual(await y.f32(), want);
    assert.deepEqual(await t.f32(), x);
    t.dispose();
    y.dispose();
  }
});
