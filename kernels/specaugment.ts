/**
 * SpecAugment as the tutorial applies it: torchaudio 0.13's FrequencyMasking(freq_mask_param) then
 * TimeMasking(time_mask_param) on each utterance's own (1, n_mels, frames) spectrogram before padding, so each
 * example gets its own bands and time bands fall within that example's frames.
 *
 * The bands are drawn on the host with the seeded {@link Random} (torchaudio's arithmetic: width
 * trunc(u * param), start trunc(u' * (size - u * param))), uploaded in one small i32 buffer, and applied by one
 * kernel over the whole padded batch. The masks are constants: nothing to differentiate, no backward recorded
 * (features are inputs, never trainable).
 */
import { launch, program, variants } from "../engine/kernel.ts";
import type { Random } from "../engine/random.ts";
import { empty, shapeString, type Tensor, tensor } from "../engine/tensor.ts";

const WG = 256;

export interface SpecAugmentOptions {
  /** Frequency mask widths are drawn from [0, freqMaskParam); default 15. */
  freqMaskParam?: number;
  /** Time mask widths are drawn from [0, timeMaskParam); default 35. */
  timeMaskParam?: number;
  /** Frequency masks per example (applied one after another); default 1. */
  freqMasks?: number;
  /** Time masks per example; default 1. */
  timeMasks?: number;
  /** Value written into masked cells; default 0. */
  maskValue?: number;
}

/**
 * The band [start, end) torchaudio's mask_along_axis masks for uniforms u1, u2 on an axis of `size`:
 * value = u1 * param, min = u2 * (size - value), start = trunc(min), end = start + trunc(value). `start` can be
 * negative when size < value (the band is then clipped to the axis by whoever applies it). param < 1: no mask.
 */
export function maskBand(u1: number, u2: number, param: number, size: number): [number, number] {
  if (param < 1) return [0, 0];
  const value = u1 * param;
  const min = u2 * (size - value);
  const start = Math.trunc(min);
  return [start, start + Math.trunc(value)];
}

/** Ints per example in the band buffer: (start, end) for each frequency mask, then for each time mask. */
function bandInts(freqMasks: number, timeMasks: number): number {
  return 2 * (freqMasks + timeMasks);
}

/**
 * Where the bands' uniforms come from: one stream for the whole batch (drawn example after example), or a
 * stream per example (`(b) => Random`), which makes an example's bands independent of the examples beside it:
 * the same in a micro-batch or a rank's shard of the batch as in the whole batch.
 */
export type BandSource = Random | ((example: number) => Random);

/**
 * Draws every example's bands from `source`, in torchaudio's order (for each example: each frequency mask's two
 * uniforms, then each time mask's, time over that example's own frames). Returns i32 [batch, bandInts].
 */
export function drawSpecAugment(
  source: BandSource,
  nMels: number,
  frames: readonly number[],
  opts: SpecAugmentOptions = {},
): Int32Array {
  const fp = opts.freqMaskParam ?? 15, tp = opts.timeMaskParam ?? 35;
  const fm = opts.freqMasks ?? 1, tm = opts.timeMasks ?? 1;
  const per = bandInts(fm, tm);
  const bands = new Int32Array(frames.length * per);
  frames.forEach((nFrames, b) => {
    const rng = typeof source === "function" ? source(b) : source;
    let o = b * per;
    const draw = (param: number, size: number) => {
      // torchaudio draws nothing when the parameter rounds to no mask.
      const [s, e] = param < 1 ? [0, 0] : maskBand(rng.uniform(), rng.uniform(), param, size);
      bands[o++] = s;
      bands[o++] = e;
    };
    for (let i = 0; i < fm; i++) draw(fp, nMels);
    for (let i = 0; i < tm; i++) draw(tp, nFrames);
  });
  return bands;
}

/** The mask kernel for `fm` frequency and `tm` time masks per example. */
const maskProgram = variants((fm: number, tm: number) => {
  const per = bandInts(fm, tm);
  const conds: string[] = [];
  for (let i = 0; i < fm; i++) {
    conds.push(`(f >= bd[o + ${2 * i}u] && f < bd[o + ${2 * i + 1}u])`);
  }
  for (let i = 0; i < tm; i++) {
    conds.push(`(t >= bd[o + ${2 * (fm + i)}u] && t < bd[o + ${2 * (fm + i) + 1}u])`);
  }
  return program({
    name: `specaugment:${fm}:${tm}`,
    uniforms: { n: "u32", nf: "u32", nt: "u32", value: "f32" },
    inputs: { x: "f32", bd: "i32" },
    outputs: { o_: "f32" },
    workgroupSize: WG,
    body: `
  let i = gidx;
  if (i >= u.n) { return; }
  let t = i32(i % u.nt);
  let bf = i / u.nt;
  let f = i32(bf % u.nf);
  let o = (bf / u.nf) * ${per}u;
  o_[i] = select(x[i], u.value, ${conds.length ? conds.join(" || ") : "false"});`,
  });
});

/**
 * Applies bands from {@link drawSpecAugment} to features (batch, 1, nMels, time) or (batch, nMels, time):
 * a new tensor with the masked cells set to `maskValue`.
 */
export function applySpecAugment(
  features: Tensor,
  bands: Int32Array,
  opts: SpecAugmentOptions = {},
): Tensor {
  const fm = opts.freqMasks ?? 1, tm = opts.timeMasks ?? 1;
  if (features.dtype !== "f32" || (features.rank !== 4 && features.rank !== 3)) {
    throw new RangeError(
      `specAugment: expected f32 features (batch, 1, n_mels, time), got ${features.dtype} ${
        shapeString(features.shape)
      }`,
    );
  }
  if (features.rank === 4 && features.shape[1] !== 1) {
    throw new RangeError(`specAugment: expected one channel, got ${shapeString(features.shape)}`);
  }
  const batch = features.shape[0];
  const nt = features.shape[features.rank - 1];
  const nf = features.shape[features.rank - 2];
  const per = bandInts(fm, tm);
  if (bands.length !== batch * per) {
    throw new RangeError(
      `specAugment: ${bands.length} band ints for a batch of ${batch} (need ${batch * per})`,
    );
  }
  const out = empty(features.shape, "f32", "specaugment");
  if (features.size === 0) return out;
  const bt = tensor(bands.length ? bands : new Int32Array(1), [Math.max(bands.length, 1)], "i32");
  launch(maskProgram(fm, tm), {
    uniforms: { n: features.size, nf, nt, value: opts.maskValue ?? 0 },
    inputs: { x: features, bd: bt },
    outputs: { o_: out },
    invocations: features.size,
  });
  bt.dispose();
  return out;
}

/**
 * SpecAugment of a padded batch: draws each example's bands from `rng` (one stream, or one per example; time
 * bands over `frames[b]`, that example's valid frames) and applies them on the GPU. Returns a new tensor.
 */
export function specAugment(
  features: Tensor,
  frames: readonly number[],
  rng: BandSource,
  opts: SpecAugmentOptions = {},
): Tensor {
  if (frames.length !== features.shape[0]) {
    throw new RangeError(
      `specAugment: ${frames.length} frame counts for a batch of ${features.shape[0]} (${
        shapeString(features.shape)
      })`,
    );
  }
  const nt = features.shape[features.rank - 1];
  frames.forEach((f, b) => {
    if (!Number.isInteger(f) || f < 0 || f > nt) {
      throw new RangeError(`specAugment: frames[${b}] = ${f} is outside [0, ${nt}]`);
    }
  });
  const bands = drawSpecAugment(rng, features.shape[features.rank - 2], frames, opts);
  return applySpecAugment(features, bands, opts);
}
