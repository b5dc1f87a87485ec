import { backward, commands, parameter, tensor, tidy } from "../engine/mod.ts";
import * as K from "../kernels/mod.ts";
import { randn, Random } from "./harness.ts";
import { equal as assertEquals } from "node:assert/strict";

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
        commands().copy(updated.buffer, 0, w.buffer, 0, w.size * 4);
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
