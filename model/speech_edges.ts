/**
 * Word edges moved off silence. A CTC model's character spikes say which word was spoken but not exactly where
 * it begins and ends: on joined spoken digits our models emit a recording's first word at frame 0 whatever
 * silence leads it (a habit of the isolated clips they were first trained on, where speech starts at once), and
 * a word's last letter in the silence after it, 0-0.25 s past its end. The posteriors give no edge to correct
 * this with (inside speech and inside silence alike the blank has > 0.999), but the audio does: no word is
 * spoken where the recording is silent. So a word's first and last frames are moved inwards past the frames
 * whose level is below {@link SILENCE_FLOOR} (a word that is silent throughout keeps its frames). Only true
 * silence is trimmed: over a noise floor above -60 dBFS (most room recordings) the edges stay the decoder's.
 *
 * Frame `t` is the 25 ms `[t, t + 1) * FRAME_HOP_SECONDS` (model/word_timestamps.ts), samples `[400t, 400t + 400)`
 * at 16 kHz, and its level is the mean square of those samples.
 */
import { SAMPLES_PER_FRAME } from "./windows.ts";

/** Mean square of a frame's samples below which it is silence: -60 dBFS, far below speech (-40 to -10 dBFS). */
export const SILENCE_FLOOR = 1e-6;

/** Levels of output frames `[from, from + count)` of a recording, from samples starting at `firstSample`. */
export function frameLevels(
  samples: Float32Array,
  firstSample: number,
  from: number,
  count: number,
): Float32Array {
  const out = new Float32Array(count);
  for (let k = 0; k < count; k++) {
    const a = Math.max(0, (from + k) * SAMPLES_PER_FRAME - firstSample);
    const b = Math.min(samples.length, a + SAMPLES_PER_FRAME);
    let sum = 0;
    for (let i = a; i < b; i++) sum += samples[i] * samples[i];
    // A frame cut short by the recording's end is measured over the samples it has.
    out[k] = b > a ? sum / (b - a) : 0;
  }
  return out;
}

/** Frame levels of a stream of samples arriving in chunks of any size. */
export class FrameLevelMeter {
  private levels: number[] = [];
  private sum = 0;
  private filled = 0;

  add(chunk: Float32Array): void {
    for (let i = 0; i < chunk.length; i++) {
      this.sum += chunk[i] * chunk[i];
      if (++this.filled === SAMPLES_PER_FRAME) {
        this.levels.push(this.sum / SAMPLES_PER_FRAME);
        this.sum = 0;
        this.filled = 0;
      }
    }
  }

  /** The levels of every frame so far, the last one (if partial) over the samples it has. */
  result(): Float32Array {
    const out = Float32Array.from(this.levels);
    if (this.filled === 0) return out;
    const all = new Float32Array(out.length + 1);
    all.set(out);
    all[out.length] = this.sum / this.filled;
    return all;
  }
}

/**
 * The frames `[start, end]` (inclusive) with silent frames at both edges removed; `levels[t]` is frame t's level
 * (frames past its end count as silent). Unchanged when every frame of the span is silent.
 */
export function trimSilentEdges(
  start: number,
  end: number,
  levels: ArrayLike<number>,
  floor: number = SILENCE_FLOOR,
): { start: number; end: number } {
  const sounding = (t: number) => t >= 0 && t < levels.length && levels[t] >= floor;
  let s = start;
  while (s <= end && !sounding(s)) s++;
  if (s > end) return { start, end };
  let e = end;
  while (!sounding(e)) e--;
  return { start: s, end: e };
}
