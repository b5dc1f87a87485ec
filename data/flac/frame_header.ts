/** Frame header parsing (RFC 9639 section 9.1), including its CRC-8. */
import { AudioFormatError } from "../audio_error.ts";
import type { BitReader } from "./bit_reader.ts";
import { crc8 } from "./crc.ts";

export interface FrameHeader {
  /** Absolute byte offset of the frame's sync code. */
  offset: number;
  variableBlockSize: boolean;
  blockSize: number;
  /** Sample rate in Hz, or 0 when the header defers to STREAMINFO. */
  sampleRate: number;
  channels: number;
  /** Raw channel assignment code: 0..7 independent, 8 left-side, 9 right-side, 10 mid-side. */
  channelAssignment: number;
  /** Bits per sample, or 0 when the header defers to STREAMINFO. */
  bitsPerSample: number;
  /** Frame number (fixed block size) or first sample number (variable block size). */
  codedNumber: number;
}

const SAMPLE_RATES = [0, 88200, 176400, 192000, 8000, 16000, 22050, 24000, 32000, 44100, 48000, 96000];
const BITS_PER_SAMPLE = [0, 8, 12, -1, 16, 20, 24, 32];

/** True when the 15 bits at bytes[i] are a frame sync code (0xFFF8 or 0xFFF9). */
export function isFrameSync(bytes: Uint8Array, i: number): boolean {
  return bytes[i] === 0xff && (bytes[i + 1] & 0xfe) === 0xf8;
}

/** Reads a frame header at a byte-aligned position; throws EndOfData if it is not all buffered. */
export function readFrameHeader(r: BitReader): FrameHeader {
  const start = r.byteIndex();
  const offset = r.byteOffset();
  if (r.bitsLeft() < 16 * 8) r.checkEnd();
  const sync = r.readBits(15);
  if (sync !== 0x7ffc) {
    throw new AudioFormatError(
      `expected a frame sync code (0xFFF8), found 0x${(sync << 1).toString(16)}`,
      offset,
    );
  }
  const variableBlockSize = r.readBits(1) === 1;
  const blockSizeCode = r.readBits(4);
  const sampleRateCode = r.readBits(4);
  const channelAssignment = r.readBits(4);
  const bpsCode = r.readBits(3);
  const reserved = r.readBits(1);
  if (blockSizeCode === 0) throw new AudioFormatError("reserved block size code 0 in frame header", offset);
  if (sampleRateCode === 15) {
    throw new AudioFormatError("invalid sample rate code 15 in frame header", offset);
  }
  if (channelAssignment > 10) {
    throw new AudioFormatError(`reserved channel assignment ${channelAssignment} in frame header`, offset);
  }
  if (bpsCode === 3) throw new AudioFormatError("reserved bits-per-sample code 3 in frame header", offset);
  if (reserved !== 0) throw new AudioFormatError("reserved bit set in frame header", offset);

  const codedNumber = readCodedNumber(r, variableBlockSize, offset);

  let blockSize: number;
  if (blockSizeCode === 1) blockSize = 192;
  else if (blockSizeCode <= 5) blockSize = 576 << (blockSizeCode - 2);
  else if (blockSizeCode === 6) blockSize = r.readBits(8) + 1;
  else if (blockSizeCode === 7) blockSize = r.readBits(16) + 1;
  else blockSize = 256 << (blockSizeCode - 8);

  let sampleRate: number;
  if (sampleRateCode <= 11) sampleRate = SAMPLE_RATES[sampleRateCode];
  else if (sampleRateCode === 12) sampleRate = r.readBits(8) * 1000;
  else if (sampleRateCode === 13) sampleRate = r.readBits(16);
  else sampleRate = r.readBits(16) * 10;

  const end = r.byteIndex();
  const stored = r.readBits(8);
  r.checkEnd();
  const computed = crc8(r.buffer.bytes, start, end);
  if (stored !== computed) {
    throw new AudioFormatError(
      `frame header CRC-8 mismatch (stored 0x${hex(stored, 2)}, computed 0x${hex(computed, 2)})`,
      offset,
    );
  }
  const channels = channelAssignment < 8 ? channelAssignment + 1 : 2;
  return {
    offset,
    variableBlockSize,
    blockSize,
    sampleRate,
    channels,
    channelAssignment,
    bitsPerSample: BITS_PER_SAMPLE[bpsCode],
    codedNumber,
  };
}

/** The UTF-8-like coded frame or sample number: up to 6 bytes (31 bits) or 7 bytes (36 bits). */
function readCodedNumber(r: BitReader, variable: boolean, offset: number): number {
  const first = r.readBits(8);
  let extra: number;
  let value: number;
  if (first < 0x80) return first;
  else if (first >= 0xc0 && first < 0xe0) [extra, value] = [1, first & 0x1f];
  else if (first >= 0xe0 && first < 0xf0) [extra, value] = [2, first & 0x0f];
  else if (first >= 0xf0 && first < 0xf8) [extra, value] = [3, first & 0x07];
  else if (first >= 0xf8 && first < 0xfc) [extra, value] = [4, first & 0x03];
  else if (first >= 0xfc && first < 0xfe) [extra, value] = [5, first & 0x01];
  else if (first === 0xfe && variable) [extra, value] = [6, 0];
  else {throw new AudioFormatError(
      `invalid coded ${variable ? "sample" : "frame"} number in frame header`,
      offset,
    );}
  for (let i = 0; i < extra; i++) {
    const b = r.readBits(8);
    if ((b & 0xc0) !== 0x80) {
      throw new AudioFormatError("invalid continuation byte in coded frame number", offset);
    }
    value = value * 64 + (b & 0x3f);
  }
  return value;
}

export function hex(v: number, digits: number): string {
  return v.toString(16).padStart(digits, "0");
}
