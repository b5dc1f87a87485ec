/**
 * Mel-spectrogram features on the GPU, identical in definition to torchaudio 0.13's
 * `MelSpectrogram(sample_rate=16000, n_mels=128)`: periodic Hann window, centered frames with reflect padding,
 * power 2, HTK mel scale without normalisation, filterbank built the same way in float64 (including its all-zero
 * filters), and the batch laid out as the tutorial's data_processing gives it: (batch, 1, n_mels, time), padded
 * with zeros after each utterance's frames.
 *
 * A batch is uploaded as one buffer of concatenated samples with a per-frame table of offsets; framing, FFT and
 * the mel projection each run as a few dispatches over every frame of every utterance at once.
 */
import { commands } from "../engine/commands.ts";
import { gpu } from "../engine/device.ts";
import { keep } from "../engine/scope.ts";
import { empty, type Tensor, tensor } from "../engine/tensor.ts";
import { dftMatmul, materialize, realFftRaw } from "../kernels/fft.ts";
import { fillInPlace } from "../kernels/fill.ts";
import { complexPower, FRAME_TABLE_INTS, framedSignals, melProject } from "../kernels/mel.ts";

/** The offset inside log-mel features: log(mel + 1e-6). */
export const LOG_MEL_OFFSET = 1e-6;

export interface MelOptions {
  /** Default 16000. */
  sampleRate?: number;
  /** FFT size; default 400. */
  nFft?: number;
  /** Window length (<= nFft, centered in the frame); default nFft. */
  winLength?: number;
  /** Hop between frames; default floor(winLength / 2). */
  hopLength?: number;
  /** Default 128. */
  nMels?: number;
  /** Lowest filter edge in Hz; default 0. */
  fMin?: number;
  /** Highest filter edge in Hz; default floor(sampleRate / 2). */
  fMax?: number;
  /** 2 (power, the default) or 1 (magnitude). */
  power?: 1 | 2;
  /** log(mel + 1e-6) instead of mel; padded frames stay 0. */
  log?: boolean;
  /** "fft" (default) or "dft": the DFT as a dense matmul, for comparison. */
  method?: "fft" | "dft";
  /**
   * Most bytes of frames (and of samples) one group of utterances may occupy on the GPU; a batch is processed
   * in as many groups as needed. Default: half the adapter's storage binding limit, at most 32 MiB.
   */
  groupBytes?: number;
}

export interface MelFeatures {
  /** (batch, 1, nMels, maxFrames), zero past each utterance's frames. */
  features: Tensor;
  /** Frames per utterance: 1 + floor(samples / hop). */
  frames: number[];
}

/** torch.linspace's float64 arithmetic: the first half counts up from start, the second half down from end. */
export function linspace(start: number, end: number, steps: number): Float64Array {
  const out = new Float64Array(steps);
  if (steps === 1) {
    out[0] = start;
    return out;
  }
  const step = (end - start) / (steps - 1);
  const half = Math.floor(steps / 2);
  for (let i = 0; i < steps; i++) out[i] = i < half ? start + step * i : end - step * (steps - i - 1);
  return out;
}

/** Hann window of length n; periodic (as torch.hann_window's default) drops the last point of n + 1. */
export function hannWindow(n: number, periodic = true): Float64Array {
  const w = new Float64Array(n);
  const d = periodic ? n : n - 1;
  if (n === 1) {
    w[0] = 1;
    return w;
  }
  for (let i = 0; i < n; i++) w[i] = 0.5 - 0.5 * Math.cos(2 * Math.PI * i / d);
  return w;
}

/** The window torch.stft applies: a Hann window of winLength centered in nFft points. */
export function stftWindow(nFft: number, winLength: number): Float64Array {
  const w = new Float64Array(nFft);
  w.set(hannWindow(winLength), Math.floor((nFft - winLength) / 2));
  return w;
}

const hzToMel = (f: number) => 2595.0 * Math.log10(1.0 + f / 700.0);
const melToHz = (m: number) => 700.0 * (10.0 ** (m / 2595.0) - 1.0);

/**
 * torchaudio.functional.melscale_fbanks(nFreqs, fMin, fMax, nMels, sampleRate) with HTK mels and no norm,
 * in float64: [nFreqs, nMels] row-major. Filters that no frequency bin reaches are all zero, as there.
 */
