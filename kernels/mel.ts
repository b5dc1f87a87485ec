/**
 * The GPU half of mel-spectrogram features: windowed frames of a batch of waveforms (centered,
 * reflect-padded, as torch.stft with center=True), and projecting power spectra onto a mel filterbank straight
 * into the padded (batch, n_mels, time) layout, optionally as log-mel. The host half (filterbank, window,
 * batching) is data/features.ts; the transform between them is kernels/fft.ts.
 *
 * No backward: features are computed from waveforms, which are never trainable. The kernels are programs
 * (engine/program.ts), uniforms and bindings declared once by name.
 */
import { launch, program, variants } from "../engine/kernel.ts";
import { empty, type Tensor } from "../engine/tensor.ts";
import type { RealSignalSource, SignalKind } from "./fft.ts";

const WG = 64;

/** Ints per frame in the frame table: first sample, utterance length, frame start (may be < 0), output base. */
export const FRAME_TABLE_INTS = 4;

/** Framed, windowed waveforms: the loader of {@link framedSignals}. */
const FRAMES: SignalKind = {
  key: "mel-frames",
  inputs: { wave: "f32", tab: "vec4<i32>", win: "f32" },
  helpers: `
fn load_real(g: u32, n: u32) -> f32 {
  let t = tab[g];
  var p = t.z + i32(n);
  if (p < 0) { p = -p; }
  if (p >= t.y) { p = 2 * (t.y - 1) - p; }
  return wave[u32(t.x + p)] * win[n];
}`,
};

/**
 * Windowed frames cut from the concatenated waveforms `waves`, as a signal source for the FFT (its first stage
 * reads them directly; {@link materialize} writes them out). Sample n of frame g is
 * wave[start + reflect(pos + n)] * window[n], reflect mapping p < 0 to -p and p >= len to 2(len-1)-p.
 * `table` is i32 [frames, FRAME_TABLE_INTS].
 */
export function framedSignals(waves: Tensor, table: Tensor, window: Tensor): RealSignalSource {
  return { kind: FRAMES, tensors: { wave: waves, tab: table, win: window } };
}

const complexPowerProgram = program({
  name: "mel-complex-power",
  uniforms: { n: "u32" },
  inputs: { s: "vec2<f32>" },
  outputs: { o: "f32" },
  workgroupSize: WG,
  body: `
  let i = gidx;
  if (i < u.n) { let v = s[i]; o[i] = dot(v, v); }`,
});

/** |X|^2 of complex spectra [..., 2] (the DFT-as-matmul path's counterpart of the FFT's fused power). */
export function complexPower(spec: Tensor): Tensor {
  const n = spec.size / 2;
  const out = empty(spec.shape.slice(0, -1), "f32", "power spectrum");
  launch(complexPowerProgram, { uniforms: { n }, inputs: { s: spec }, outputs: { o: out }, invocations: n });
  return out;
}

export interface MelProjection {
  /** Power spectra [frames, nFreqs] (|X|^2). */
  power: Tensor;
  /** The frame table of {@link framedSignals} (its 4th int is the frame's output offset). */
  table: Tensor;
  /** The filterbank transposed, [nMels, nFreqs]. */
  filtersT: Tensor;
  /** i32 [nMels, 2]: the [first, end) frequency bins where each filter is nonzero. */
  ranges: Tensor;
  /** Output [batch, nMels, maxFrames] (or any view of that size), written at the table's offsets. */
  out: Tensor;
  frames: number;
  nFreqs: number;
  nMels: number;
  maxFrames: number;
  /** 2: power spectrum; 1: magnitude. */
  exponent: 1 | 2;
  /** Writes log(mel + logOffset) instead of mel. */
  log: boolean;
  logOffset: number;
}

/** x: frames, y: mel bins, so no invocation divides by a runtime value (nFreqs is baked in). */
const projectProgram = variants((exponent: 1 | 2, log: boolean, nFreqs: number) => {
  const value = exponent === 2 ? "pw[row + k]" : "sqrt(pw[row + k])";
  return program({
    name: `mel-project:${exponent}:${+log}:${nFreqs}`,
    uniforms: { frames: "u32", maxt: "u32", eps: "f32" },
    inputs: { pw: "f32", tab: "vec4<i32>", fb: "f32", rng: "vec2<u32>" },
    outputs: { o: "f32" },
    workgroupSize: [WG, 1, 1],
    body: `
  let g = gid.x;
  if (g >= u.frames) { return; }
  let m = gid.y;
  let r = rng[m];
  let row = g * ${nFreqs}u;
  let frow = m * ${nFreqs}u;
  var acc = 0.0;
  for (var k = r.x; k < r.y; k++) { acc = fma(fb[frow + k], ${value}, acc); }
  ${log ? "acc = log(acc + u.eps);" : "_ = u.eps;"}
  o[u32(tab[g].w) + m * u.maxt] = acc;`,
  });
});

/**
 * Writes mel[m] = sum_k filters[k, m] * power[k] (or its log) for every frame into `out` at
 * table.w + m * maxFrames, visiting only each filter's nonzero bins. Padding positions are left as they are.
 */
export function melProject(p: MelProjection): void {
  const groups = Math.ceil(p.frames / WG);
  if (groups > 65535) throw new RangeError(`melProject: ${p.frames} frames exceed one dispatch`);
  launch(projectProgram(p.exponent, p.log, p.nFreqs), {
    uniforms: { frames: p.frames, maxt: p.maxFrames, eps: p.logOffset },
    inputs: { pw: p.power, tab: p.table, fb: p.filtersT, rng: p.ranges },
    outputs: { o: p.out },
    workgroups: [groups, p.nMels, 1],
  });
}
