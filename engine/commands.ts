/**
 * Records GPU work and submits it in batches.
 *
 * Every kernel launch goes into one long compute pass (WebGPU orders storage writes between dispatches, so no
 * barriers are needed), and the pass is submitted only when something must leave the GPU (a readback), when a
 * buffer copy needs the encoder, or after {@link MAX_DISPATCHES_PER_SUBMIT} launches so that pooled buffers get
 * recycled. Each launch's small parameter block goes into a shared uniform arena (256-byte slots) that is
 * uploaded once per submit, instead of one tiny buffer per launch.
 *
 * On Mesa's CPU adapter the parameter block is bound as read-only storage rather than as a uniform buffer:
 * lavapipe "inlines" uniform values that steer control flow, compiling (and keeping forever) a new shader variant
 * for every distinct parameter block it sees bound. A GRU step kernel launched once per frame with the step
 * index in its parameters then cost about 480 KB and a JIT compile per launch (1.2 GB for 2400 frames).
 * Storage loads are never inlined, so one compiled variant serves every launch.
 *
 * While profiling (engine/profiler.ts), `launch()` calls {@link Recorder.profileLaunch}: each run of launches of
 * one kernel family becomes its own compute pass with timestamp writes (when the device has 'timestamp-query',
 * resolved once per submit and read back without waiting), or else its own timed submit, the queue's work being
 * held back until the program waits for the GPU (the fallback; method and error: engine/profiler.ts).
 */
import { BufferPool } from "./buffer_pool.ts";
import { gpu, throwPendingGpuErrors } from "./device.ts";
import {
  type KernelFamily,
  kernelFamily,
  noteGpuMethod,
  noteGpuTime,
  noteLaunch,
  profiling,
} from "./profiler.ts";

const MAX_DISPATCHES_PER_SUBMIT = 384;
const UNIFORM_SLOT = 256;
const UNIFORM_CHUNK = 64 * 1024;
/** Timed compute passes per submit at most while profiling with timestamps (two queries each). */
const TIMED_PASSES_PER_SUBMIT = 1024;

/** Queue work held back while profiling without timestamps: a write (its data copied) or a submit. */
type HeldOp =
  | { buffer: GPUBuffer; offset: number; data: Uint8Array<ArrayBuffer> }
  | { commands: GPUCommandBuffer; family: KernelFamily };

/** Profiling fallback: one timed submit. */
interface TimedSubmit {
  family: KernelFamily;
  /** performance.now() before the submit, and after its `onSubmittedWorkDone()` call returned. */
  submitted: number;
  registered: number;
  /** When its completion callback ran. */
  done: Promise<number>;
}

/** A query set and the buffers its timestamps are resolved into and read back from. */
interface TimestampSlots {
  set: GPUQuerySet;
  resolve: GPUBuffer;
  readback: GPUBuffer;
}

interface UniformChunk {
  buffer: GPUBuffer;
  bytes: Uint8Array<ArrayBuffer>;
  used: number;
}

class Recorder {
  readonly device: GPUDevice;
  readonly pool: BufferPool;
  private encoder: GPUCommandEncoder | null = null;
  private pass: GPUComputePassEncoder | null = null;
  private dispatches = 0;
  private chunks: UniformChunk[] = [];
  private spareChunks: UniformChunk[] = [];
  private pipelines = new Map<string, GPUComputePipeline>();
  private maxBinding: number;
  /** Bind the parameter block as read-only storage (see the header: lavapipe's uniform inlining). */
  private paramsAsStorage: boolean;
  /** Launches recorded since the process started (for benches and tests). */
  totalDispatches = 0;
  totalSubmits = 0;
  /** Profiling: whether the device writes timestamps (decided at the first profiled launch). */
  private timestamps: boolean | null = null;
  /** Profiling: the family of the launches recorded since the last family change. */
  private segFamily: KernelFamily | null = null;
  /** Profiling with timestamps: the family of each timed pass of the current encoder, and their queries. */
  private passFamilies: KernelFamily[] = [];
  private slots: TimestampSlots | null = null;
  private spareSlots: TimestampSlots[] = [];
  /** Profiling: timestamp readbacks in flight. */
  private pendingTimes = new Set<Promise<void>>();
  /** Profiling fallback: the completion handling of the last timed submit (they run in submit order). */
  private lastCompletion: Promise<void> = Promise.resolve();
  /** Profiling fallback: when the previous timed submit was seen complete (ms, performance.now()). */
  private lastDoneAt = 0;
  /** Profiling fallback: queue work held back until the program waits for the GPU (see engine/profiler.ts). */
  private held: HeldOp[] | null = null;

