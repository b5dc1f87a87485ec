import { commands, tensor, tidy } from "../../engine/mod.ts";
import { sizeClass } from "../../engine/buffer_pool.ts";
import { launch, program } from "../../engine/kernel.ts";
import { empty, type Tensor } from "../../engine/tensor.ts";
import { BatchChunks, batchRanges } from "../../kernels/batch_chunks.ts";
import { randn, Random } from "../harness.ts";
import { deepEqual, equal, ok, throws } from "node:assert/strict";

const rng = new Random(7);

Deno.test("batchRanges: one range when everything fits, else maximal ranges under the limit", () => {
  tidy(() => {
    const a = empty([10, 3, 7]); // 84 bytes a sample
    const b = empty([10, 50]); // 200 bytes a sample
    deepEqual(batchRanges("t", 1 << 20, [a, b]), [[0, 10]]);
    for (const limit of [256, 512, 1000, 2048, 4096, 5000]) {
      const ranges = batchRanges("t", limit, [a, b]);
      let next = 0;
      for (const [start, count] of ranges) {
        equal(start, next, `ranges are contiguous (limit ${limit})`);
        ok(count >= 1);
        for (const per of [84, 200]) {
          ok(sizeClass(count * per) <= limit, `limit ${limit}: ${count} samples fit`);
        }
        next = start + count;
      }
      equal(next, 10, `ranges cover the batch (limit ${limit})`);
      const k = ranges[0][1];
      if (k < 10) ok(sizeClass((k + 1) * 200) > limit, `limit ${limit}: ${k} samples is the most that fit`);
    }
  });
});

Deno.test("batchRanges: a sample over the limit and mismatched batches are errors naming the op", () => {
  tidy(() => {
    throws(() => batchRanges("myOp", 256, [empty([4, 100])]), /myOp: one sample needs 400 bytes/);
    throws(() => batchRanges("myOp", 256, [empty([4, 10]), empty([5, 10])]), /myOp: .*disagree on axis 0/);
  });
});

/** y = a + 2 b per element; z[s][j] = the sample's index in the whole batch (start + s) + j, j < 3. */
const combine = program({
  name: "test-batch-chunks",
  uniforms: { n: "u32", zn: "u32", start: "u32" },
  inputs: { a: "f32", b: "f32" },
  outputs: { y: "f32", z: "f32" },
  workgroupSize: 64,
  body: `
  if (gidx < u.zn) { z[gidx] = f32(u.start + gidx / 3u) + f32(gidx % 3u); }
  if (gidx >= u.n) { return; }
  y[gidx] = a[gidx] + 2.0 * b[gidx];`,
});

function run(a: Tensor, b: Tensor, limit: number): [Tensor, Tensor, number] {
  const N = a.shape[0];
  const y = empty(a.shape);
  const z = empty([N, 3]);
  const chunks = new BatchChunks("combine", limit, { a, b }, { y, z });
  chunks.forEach(({ start, count, inputs, outputs }) => {
    const n = count * (a.size / N);
    launch(combine, {
      uniforms: { n, zn: count * 3, start },
      inputs,
      outputs,
      invocations: n,
    });
  });
  return [y, z, chunks.ranges.length];
}

Deno.test("BatchChunks: chunked slices, runs and stores equal the unchunked result, and free every copy", async () => {
  const N = 9, per = 40;
  const ad = Float32Array.from(randn(rng, N * per));
  const bd = Float32Array.from(randn(rng, N * per));
  const a = tensor(ad, [N, 4, 10]);
  const b = tensor(bd, [N, 4, 10]);
  const pool = commands().pool;
  const before = pool.liveCount;
  const [y1, z1, r1] = run(a, b, 1 << 20);
  const [y2, z2, r2] = run(a, b, 512);
  equal(r1, 1);
  ok(r2 > 2, `expected several chunks, got ${r2}`);
  await commands().sync();
  equal(pool.liveCount, before + 4, "only the four outputs stay alive");
  const [yv1, zv1, yv2, zv2] = [await y1.f32(), await z1.f32(), await y2.f32(), await z2.f32()];
  for (let i = 0; i < N * per; i++) equal(yv2[i], yv1[i], `y ${i}`);
  for (let i = 0; i < N * per; i++) equal(yv1[i], Math.fround(ad[i] + 2 * Math.fround(bd[i])), `y ref ${i}`);
  for (let s = 0; s < N; s++) {
    for (let j = 0; j < 3; j++) {
      equal(zv1[s * 3 + j], s + j, `z ${s} ${j}`);
      equal(zv2[s * 3 + j], s + j, `z chunked ${s} ${j}`);
    }
  }
  for (const t of [a, b, y1, z1, y2, z2]) t.dispose();
});

Deno.test("BatchChunks: an input the run does not read is not copied", async () => {
  const a = tensor(Float32Array.from(randn(rng, 8 * 64)), [8, 64]);
  const unused = tensor(new Float32Array(8 * 64), [8, 64]);
  const out = empty([8, 64]);
  const pool = commands().pool;
  const chunks = new BatchChunks("copy", 512, { a, unused }, { out });
  ok(chunks.chunked);
  let peak = 0;
  const base = pool.liveCount;
  chunks.forEach(({ inputs, outputs }) => {
    const src = inputs.a; // the run reads only `a`
    peak = Math.max(peak, pool.liveCount - base);
    equal(src.shape[0], outputs.out.shape[0]);
    copyChunk(src, outputs.out);
  });
  equal(peak, 2, "one input copy and one output chunk per range");
  deepEqual(await out.f32(), await a.f32());
  for (const t of [a, unused, out]) t.dispose();
});

function copyChunk(src: Tensor, dst: Tensor): void {
  launch(copyProgram, {
    uniforms: { n: src.size },
    inputs: { src },
    outputs: { dst },
    invocations: src.size,
  });
}

const copyProgram = program({
  name: "test-batch-chunks-copy",
  uniforms: { n: "u32" },
  inputs: { src: "f32" },
  outputs: { dst: "f32" },
  workgroupSize: 64,
  body: `
  if (gidx >= u.n) { return; }
  dst[gidx] = src[gidx];`,
});
