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

/** Messages a worker receives: a file to decode (queued in the worker), or a queued file to drop. */
export type WorkerRequest =
  | { type: "decode"; id: number; file: string; targetRate: number }
  | { type: "cancel"; id: number };

/** The message a worker answers each decode request with. */
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

/** Worker deaths in a row (with no answer between) after which the pool gives up. */
const MAX_DEATHS = 3;

interface Task {
  id: number;
  file: string;
  signal?: AbortSignal;
  onAbort?: () => void;
  resolve: (result: DecodeResult) => void;
  reject: (error: unknown) => void;
  settled?: boolean;
}

interface WorkerSlot {
  worker: Worker;
  /** Requests posted and not yet answered, oldest first: the worker decodes them in this order. */
  tasks: Map<number, Task>;
}

export class AudioPool implements AudioDecoder {
  readonly workers: number;
  readonly targetRate: number;
  private readonly slots: WorkerSlot[] = [];
  /** 0-worker mode: files waiting, and the decode in progress. */
  private readonly queue: Task[] = [];
  private running: { task: Task; done: Promise<void> } | null = null;
  private nextId = 0;
  private closed = false;
  /** Worker deaths since the last answer; past MAX_DEATHS the workers cannot run at all. */
  private deaths = 0;
  private broken: Error | null = null;

  constructor(options: AudioPoolOptions = {}) {
    const workers = options.workers ?? defaultWorkerCount();
    if (!Number.isInteger(workers) || workers < 0) {
      throw new RangeError(`AudioPool: workers must be an integer >= 0, got ${workers}`);
    }
    this.workers = workers;
    this.targetRate = options.targetRate ?? 16000;
    for (let i = 0; i < workers; i++) this.slots.push(this.startWorker());
  }

  /** Files waiting or being decoded (cancelled ones not counted). */
  get pending(): number {
    return this.queue.length + (this.running ? 1 : 0) + this.slots.reduce((n, s) => n + s.tasks.size, 0);
  }

  decode(file: string, signal?: AbortSignal): Promise<DecodeResult> {
    if (this.closed) return Promise.reject(new Error(`AudioPool: closed; cannot decode ${file}`));
    if (this.broken) return Promise.reject(this.broken);
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise((resolve, reject) => {
      const task: Task = { id: this.nextId++, file, signal, resolve, reject };
      if (signal) {
        task.onAbort = () => this.cancel(task);
        signal.addEventListener("abort", task.onAbort, { once: true });
      }
      if (this.slots.length > 0) this.post(task);
      else {
        this.queue.push(task);
        this.pumpMainThread();
      }
    });
  }

  /** Terminates the workers; decodes still waiting or running reject. Waits for a main-thread decode. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const error = new Error("AudioPool: closed before the file was decoded");
    for (const task of this.queue.splice(0)) this.fail(task, error);
    for (const slot of this.slots) {
      slot.worker.terminate(); // terminating twice (a broken pool) is harmless
      for (const task of slot.tasks.values()) this.fail(task, error);
      slot.tasks.clear();
    }
    if (this.running) {
      this.fail(this.running.task, error);
      await this.running.done;
    }
  }

  /**
   * Hands the task to the worker with the fewest outstanding: workers keep their own queues, so they go on
   * decoding while the main thread is busy with a training step and cannot answer messages.
   */
  private post(task: Task): void {
    let slot = this.slots[0];
    for (const s of this.slots) if (s.tasks.size < slot.tasks.size) slot = s;
    slot.tasks.set(task.id, task);
    const request: WorkerRequest = {
      type: "decode",
      id: task.id,
      file: task.file,
      targetRate: this.targetRate,
    };
    slot.worker.postMessage(request);
  }

  private cancel(task: Task): void {
    const at = this.queue.indexOf(task);
    if (at >= 0) this.queue.splice(at, 1);
    for (const slot of this.slots) {
      // A file the worker has already started finishes there; its answer is then ignored.
      if (slot.tasks.delete(task.id)) {
        slot.worker.postMessage({ type: "cancel", id: task.id } as WorkerRequest);
      }
    }
    this.fail(task, task.signal!.reason);
  }

  private startWorker(): WorkerSlot {
    const worker = new Worker(new URL("./audio_worker.ts", import.meta.url).href, { type: "module" });
    const slot: WorkerSlot = { worker, tasks: new Map() };
    worker.onmessage = (event: MessageEvent<DecodeReply>) => {
      const task = slot.tasks.get(event.data.id);
      this.deaths = 0;
      if (!task) return; // cancelled
      slot.tasks.delete(task.id);
      this.finish(task, event.data.result);
    };
    worker.onerror = (event: ErrorEvent) => {
      // An uncaught error in the worker would otherwise end the whole process.
      event.preventDefault();
      this.replaceWorker(slot, `the decoding worker died: ${event.message}`);
    };
    worker.onmessageerror = () => this.replaceWorker(slot, "the decoded audio could not be received");
    return slot;
  }

  /**
   * Fails the file the dead worker was decoding (its oldest) and hands the rest to a new worker. Workers that
   * die again and again without answering (a worker script that cannot load) break the pool instead: every
   * decode then rejects with the reason, rather than every file being skipped as unreadable.
   */
  private replaceWorker(slot: WorkerSlot, reason: string): void {
    const at = this.slots.indexOf(slot);
    if (at < 0) return; // already replaced
    slot.worker.terminate();
    const [current, ...rest] = slot.tasks.values();
    slot.tasks.clear();
    if (current) this.finish(current, { ok: false, file: current.file, reason, errorName: "WorkerError" });
    if (this.closed || this.broken) return;
    if (++this.deaths > MAX_DEATHS) {
      this.broken = new Error(
        `AudioPool: decoding workers died ${this.deaths} times in a row; last: ${reason}`,
      );
      for (const task of rest) this.fail(task, this.broken);
      for (const other of this.slots) {
        for (const task of other.tasks.values()) this.fail(task, this.broken);
        other.tasks.clear();
        other.worker.terminate();
      }
      return;
    }
    this.slots[at] = this.startWorker();
    for (const task of rest) this.post(task);
  }

  private pumpMainThread(): void {
    if (this.closed || this.running || this.queue.length === 0) return;
    const task = this.queue.shift()!;
    const done = decodeFile(task.file, this.targetRate).then((result) => {
      this.running = null;
      this.finish(task, result);
      this.pumpMainThread();
    });
    this.running = { task, done };
  }

  private settle(task: Task): boolean {
    if (task.onAbort) task.signal!.removeEventListener("abort", task.onAbort);
    task.onAbort = undefined;
    const first = !task.settled;
    task.settled = true;
    return first;
  }

  private finish(task: Task, result: DecodeResult): void {
    if (this.settle(task)) task.resolve(result);
  }

  private fail(task: Task, error: unknown): void {
    if (this.settle(task)) task.reject(error);
  }
}
