import { backward, commands, copyInto, empty, parameter, tensor, tidy } from "../../engine/mod.ts";
import { gpu, GpuError, GpuOutOfMemoryError } from "../../engine/device.ts";
import { memoryStats, setMemoryLimit } from "../../engine/memory.ts";
import * as K from "../../kernels/mod.ts";
import { randn, Random } from "../harness.ts";
import { equal as assertEquals, ok, rejects, throws } from "node:assert/strict";

Deno.test("200 steps of forward + backward + dispose keep the live buffer count flat", async () => {
  const rng = new Random(3);
  const w1 = parameter(Float32Array.from(randn(rng, 24 * 17, 0.2)), [24, 17], "w1");
  const w2 = parameter(Float32Array.from(randn(rng, 17 * 5, 0.2)), [17, 5], "w2");
  const x = tensor(Float32Array.from(randn(rng, 3 * 9 * 24)), [3, 9, 24]);
  const pool = commands().pool;
  const counts: number[] = [];
  const held: number[] = [];
  for (let step = 0; step < 200; step++) {
    tidy(() => {
      const h = K.gelu(K.matmul(x, w1));
      const y = K.logSoftmax(K.matmul(h, w2));
      const loss = K.scale(K.sumAll(K.mul(y, y)), 1 / y.size);
      backward(loss);
      // A plain SGD step, then drop the gradients as an optimizer's zeroGrad does.
      for (const w of [w1, w2]) {
        const updated = K.sub(w, K.scale(w.grad!, 0.01));
        copyInto(updated, w);
        w.grad!.dispose();
        w.grad = null;
      }
    });
    counts.push(pool.liveCount);
    held.push(pool.totalBytes);
  }
  await commands().sync();
  // After warm-up the count must not move at all.
  assertEquals(
    new Set(counts.slice(5)).size,
    1,
    `live buffers drifted: ${counts.slice(0, 12)} ... ${counts.at(-1)}`,
  );
  assertEquals(counts.at(-1), 3, "only x, w1 and w2 remain live");
  // Buffers come back only after a submit (every few hundred launches), so the pool grows for a few dozen
  // steps until its free lists cover one submit window, then holds still.
  assertEquals(held.at(-1), held[100], "the pool reuses its buffers instead of growing");
});

Deno.test("setMemoryLimit: pooled memory is returned first, then an allocation over the limit fails", async () => {
  await commands().sync();
  const before = memoryStats();
  const MiB = 1 << 20;
  try {
    const big = empty([MiB], "f32", "scratch");
    big.dispose();
    setMemoryLimit(before.liveBytes + 6 * MiB);
    assertEquals(memoryStats().limitBytes, before.liveBytes + 6 * MiB);
    // The freed 4 MiB buffer is still parked: the limit submits pending work, then destroys it to make room.
    const a = empty([1.25 * MiB], "f32", "activations");
    ok(memoryStats().totalBytes <= before.liveBytes + 6 * MiB);
    throws(() => empty([1.25 * MiB], "f32", "ctc alpha/beta"), (e: unknown) => {
      ok(e instanceof GpuOutOfMemoryError);
      ok(
        /^GPU memory limit reached: ctc alpha\/beta asked for 5242880 bytes \(5\.24 MB\) with /.test(
          e.message,
        ),
      );
      ok(!e.message.includes("\n"));
      return true;
    });
    a.dispose();
  } finally {
    setMemoryLimit(null);
  }
  assertEquals(memoryStats().limitBytes, null);
  assertEquals(memoryStats().liveBuffers, before.liveBuffers);
  throws(() => setMemoryLimit(0), RangeError);
});

Deno.test("a WebGPU out-of-memory error is thrown as GpuOutOfMemoryError, a validation error as GpuError", async () => {
  const device = gpu().device;
  const raise = (error: GPUError) =>
    device.dispatchEvent(new GPUUncapturedErrorEvent("uncapturederror", { error }));
  raise(new GPUValidationError("a validation error first"));
  raise(new GPUOutOfMemoryError("could not allocate 'ctc alpha/beta'"));
  await rejects(commands().sync("test step"), (e: unknown) => {
    ok(e instanceof GpuOutOfMemoryError, `got ${e}`);
    assertEquals(
      (e as Error).message,
      "GPU out of memory: could not allocate 'ctc alpha/beta' (and 1 more) (noticed while test step)",
    );
    return true;
  });
  raise(new GPUValidationError("bad binding"));
  await rejects(commands().sync("test step"), (e: unknown) => {
    ok(e instanceof GpuError && !(e instanceof GpuOutOfMemoryError), `got ${e}`);
    assertEquals((e as Error).message, "GPU validation error: bad binding (noticed while test step)");
    return true;
  });
  await commands().sync();
});
