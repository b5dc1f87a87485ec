/**
 * Transcribing recordings of any length with memory that does not grow with them: audio is read as a stream,
 * cut into overlapping windows (model/windows.ts), windows (of one recording or of several short ones) run
 * through the model in batches of a fixed size, and each window's kept frames go straight into the decoder. What
 * stays in memory is one batch of windows, the decoder's state and the text; greedy decoding holds no
 * log-probabilities at all, beam search holds the recording's (29 floats per 25 ms: 4.6 kB per second), since
 * its language-model state runs across the whole recording.
 */
import { TUTORIAL_ALPHABET } from "../data/alphabet.ts";
import { profilePhase } from "../engine/profiler.ts";
import { GreedyDecoder } from "./decode.ts";
import { decodeLogProbs, type DecoderOptions, logProbsOf, type Transcript } from "./inference.ts";
import type { SpeechRecognitionModel } from "./recognizer.ts";
import { frameLevels, trimSilentEdges } from "./speech_edges.ts";
import type { WordTiming } from "./word_timestamps.ts";
import {
  outputFrames,
  SAMPLES_PER_FRAME,
  type Window,
  windowAt,
  type WindowOptions,
  windowOptions,
} from "./windows.ts";

/**
 * Windows of 24 s with 2 s of context on each side (20 s kept each): three of them, one batch, make a minute. On
 * the CPU adapter a batch of three 24 s windows runs faster than one 60 s sequence (the BiGRU's steps are
 * launched once per frame for the whole batch), and its memory is what a minute needs, whatever the length.
 */
export const DEFAULT_WINDOW: WindowOptions = windowOptions(24, 2);

export interface LongAudioOptions extends DecoderOptions {
  window?: WindowOptions;
  /**
   * How much audio a batch holds, in full windows (default 3: a minute with the default windows). Shorter windows
   * (short recordings, a recording's last window) fill the same room: a batch takes windows while their count
   * times the longest of them stays within this many full windows, so memory is the same for a batch of 3
   * minutes-long recordings as for one of 150 one-second clips, and short clips run through the model together.
   */
  batchSize?: number;
  /** At most this many windows a batch, however short (default 256; 1 for a model that mixes the batch). */
  maxBatchWindows?: number;
  /**
   * Called as a recording's words become final, in order: a word is final once a space follows it or the
   * recording ends, so a stream's words are printed while it is still being read. `decodedFrames` is how far the
   * decoder has got (no later word starts before it). Greedy decoding reports after every window; beam search,
   * whose best path can change until the end, reports once at the end.
   */
  onWords?: (recording: number, words: WordTiming[], decodedFrames: number) => void;
}

/** A recording to transcribe: 16 kHz mono samples, whole or as a stream of chunks. */
export interface Recording {
  name: string;
  audio: Float32Array | AsyncIterable<Float32Array> | Iterable<Float32Array>;
}

export interface RecordingResult {
  name: string;
  /** The transcript, or null when the recording could not be read (see `error`). */
  transcript: Transcript | null;
  /** Output frames decoded (25 ms each). */
  frames: number;
  /** Windows the recording was cut into. */
  windows: number;
  /** Samples (16 kHz) the recording had. */
  samples: number;
  error?: Error;
}

/**
 * Accumulates one recording's kept frames, window by window, and decodes them; with `onWords`, greedy decoding
 * hands on each word as soon as a later space shows that it is complete.
 */
export class RecordingDecoder {
  private greedy: GreedyDecoder | null;
  /** Values per frame: the alphabet's classes. */
  private readonly nClass: number;
  private kept: Float32Array[] = [];
  /** Words already handed to `onWords`. */
  private reported = 0;
  /** Each frame's level (model/speech_edges.ts), or null once a window came without them: no trimming then. */
  private levels: number[] | null = [];
  frames = 0;
  windows = 0;

  constructor(private opts: DecoderOptions, private onWords?: (words: WordTiming[], frames: number) => void) {
    this.greedy = (opts.decoder ?? "greedy") === "greedy"
      ? new GreedyDecoder({ alphabet: opts.alphabet, calibration: opts.calibration })
      : null;
    this.nClass = (opts.alphabet ?? TUTORIAL_ALPHABET).size;
  }

