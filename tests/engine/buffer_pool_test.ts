/**
 * The pool's reuse rules, on a pool of its own (the engine's shared pool is left alone): best fit within a
 * factor of the request's size class, reuse only after a submit, the peaks, and the memory limit.
 */
import { BEST_FIT_FACTOR, BufferPool, sizeClass } from "../../engine/buffer_pool.ts";
import { commands } from "../../engine/commands.ts";
import { GpuError, GpuOutOfMemoryError } from "../../engine/device.ts";
import "../harness.ts";
import { equal, ok, throws } from "node:assert/strict";

const MiB = 1 << 20;

function newPool(maxBinding?: number): BufferPool {
  const d = commands().device;
  return new BufferPool(d, d.limits.maxBufferSize, maxBinding);
}

Deno.test("best fit: a freed 1 MiB buffer serves a 700 kB request after a submit, not before", () => {
  const pool = newPool();
  const big = pool.acquire(MiB, "big");
  pool.release(big);
  const early = pool.acquire(700_000, "before the submit");
  ok(early !== big, "a parked buffer was handed out before the submit");
  equal(early.size, sizeClass(700_000));
  pool.afterSubmit();
  const late = pool.acquire(700_000, "after the submit");
  ok(late === big, "the free 1 MiB buffer was not reused");
  equal(pool.totalBytes, MiB + sizeClass(700_000));
  pool.release(early);
  pool.release(late);
  pool.afterSubmit();
  pool.trim();
  equal(pool.totalBytes, 0);
});

Deno.test(`best fit: a 4 MiB free buffer does not serve a 100 kB request (over ${BEST_FIT_FACTOR}x)`, () => {
  const pool = newPool();
  const big = pool.acquire(4 * MiB, "big");
  pool.release(big);
  pool.afterSubmit();
  const small = pool.acquire(100_000, "small");
  ok(small !== big);
  equal(small.size, sizeClass(100_000));
  equal(pool.totalBytes, 4 * MiB + sizeClass(100_000));
  pool.release(small);
  pool.afterSubmit();
  pool.trim();
});

Deno.test("best fit takes the smallest buffer that fits, and the same class first", () => {
  const pool = newPool();
  const bufs = [MiB, 1.5 * MiB, 768 * 1024].map((b) => pool.acquire(b, "b"));
  bufs.forEach((b) => pool.release(b));
  pool.afterSubmit();
  equal(pool.acquire(700_000, "a").size, 768 * 1024);
  equal(pool.acquire(700_000, "b").size, MiB);
  equal(pool.acquire(700_000, "c").size, 1.5 * MiB);
  equal(pool.acquire(700_000, "d").size, sizeClass(700_000), "nothing free is left: a new buffer");
  pool.trim();
});

Deno.test("best fit never hands a request under the binding limit a buffer over it", () => {
  const pool = newPool(MiB);
  const big = pool.acquire(1.25 * MiB, "over the binding limit");
  pool.release(big);
  pool.afterSubmit();
  const b = pool.acquire(700_000, "under it");
  ok(b !== big && b.size <= MiB);
  pool.trim();
});

Deno.test("peaks: live bytes count the real sizes handed out, requested bytes the classes asked for", () => {
  const pool = newPool();
  pool.release(pool.acquire(MiB, "big"));
  pool.afterSubmit();
  pool.resetPeak();
  equal(pool.peakLiveBytes, 0);
  equal(pool.peakTotalBytes, MiB);
  const a = pool.acquire(700_000, "a");
  const b = pool.acquire(3000, "b");
  equal(pool.liveCount, 2);
  equal(pool.liveBytes, MiB + 3072);
  equal(pool.requestedLiveBytes, sizeClass(700_000) + 3072);
  pool.release(a);
  pool.release(b);
  equal(pool.liveBytes, 0);
  equal(pool.requestedLiveBytes, 0);
  equal(pool.peakLiveBytes, MiB + 3072);
  equal(pool.peakRequestedLiveBytes, sizeClass(700_000) + 3072);
  equal(pool.peakTotalBytes, MiB + 3072);
  pool.afterSubmit();
  pool.trim();
});

Deno.test("the limit: free buffers are destroyed largest first, then the request fails in one line", () => {
  const pool = newPool();
  pool.limitBytes = 4 * MiB;
  const held = pool.acquire(MiB, "held");
  const bufs = [2 * MiB, 0.5 * MiB].map((b) => pool.acquire(b, "pooled"));
  bufs.forEach((b) => pool.release(b));
  pool.afterSubmit();
  equal(pool.totalBytes, 3.5 * MiB);
  // 0.75 MiB more does not fit: the free 2 MiB buffer goes (too large to serve it), the 0.5 MiB one stays.
  const more = pool.acquire(0.75 * MiB, "more");
  equal(more.size, 0.75 * MiB);
  equal(pool.totalBytes, 2.25 * MiB);
  let err: unknown;
  try {
    pool.acquire(2.5 * MiB, "ctc alpha/beta");
  } catch (e) {
    err = e;
  }
  ok(err instanceof GpuOutOfMemoryError && err instanceof GpuError, `got ${err}`);
  equal(
    err.message,
    "GPU memory limit reached: ctc alpha/beta asked for 2621440 bytes (2.62 MB) with 1.84 MB live and " +
      "0 B awaiting reuse, over the limit of 4.19 MB",
  );
  equal(err.details?.requestedBytes, 2.5 * MiB);
  equal(err.details?.liveBytes, 1.75 * MiB);
  equal(err.details?.limitBytes, 4 * MiB);
  equal(pool.totalBytes, 1.75 * MiB, "every free buffer was destroyed on the way");
  pool.release(held);
  pool.release(more);
  pool.afterSubmit();
  pool.trim();
});

Deno.test("the limit: under pressure, pending work is submitted so that parked buffers can go", () => {
  const pool = newPool();
  let submits = 0;
  pool.submitPending = () => {
    submits++;
    pool.afterSubmit();
  };
  pool.limitBytes = 2 * MiB;
  pool.release(pool.acquire(1.5 * MiB, "parked"));
  // Too small to be served by the parked buffer (over 2x): the limit must destroy it after a submit.
  const b = pool.acquire(0.7 * MiB, "needs the parked memory");
  equal(submits, 1);
  equal(pool.totalBytes, sizeClass(0.7 * MiB));
  pool.release(b);
  pool.limitBytes = null;
  throws(() => pool.acquire(2 ** 50, "huge"), RangeError, "the adapter's own limit still applies");
  pool.afterSubmit();
  pool.trim();
});

Deno.test("a large request that only a buffer released since the last submit could serve submits and takes it", () => {
  const pool = newPool();
  let submits = 0;
  pool.submitPending = () => {
    submits++;
    pool.afterSubmit();
  };
  pool.release(pool.acquire(4 * MiB, "released"));
  const small = pool.acquire(64 * 1024, "small: allocates, no submit");
  equal(submits, 0);
  const big = pool.acquire(3 * MiB, "reuses the released buffer");
  equal(submits, 1);
  equal(pool.totalBytes, 4 * MiB + sizeClass(64 * 1024));
  pool.release(small);
  pool.release(big);
  pool.afterSubmit();
  pool.trim();
});
