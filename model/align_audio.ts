/**
 * A whole recording's log-probabilities for forced alignment, computed window by window (model/windows.ts and
 * the windows of model/long_inference.ts), so the model's memory is one batch of windows whatever the length.
 * The alignment needs every frame at once (29 floats per 25 ms frame for the tutorial's classes: 4.6 kB a
 * second, 17 MB an hour); the back-pointers, not these, bound the length (model/align.ts), so the caller may
 * stop the run early with `maxFrames` instead of computing an hour it cannot align.
 */
import { logProbsOf } from "./inference.ts";
import { DEFAULT_WINDOW, type Recording, windowsOf } from "./long_inference.ts";
import type { SpeechRecognitionModel } from "./recognizer.ts";
import { SAMPLES_PER_FRAME, type Window, type WindowOptions } from "./windows.ts";
import type { RecordingLogProbs } from "./align_words.ts";

export interface RecordingLogProbsOptions {
  window?: WindowOptions;
  /** Windows run through the model together (default 3; the tutorial GRU layout runs one at a time). */
  batchSize?: number;
  /**
   * Stop with this error as soon as the recording has more than `frames` output frames (the alignment could not
   * take them); the message is the caller's.
   */
  maxFrames?: { frames: number; error: (frames: number) => Error };
}

/** Grows to hold a recording's frames as its windows' kept frames arrive. */
class FrameBuffer {
  private data: Float32Array;
  frames = 0;

  constructor(readonly nClass: number) {
    this.data = new Float32Array(1024 * nClass);
  }

  append(rows: Float32Array): void {
    const needed = (this.frames * this.nClass) + rows.length;
    if (needed > this.data.length) {
      const grown = new Float32Array(Math.max(2 * this.data.length, needed));
      grown.set(this.data.subarray(0, this.frames * this.nClass));
      this.data = grown;
    }
    this.data.set(rows, this.frames * this.nClass);
    this.frames += rows.length / this.nClass;
  }

  result(): RecordingLogProbs {
    return {
      logProbs: this.data.slice(0, this.frames * this.nClass),
      frames: this.frames,
      nClass: this.nClass,
    };
  }
}

/** Runs the model over a 16 kHz recording (whole or streamed) and returns the log-probabilities of every frame. */
export async function recordingLogProbs(
  model: SpeechRecognitionModel,
  audio: Recording["audio"],
  opts: RecordingLogProbsOptions = {},
): Promise<RecordingLogProbs> {
  const nClass = model.config.nClass;
  const batchSize = model.config.gruLayout === "tutorial" ? 1 : opts.batchSize ?? 3;
  const out = new FrameBuffer(nClass);
  let pending: { window: Window; samples: Float32Array }[] = [];
  const run = async () => {
    const outputs = await logProbsOf(model, pending.map((p) => p.samples));
    pending.forEach((p, k) => {
      const from = p.window.keepFrom - p.window.start / SAMPLES_PER_FRAME;
      const count = p.window.keepTo - p.window.keepFrom;
      const u = outputs[k];
      if (from < 0 || from + count > u.length) {
        throw new Error(
          `window ${p.window.index}: kept frames ${from}..${from + count} outside its ${u.length}`,
        );
      }
      out.append(u.logProbs.subarray(from * nClass, (from + count) * nClass));
    });
    pending = [];
  };
  for await (const item of windowsOf(audio, opts.window ?? DEFAULT_WINDOW)) {
    const limit = opts.maxFrames;
    if (limit && item.window.keepTo > limit.frames) throw limit.error(item.window.keepTo);
    pending.push(item);
    if (pending.length >= batchSize) await run();
  }
  if (pending.length > 0) await run();
  return out.result();
}