export function melFilterbank(
  nFreqs: number,
  fMin: number,
  fMax: number,
  nMels: number,
  sampleRate: number,
): Float64Array {
  const allFreqs = linspace(0, Math.floor(sampleRate / 2), nFreqs);
  const fPts = linspace(hzToMel(fMin), hzToMel(fMax), nMels + 2).map(melToHz);
  const fb = new Float64Array(nFreqs * nMels);
  for (let k = 0; k < nFreqs; k++) {
    for (let m = 0; m < nMels; m++) {
      const down = (-1.0 * (fPts[m] - allFreqs[k])) / (fPts[m + 1] - fPts[m]);
      const up = (fPts[m + 2] - allFreqs[k]) / (fPts[m + 2] - fPts[m + 1]);
      fb[k * nMels + m] = Math.max(0, Math.min(down, up));
    }
  }
  return fb;
}

/** Frames torch.stft (center=True) gives for `samples` samples: 1 + floor(samples / hop). */
export function melFrameCount(samples: number, hop: number): number {
  return 1 + Math.floor(samples / hop);
}

interface Resolved {
  sampleRate: number;
  nFft: number;
  winLength: number;
  hop: number;
  nMels: number;
  fMin: number;
  fMax: number;
  nFreqs: number;
  power: 1 | 2;
  log: boolean;
  method: "fft" | "dft";
}

function resolve(o: MelOptions): Resolved {
  const sampleRate = o.sampleRate ?? 16000;
  const nFft = o.nFft ?? 400;
  const winLength = o.winLength ?? nFft;
  const hop = o.hopLength ?? Math.floor(winLength / 2);
  const r: Resolved = {
    sampleRate,
    nFft,
    winLength,
    hop,
    nMels: o.nMels ?? 128,
    fMin: o.fMin ?? 0,
    fMax: o.fMax ?? Math.floor(sampleRate / 2),
    nFreqs: Math.floor(nFft / 2) + 1,
    power: o.power ?? 2,
    log: o.log ?? false,
    method: o.method ?? "fft",
  };
  const posInt = (v: number, name: string) => {
    if (!Number.isInteger(v) || v < 1) {
      throw new RangeError(`melSpectrogram: ${name} must be a positive integer, got ${v}`);
    }
  };
  posInt(sampleRate, "sampleRate");
  posInt(nFft, "nFft");
  posInt(winLength, "winLength");
  posInt(hop, "hopLength");
  posInt(r.nMels, "nMels");
  if (winLength > nFft) throw new RangeError(`melSpectrogram: winLength ${winLength} exceeds nFft ${nFft}`);
  if (!(r.fMin >= 0 && r.fMin < r.fMax)) {
    throw new RangeError(`melSpectrogram: need 0 <= fMin < fMax, got fMin ${r.fMin}, fMax ${r.fMax}`);
  }
  if (r.power !== 1 && r.power !== 2) {
    throw new RangeError(`melSpectrogram: power must be 1 or 2, got ${r.power}`);
  }
  if (r.method !== "fft" && r.method !== "dft") {
    throw new RangeError(`melSpectrogram: method must be "fft" or "dft", got ${r.method}`);
  }
  return r;
}

interface Constants {
  window: Tensor;
  filtersT: Tensor;
  ranges: Tensor;
}

const constants = new Map<string, Constants>();

function constantsFor(r: Resolved): Constants {
  const key = [r.sampleRate, r.nFft, r.winLength, r.nMels, r.fMin, r.fMax].join(":");
  let c = constants.get(key);
  if (c) return c;
  const fb = melFilterbank(r.nFreqs, r.fMin, r.fMax, r.nMels, r.sampleRate);
  const filtersT = new Float32Array(r.nMels * r.nFreqs);
  const ranges = new Int32Array(r.nMels * 2);
  for (let m = 0; m < r.nMels; m++) {
    let lo = r.nFreqs, hi = 0;
    for (let k = 0; k < r.nFreqs; k++) {
      const v = fb[k * r.nMels + m];
      filtersT[m * r.nFreqs + k] = v;
      if (v !== 0) {
        lo = Math.min(lo, k);
        hi = k + 1;
      }
    }
    ranges[2 * m] = Math.min(lo, hi);
    ranges[2 * m + 1] = hi;
  }
  c = {
    window: keep(tensor(Float32Array.from(stftWindow(r.nFft, r.winLength)))),
    filtersT: keep(tensor(filtersT, [r.nMels, r.nFreqs])),
    ranges: keep(tensor(ranges, [r.nMels, 2], "i32")),
  };
  constants.set(key, c);
  return c;
}

/** Per-call byte budget of one group's frame buffer (bindings must stay under the adapter's limit). */
function groupBudget(): number {
  return Math.min(gpu().limits.maxStorageBufferBindingSize, 64 * 1024 * 1024) / 2;
}

