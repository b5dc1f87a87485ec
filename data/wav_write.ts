/**
 * Writing WAV files: the inverse of data/wav.ts for plain PCM (8-bit unsigned, 16/24/32-bit signed) and IEEE
 * float (32/64-bit). Integer samples scale as loadAudio reads them (x * 2^(bits-1), rounded, clamped), so audio
 * that came from integer PCM is written back exactly.
 */

export interface WavFormat {
  channels: number;
  rate: number;
  bits: 8 | 16 | 24 | 32 | 64;
  /** IEEE float samples (32 or 64 bits) instead of integer PCM. */
  float?: boolean;
}

export interface WavWriteOptions {
  /** Adds an odd-sized LIST chunk (with its pad byte) before the data, as some writers do. */
  listChunk?: boolean;
}

function putText(out: Uint8Array, at: number, id: string): void {
  for (let i = 0; i < id.length; i++) out[at + i] = id.charCodeAt(i);
}

function putSample(v: DataView, at: number, f: WavFormat, x: number): void {
  if (f.float) {
    if (f.bits === 32) v.setFloat32(at, x, true);
    else v.setFloat64(at, x, true);
    return;
  }
  const full = 2 ** (f.bits - 1);
  const q = Math.max(-full, Math.min(full - 1, Math.round(x * full)));
  if (f.bits === 8) v.setUint8(at, q + 128);
  else if (f.bits === 16) v.setInt16(at, q, true);
  else if (f.bits === 24) {
    v.setUint8(at, q & 0xff);
    v.setUint8(at + 1, (q >> 8) & 0xff);
    v.setInt8(at + 2, q >> 16);
  } else v.setInt32(at, q, true);
}

/** The bytes of a WAV file of `frames` frames; `sample(frame, channel)` gives each value in [-1, 1). */
export function encodeWav(
  f: WavFormat,
  frames: number,
  sample: (frame: number, channel: number) => number,
  opts: WavWriteOptions = {},
): Uint8Array {
  const width = f.bits / 8;
  const align = f.channels * width;
  const dataAt = 12 + 24 + (opts.listChunk ? 12 : 0) + 8;
  const out = new Uint8Array(dataAt + frames * align);
  const v = new DataView(out.buffer);
  putText(out, 0, "RIFF");
  v.setUint32(4, out.length - 8, true);
  putText(out, 8, "WAVEfmt ");
  v.setUint32(16, 16, true);
  v.setUint16(20, f.float ? 3 : 1, true);
  v.setUint16(22, f.channels, true);
  v.setUint32(24, f.rate, true);
  v.setUint32(28, f.rate * align, true);
  v.setUint16(32, align, true);
  v.setUint16(34, f.bits, true);
  if (opts.listChunk) {
    putText(out, 36, "LIST");
    v.setUint32(40, 3, true); // odd size: one pad byte follows
  }
  putText(out, dataAt - 8, "data");
  v.setUint32(dataAt - 4, frames * align, true);
  for (let t = 0; t < frames; t++) {
    for (let c = 0; c < f.channels; c++) putSample(v, dataAt + t * align + c * width, f, sample(t, c));
  }
  return out;
}

/** Mono samples as a WAV file (16-bit PCM by default). */
export function monoWav(samples: Float32Array, rate = 16000, bits: WavFormat["bits"] = 16): Uint8Array {
  return encodeWav({ channels: 1, rate, bits }, samples.length, (t) => samples[t]);
}
