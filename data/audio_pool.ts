/**
 * Decoding audio files off the main thread: a pool of module Web Workers, each running data/audio_worker.ts,
 * that decode one file at a time with loadAudio and transfer the waveform's buffer back (no copy). With 0
 * workers the pool decodes on the main thread, one file at a time, with the same results: useful for debugging
 * and for machines where a worker would only compete with the GPU adapter for the same cores.
 *
 * A file that cannot be decoded gives a failed result naming the file and the reason; it never rejects and never
 * takes the pool down. A worker that dies (an uncaught error, which loadAudio should never cause) fails the file
 * it was decoding and is replaced.
 *
 * The pool must be closed: live workers keep the process running.
 */
import { loadAudio } from "./audio.ts";
import { AudioFormatError } from "./audio_error.ts";

/** A decoded file: mono float samples at `sampleRate`. */
export interface DecodedFile {
  ok: true;
  file: string;
  waveform: Float32Array;
  sampleRate: number;
}

/** A file that could not be decoded. `reason` says why without repeating the file name. */
export interface FailedFile {
  ok: false;
  file: string;
  reason: string;
  /** The error's class name, e.g. "AudioFormatError", "NotFound", "PermissionDenied". */
  errorName: string;
}

export type DecodeResult = DecodedFile | FailedFile;

/** What the batch loader needs from a pool; also lets a caller wrap one (e.g. to add a cache). */
export interface AudioDecoder {
  /** Decodes `file`. Resolves with a failed result for bad files; rejects only when `signal` aborts or the
   * pool is closed. */
  decode(file: string, signal?: AbortSignal): Promise<DecodeResult>;
}

export interface AudioPoolOptions {
  /** Worker count; 0 decodes on the main thread. Default: defaultWorkerCount(). */
  workers?: number;
  /** Sample rate of the waveforms returned (default 16000). */
  targetRate?: number;
}

/** The message a worker receives. */
export interface DecodeRequest {
  id: number;
  file: string;
  targetRate: number;
}

/** The message a worker answers with. */
export interface DecodeReply {
  id: number;
  result: DecodeResult;
}

/**
 * One worker per spare core, at least 1 and at most 2: the GPU adapter (llvmpipe here) and the training loop
 * need the other cores.
 */
export function defaultWorkerCount(): number {
  const cores = navigator.hardwareConcurrency || 1;
  return Math.max(1, Math.min(2, cores - 1));
}

/** Decodes `file`, turning every error into a failed result. Runs in the workers and in 0-worker mode. */
export async function decodeFile(file: string, targetRate: number): Promise<DecodeResult> {
  try {
    let { waveform, sampleRate } = await loadAudio(file, targetRate);
    // The buffer is transferred whole, so the waveform must own all of it.
    if (waveform.byteOffset !== 0 || waveform.byteLength !== waveform.buffer.byteLength) {
      waveform = waveform.slice();
    }
    return { ok: true, file, waveform, sampleRate };
  } catch (error) {
    return { ok: false, file, ...describeError(error, file) };
  }
}

function describeError(error: unknown, file: string): { reason: string; errorName: string } {
  if (error instanceof AudioFormatError) {
    const where = error.offset >= 0 ? `at byte ${error.offset}: ` : "";
    return { reason: where + error.detail, errorName: error.name };
  }
  if (error instanceof Error) {
    // Deno's file errors end with the path ("... (os error 2): open '/x.flac'"); the result names it already.
    const reason = error.message.replace(`: open '${file}'`, "").replace(`'${file}'`, "the file");
    return { reason, errorName: error.name };
  }
  return { reason: String(error), errorName: "Error" };
}

interface Task {
  id: number;
  file: string;
  signal?: AbortSignal;
  onAbort?: () => void;
  resolve: (result: DecodeResult) => void;
  reject: (error: unknown) => void;
}

interface Slot {
  /** null in main-thread mode. */
  worker: Worker | null;
  task: Task | null;
  /** The main-thread decode in progress, awaited by close(). */
  running: Promise<void> | null;
}

export class AudioPool implements AudioDecoder {
  readonly workers: number;
  readonly targetRate: number;
  private readonly slots: Slot[] = [];
  private readonly queue: Task[] = [];
  private nextId = 0;
  private closed = false;