  constructor() {
    const g = gpu();
    this.device = g.device;
    this.pool = new BufferPool(g.device, g.limits.maxBufferSize);
    this.maxBinding = g.limits.maxStorageBufferBindingSize;
    this.paramsAsStorage = g.isCpuAdapter;
    this.pool.submitPending = () => this.flush();
    // Held-back submits may use free buffers: let them run before any free buffer is destroyed.
    const trim = this.pool.trim.bind(this.pool);
    this.pool.trim = () => {
      this.submitHeld();
      trim();
    };
  }

  /**
   * Profiling fallback: whether queue work is held back now. Not under a memory limit: the pool then destroys
   * free buffers while allocating, and held-back submits may still use them.
   */
  private holding(): boolean {
    const limited = (this.pool as { limitBytes?: number | null }).limitBytes != null;
    if (this.held && (limited || !profiling)) this.submitHeld();
    if (!this.held && profiling && this.timestamps === false && !limited) this.held = [];
    return this.held !== null;
  }

  /**
   * Profiling fallback: submits the held-back work, in order, one timed submit per segment, and returns the
   * promise of its timing (null when nothing was held). The caller is about to wait for the GPU.
   */
  private submitHeld(): Promise<void> | null {
    const ops = this.held;
    if (!ops) return null;
    this.held = null;
    const batch: TimedSubmit[] = [];
    for (const op of ops) {
      if ("commands" in op) batch.push(this.timedSubmit(op.commands, op.family));
      else this.device.queue.writeBuffer(op.buffer, op.offset, op.data);
    }
    this.timeBatch(batch);
    return this.lastCompletion;
  }

  /** The compiled pipeline for `key`, building the WGSL with `source()` the first time. */
  pipeline(key: string, source: () => string): GPUComputePipeline {
    let p = this.pipelines.get(key);
    if (!p) {
      let code = source();
      if (this.paramsAsStorage) code = code.replace(/var<uniform>(\s+u\s*:)/, "var<storage, read>$1");
      const module = this.device.createShaderModule({ code, label: key });
      p = this.device.createComputePipeline({
        layout: "auto",
        compute: { module, entryPoint: "main" },
        label: key,
      });
      this.pipelines.set(key, p);
    }
    return p;
  }

  private ensurePass(): GPUComputePassEncoder {
    if (this.pass) return this.pass;
    if (profiling && this.timestamps) {
      if (this.passFamilies.length >= TIMED_PASSES_PER_SUBMIT) this.flush();
      if (!this.encoder) this.encoder = this.device.createCommandEncoder();
      const slots = this.slots ??= this.spareSlots.pop() ?? this.createSlots();
      const at = 2 * this.passFamilies.length;
      this.passFamilies.push(this.segFamily ?? "other");
      this.pass = this.encoder.beginComputePass({
        timestampWrites: { querySet: slots.set, beginningOfPassWriteIndex: at, endOfPassWriteIndex: at + 1 },
      });
      return this.pass;
    }
    if (!this.encoder) this.encoder = this.device.createCommandEncoder();
    return this.pass = this.encoder.beginComputePass();
  }

  private createSlots(): TimestampSlots {
    const count = 2 * TIMED_PASSES_PER_SUBMIT;
    return {
      set: this.device.createQuerySet({ type: "timestamp", count, label: "profiler timestamps" }),
      resolve: this.device.createBuffer({
        size: count * 8,
        usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC,
        label: "profiler timestamps",
      }),
      readback: this.device.createBuffer({
        size: count * 8,
        usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
        label: "profiler timestamps readback",
      }),
    };
  }

  /**
   * Profiling: notes a launch of the pipeline `key` (called by `launch()` before {@link dispatch}). A change of
   * kernel family ends the current timed pass (timestamps) or submits the work recorded so far (fallback).
   */
  profileLaunch(key: string): void {
    const family = kernelFamily(key);
    noteLaunch(family);
    if (family === this.segFamily) return;
    if (this.timestamps === null) {
      this.timestamps = this.device.features.has("timestamp-query");
      noteGpuMethod(
        this.timestamps
          ? "timestamp queries (one timed compute pass per run of one family)"
          : "one timed submit per run of one family (fallback: this device has no timestamp-query; " +
            "approximate, see engine/profiler.ts)",
      );
    }
    if (this.timestamps) {
      if (this.pass) {
        this.pass.end();
        this.pass = null;
      }
    } else if (this.encoder) {
      this.flush();
    }
    this.segFamily = family;
  }

  /** Profiling: resolves once the times of everything submitted so far have been reported. */
  async profileSettled(): Promise<void> {
    await this.lastCompletion;
    while (this.pendingTimes.size > 0) await Promise.all([...this.pendingTimes]);
  }

