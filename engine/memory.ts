/**
 * What the engine holds on the GPU, for users (`memoryStats()`, the CLIs' `--memory`) and for tests that assert
 * peaks computed from shapes. Counts are of pool size classes, the bytes the GPU really holds.
 */
import { commands } from "./commands.ts";

export interface MemoryStats {
  /** Bytes in buffers that tensors hold now. */
  liveBytes: number;
  /** Buffers that tensors hold now. */
  liveBuffers: number;
  /** Bytes the pool holds for reuse (released, not yet destroyed). */
  pooledBytes: number;
  /** All bytes the engine has allocated and not destroyed: live plus pooled. */
  totalBytes: number;
  /** Highest `liveBytes` since the start or the last `resetPeakMemory()`. */
  peakLiveBytes: number;
  /** Highest `totalBytes` since the start or the last `resetPeakMemory()`: what the GPU had to provide. */
  peakTotalBytes: number;
}

export function memoryStats(): MemoryStats {
  const p = commands().pool;
  return {
    liveBytes: p.liveBytes,
    liveBuffers: p.liveCount,
    pooledBytes: p.totalBytes - p.liveBytes,
    totalBytes: p.totalBytes,
    peakLiveBytes: p.peakLiveBytes,
    peakTotalBytes: p.peakTotalBytes,
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

/** "1.23 GB", "45.6 MB", "789 kB": decimal units, three significant digits. */
export function formatBytes(bytes: number): string {
  const units = ["B", "kB", "MB", "GB", "TB"];
  let v = bytes;
  let u = 0;
  while (v >= 1000 && u < units.length - 1) {
    v /= 1000;
    u++;
  }
  return `${u === 0 ? v.toFixed(0) : v.toPrecision(3)} ${units[u]}`;
}
