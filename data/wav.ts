/**
 * WAV (RIFF/WAVE) reader: integer PCM of 8, 16, 24 and 32 bits (WAVE_FORMAT_PCM and WAVE_FORMAT_EXTENSIBLE,
 * whose "valid bits" may be fewer than the container's) and IEEE float of 32 or 64 bits.
 *
 * Float files come back with `float` set to the original values (as float32) and `samples` holding those values
 * times 2^31, rounded and clamped to int32 (bitsPerSample 32), so code that only reads integers still sees the
 * waveform at the usual scale.
 */
import { AudioFormatError } from "./audio_error.ts";
import type { DecodedAudio } from "./flac/decoded_audio.ts";

export type { DecodedAudio } from "./flac/decoded_audio.ts";

const FORMAT_PCM = 1;
const FORMAT_FLOAT = 3;
const FORMAT_EXTENSIBLE = 0xfffe;

interface WavFormat {
  tag: number;
  channels: number;
  sampleRate: number;
  blockAlign: number;
  containerBits: number;
  validBits: number;
}

function fourcc(bytes: Uint8Array, at: number): string {
  return String.fromCharCode(bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]);
}

/** True when `bytes` starts like a RIFF/WAVE file. */
export function isWav(bytes: Uint8Array): boolean {
  return bytes.length >= 12 && fourcc(bytes, 0) === "RIFF" && fourcc(bytes, 8) === "WAVE";
}

/** Parses a whole WAV file. Throws AudioFormatError (with the byte offset) on anything it cannot read exactly. */
export function readWav(bytes: Uint8Array, file?: string): DecodedAudio {
  const fail = (detail: string, offset: number): never => {
    throw new AudioFormatError(detail, offset, file);
  };
  if (bytes.length < 12) fail("file is too short to be WAV", 0);
  if (fourcc(bytes, 0) !== "RIFF" || fourcc(bytes, 8) !== "WAVE") fail("not a RIFF/WAVE file", 0);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let format: WavFormat | null = null;
  let pos = 12;
  while (pos + 8 <= bytes.length) {
    const id = fourcc(bytes, pos);
    let size = view.getUint32(pos + 4, true);
    const body = pos + 8;
    if (id === "fmt ") {
      if (size < 16 || body + size > bytes.length) fail(`fmt chunk of ${size} bytes is malformed`, pos);
      format = parseFormat(view, body, size, pos, fail);
    } else if (id === "data") {
      if (!format) return fail("data chunk comes before the fmt chunk", pos);
      const available = bytes.length - body;
      // Writers that stream to a pipe leave the size as 0 or 0xFFFFFFFF: then the data runs to the end.
      if (size === 0xffffffff || (size === 0 && available > 0)) size = available;
      if (size > available) fail(`data chunk claims ${size} bytes but only ${available} remain`, pos);
      if (size % format.blockAlign !== 0) {
        fail(`data chunk of ${size} bytes is not a whole number of ${format.blockAlign}-byte frames`, pos);
      }
      return decodeData(bytes.subarray(body, body + size), format);
    }
    pos = body + size + (size & 1);
  }
  return fail(format ? "no data chunk" : "no fmt chunk", pos);
}

function parseFormat(
  view: DataView,
  at: number,
  size: number,
  chunk: number,
  fail: (d: string, o: number) => never,
): WavFormat {
  let tag = view.getUint16(at, true);
  const channels = view.getUint16(at + 2, true);
  const sampleRate = view.getUint32(at + 4, true);
  const blockAlign = view.getUint16(at + 12, true);
  const containerBits = view.getUint16(at + 14, true);
  let validBits = containerBits;
  if (tag === FORMAT_EXTENSIBLE) {
    if (size < 40) fail(`WAVE_FORMAT_EXTENSIBLE fmt chunk has ${size} bytes, expected 40`, chunk);
    const valid = view.getUint16(at + 18, true);
    if (valid !== 0) validBits = valid;
    tag = view.getUint16(at + 24, true); // first two bytes of the sub-format GUID
  }
  if (channels === 0) fail("fmt chunk says 0 channels", chunk);
  if (sampleRate === 0) fail("fmt chunk says sample rate 0", chunk);
  if (tag === FORMAT_PCM) {
    if (![8, 16, 24, 32].includes(containerBits)) {
      fail(`unsupported PCM sample size ${containerBits} bits`, chunk);
    }
  } else if (tag === FORMAT_FLOAT) {
    if (containerBits !== 32 && containerBits !== 64) {
      fail(`unsupported float sample size ${containerBits}`, chunk);
    }
  } else {
    fail(`unsupported WAV format tag 0x${tag.toString(16)}`, chunk);
  }
  if (validBits > containerBits || validBits < 1) {
    fail(`valid bits ${validBits} do not fit the ${containerBits}-bit container`, chunk);
  }
  if (blockAlign !== channels * (containerBits / 8)) {
    fail(`block align ${blockAlign} does not match ${channels} channels of ${containerBits} bits`, chunk);
  }
  return { tag, channels, sampleRate, blockAlign, containerBits, validBits };
}

function decodeData(data: Uint8Array, f: WavFormat): DecodedAudio {
  const channels = f.channels;
  const n = data.length / f.blockAlign;
  const samples = Array.from({ length: channels }, () => new Int32Array(n));
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const width = f.containerBits / 8;
  if (f.tag === FORMAT_FLOAT) {
    const float = Array.from({ length: channels }, () => new Float32Array(n));
    for (let c = 0; c < channels; c++) {
      const out = float[c];
      const ints = samples[c];
      for (let i = 0, o = c * width; i < n; i++, o += f.blockAlign) {
        const v = width === 4 ? view.getFloat32(o, true) : view.getFloat64(o, true);
        out[i] = v;
        ints[i] = Math.max(-2147483648, Math.min(2147483647, Math.round(v * 2147483648)));
      }
    }
    return { sampleRate: f.sampleRate, channels, bitsPerSample: 32, samples, float };
  }
  const shift = f.containerBits - f.validBits;
  for (let c = 0; c < channels; c++) {
    const out = samples[c];
    let o = c * width;
    const step = f.blockAlign;
    if (width === 1) { for (let i = 0; i < n; i++, o += step) out[i] = data[o] - 128; }
    else if (width === 2) { for (let i = 0; i < n; i++, o += step) out[i] = view.getInt16(o, true); }
    else if (width === 3) {
      for (let i = 0; i < n; i++, o += step) {
        out[i] = ((data[o + 2] << 24) | (data[o + 1] << 16) | (data[o] << 8)) >> 8;
      }
    } else for (let i = 0; i < n; i++, o += step) out[i] = view.getInt32(o, true);
    if (shift > 0) { for (let i = 0; i < n; i++) out[i] >>= shift; }
  }
  return { sampleRate: f.sampleRate, channels, bitsPerSample: f.validBits, samples };
}