  /** Profiling with timestamps: resolves this encoder's timestamps into the readback buffer. */
  private resolveTimestamps(encoder: GPUCommandEncoder): (() => void) | null {
    const n = this.passFamilies.length;
    if (n === 0 || !this.slots) return null;
    const slots = this.slots;
    const families = this.passFamilies;
    this.slots = null;
    this.passFamilies = [];
    encoder.resolveQuerySet(slots.set, 0, 2 * n, slots.resolve, 0);
    encoder.copyBufferToBuffer(slots.resolve, 0, slots.readback, 0, 16 * n);
    // After the submit: read the times back when the GPU is done, without anyone waiting for it.
    return () => {
      const p: Promise<void> = slots.readback.mapAsync(GPUMapMode.READ, 0, 16 * n).then(() => {
        const t = new BigInt64Array(slots.readback.getMappedRange(0, 16 * n));
        for (let k = 0; k < n; k++) noteGpuTime(families[k], Number(t[2 * k + 1] - t[2 * k]) / 1e6);
        slots.readback.unmap();
        this.spareSlots.push(slots);
      }, () => {}).finally(() => this.pendingTimes.delete(p));
      this.pendingTimes.add(p);
    };
  }

  /** Profiling fallback: submits `commands`, noting when, and registers its completion callback. */
  private timedSubmit(commands: GPUCommandBuffer, family: KernelFamily): TimedSubmit {
    const submitted = performance.now();
    this.device.queue.submit([commands]);
    const done = this.device.queue.onSubmittedWorkDone().then(() => performance.now());
    const registered = performance.now();
    return { family, submitted, registered, done: done.catch(() => registered) };
  }

  /**
   * Profiling fallback: charges each submit of `batch` (consecutive, in queue order) the time from the later of
   * its submission and the previous one's completion to its own completion. The completion is the return of
   * its `onSubmittedWorkDone()` call when those calls blocked (they do on Deno: the call returns once the GPU
   * is done) or else the callback. Batches are handled in submit order.
   */
  private timeBatch(batch: TimedSubmit[]): void {
    if (batch.length === 0) return;
    const previous = this.lastCompletion;
    this.lastCompletion = (async () => {
      const seen = await Promise.all(batch.map((b) => b.done));
      await previous;
      const span = Math.max(...seen) - batch[0].submitted;
      const blocked = batch.reduce((sum, b) => sum + b.registered - b.submitted, 0);
      const callsWaited = blocked >= 0.5 * span;
      let prev = this.lastDoneAt;
      batch.forEach((b, i) => {
        const start = Math.max(prev, b.submitted);
        const end = Math.max(start, callsWaited ? b.registered : seen[i]);
        noteGpuTime(b.family, end - start);
        prev = end;
      });
      this.lastDoneAt = prev;
    })();
  }

  private uniformSlot(params: ArrayBuffer): { buffer: GPUBuffer; offset: number; size: number } {
    const size = Math.ceil(Math.max(params.byteLength, 16) / 16) * 16;
    if (size > UNIFORM_SLOT) {
      throw new RangeError(`kernel parameters of ${size} bytes exceed ${UNIFORM_SLOT}`);
    }
    let chunk = this.chunks[this.chunks.length - 1];
    if (!chunk || chunk.used + UNIFORM_SLOT > UNIFORM_CHUNK) {
      chunk = this.spareChunks.pop() ?? {
        buffer: this.device.createBuffer({
          size: UNIFORM_CHUNK,
          usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST,
          label: "uniform arena",
        }),
        bytes: new Uint8Array(UNIFORM_CHUNK),
        used: 0,
      };
      chunk.used = 0;
      this.chunks.push(chunk);
    }
    const offset = chunk.used;
    chunk.bytes.fill(0, offset, offset + size);
    chunk.bytes.set(new Uint8Array(params), offset);
    chunk.used += UNIFORM_SLOT;
    return { buffer: chunk.buffer, offset, size };
  }