  constructor(options: AudioPoolOptions = {}) {
    const workers = options.workers ?? defaultWorkerCount();
    if (!Number.isInteger(workers) || workers < 0) {
      throw new RangeError(`AudioPool: workers must be an integer >= 0, got ${workers}`);
    }
    this.workers = workers;
    this.targetRate = options.targetRate ?? 16000;
    if (workers === 0) this.slots.push({ worker: null, task: null, running: null });
    for (let i = 0; i < workers; i++) {
      const slot: Slot = { worker: null, task: null, running: null };
      slot.worker = this.startWorker(slot);
      this.slots.push(slot);
    }
  }

  /** Files waiting or being decoded. */
  get pending(): number {
    return this.queue.length + this.slots.filter((s) => s.task).length;
  }

  decode(file: string, signal?: AbortSignal): Promise<DecodeResult> {
    if (this.closed) return Promise.reject(new Error(`AudioPool: closed; cannot decode ${file}`));
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise((resolve, reject) => {
      const task: Task = { id: this.nextId++, file, signal, resolve, reject };
      if (signal) {
        task.onAbort = () => {
          const at = this.queue.indexOf(task);
          // A task already handed to a worker finishes there; only its answer is dropped.
          if (at >= 0) this.queue.splice(at, 1);
          this.settle(task);
          reject(signal.reason);
        };
        signal.addEventListener("abort", task.onAbort, { once: true });
      }
      this.queue.push(task);
      this.pump();
    });
  }

  /** Terminates the workers; decodes still waiting or running reject. Waits for a main-thread decode. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const error = new Error("AudioPool: closed before the file was decoded");
    for (const task of this.queue.splice(0)) this.fail(task, error);
    for (const slot of this.slots) {
      slot.worker?.terminate();
      slot.worker = null;
      if (slot.task && !slot.running) this.fail(slot.task, error);
      if (!slot.running) slot.task = null;
    }
    await Promise.all(this.slots.map((s) => s.running));
  }

  private startWorker(slot: Slot): Worker {
    const worker = new Worker(new URL("./audio_worker.ts", import.meta.url).href, { type: "module" });
    worker.onmessage = (event: MessageEvent<DecodeReply>) => {
      const task = slot.task;
      if (!task || task.id !== event.data.id) return;
      slot.task = null;
      this.finish(task, event.data.result);
      this.pump();
    };
    worker.onerror = (event: ErrorEvent) => {
      // An uncaught error in the worker would otherwise end the whole process.
      event.preventDefault();
      this.replaceWorker(slot, `the decoding worker died: ${event.message}`);
    };
    worker.onmessageerror = () => this.replaceWorker(slot, "the decoded audio could not be received");
    return worker;
  }

  private replaceWorker(slot: Slot, reason: string): void {
    slot.worker?.terminate();
    slot.worker = null;
    const task = slot.task;
    slot.task = null;
    if (task) this.finish(task, { ok: false, file: task.file, reason, errorName: "WorkerError" });
    if (this.closed) return;
    slot.worker = this.startWorker(slot);
    this.pump();
  }

  private pump(): void {
    if (this.closed) return;
    for (const slot of this.slots) {
      if (slot.task || slot.running || this.queue.length === 0) continue;
      const task = this.queue.shift()!;
      slot.task = task;
      if (slot.worker) {
        const request: DecodeRequest = { id: task.id, file: task.file, targetRate: this.targetRate };
        slot.worker.postMessage(request);
      } else {
        slot.running = decodeFile(task.file, this.targetRate).then((result) => {
          slot.running = null;
          slot.task = null;
          if (this.closed) this.fail(task, new Error("AudioPool: closed before the file was decoded"));
          else this.finish(task, result);
          this.pump();
        });
      }
    }
  }

  private settle(task: Task): void {
    if (task.onAbort) task.signal!.removeEventListener("abort", task.onAbort);
    task.onAbort = undefined;
  }

  private finish(task: Task, result: DecodeResult): void {
    if (task.signal?.aborted) return; // already rejected by the abort listener
    this.settle(task);
    task.resolve(result);
  }

  private fail(task: Task, error: unknown): void {
    if (task.signal?.aborted) return;
    this.settle(task);
    task.reject(error);
  }
}