/**
 * Mel spectrograms of a batch of mono waveforms (samples as torchaudio.load gives them), as the tutorial's
 * batch: features (batch, 1, nMels, maxFrames), zero-padded over time, and each utterance's frame count.
 * With `log: true` the valid frames hold log(mel + 1e-6) and the padding stays 0.
 */
export function melSpectrogram(waveforms: Float32Array[], opts: MelOptions = {}): MelFeatures {
  const r = resolve(opts);
  if (waveforms.length === 0) throw new RangeError("melSpectrogram: no waveforms");
  const pad = Math.floor(r.nFft / 2);
  waveforms.forEach((w, i) => {
    if (!(w instanceof Float32Array)) {
      throw new TypeError(`melSpectrogram: waveform ${i} is not a Float32Array`);
    }
    // torch.stft's reflect padding needs more samples than the pad.
    if (w.length <= pad) {
      throw new RangeError(
        `melSpectrogram: waveform ${i} has ${w.length} samples; reflect padding of nFft / 2 = ${pad} ` +
          `needs at least ${pad + 1}`,
      );
    }
  });
  const frames = waveforms.map((w) => melFrameCount(w.length, r.hop));
  const maxFrames = Math.max(...frames);
  const c = constantsFor(r);
  const budget = opts.groupBytes ?? groupBudget();
  const frameBytes = (r.nFft + 2) * 4;
  const groups: { start: number; end: number; frames: number; samples: number }[] = [];
  for (let start = 0; start < waveforms.length;) {
    let end = start;
    let groupFrames = 0;
    let groupSamples = 0;
    while (end < waveforms.length) {
      const f = frames[end];
      const s = waveforms[end].length;
      if ((groupFrames + f) * frameBytes > budget || (groupSamples + s) * 4 > budget) break;
      groupFrames += f;
      groupSamples += s;
      end++;
    }
    if (end === start) {
      throw new RangeError(
        `melSpectrogram: waveform ${start} (${waveforms[start].length} samples) is too long for one GPU ` +
          `binding of ${budget} bytes; split it`,
      );
    }
    groups.push({ start, end, frames: groupFrames, samples: groupSamples });
    start = end;
  }
  const features = fillInPlace(empty([waveforms.length, 1, r.nMels, maxFrames], "f32", "mel features"), 0);
  for (const g of groups) {
    runGroup(waveforms, frames, g.start, g.end, g.frames, g.samples, maxFrames, r, c, features);
  }
  return { features, frames };
}

function runGroup(
  waveforms: Float32Array[],
  frames: number[],
  start: number,
  end: number,
  groupFrames: number,
  groupSamples: number,
  maxFrames: number,
  r: Resolved,
  c: Constants,
  features: Tensor,
): void {
  // Each waveform is written straight into its place in the GPU buffer: no host copy of the whole group.
  const waves = empty([groupSamples], "f32", "mel samples");
  const table = new Int32Array(groupFrames * FRAME_TABLE_INTS);
  const pad = Math.floor(r.nFft / 2);
  let s0 = 0;
  let g = 0;
  for (let b = start; b < end; b++) {
    const w = waveforms[b];
    if (w.length > 0) commands().writeFresh(waves.buffer, s0 * 4, w);
    for (let t = 0; t < frames[b]; t++, g++) {
      table[g * 4] = s0;
      table[g * 4 + 1] = w.length;
      table[g * 4 + 2] = t * r.hop - pad;
      table[g * 4 + 3] = b * r.nMels * maxFrames + t;
    }
    s0 += w.length;
  }
  const tab = tensor(table, [groupFrames, FRAME_TABLE_INTS], "i32");
  const source = framedSignals(waves, tab, c.window);
  let power: Tensor;
  if (r.method === "fft") {
    power = realFftRaw(source, groupFrames, r.nFft, "power");
  } else {
    const framed = materialize(source, groupFrames, r.nFft);
    const spec = dftMatmul(framed);
    framed.dispose();
    power = complexPower(spec);
    spec.dispose();
  }
  waves.dispose();
  melProject({
    power,
    table: tab,
    filtersT: c.filtersT,
    ranges: c.ranges,
    out: features,
    frames: groupFrames,
    nFreqs: r.nFreqs,
    nMels: r.nMels,
    maxFrames,
    exponent: r.power,
    log: r.log,
    logOffset: LOG_MEL_OFFSET,
  });
  power.dispose();
  tab.dispose();
}
