/**
 * Storage buffers, reused across size classes, within an optional memory limit.
 *
 * Why parking: a buffer released while commands that use it are still being recorded must not be handed out
 * again before those commands are submitted: a later `writeBuffer` into it would run on the queue before the
 * recorded commands and clobber their input. So a release only parks the buffer; {@link BufferPool.afterSubmit}
 * (called by the command recorder right after each submit) makes parked buffers free. Queue order then
 * guarantees that the next user runs after every earlier reader.
 *
 * Why best fit: training batches change shape every step (frame counts, batch sizes), so the tensors of one step
 * rarely land in the size classes the previous step freed. Reusing only exact classes left those buffers idle
 * and allocated new ones: a step measured 1.25 GB at its live peak while the pool held 2.03 GB. A request is
 * now served by the smallest free buffer of its class or larger, up to {@link BEST_FIT_FACTOR} times its class.
 * Kernels take element counts from shapes, never from a buffer's length, so a larger buffer is always correct.
 *
 * Why a factor of 2: one octave is four size classes above 4 KiB, which covers neighbouring length buckets and
 * batch sizes of a loader (their tensors differ by less than 2x), and it bounds the waste of a reused buffer to
 * half of it, what a power-of-two allocator accepts anyway. A wider window lets small tensors (biases, lengths,
 * per-sample losses) take the megabyte buffers of activations, which must then be allocated again: the pool
 * fragments and grows instead. A reused buffer never crosses the storage binding limit when its request does
 * not: kernels split batches by that limit and every binding must stay under it.
 *
 * Why a limit: WebGPU reports no free memory, and a failed allocation only surfaces asynchronously (as an
 * out-of-memory error at the next readback), after the work that needed it has been recorded. A budget set with
 * `setMemoryLimit` is checked synchronously: free buffers are destroyed first (largest first: the fewest
 * destroys return the most), then pending work is submitted so that parked buffers can go too, and only then
 * does the request fail, as a {@link GpuOutOfMemoryError} naming the sizes.
 */
import { GpuOutOfMemoryError } from "./device.ts";

const USAGE = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;

/** A free buffer serves a request when its size is at most this many times the request's size class. */
export const BEST_FIT_FACTOR = 2;

/** Requests at least this large submit pending work to reuse a buffer released since (smaller ones allocate). */
export const SUBMIT_FOR_REUSE_BYTES = 1 << 20;