  /** `levels`, one per kept frame, let words be moved off silence (model/speech_edges.ts). */
  push(logProbs: Float32Array, from: number, count: number, levels?: ArrayLike<number>): void {
    if (levels && this.levels) { for (let k = 0; k < count; k++) this.levels.push(levels[k]); }
    else this.levels = null;
    if (this.greedy) this.greedy.push(logProbs, count, from * this.nClass);
    else this.kept.push(logProbs.slice(from * this.nClass, (from + count) * this.nClass));
    this.frames += count;
    this.windows++;
    if (this.greedy && this.onWords) {
      const d = this.greedy.result();
      // The last word may still grow in the next window unless a space has closed it; until then it has started
      // at its first frame, so the decoder has only got that far as the caller's pauses are concerned.
      if (d.text.endsWith(" ") || d.words.length === 0) this.report(d.words, this.frames);
      else this.report(d.words.slice(0, -1), d.words[d.words.length - 1].startFrame);
    }
  }

  finish(): Transcript {
    const t = this.decode();
    this.report(t.words, this.frames);
    return t;
  }

  /** Hands on the words not yet reported; no word after them starts before frame `decodedFrames`. */
  private report(words: WordTiming[], decodedFrames: number): void {
    if (!this.onWords || words.length <= this.reported) return;
    this.onWords(this.offSilence(words.slice(this.reported)), decodedFrames);
    this.reported = words.length;
  }

  private decode(): Transcript {
    if (this.greedy) {
      const d = this.greedy.result();
      return { text: d.text, words: this.offSilence(d.words) };
    }
    const all = new Float32Array(this.frames * this.nClass);
    let at = 0;
    for (const k of this.kept) {
      all.set(k, at);
      at += k.length;
    }
    this.kept = [];
    const t = decodeLogProbs({ logProbs: all, time: this.frames, length: this.frames }, this.opts);
    return { ...t, words: this.offSilence(t.words) };
  }

  private offSilence(words: WordTiming[]): WordTiming[] {
    const levels = this.levels;
    if (!levels) return words;
    return words.map((w) => {
      const { start, end } = trimSilentEdges(w.startFrame, w.endFrame, levels);
      return { ...w, startFrame: start, endFrame: end };
    });
  }
}

/**
 * Window-sized arrays handed back once their batch is on the GPU. Windows all have the same length but the last,
 * so a long recording reuses a few arrays instead of leaving megabytes of garbage a minute for V8 to find.
 */
export class ArrayRecycler {
  private spare: Float32Array[] = [];

  take(length: number): Float32Array {
    const i = this.spare.findIndex((a) => a.length === length);
    return i >= 0 ? this.spare.splice(i, 1)[0] : new Float32Array(length);
  }

  give(a: Float32Array): void {
    if (this.spare.length < 16) this.spare.push(a);
  }
}

/** A growable window onto a stream of samples, dropping what no later window needs. */
class SampleBuffer {
  private data = new Float32Array(0);
  /** Whole-recording index of data[0]. */
  private origin = 0;
  private used = 0;

  /** One past the last sample received. */
  get end(): number {
    return this.origin + this.used;
  }

  append(chunk: Float32Array): void {
    if (this.used + chunk.length > this.data.length) {
      const grown = new Float32Array(Math.max(2 * this.data.length, this.used + chunk.length));
      grown.set(this.data.subarray(0, this.used));
      this.data = grown;
    }
    this.data.set(chunk, this.used);
    this.used += chunk.length;
  }

  /** A copy of samples [start, start + length) (all must have been received and not dropped). */
  copy(start: number, length: number, arrays?: ArrayRecycler): Float32Array {
    const from = start - this.origin;
    if (!arrays) return this.data.slice(from, from + length);
    const out = arrays.take(length);
    out.set(this.data.subarray(from, from + length));
    return out;
  }

  /** Forgets samples before `start`. */
  dropBefore(start: number): void {
    const n = Math.min(Math.max(0, start - this.origin), this.used);
    if (n === 0) return;
    this.data.copyWithin(0, n, this.used);
    this.used -= n;
    this.origin += n;
  }
}

async function* chunksOf(audio: Recording["audio"]): AsyncGenerator<Float32Array> {
  if (audio instanceof Float32Array) {
    yield audio;
    return;
  }
  for await (const chunk of audio as AsyncIterable<Float32Array>) yield chunk;
}

/** The windows of one recording with their samples, read from its stream as they are needed. */
export async function* windowsOf(
  audio: Recording["audio"],
  o: WindowOptions,
  arrays?: ArrayRecycler,
): AsyncGenerator<{ window: Window; samples: Float32Array }> {
  const buffer = new SampleBuffer();
  const it = chunksOf(audio);
  let ended = false;
  for (let index = 0;; index++) {
    const start = index * (o.length - 2 * o.context);
    // One sample past the window tells that it is not the last.
    while (!ended && buffer.end <= start + o.length) {
      const r = await it.next();
      if (r.done) ended = true;
      else buffer.append(r.value);
    }
    const w = windowAt(index, buffer.end, o);
    if (!w) return;
    if (index === 0 && outputFrames(w.length) === 0) {
      throw new RangeError(`the recording has only ${w.length} samples (${w.length / 16000} s at 16 kHz)`);
    }
    yield { window: w, samples: buffer.copy(w.start, w.length, arrays) };
    if (w.last) return;
    buffer.dropBefore(start + o.length - 2 * o.context);
  }
}

