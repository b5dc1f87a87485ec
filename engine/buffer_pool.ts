/**
 * Storage buffers, reused by size class.
 *
 * A buffer released while commands that use it are still being recorded must not be handed out again before
 * those commands are submitted: a later `writeBuffer` into it would run on the queue before the recorded
 * commands and clobber their input. So a release only parks the buffer; {@link BufferPool.afterSubmit} (called
 * by the command recorder right after each submit) moves parked buffers to the free lists. Queue order then
 * guarantees that the next user runs after every earlier reader.
 */

const USAGE = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;

/** Rounds a byte size up to its size class: multiples of 256 B below 4 KiB, then quarter powers of two. */
export function sizeClass(bytes: number): number {
  const b = Math.max(16, bytes);
  if (b <= 4096) return Math.ceil(b / 256) * 256;
  const p = 2 ** Math.floor(Math.log2(b));
  const step = p / 4;
  return Math.ceil(b / step) * step;
}

export class BufferPool {
  private free = new Map<number, GPUBuffer[]>();
  private parked: GPUBuffer[] = [];
  private sizes = new WeakMap<GPUBuffer, number>();
  /** Buffers handed out and not yet released. */
  liveCount = 0;
  /** Bytes in buffers handed out and not yet released. */
  liveBytes = 0;
  /** Bytes held by the pool in total (live, parked and free). */
  totalBytes = 0;
  /** Highest `liveBytes` since the start or the last {@link resetPeak}. */
  peakLiveBytes = 0;
  /** Highest `totalBytes` since the start or the last {@link resetPeak}. */
  peakTotalBytes = 0;

  constructor(private device: GPUDevice, private maxBufferSize: number) {}

  acquire(bytes: number, label: string): GPUBuffer {
    const size = sizeClass(bytes);
    if (size > this.maxBufferSize) {
      throw new RangeError(
        `${label}: needs a ${bytes}-byte buffer, over this adapter's limit of ${this.maxBufferSize} bytes`,
      );
    }
    const list = this.free.get(size);
    let buf = list?.pop();
    if (!buf) {
      buf = this.device.createBuffer({ size, usage: USAGE, label });
      this.sizes.set(buf, size);
      this.totalBytes += size;
      if (this.totalBytes > this.peakTotalBytes) this.peakTotalBytes = this.totalBytes;
    }
    this.liveCount++;
    this.liveBytes += size;
    if (this.liveBytes > this.peakLiveBytes) this.peakLiveBytes = this.liveBytes;
    return buf;
  }

  /** Gives a buffer back; it becomes reusable after the next submit. */
  release(buf: GPUBuffer): void {
    this.liveCount--;
    this.liveBytes -= this.sizes.get(buf) ?? 0;
    this.parked.push(buf);
  }

  /** Called right after a submit: parked buffers may now be reused. */
  afterSubmit(): void {
    for (const buf of this.parked) {
      const size = this.sizes.get(buf)!;
      let list = this.free.get(size);
      if (!list) this.free.set(size, list = []);
      list.push(buf);
    }
    this.parked.length = 0;
  }

  /** Starts the peaks again from the current figures (e.g. before one phase whose peak is wanted). */
  resetPeak(): void {
    this.peakLiveBytes = this.liveBytes;
    this.peakTotalBytes = this.totalBytes;
  }

  /** Destroys every free buffer (memory pressure, or the end of a run). */
  trim(): void {
    for (const list of this.free.values()) {
      for (const buf of list) {
        this.totalBytes -= this.sizes.get(buf) ?? 0;
        buf.destroy();
      }
    }
    this.free.clear();
  }
}
