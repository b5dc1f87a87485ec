/** One audio frame: header, subframes, inter-channel decorrelation and the CRC-16 footer. */
import { AudioFormatError } from "../audio_error.ts";
import type { BitReader } from "./bit_reader.ts";
import { crc16Words } from "./crc.ts";
import { type FrameHeader, hex, readFrameHeader } from "./frame_header.ts";
import { decodeSubframe, decodeWideSubframe } from "./subframe.ts";

export interface DecodedFrame {
  header: FrameHeader;
  /** Sample rate and bit depth after resolving "same as STREAMINFO". */
  sampleRate: number;
  bitsPerSample: number;
  /** One array of blockSize samples per channel. */
  samples: Int32Array[];
}

/** What a frame header may defer to: the STREAMINFO values, or null when the stream has none. */
export interface StreamDefaults {
  sampleRate: number;
  bitsPerSample: number;
}

/** Reusable scratch memory for frame decoding. */
export class FrameScratch {
  coefs = new Int32Array(32);
  wide = new Float64Array(0);
  residual = new Int32Array(0);

  ensure(n: number): void {
    if (this.wide.length < n) {
      this.wide = new Float64Array(n);
      this.residual = new Int32Array(n);
    }
  }
}

/** Returns the arrays (at least n long each) that a frame of `channels` x n samples is decoded into. */
export type SampleAllocator = (channels: number, n: number) => Int32Array[];

export const freshSamples: SampleAllocator = (channels, n) => {
  const samples: Int32Array[] = [];
  for (let c = 0; c < channels; c++) samples.push(new Int32Array(n));
  return samples;
};

/**
 * Decodes the frame at the reader's (byte-aligned) position into arrays from `allocate`. Throws EndOfData if
 * the frame is not all buffered (the caller may then buffer more and call again).
 */
export function decodeFrame(
  r: BitReader,
  defaults: StreamDefaults | null,
  scratch: FrameScratch,
  allocate: SampleAllocator = freshSamples,
): DecodedFrame {
  const start = r.byteIndex();
  const header = readFrameHeader(r);
  const offset = header.offset;
  const sampleRate = header.sampleRate || defaults?.sampleRate || 0;
  const bps = header.bitsPerSample || defaults?.bitsPerSample || 0;
  if (header.sampleRate === 0 && !defaults) {
    throw new AudioFormatError(
      "frame header takes the sample rate from STREAMINFO, but there is none",
      offset,
    );
  }
  if (bps === 0) {
    throw new AudioFormatError(
      "frame header takes bits per sample from STREAMINFO, but there is none",
      offset,
    );
  }
  if (bps < 4 || bps > 32) throw new AudioFormatError(`unsupported bits per sample ${bps}`, offset);
  const n = header.blockSize;
  const samples = allocate(header.channels, n);
  const assignment = header.channelAssignment;
  const sideChannel = assignment === 8 || assignment === 10 ? 1 : assignment === 9 ? 0 : -1;
  const coefs = scratch.coefs;

  if (sideChannel >= 0 && bps === 32) {
    scratch.ensure(n);
    const side = scratch.wide;
    const other = samples[1 - sideChannel];
    for (let c = 0; c < 2; c++) {
      if (c === sideChannel) decodeWideSubframe(r, side, n, 33, coefs, scratch.residual);
      else decodeSubframe(r, other, n, 32, coefs);
    }
    decorrelateWide(assignment, samples[0], samples[1], side, n);
  } else {
    for (let c = 0; c < header.channels; c++) {
      decodeSubframe(r, samples[c], n, c === sideChannel ? bps + 1 : bps, coefs);
    }
    decorrelate(assignment, samples, n);
  }

  r.alignToByte();
  const end = r.byteIndex();
  const stored = r.readBits(16);
  r.checkEnd();
  const computed = crc16Words(r.buffer.bytes, r.words, start, end);
  if (stored !== computed) {
    throw new AudioFormatError(
      `frame CRC-16 mismatch (stored 0x${hex(stored, 4)}, computed 0x${
        hex(computed, 4)
      }; frame ends at byte ${r.buffer.base + end + 2})`,
      offset,
    );
  }
  return { header, sampleRate, bitsPerSample: bps, samples };
}

function decorrelate(assignment: number, samples: Int32Array[], n: number): void {
  if (assignment < 8) return;
  const a = samples[0];
  const b = samples[1];
  if (assignment === 8) {
    // a = left, b = side: right = left - side.
    for (let i = 0; i < n; i++) b[i] = a[i] - b[i];
  } else if (assignment === 9) {
    // a = side, b = right: left = side + right.
    for (let i = 0; i < n; i++) a[i] = a[i] + b[i];
  } else {
    // a = mid, b = side: left = mid + ceil(side / 2), right = left - side.
    for (let i = 0; i < n; i++) {
      const s = b[i];
      const left = a[i] + (s >> 1) + (s & 1);
      a[i] = left;
      b[i] = left - s;
    }
  }
}

/** decorrelate for 32-bit audio, whose side channel (33 bits) is held in float64. */
function decorrelateWide(
  assignment: number,
  a: Int32Array,
  b: Int32Array,
  side: Float64Array,
  n: number,
): void {
  if (assignment === 8) {
    for (let i = 0; i < n; i++) b[i] = a[i] - side[i];
  } else if (assignment === 9) {
    for (let i = 0; i < n; i++) a[i] = side[i] + b[i];
  } else {
    for (let i = 0; i < n; i++) {
      const s = side[i];
      const left = a[i] + Math.ceil(s / 2);
      a[i] = left;
      b[i] = left - s;
    }
  }
}
