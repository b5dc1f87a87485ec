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
 */
import { BufferPool } from "./buffer_pool.ts";
import { gpu, throwPendingGpuErrors } from "./device.ts";

const MAX_DISPATCHES_PER_SUBMIT = 384;
const MAX_GROWTH_PER_SUBMIT = 16 * 1024 * 1024;
const UNIFORM_SLOT = 256;
const UNIFORM_CHUNK = 64 * 1024;

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
  /** The pool's total bytes at the last submit. */
  private bytesAtSubmit = 0;
  private chunks: UniformChunk[] = [];
  private spareChunks: UniformChunk[] = [];
  private pipelines = new Map<string, GPUComputePipeline>();
  private maxBinding: number;
  /** Bind the parameter block as read-only storage (see the header: lavapipe's uniform inlining). */
  private paramsAsStorage: boolean;
  /** Launches recorded since the process started (for benches and tests). */
  totalDispatches = 0;
  totalSubmits = 0;

  constructor() {
    const g = gpu();
    this.device = g.device;
    this.pool = new BufferPool(g.device, g.limits.maxBufferSize);
    this.maxBinding = g.limits.maxStorageBufferBindingSize;
    this.paramsAsStorage = g.isCpuAdapter;
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
    if (!this.encoder) this.encoder = this.device.createCommandEncoder();
    if (!this.pass) this.pass = this.encoder.beginComputePass();
    return this.pass;
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
    // Buffers released since the last submit cannot be reused before the next one: when the pool has grown by
    // more than MAX_GROWTH_PER_SUBMIT since then, submit so that they can (a submit does not wait for the GPU).
    if (
      ++this.dispatches >= MAX_DISPATCHES_PER_SUBMIT ||
      this.pool.totalBytes - this.bytesAtSubmit > MAX_GROWTH_PER_SUBMIT
    ) this.flush();
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
    for (const c of this.chunks) {
      if (c.used > 0) this.device.queue.writeBuffer(c.buffer, 0, c.bytes.buffer as ArrayBuffer, 0, c.used);
    }
    if (this.encoder) {
      this.device.queue.submit([this.encoder.finish()]);
      this.encoder = null;
      this.totalSubmits++;
    }
    this.spareChunks.push(...this.chunks);
    this.chunks = [];
    this.dispatches = 0;
    this.pool.afterSubmit();
    this.bytesAtSubmit = this.pool.totalBytes;
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
    try {
      await staging.mapAsync(GPUMapMode.READ);
    } catch (e) {
      throwPendingGpuErrors(context);
      throw e;
    }
    const out = staging.getMappedRange().slice(0, bytes);
    staging.unmap();
    staging.destroy();
    throwPendingGpuErrors(context);
    return out;
  }

  /** Waits until the GPU has finished everything submitted (for benches). */
  async sync(context = "waiting for the GPU"): Promise<void> {
    this.flush();
    await this.device.queue.onSubmittedWorkDone();
    throwPendingGpuErrors(context);
  }
}

let recorder: Recorder | null = null;

/** The process-wide command recorder (needs `initGpu()` to have resolved). */
export function commands(): Recorder {
  if (!recorder) recorder = new Recorder();
  return recorder;
}

export type { Recorder };
