/** Metadata blocks (RFC 9639 section 8): STREAMINFO parsed, VORBIS_COMMENT read leniently, others kept as raw spans. */
import { AudioFormatError } from "../audio_error.ts";

export interface StreamInfo {
  minBlockSize: number;
  maxBlockSize: number;
  minFrameSize: number;
  maxFrameSize: number;
  sampleRate: number;
  channels: number;
  bitsPerSample: number;
  /** Total samples per channel; 0 means unknown. */
  totalSamples: number;
  /** MD5 of the decoded audio as 32 hex digits; all zeros means not set. */
  md5: string;
}

export const BLOCK_TYPE_NAMES: Record<number, string> = {
  0: "STREAMINFO",
  1: "PADDING",
  2: "APPLICATION",
  3: "SEEKTABLE",
  4: "VORBIS_COMMENT",
  5: "CUESHEET",
  6: "PICTURE",
};

export interface MetadataBlockInfo {
  type: number;
  /** Absolute offset of the block header. */
  offset: number;
  /** Length of the block body in bytes. */
  length: number;
}

export interface VorbisComments {
  vendor: string;
  comments: string[];
}

/** Parses the 34-byte STREAMINFO body at body[0..34). `offset` is its absolute position, for errors. */
export function parseStreamInfo(body: Uint8Array, offset: number): StreamInfo {
  if (body.length !== 34) {
    throw new AudioFormatError(`STREAMINFO block has length ${body.length}, expected 34`, offset);
  }
  const u16 = (i: number) => (body[i] << 8) | body[i + 1];
  const u24 = (i: number) => (body[i] << 16) | (body[i + 1] << 8) | body[i + 2];
  const sampleRate = (body[10] << 12) | (body[11] << 4) | (body[12] >>> 4);
  const channels = ((body[12] >>> 1) & 7) + 1;
  const bitsPerSample = (((body[12] & 1) << 4) | (body[13] >>> 4)) + 1;
  const totalSamples = (body[13] & 0x0f) * 2 ** 32 + ((body[14] << 24) >>> 0) + u24(15);
  let md5 = "";
  for (let i = 18; i < 34; i++) md5 += body[i].toString(16).padStart(2, "0");
  const info: StreamInfo = {
    minBlockSize: u16(0),
    maxBlockSize: u16(2),
    minFrameSize: u24(4),
    maxFrameSize: u24(7),
    sampleRate,
    channels,
    bitsPerSample,
    totalSamples,
    md5,
  };
  if (bitsPerSample < 4) {
    throw new AudioFormatError(`STREAMINFO bits per sample ${bitsPerSample} is below 4`, offset);
  }
  if (sampleRate === 0) throw new AudioFormatError("STREAMINFO sample rate is 0", offset);
  return info;
}

/**
 * Reads a VORBIS_COMMENT body; returns null when its lengths do not fit the block (the audio is still
 * decodable, as libFLAC also accepts such files).
 */
export function parseVorbisComments(body: Uint8Array): VorbisComments | null {
  const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
  const decoder = new TextDecoder();
  let p = 0;
  const readString = (): string | null => {
    if (p + 4 > body.length) return null;
    const len = view.getUint32(p, true);
    p += 4;
    if (len > body.length - p) return null;
    const s = decoder.decode(body.subarray(p, p + len));
    p += len;
    return s;
  };
  const vendor = readString();
  if (vendor === null || p + 4 > body.length) return null;
  const count = view.getUint32(p, true);
  p += 4;
  const comments: string[] = [];
  for (let i = 0; i < count; i++) {
    const c = readString();
    if (c === null) return null;
    comments.push(c);
  }
  return { vendor, comments };
}
