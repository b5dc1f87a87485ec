/**
 * MPEG audio (MP1/MP2/MP3) frame headers and a walker that cuts a stream into whole frames. The decoder
 * (mpg123, data/codecs/wasm_decoders.ts) is then fed one frame at a time, so that an error is named by the
 * frame's byte offset, a stream that ends inside a frame is an error rather than a silently shorter
 * recording, and bytes between frames that are not a frame are refused instead of being skipped over.
 * An ID3v1 tag ("TAG", 128 bytes) may end the stream.
 */
import { AudioFormatError } from "../audio_error.ts";
import type { ByteReader } from "./byte_reader.ts";

export interface MpegFrameHeader {
  /** 1, 2 or 2.5. */
  version: 1 | 2 | 2.5;
  layer: 1 | 2 | 3;
  sampleRate: number;
  channels: 1 | 2;
  /** Bytes of the whole frame, header included. */
  length: number;
}

/** kbps by [MPEG-1?][layer - 1][index]; index 0 is "free format", 15 invalid. */
const BITRATES: Record<"v1" | "v2", number[][]> = {
  v1: [
    [0, 32, 64, 96, 128, 160, 192, 224, 256, 288, 320, 352, 384, 416, 448],
    [0, 32, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384],
    [0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320],
  ],
  v2: [
    [0, 32, 48, 56, 64, 80, 96, 112, 128, 144, 160, 176, 192, 224, 256],
    [0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160],
    [0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160],
  ],
};
const RATES = { 1: [44100, 48000, 32000], 2: [22050, 24000, 16000], 2.5: [11025, 12000, 8000] };

/** The header at b[at..at+4), or null when those bytes are not a valid MPEG audio frame header. */
export function parseMpegFrameHeader(b: Uint8Array, at = 0): MpegFrameHeader | null {
  if (b.length < at + 4 || b[at] !== 0xff || (b[at + 1] & 0xe0) !== 0xe0) return null;
  const versionBits = (b[at + 1] >> 3) & 3; // 1 is reserved
  const layerBits = (b[at + 1] >> 1) & 3; // 0 is reserved (and is what FLAC's 0xfff8 sync code reads as)
  const bitrateIndex = b[at + 2] >> 4; // 0 is free format (no length in the header), 15 invalid
  const rateIndex = (b[at + 2] >> 2) & 3; // 3 is reserved
  if (versionBits === 1 || layerBits === 0 || bitrateIndex === 0 || bitrateIndex === 15 || rateIndex === 3) {
    return null;
  }
  const version = versionBits === 3 ? 1 : versionBits === 2 ? 2 : 2.5;
  const layer = (4 - layerBits) as 1 | 2 | 3;
  const kbps = BITRATES[version === 1 ? "v1" : "v2"][layer - 1][bitrateIndex];
  const sampleRate = RATES[version][rateIndex];
  const padding = (b[at + 2] >> 1) & 1;
  const bps = kbps * 1000;
  const length = layer === 1
    ? (Math.floor((12 * bps) / sampleRate) + padding) * 4
    : Math.floor(((layer === 3 && version !== 1 ? 72 : 144) * bps) / sampleRate) + padding;
  const channels = (b[at + 3] >> 6) === 3 ? 1 : 2;
  return { version, layer, sampleRate, channels, length };
}

/** Bytes to peek so that a stream can be checked for two frames in a row (the largest frame is 2,881 bytes). */
export const MPEG_SNIFF_BYTES = 2881 + 4;

/**
 * True when `head` starts with an MPEG frame followed by another of the same kind (or by the end of the
 * stream): a lone sync-looking first word is too weak a sign to call a stream MP3.
 */
export function looksLikeMpeg(head: Uint8Array): boolean {
  const first = parseMpegFrameHeader(head);
  if (!first) return false;
  // A stream that ends within the first frame or right after it: MPEG, and the walker says if it is cut short.
  if (head.length < first.length + 4) return true;
  const second = parseMpegFrameHeader(head, first.length);
  return second !== null && sameStream(first, second);
}

function sameStream(a: MpegFrameHeader, b: MpegFrameHeader): boolean {
  return a.version === b.version && a.layer === b.layer && a.sampleRate === b.sampleRate;
}

export interface MpegFrame {
  /** Absolute byte offset of the frame in the stream. */
  offset: number;
  /** The frame's bytes (a fresh copy). */
  bytes: Uint8Array;
}

/** Cuts the stream at the reader's position into frames; every frame has the first frame's version, layer and rate. */
export class MpegFrameWalker {
  private first: MpegFrameHeader | null = null;
  private ended = false;

  constructor(private readonly reader: ByteReader) {}

  /** The first frame's header (reads it, not consuming it). */
  async header(): Promise<MpegFrameHeader> {
    if (!this.first) {
      const h = parseMpegFrameHeader(await this.reader.peek(4));
      if (!h) throw new AudioFormatError("not an MPEG audio frame header", this.reader.offset);
      this.first = h;
    }
    return this.first;
  }

  /** The next frame, or null at the end of the stream (after an ID3v1 tag, if one ends it). */
  async next(): Promise<MpegFrame | null> {
    const first = await this.header();
    if (this.ended) return null;
    const offset = this.reader.offset;
    const head = await this.reader.peek(4);
    if (head.length === 0) return this.end();
    const h = parseMpegFrameHeader(head);
    if (!h || !sameStream(h, first)) {
      if (String.fromCharCode(...head.subarray(0, 3)) === "TAG") return await this.id3v1(offset);
      const word = [...head].map((x) => x.toString(16).padStart(2, "0")).join(" ");
      throw new AudioFormatError(
        h
          ? `MPEG frame of another version, layer or sample rate than the first (${word})`
          : head.length < 4
          ? "stream ends inside an MPEG frame header"
          : `expected an MPEG audio frame header, found bytes ${word}`,
        offset,
      );
    }
    const bytes = new Uint8Array(h.length);
    const got = await this.reader.readInto(bytes);
    if (got < h.length) {
      throw new AudioFormatError(`stream ends inside an MPEG frame (${got} of ${h.length} bytes)`, offset);
    }
    return { offset, bytes };
  }

  private end(): null {
    this.ended = true;
    return null;
  }

  /** An ID3v1 tag is 128 bytes and must be the last thing in the stream. */
  private async id3v1(offset: number): Promise<null> {
    const got = await this.reader.skip(128);
    if (got < 128) {
      throw new AudioFormatError(`stream ends inside an ID3v1 tag (${got} of 128 bytes)`, offset);
    }
    if ((await this.reader.peek(1)).length > 0) {
      throw new AudioFormatError("bytes after the ID3v1 tag that ends an MPEG stream", offset + 128);
    }
    return this.end();
  }
}
