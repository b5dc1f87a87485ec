import { backward, full, tensor, tidy } from "../../engine/mod.ts";
import { dropout, dropoutKeep } from "../../kernels/dropout.ts";
import { checkOp, randn, Random } from "../harness.ts";
import { equal, ok } from "node:assert/strict";

const rng = new Random(31);

Deno.test("dropout forward and gradient against the CPU mirror of its mask", async () => {
  const shape = [3, 5, 7];
  const p = 0.3;
  const seed = 12345;
  await checkOp({
    name: "dropout",
    inputs: [{ shape, data: randn(rng, 105) }],
    gpu: ([x]) => dropout(x, p, seed),
    ref: ([x]) => x.map((v, i) => (dropoutKeep(seed, p, i) ? v / (1 - p) : 0)),
  });
});

for (const p of [0.1, 0.5, 0.9]) {
  Deno.test(`dropout keeps a fraction 1 - p of elements (p = ${p}) and scales them by 1 / (1 - p)`, async () => {
    const n = 200_003;
    const y = tidy(() => dropout(full([n], 1), p, 777 + p * 10));
    const v = await y.f32();
    y.dispose();
    let kept = 0;
    let pairs = 0;
    const scaled = Math.fround(1 / (1 - p));
    for (let i = 0; i < n; i++) {
      if (v[i] !== 0) {
        kept++;
        if (v[i] !== scaled) throw new Error(`element ${i} is ${v[i]}, expected 0 or ${scaled}`);
        if (i > 0 && v[i - 1] !== 0) pairs++;
      }
    }
    // Binomial: 5 standard deviations.
    const sd = Math.sqrt(p * (1 - p) / n);
    ok(Math.abs(kept / n - (1 - p)) < 5 * sd, `kept ${kept / n}, expected ${1 - p} +- ${5 * sd}`);
    // Neighbours are independent: both kept with probability (1 - p)^2.
    const q = (1 - p) ** 2;
    const sdPairs = Math.sqrt(q * (1 - q) / n);
    ok(Math.abs(pairs / (n - 1) - q) < 6 * sdPairs, `neighbour pairs kept ${pairs / (n - 1)}, expected ${q}`);
  });
}

Deno.test("dropout backward uses the forward mask; a seed reproduces it and another seed does not", async () => {
  const n = 4099;
  const p = 0.4;
  const xd = Float32Array.from(randn(rng, n)).map((v) => v + Math.sign(v) * 0.01);
  const gd = Float32Array.from(randn(rng, n));
  const [y, again, other, dx] = tidy(() => {
    const x = tensor(xd, [n]);
    x.requiresGrad = true;
    const y = dropout(x, p, 99);
    backward(y, tensor(gd, [n]));
    const dx = x.grad!;
    x.grad = null;
    return [y, dropout(x, p, 99), dropout(x, p, 100), dx];
  });
  const [yv, av, ov, gv] = await Promise.all([y.f32(), again.f32(), other.f32(), dx.f32()]);
  let differ = 0;
  for (let i = 0; i < n; i++) {
    const keep = yv[i] !== 0;
    equal(gv[i] !== 0, keep, `element ${i}: gradient and output masks differ`);
    if (keep) equal(gv[i], Math.fround(gd[i] * Math.fround(1 / (1 - p))), `element ${i} gradient scale`);
    equal(av[i], yv[i], `element ${i}: same seed, different value`);
    if ((ov[i] !== 0) !== keep) differ++;
  }
  // Two independent masks disagree with probability 2 p (1 - p) = 0.48.
  ok(differ > 0.4 * n && differ < 0.56 * n, `another seed changed ${differ} of ${n} decisions`);
  for (const t of [y, again, other, dx]) t.dispose();
});

Deno.test("dropout with p = 0 or in evaluation returns its input; p = 1 drops everything", async () => {
  const x = tensor(Float32Array.from(randn(rng, 10)), [2, 5]);
  equal(dropout(x, 0, 1), x);
  equal(dropout(x, 0.5, 1, false), x);
  const y = dropout(x, 1, 1);
  ok((await y.f32()).every((v) => v === 0));
  y.dispose();
  x.dispose();
});

Deno.test("dropout chunked under a small binding limit matches the single launch", async () => {
  const n = 3001;
  const xd = Float32Array.from(randn(rng, n));
  const [a, b] = tidy(() => {
    const x = tensor(xd, [n]);
    return [dropout(x, 0.25, 5), dropout(x, 0.25, 5, true, { maxBindingBytes: 1024 })];
  });
  const [av, bv] = [await a.f32(), await b.f32()];
  for (let i = 0; i < n; i++) equal(bv[i], av[i], `element ${i}`);
  a.dispose();
  b.dispose();
});

Deno.test("dropout rejects a probability outside [0, 1]", () => {
  const x = tensor(new Float32Array([1, 2]), [2]);
  let msg = "";
  try {
    dropout(x, 1.5, 1);
  } catch (e) {
    msg = (e as Error).message;
  }
  ok(msg.includes("1.5"), msg);
  x.dispose();
});

Deno.test("dropout of a part of a batch with firstIndex keeps each sample's whole-batch mask", async () => {
  // A batch of 4 samples of 2 x 9 elements, and its samples 1..2 alone (a shard or a micro-batch).
  const per = 18;
  const xd = Float32Array.from(randn(rng, 4 * per));
  const [whole, part] = tidy(() => [
    dropout(tensor(xd, [4, 2, 9]), 0.4, 77),
    dropout(tensor(xd.slice(per, 3 * per), [2, 2, 9]), 0.4, 77, true, { firstIndex: per }),
  ]);
  const [wv, pv] = [await whole.f32(), await part.f32()];
  let dropped = 0;
  for (let i = 0; i < 2 * per; i++) {
    equal(pv[i], wv[per + i], `element ${i}`);
    if (pv[i] === 0) dropped++;
  }
  ok(dropped > 0 && dropped < 2 * per, `${dropped} of ${2 * per} dropped`);
  whole.dispose();
  part.dispose();
});