  /**
   * Records one kernel launch. Binding 0 is the uniform parameter block (when `params` is given), bindings 1..n
   * are the storage buffers in order.
   */
  dispatch(
    pipeline: GPUComputePipeline,
    buffers: readonly GPUBuffer[],
    params: ArrayBuffer | null,
    workgroups: readonly [number, number, number],
    label: string,
  ): void {
    const entries: GPUBindGroupEntry[] = [];
    if (params) entries.push({ binding: 0, resource: this.uniformSlot(params) });
    for (let i = 0; i < buffers.length; i++) {
      if (buffers[i].size > this.maxBinding) {
        throw new RangeError(
          `${label}: a ${
            buffers[i].size
          }-byte operand exceeds this adapter's ${this.maxBinding}-byte binding limit; ` +
            `use a smaller batch`,
        );
      }
      entries.push({ binding: i + 1, resource: { buffer: buffers[i] } });
    }
    const bindGroup = this.device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries, label });
    const pass = this.ensurePass();
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, bindGroup);
    pass.dispatchWorkgroups(workgroups[0], workgroups[1], workgroups[2]);
    this.totalDispatches++;
    if (++this.dispatches >= MAX_DISPATCHES_PER_SUBMIT) this.flush();
  }

  /** Records a buffer-to-buffer copy (ends the current compute pass). */
  copy(src: GPUBuffer, srcOffset: number, dst: GPUBuffer, dstOffset: number, bytes: number): void {
    if (bytes === 0) return;
    if (!this.encoder) this.encoder = this.device.createCommandEncoder();
    if (this.pass) {
      this.pass.end();
      this.pass = null;
    }
    this.encoder.copyBufferToBuffer(src, srcOffset, dst, dstOffset, bytes);
  }

  /**
   * Writes data into a buffer that no recorded-but-unsubmitted command uses (a freshly acquired one): the write
   * lands before the pending commands run, which is then harmless.
   */
  writeFresh(buf: GPUBuffer, offset: number, data: ArrayBufferView): void {
    if (this.held) {
      const bytes = new Uint8Array(data.buffer as ArrayBuffer, data.byteOffset, data.byteLength).slice();
      this.held.push({ buffer: buf, offset, data: bytes });
      return;
    }
    this.device.queue.writeBuffer(buf, offset, data.buffer as ArrayBuffer, data.byteOffset, data.byteLength);
  }

  /** Writes into a buffer that pending commands may read or write: submits them first to keep the order. */
  writeOrdered(buf: GPUBuffer, offset: number, data: ArrayBufferView): void {
    if (this.encoder) this.flush();
    this.writeFresh(buf, offset, data);
  }

  /** Submits everything recorded so far. Cheap: it does not wait for the GPU. */
  flush(): void {
    if (this.pass) {
      this.pass.end();
      this.pass = null;
    }
    const held = this.holding() ? this.held : null;
    for (const c of this.chunks) {
      if (c.used === 0) continue;
      if (held) held.push({ buffer: c.buffer, offset: 0, data: c.bytes.slice(0, c.used) });
      else this.device.queue.writeBuffer(c.buffer, 0, c.bytes.buffer as ArrayBuffer, 0, c.used);
    }
    if (this.encoder) {
      const readTimes = this.passFamilies.length > 0 ? this.resolveTimestamps(this.encoder) : null;
      const family = this.segFamily ?? "other";
      if (held) {
        held.push({ commands: this.encoder.finish(), family });
      } else if (profiling && this.timestamps === false) {
        this.timeBatch([this.timedSubmit(this.encoder.finish(), family)]);
      } else {
        this.device.queue.submit([this.encoder.finish()]);
        if (readTimes) readTimes();
      }
      this.encoder = null;
      this.totalSubmits++;
    }
    this.spareChunks.push(...this.chunks);
    this.chunks = [];
    this.dispatches = 0;
    this.pool.afterSubmit();
  }

  /** Copies `bytes` bytes of `buf` back to the CPU. Waits for the GPU (about 10 ms on the CPU adapter). */
  async read(buf: GPUBuffer, offset: number, bytes: number, context: string): Promise<ArrayBuffer> {
    const size = Math.ceil(Math.max(bytes, 4) / 4) * 4;
    const staging = this.device.createBuffer({
      size,
      usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
      label: `readback for ${context}`,
    });
    this.copy(buf, offset, staging, 0, size);
    this.flush();
    const timing = this.submitHeld();
    try {
      await staging.mapAsync(GPUMapMode.READ);
    } catch (e) {
      throwPendingGpuErrors(context);
      throw e;
    }
    // Profiling: see every completion now, while this thread is still free (engine/profiler.ts).
    if (timing) await timing;
    const out = staging.getMappedRange().slice(0, bytes);
    staging.unmap();
    staging.destroy();
    throwPendingGpuErrors(context);
    return out;
  }

  /** Waits until the GPU has finished everything submitted (for benches). */
  async sync(context = "waiting for the GPU"): Promise<void> {
    this.flush();
    const timing = this.submitHeld();
    await this.device.queue.onSubmittedWorkDone();
    if (timing) await timing;
    throwPendingGpuErrors(context);
  }
}

let recorder: Recorder | null = null;

/** The process-wide command recorder (needs `initGpu()` to have resolved). */
export function commands(): Recorder {
  if (!recorder) recorder = new Recorder();
  return recorder;
}

/** The command recorder if one has been created (never creates one: usable before `initGpu()`). */
export function activeRecorder(): Recorder | null {
  return recorder;
}

export type { Recorder };
