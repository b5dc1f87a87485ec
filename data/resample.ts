/**
 * Band-limited resampling with the same filter as torchaudio.functional.resample's default
 * (windowed sinc with a Hann window, lowpass_filter_width 6, rolloff 0.99): the rates are reduced by their gcd
 * to orig/new, and each of the `new` output phases has its own FIR kernel applied at a stride of `orig` input
 * samples (a polyphase filter). Computed in float64.
 */

export interface ResampleOptions {
  lowpassFilterWidth?: number;
  rolloff?: number;
}

function gcd(a: number, b: number): number {
  while (b) [a, b] = [b, a % b];
  return a;
}

/** The polyphase kernels: `phases` rows of `taps` coefficients, and the left padding `width`. */
export function sincResampleKernel(
  origRate: number,
  newRate: number,
  { lowpassFilterWidth = 6, rolloff = 0.99 }: ResampleOptions = {},
): { kernel: Float64Array; phases: number; taps: number; width: number; orig: number } {
  const g = gcd(origRate, newRate);
  const orig = origRate / g;
  const phases = newRate / g;
  const base = Math.min(orig, phases) * rolloff;
  const width = Math.ceil((lowpassFilterWidth * orig) / base);
  const taps = 2 * width + orig;
  const kernel = new Float64Array(phases * taps);
  const scale = base / orig;
  for (let j = 0; j < phases; j++) {
    for (let k = 0; k < taps; k++) {
      let t = (-j / phases + (k - width) / orig) * base;
      t = Math.max(-lowpassFilterWidth, Math.min(lowpassFilterWidth, t));
      const w = Math.cos((t * Math.PI) / lowpassFilterWidth / 2) ** 2;
      const x = t * Math.PI;
      const sinc = x === 0 ? 1 : Math.sin(x) / x;
      kernel[j * taps + k] = sinc * w * scale;
    }
  }
  return { kernel, phases, taps, width, orig };
}

/** Resamples one channel from origRate to newRate (both positive integers). */
export function resample(
  input: Float32Array,
  origRate: number,
  newRate: number,
  options: ResampleOptions = {},
): Float32Array {
  if (!Number.isInteger(origRate) || !Number.isInteger(newRate) || origRate <= 0 || newRate <= 0) {
    throw new RangeError(`resample: rates must be positive integers, got ${origRate} -> ${newRate}`);
  }
  if (origRate === newRate) return input.slice();
  const { kernel, phases, taps, width, orig } = sincResampleKernel(origRate, newRate, options);
  const length = input.length;
  const outLength = Math.ceil((phases * length) / orig);
  const out = new Float32Array(outLength);
  // Input padded with `width` zeros on the left and width + orig on the right, as torchaudio does.
  const padded = new Float64Array(length + taps + orig);
  padded.set(input, width);
  for (let frame = 0, o = 0; o < outLength; frame++) {
    const start = frame * orig;
    for (let j = 0; j < phases && o < outLength; j++, o++) {
      let sum = 0;
      const row = j * taps;
      for (let k = 0; k < taps; k++) sum += kernel[row + k] * padded[start + k];
      out[o] = sum;
    }
  }
  return out;
}
