/**
 * The server's one GPU queue: every request's audio is cut into windows (model/long_inference.ts windowsOf), the
 * windows of all requests wait in one line, and one loop runs them through the model in batches. A batch holds
 * windows of one length only: the model's output for a window padded next to a longer one differs from its
 * output alone (the features and convolutions see the padding), while windows of equal length give the same
 * numbers whatever else is in the batch. So a request's transcript is the same whether it came alone or among
 * others: full windows of long recordings batch across requests, and short clips batch with clips of their
 * length. Each request's windows are decoded in order as their outputs come back.
 */
import { ArrayRecycler, DEFAULT_WINDOW, RecordingDecoder, windowsOf } from "../model/long_inference.ts";
import {
  type DecoderOptions,
  logProbsOf,
  type Transcript,
  type UtteranceLogProbs,
} from "../model/inference.ts";
import type { SpeechRecognitionModel } from "../model/recognizer.ts";
import { frameLevels } from "../model/speech_edges.ts";
import { SAMPLES_PER_FRAME, type Window, type WindowOptions } from "../model/windows.ts";

export interface QueueOptions {
  window?: WindowOptions;
  /** Audio a batch holds, in full windows (default 3: a minute with the default windows). */
  batchWindows?: number;
  /** At most this many windows a batch, however short (default 256). */
  maxBatchWindows?: number;
  decoder?: DecoderOptions;
}

export interface QueuedResult {
  transcript: Transcript;
  /** Samples (16 kHz) the recording had. */
  samples: number;
}

interface Item {
  job: Job;
  window: Window;
  samples: Float32Array;
  /** The kept frames' levels, measured before the samples go back to the recycler: words move off silence. */
  levels: Float32Array;
}

/** One request: its decoder, the outputs that came back ahead of an earlier window's, and its waiters. */
class Job {
  readonly decoder: RecordingDecoder;
  /** Windows waiting in the queue. */
  queued = 0;
  failed: Error | null = null;
  private nextWindow = 0;
  private readonly early = new Map<number, { window: Window; u: UtteranceLogProbs; levels: Float32Array }>();
  private wakeReader: (() => void) | null = null;
  private settle!: { resolve: (r: QueuedResult) => void; reject: (e: Error) => void };
  readonly done: Promise<QueuedResult>;

  constructor(opts: DecoderOptions) {
    this.decoder = new RecordingDecoder(opts);
    this.done = new Promise((resolve, reject) => (this.settle = { resolve, reject }));
    this.done.catch(() => {}); // awaited by the request; a failure before it awaits is not unhandled
  }

  /** Takes a window's output; decodes it and any held-back successors in window order. */
  accept(window: Window, u: UtteranceLogProbs, levels: Float32Array): void {
    this.queued--;
    this.wakeReader?.();
    if (this.failed) return;
    this.early.set(window.index, { window, u, levels });
    for (let next = this.early.get(this.nextWindow); next; next = this.early.get(this.nextWindow)) {
      this.early.delete(this.nextWindow++);
      const first = next.window.start / SAMPLES_PER_FRAME;
      const from = next.window.keepFrom - first;
      const count = next.window.keepTo - next.window.keepFrom;
      if (from < 0 || from + count > next.u.length) {
        return this.fail(new Error(`window ${next.window.index}: kept frames outside the model's output`));
      }
      this.decoder.push(next.u.logProbs, from, count, next.levels);
      if (next.window.last) {
        const samples = next.window.start + next.window.length;
        this.settle.resolve({ transcript: this.decoder.finish(), samples });
      }
    }
  }

  fail(e: Error): void {
    if (this.failed) return;
    this.failed = e;
    this.early.clear();
    this.settle.reject(e);
    this.wakeReader?.();
  }

  /** Resolves when fewer than `limit` of this job's windows wait (or the job failed). */
  async room(limit: number): Promise<void> {
    while (this.queued >= limit && !this.failed) {
      await new Promise<void>((resolve) => (this.wakeReader = resolve));
      this.wakeReader = null;
    }
  }
}

export class TranscriptionQueue {
  private readonly window: WindowOptions;
  private readonly batchSamples: number;
  private readonly maxBatchWindows: number;
  private readonly decoderOptions: DecoderOptions;
  private readonly arrays = new ArrayRecycler();
  private items: Item[] = [];
  private running = false;
  /** Requests being transcribed now. */
  active = 0;
  batchesRun = 0;

  constructor(private readonly model: SpeechRecognitionModel, opts: QueueOptions = {}) {
    this.window = opts.window ?? DEFAULT_WINDOW;
    this.batchSamples = (opts.batchWindows ?? 3) * this.window.length;
    this.maxBatchWindows = opts.maxBatchWindows ?? 256;
    this.decoderOptions = opts.decoder ?? {};
  }

  /** Windows waiting for the GPU. */
  get queued(): number {
    return this.items.length;
  }

  /**
   * Transcribes one recording (16 kHz mono chunks). Rejects with the stream's own error when its audio cannot
   * be read (or is too short), with the model's when a batch it was in failed; other requests go on.
   */
  async transcribe(audio: AsyncIterable<Float32Array> | Float32Array): Promise<QueuedResult> {
    const job = new Job(this.decoderOptions);
    // Each request keeps at most one batch's worth of windows waiting, so memory is bounded per request.
    const limit = Math.max(1, Math.floor(this.batchSamples / this.window.length));
    this.active++;
    let windows = 0;
    try {
      for await (const { window, samples } of windowsOf(audio, this.window, this.arrays)) {
        await job.room(limit);
        if (job.failed) break;
        job.queued++;
        windows++;
        const levels = frameLevels(samples, window.start, window.keepFrom, window.keepTo - window.keepFrom);
        this.items.push({ job, window, samples, levels });
        this.start();
      }
      if (windows === 0) throw new RangeError("the recording has no samples");
    } catch (e) {
      job.fail(e as Error);
      this.items = this.items.filter((it) => it.job !== job);
    }
    try {
      return await job.done;
    } finally {
      this.active--;
    }
  }

  private start(): void {
    if (this.running) return;
    this.running = true;
    // The loop runs on its own; a failed batch fails its requests, never the loop.
    void this.loop().finally(() => (this.running = false));
  }

  private async loop(): Promise<void> {
    while (this.items.length > 0) {
      const batch = this.takeBatch();
      try {
        const outputs = await logProbsOf(this.model, batch.map((it) => it.samples));
        this.batchesRun++;
        batch.forEach((it, k) => it.job.accept(it.window, outputs[k], it.levels));
      } catch (e) {
        for (const it of batch) it.job.fail(e as Error);
        const failed = new Set(batch.map((it) => it.job));
        this.items = this.items.filter((it) => !failed.has(it.job));
      }
      for (const it of batch) this.arrays.give(it.samples);
    }
  }

  /** The oldest window and, in arrival order, the others of its length that fit one batch. */
  private takeBatch(): Item[] {
    const length = this.items[0].samples.length;
    const fits = Math.max(1, Math.min(this.maxBatchWindows, Math.floor(this.batchSamples / length)));
    const batch: Item[] = [];
    const rest: Item[] = [];
    for (const it of this.items) {
      if (batch.length < fits && it.samples.length === length && !it.job.failed) batch.push(it);
      else if (!it.job.failed) rest.push(it);
    }
    this.items = rest;
    return batch;
  }
}
