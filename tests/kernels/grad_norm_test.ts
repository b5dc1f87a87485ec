import { equal as assertEquals, ok as assert } from "node:assert/strict";
import { commands, type Tensor, tensor, tidy } from "../../engine/mod.ts";
import { clipGradNorm, gradNorm, GradStats, gradStats } from "../../kernels/grad_norm.ts";
import { assertClose, randn, Random } from "../harness.ts";

const rng = new Random(11);
// Odd sizes, one spanning many chunks, and more tensors than one launch binds.
const SIZES = [35, 1, 13, 5003, 60, 7, 129, 2, 999, 17, 1025];

function f32Data(): Float32Array[] {
  return SIZES.map((n, i) => Float32Array.from(randn(rng, n, 0.1 * (i + 1))));
}

function normRef(data: Float32Array[]): number {
  let s = 0;
  for (const d of data) for (const x of d) s += x * x;
  return Math.sqrt(s);
}

Deno.test("gradNorm: global L2 norm of odd-sized gradients against float64", async () => {
  const data = f32Data();
  const got = await tidy(() => gradNorm(data.map((d) => tensor(d)))).item();
  assertClose([got], [normRef(data)], 1e-6, "global norm");
});

Deno.test("gradNorm: no gradients gives 0", async () => {
  assertEquals(await tidy(() => gradNorm([])).item(), 0);
});

async function clipCase(maxNorm: number): Promise<void> {
  const data = f32Data();
  const norm = normRef(data);
  const [gotNorm, gotGrads] = await tidy(async () => {
    const ts = data.map((d) => tensor(d));
    const n = clipGradNorm(ts, maxNorm);
    return [await n.item(), await Promise.all(ts.map((t) => t.f32()))] as const;
  });
  assertClose([gotNorm], [norm], 1e-6, "returned norm");
  // PyTorch: coef = max_norm / (norm + 1e-6), clamped to 1, always multiplied in.
  const coef = Math.min(maxNorm / (norm + 1e-6), 1);
  data.forEach((d, i) => {
    assertClose(gotGrads[i], d.map((x) => x * coef), 1e-6, `clipped gradient ${i} (maxNorm ${maxNorm})`);
  });
  if (coef === 1) data.forEach((d, i) => assertEquals([...gotGrads[i]].join(), [...d].join()));
}

Deno.test("clipGradNorm: scales by maxNorm / (norm + 1e-6) when the norm is larger", async () => {
  await clipCase(0.5);
});

Deno.test("clipGradNorm: leaves gradients bit-identical when the norm is below maxNorm", async () => {
  await clipCase(1e4);
});

async function flags(data: Float32Array[], loss?: number, guard = true): Promise<Float32Array> {
  return await tidy(async () => {
    const ts: Tensor[] = data.map((d) => tensor(d));
    const lossT = loss === undefined ? undefined : tensor([loss], []);
    return await gradStats(ts, { loss: lossT, guard, maxNorm: 1 }).f32();
  });
}

Deno.test("gradStats: flags NaN, +Inf and -Inf anywhere, and a non-finite loss", async () => {
  const clean = await flags(f32Data(), 2.5);
  assertEquals(clean[GradStats.skip], 0);
  assertEquals(clean[GradStats.nonFinite], 0);
  assert(clean[GradStats.scale] > 0 && clean[GradStats.scale] < 1);
  for (const bad of [NaN, Infinity, -Infinity]) {
    for (const [tensorIndex, at] of [[3, 4321], [1, 0], [10, 1024]]) {
      const data = f32Data();
      data[tensorIndex][at] = bad;
      const s = await flags(data);
      assertEquals(s[GradStats.skip], 1, `${bad} in gradient ${tensorIndex}[${at}]`);
      assertEquals(s[GradStats.nonFinite], 1);
    }
  }
  for (const loss of [NaN, Infinity]) {
    const s = await flags(f32Data(), loss);
    assertEquals(s[GradStats.skip], 1, `loss ${loss}`);
  }
  const unguarded = await flags(f32Data(), NaN, false);
  assertEquals(unguarded[GradStats.skip], 0, "guard off: no skip");
  assertEquals(unguarded[GradStats.nonFinite], 1, "guard off: still reported");
});

Deno.test("gradStats: frees its temporaries", async () => {
  const data = f32Data();
  const ts = data.map((d) => tensor(d));
  const before = commands().pool.liveCount;
  for (let i = 0; i < 3; i++) gradNorm(ts).dispose();
  await commands().sync();
  assertEquals(commands().pool.liveCount, before);
  ts.forEach((t) => t.dispose());
});