/** Rounds a byte size up to its size class: multiples of 256 B below 4 KiB, then quarter powers of two. */
export function sizeClass(bytes: number): number {
  const b = Math.max(16, bytes);
  if (b <= 4096) return Math.ceil(b / 256) * 256;
  const p = 2 ** Math.floor(Math.log2(b));
  const step = p / 4;
  return Math.ceil(b / step) * step;
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

/** Index of the first element of the ascending `a` that is >= `x` (a.length when none). */
function lowerBound(a: readonly number[], x: number): number {
  let lo = 0;
  let hi = a.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (a[mid] < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Free buffers by size: a sorted array of the sizes that have some, searched by bisection. */
class FreeLists {
  /** Ascending; every size listed has a non-empty list. */
  private sizes: number[] = [];
  private lists = new Map<number, GPUBuffer[]>();
  bytes = 0;

  put(buf: GPUBuffer, size: number): void {
    let list = this.lists.get(size);
    if (!list) {
      this.lists.set(size, list = []);
      this.sizes.splice(lowerBound(this.sizes, size), 0, size);
    }
    list.push(buf);
    this.bytes += size;
  }

  /** Removes and returns the smallest buffer whose size is in [lo, hi], with its size. */
  take(lo: number, hi: number): [GPUBuffer, number] | null {
    const i = lowerBound(this.sizes, lo);
    if (i === this.sizes.length || this.sizes[i] > hi) return null;
    return this.removeAt(i);
  }

  /** Whether a buffer of a size in [lo, hi] is listed. */
  has(lo: number, hi: number): boolean {
    const i = lowerBound(this.sizes, lo);
    return i < this.sizes.length && this.sizes[i] <= hi;
  }

  /** Removes and returns the largest free buffer, with its size. */
  takeLargest(): [GPUBuffer, number] | null {
    return this.sizes.length === 0 ? null : this.removeAt(this.sizes.length - 1);
  }

  private removeAt(i: number): [GPUBuffer, number] {
    const size = this.sizes[i];
    const list = this.lists.get(size)!;
    const buf = list.pop()!;
    if (list.length === 0) {
      this.lists.delete(size);
      this.sizes.splice(i, 1);
    }
    this.bytes -= size;
    return [buf, size];
  }
}

export class BufferPool {
  private free = new FreeLists();
  /** Released since the last submit, by size like the free lists (to tell whether one would fit a request). */
  private parked = new FreeLists();
  /** Each buffer's real size (a size class). */
  private sizes = new WeakMap<GPUBuffer, number>();
  /** The size class each live buffer was asked for (at most its real size). */
  private requested = new WeakMap<GPUBuffer, number>();
  private maxBinding: number;
  /** Buffers handed out and not yet released. */
  liveCount = 0;
  /** Bytes in buffers handed out and not yet released (their real sizes). */
  liveBytes = 0;
  /** The size classes asked for by the live buffers: `liveBytes` less what best fit handed out beyond them. */
  requestedLiveBytes = 0;
  /** Bytes held by the pool in total (live, parked and free). */
  totalBytes = 0;
  /** Highest `liveBytes` since the start or the last {@link resetPeak}. */
  peakLiveBytes = 0;
  /** Highest `requestedLiveBytes` since the start or the last {@link resetPeak}. */
  peakRequestedLiveBytes = 0;
  /** Highest `totalBytes` since the start or the last {@link resetPeak}. */
  peakTotalBytes = 0;
  /** The most bytes the pool may hold (null: no limit). */
  limitBytes: number | null = null;
  /** Submits the recorded work, so that parked buffers become free (used under memory pressure). */
  submitPending: (() => void) | null = null;

  constructor(
    private device: GPUDevice,
    private maxBufferSize: number,
    maxBindingSize = device.limits.maxStorageBufferBindingSize,
  ) {
    this.maxBinding = maxBindingSize;
  }

  acquire(bytes: number, label: string): GPUBuffer {
    const cls = sizeClass(bytes);
    if (cls > this.maxBufferSize) {
      throw new RangeError(
        `${label}: needs a ${bytes}-byte buffer, over this adapter's limit of ${this.maxBufferSize} bytes`,
      );
    }
    const [buf, size] = this.reuse(cls) ?? this.reuseAfterSubmit(cls) ?? this.allocate(cls, label);
    this.liveCount++;
    this.liveBytes += size;
    this.requestedLiveBytes += cls;
    this.requested.set(buf, cls);
    if (this.liveBytes > this.peakLiveBytes) this.peakLiveBytes = this.liveBytes;
    if (this.requestedLiveBytes > this.peakRequestedLiveBytes) {
      this.peakRequestedLiveBytes = this.requestedLiveBytes;
    }
    return buf;
  }

  /** Gives a buffer back; it becomes reusable after the next submit. */
  release(buf: GPUBuffer): void {
    const size = this.sizes.get(buf) ?? 0;
    this.liveCount--;
    this.liveBytes -= size;
    this.requestedLiveBytes -= this.requested.get(buf) ?? 0;
    this.parked.put(buf, size);
  }

  /** Called right after a submit: parked buffers may now be reused. */
  afterSubmit(): void {
    for (let next = this.parked.takeLargest(); next; next = this.parked.takeLargest()) this.free.put(...next);
  }

  /** Starts the peaks again from the current figures (e.g. before one phase whose peak is wanted). */
  resetPeak(): void {
    this.peakLiveBytes = this.liveBytes;
    this.peakRequestedLiveBytes = this.requestedLiveBytes;
    this.peakTotalBytes = this.totalBytes;
  }

  /** Destroys every free buffer (memory pressure, or the end of a run). */
  trim(): void {
    this.trimTo(0);
  }

  /** The largest buffer that may serve a request of size class `cls`. */
  private fitLimit(cls: number): number {
    const hi = cls * BEST_FIT_FACTOR;
    return cls <= this.maxBinding ? Math.min(hi, this.maxBinding) : hi;
  }

  /** The smallest free buffer that may serve a request of size class `cls`. */
  private reuse(cls: number): [GPUBuffer, number] | null {
    return this.free.take(cls, this.fitLimit(cls));
  }

  /**
   * When a large request finds no free buffer but one released since the last submit would fit, submits (which
   * does not wait for the GPU) and takes it: within one submit (up to hundreds of launches, a whole forward
   * pass of a small batch) memory then follows what is alive instead of every buffer released meanwhile.
   */
  private reuseAfterSubmit(cls: number): [GPUBuffer, number] | null {
    if (cls < SUBMIT_FOR_REUSE_BYTES || !this.submitPending || !this.parked.has(cls, this.fitLimit(cls))) {
      return null;
    }
    this.submitPending();
    return this.reuse(cls);
  }

  private allocate(size: number, label: string): [GPUBuffer, number] {
    this.makeRoom(size, label);
    const buf = this.device.createBuffer({ size, usage: USAGE, label });
    this.sizes.set(buf, size);
    this.totalBytes += size;
    if (this.totalBytes > this.peakTotalBytes) this.peakTotalBytes = this.totalBytes;
    return [buf, size];
  }

  /** Frees pooled memory until `size` more bytes fit the limit, or throws {@link GpuOutOfMemoryError}. */
  private makeRoom(size: number, label: string): void {
    const limit = this.limitBytes;
    if (limit === null || this.totalBytes + size <= limit) return;
    this.trimTo(limit - size);
    if (this.totalBytes + size > limit && this.parked.bytes > 0 && this.submitPending) {
      this.submitPending();
      this.trimTo(limit - size);
    }
    if (this.totalBytes + size <= limit) return;
    throw new GpuOutOfMemoryError(
      `GPU memory limit reached: ${label} asked for ${size} bytes (${formatBytes(size)}) with ` +
        `${formatBytes(this.liveBytes)} live and ${formatBytes(this.parked.bytes)} awaiting reuse, ` +
        `over the limit of ${formatBytes(limit)}`,
      { requestedBytes: size, liveBytes: this.liveBytes, limitBytes: limit },
    );
  }

  /** Destroys free buffers, largest first, until the pool holds at most `target` bytes or none is left. */
  private trimTo(target: number): void {
    while (this.totalBytes > target) {
      const next = this.free.takeLargest();
      if (!next) return;
      this.totalBytes -= next[1];
      next[0].destroy();
    }
  }
}
