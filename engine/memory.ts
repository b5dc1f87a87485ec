/**
 * What the engine holds on the GPU, for users (`memoryStats()`, the CLIs' `--memory`) and for tests that assert
 * peaks computed from shapes. Counts are of the buffers' real sizes, the bytes the GPU really holds; since the
 * pool serves requests from larger free buffers (best fit), `requestedLiveBytes` gives the size classes asked
 * for, which is what a peak computed from shapes predicts.
 *
 * The memory limit exists because WebGPU tells nothing about free memory and reports a failed allocation only at
 * the next readback: a budget lets the pool give memory back and fail early with sizes in the message.
 */
import { commands } from "./commands.ts";

export { formatBytes } from "./buffer_pool.ts";

export interface MemoryStats {
  /** Bytes in buffers that tensors hold now. */
  liveBytes: number;
  /** Buffers that tensors hold now. */
  liveBuffers: number;
  /** Bytes the pool holds for reuse (released, not yet destroyed). */
  pooledBytes: number;
  /** All bytes the engine has allocated and not destroyed: live plus pooled. */
  totalBytes: number;
  /** The size classes asked for by live buffers (`liveBytes` less what best fit handed out beyond them). */
  requestedLiveBytes: number;
  /** Highest `liveBytes` since the start or the last `resetPeakMemory()`. */
  peakLiveBytes: number;
  /** Highest `requestedLiveBytes` since the start or the last `resetPeakMemory()`. */
  peakRequestedLiveBytes: number;
  /** Highest `totalBytes` since the start or the last `resetPeakMemory()`: what the GPU had to provide. */
  peakTotalBytes: number;
  /** The limit set with {@link setMemoryLimit} (null: none). */
  limitBytes: number | null;
}

export function memoryStats(): MemoryStats {
  const p = commands().pool;
  return {
    liveBytes: p.liveBytes,
    liveBuffers: p.liveCount,
    pooledBytes: p.totalBytes - p.liveBytes,
    totalBytes: p.totalBytes,
    requestedLiveBytes: p.requestedLiveBytes,
    peakLiveBytes: p.peakLiveBytes,
    peakRequestedLiveBytes: p.peakRequestedLiveBytes,
    peakTotalBytes: p.peakTotalBytes,
    limitBytes: p.limitBytes,
  };
}

/** Starts the peaks again from the current figures. */
export function resetPeakMemory(): void {
  commands().pool.resetPeak();
}

/** Destroys the buffers the pool keeps for reuse (they are allocated again on demand). */
export function releasePooledMemory(): void {
  commands().pool.trim();
}

/**
 * Caps the bytes the engine may hold on the GPU (null: no cap, the default, as WebGPU exposes no memory size).
 * An allocation that would cross it first destroys pooled buffers, then fails with a `GpuOutOfMemoryError`.
 * Needs `initGpu()` to have resolved. Setting it below what the engine holds now destroys every pooled buffer.
 */
export function setMemoryLimit(bytes: number | null): void {
  if (bytes !== null && !(Number.isFinite(bytes) && bytes > 0)) {
    throw new RangeError(`setMemoryLimit: expected a positive number of bytes or null, got ${bytes}`);
  }
  const recorder = commands();
  recorder.pool.limitBytes = bytes;
  if (bytes !== null && recorder.pool.totalBytes > bytes) recorder.pool.trim();
}