interface Pending {
  recording: number;
  window: Window;
  samples: Float32Array;
  /** The levels of the window's kept frames. */
  levels: Float32Array;
}

/**
 * Transcribes recordings in order, yielding each one's result as soon as its last window is decoded. A recording
 * that cannot be read (or is too short) is yielded with its error and the others go on.
 */
export async function* transcribeRecordings(
  model: SpeechRecognitionModel,
  recordings: Iterable<Recording> | AsyncIterable<Recording>,
  opts: LongAudioOptions = {},
): AsyncGenerator<RecordingResult> {
  const o = opts.window ?? DEFAULT_WINDOW;
  const batchSamples = (opts.batchSize ?? 3) * o.length;
  const maxWindows = opts.maxBatchWindows ?? 256;
  const decoders: RecordingDecoder[] = [];
  const names: string[] = [];
  const done: (RecordingResult | null)[] = [];
  let next = 0;
  let pending: Pending[] = [];
  let longest = 0;
  const arrays = new ArrayRecycler();
  // Whether a batch padded to its longest window still has room for one more of `length` samples.
  const roomFor = (length: number) =>
    pending.length < maxWindows && (pending.length + 1) * Math.max(longest, length) <= batchSamples;

  const runBatch = async () => {
    if (pending.length === 0) return;
    const batch = pending;
    pending = [];
    longest = 0;
    const outputs = await logProbsOf(model, batch.map((p) => p.samples));
    // The samples were copied to the GPU when the batch was recorded.
    for (const p of batch) arrays.give(p.samples);
    batch.forEach((p, k) => {
      const u = outputs[k];
      const first = p.window.start / SAMPLES_PER_FRAME;
      const from = p.window.keepFrom - first;
      const count = p.window.keepTo - p.window.keepFrom;
      if (from < 0 || from + count > u.length) {
        throw new Error(`window ${p.window.index} of ${names[p.recording]}: kept frames outside its output`);
      }
      const d = decoders[p.recording];
      profilePhase("decode text", () => d.push(u.logProbs, from, count, p.levels));
      if (p.window.last) {
        done[p.recording] = {
          name: names[p.recording],
          transcript: profilePhase("decode text", () => d.finish()),
          frames: d.frames,
          windows: d.windows,
          samples: p.window.start + p.window.length,
        };
      }
    });
  };

  let r = 0;
  for await (const rec of recordings as AsyncIterable<Recording>) {
    const index = r++;
    names.push(rec.name);
    const onWords = opts.onWords;
    decoders.push(new RecordingDecoder(opts, onWords && ((w, f) => onWords(index, w, f))));
    done.push(null);
    const windows = windowsOf(rec.audio, o, arrays);
    for (;;) {
      let item: IteratorResult<{ window: Window; samples: Float32Array }>;
      try {
        item = await windows.next();
      } catch (e) {
        // Reading or cutting this recording failed: drop its windows still waiting, report it, go on. (Errors
        // of the model itself, in runBatch, are not caught: they concern every recording.)
        pending = pending.filter((p) => p.recording !== index);
        done[index] = {
          name: rec.name,
          transcript: null,
          frames: 0,
          windows: 0,
          samples: 0,
          error: e as Error,
        };
        break;
      }
      if (item.done) break;
      if (pending.length > 0 && !roomFor(item.value.samples.length)) await runBatch();
      const { window: w, samples } = item.value;
      const levels = frameLevels(samples, w.start, w.keepFrom, w.keepTo - w.keepFrom);
      pending.push({ recording: index, window: w, samples, levels });
      longest = Math.max(longest, item.value.samples.length);
      // A batch of full windows (the common case for long recordings) runs at once, not when the next arrives.
      if (!roomFor(o.length)) await runBatch();
      while (next < done.length && done[next]) yield done[next++]!;
    }
    while (next < done.length && done[next]) yield done[next++]!;
  }
  await runBatch();
  while (next < done.length && done[next]) yield done[next++]!;
}

/** Transcribes one 16 kHz recording (whole or streamed) of any length. */
export async function transcribeLong(
  model: SpeechRecognitionModel,
  audio: Recording["audio"],
  opts: LongAudioOptions = {},
): Promise<RecordingResult> {
  for await (const r of transcribeRecordings(model, [{ name: "audio", audio }], opts)) {
    if (r.error) throw r.error;
    return r;
  }
  throw new Error("transcribeLong: no result");
}
