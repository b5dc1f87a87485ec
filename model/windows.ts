/**
 * Cutting a recording of any length into overlapping windows whose outputs tile the whole-file output exactly.
 *
 * The recognizer emits one output frame per 400 samples (hop 200, then the first convolution's stride 2), and
 * output frame j of a window starting at sample s (a multiple of 400) is frame s / 400 + j of the whole file.
 * Every window carries `context` samples on each side that it computes but does not keep: its BiGRU sees that
 * much of the past and the future across the seam, and the frames near a window's edges (where the spectrogram's
 * reflect padding and the convolutions' zero padding differ from the whole file) are thrown away. The kept frames
 * of consecutive windows abut, so nothing is dropped or repeated at a seam; a recording no longer than one
 * window is one window, computed exactly as the whole file.
 */

/** Samples per output frame of the recognizer (hop 200 x stride 2). */
export const SAMPLES_PER_FRAME = 400;

export interface WindowOptions {
  /** Samples in a window, context included (a multiple of 400). */
  length: number;
  /** Samples of context kept on each side of a seam (a multiple of 400, under length / 2). */
  context: number;
}

/** One window: which samples it reads, and which of its output frames are kept, in whole-file frames. */
export interface Window {
  index: number;
  /** First sample (a multiple of 400). */
  start: number;
  /** Samples read (the last window may be shorter than the others). */
  length: number;
  /** First whole-file output frame this window keeps. */
  keepFrom: number;
  /** One past the last whole-file output frame it keeps. */
  keepTo: number;
  /** Whether this is the recording's last window. */
  last: boolean;
}

/** Output frames of `samples` samples: the tutorial's valid length, floor((1 + floor(samples / 200)) / 2). */
export function outputFrames(samples: number): number {
  return Math.floor((1 + Math.floor(samples / 200)) / 2);
}

/** Checks window options and turns seconds at 16 kHz into them (rounded to whole output frames). */
export function windowOptions(
  lengthSeconds: number,
  contextSeconds: number,
  sampleRate = 16000,
): WindowOptions {
  const frames = (s: number) => Math.round((s * sampleRate) / SAMPLES_PER_FRAME);
  const length = frames(lengthSeconds) * SAMPLES_PER_FRAME;
  const context = frames(contextSeconds) * SAMPLES_PER_FRAME;
  if (!(contextSeconds >= 0) || !(length - 2 * context >= SAMPLES_PER_FRAME)) {
    throw new RangeError(
      `windows of ${lengthSeconds} s cannot keep ${contextSeconds} s of context on each side ` +
        `(the window must be longer than twice the context)`,
    );
  }
  return { length, context };
}

/** Samples between the starts of consecutive windows. */
export function windowStride(o: WindowOptions): number {
  return o.length - 2 * o.context;
}

/**
 * Window `index` of a recording whose total length is known to be `total` samples, or null when the recording
 * ends before it (the previous window was the last).
 */
export function windowAt(index: number, total: number, o: WindowOptions): Window | null {
  const stride = windowStride(o);
  const start = index * stride;
  const frames = outputFrames(total);
  // Window i keeps from the frame `context` past its start; it exists only when frames remain there.
  const firstKept = (i: number) => i === 0 ? 0 : (i * stride + o.context) / SAMPLES_PER_FRAME;
  // Window i is the last when it reaches the end of the recording, or no frames remain for the next one.
  const isLast = (i: number) => i * stride + o.length >= total || frames <= firstKept(i + 1);
  if (index > 0 && isLast(index - 1)) return null;
  const last = isLast(index);
  return {
    index,
    start,
    length: Math.min(o.length, total - start),
    keepFrom: firstKept(index),
    keepTo: last ? frames : firstKept(index + 1),
    last,
  };
}

/** Every window of a recording of `total` samples (for planning; streaming uses {@link windowAt}). */
export function planWindows(total: number, o: WindowOptions): Window[] {
  const out: Window[] = [];
  for (let i = 0;; i++) {
    const w = windowAt(i, total, o);
    if (!w) return out;
    out.push(w);
    if (w.last) return out;
  }
}
