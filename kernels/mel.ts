/**
 * The GPU half of mel-spectrogram features: windowed frames of a batch of waveforms (centered,
 * reflect-padded, as torch.stft with center=True), and projecting power spectra onto a mel filterbank straight
 * into the padded (batch, n_mels, time) layout, optionally as log-mel. The host half (filterbank, window,
 * batching) is data/features.ts; the transform between them is kernels/fft.ts.
 *
 * No backward: features are computed from waveforms, which are never trainable.
 */
import { f32, FLAT_ARGS, flatIndex, grid1d, launch } from "../engine/kernel.ts";
import { empty, type Tensor } from "../engine/tensor.ts";
import type { RealSignalSource } from "./fft.ts";

const WG = 64;

/** Ints per frame in the frame table: first sample, utterance length, frame start (may be < 0), output base. */
export const FRAME_TABLE_INTS = 4;

/**
 * Windowed frames cut from the concatenated waveforms `waves`, as a signal source for the FFT (its first stage
 * reads them directly; {@link materialize} writes them out). Sample n of frame g is
 * wave[start + reflect(pos + n)] * window[n], reflect mapping p < 0 to -p and p >= len to 2(len-1)-p.
 * `table` is i32 [frames, FRAME_TABLE_INTS].
 */
export function framedSignals(waves: Tensor, table: Tensor, window: Tensor): RealSignalSource {
  return {
    key: "mel-frames",
    tensors: [waves, table, window],
    wgsl: (first) => `
@group(0) @binding(${first}) var<storage, read> wave: array<f32>;
@group(0) @binding(${first + 1}) var<storage, read> tab: array<vec4<i32>>;
@group(0) @binding(${first + 2}) var<storage, read> win: array<f32>;
fn load_real(g: u32, n: u32) -> f32 {
  let t = tab[g];
  var p = t.z + i32(n);
  if (p < 0) { p = -p; }
  if (p >= t.y) { p = 2 * (t.y - 1) - p; }
  return wave[u32(t.x + p)] * win[n];
}`,
  };
}

/** |X|^2 of complex spectra [..., 2] (the DFT-as-matmul path's counterpart of the FFT's fused power). */
export function complexPower(spec: Tensor): Tensor {
  const n = spec.size / 2;
  const out = empty(spec.shape.slice(0, -1), "f32", "power spectrum");
  launch({
    key: "mel-complex-power",
    wgsl: () => `
struct P { n: u32 };
@group(0) @binding(0) var<uniform> u: P;
@group(0) @binding(1) var<storage, read> s: array<vec2<f32>>;
@group(0) @binding(2) var<storage, read_write> o: array<f32>;
@compute @workgroup_size(${WG}) fn main(${FLAT_ARGS}) {
  let i = ${flatIndex(WG)};
  if (i < u.n) { let v = s[i]; o[i] = dot(v, v); }
}`,
    tensors: [spec, out],
    params: [n],
    workgroups: grid1d(n, WG),
  });
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

/**
 * Writes mel[m] = sum_k filters[k, m] * power[k] (or its log) for every frame into `out` at
 * table.w + m * maxFrames, visiting only each filter's nonzero bins. Padding positions are left as they are.
 */
export function melProject(p: MelProjection): void {
  const value = p.exponent === 2 ? "pw[row + k]" : "sqrt(pw[row + k])";
  const groups = Math.ceil(p.frames / WG);
  if (groups > 65535) throw new RangeError(`melProject: ${p.frames} frames exceed one dispatch`);
  // x: frames, y: mel bins, so no invocation divides by a runtime value.
  launch({
    key: `mel-project:${p.exponent}:${+p.log}:${p.nFreqs}`,
    wgsl: () => `
struct P { frames: u32, maxt: u32, eps: f32 };
@group(0) @binding(0) var<uniform> u: P;
@group(0) @binding(1) var<storage, read> pw: array<f32>;
@group(0) @binding(2) var<storage, read> tab: array<vec4<i32>>;
@group(0) @binding(3) var<storage, read> fb: array<f32>;
@group(0) @binding(4) var<storage, read> rng: array<vec2<u32>>;
@group(0) @binding(5) var<storage, read_write> o: array<f32>;
@compute @workgroup_size(${WG}) fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let g = gid.x;
  if (g >= u.frames) { return; }
  let m = gid.y;
  let r = rng[m];
  let row = g * ${p.nFreqs}u;
  let frow = m * ${p.nFreqs}u;
  var acc = 0.0;
  for (var k = r.x; k < r.y; k++) { acc = fma(fb[frow + k], ${value}, acc); }
  ${p.log ? "acc = log(acc + u.eps);" : "_ = u.eps;"}
  o[u32(tab[g].w) + m * u.maxt] = acc;
}`,
    tensors: [p.power, p.table, p.filtersT, p.ranges, p.out],
    params: [p.frames, p.maxFrames, f32(p.logOffset)],
    workgroups: [groups, p.nMels, 1],
  });
}
