/**
 * Ogg pages (RFC 3533): a walker that cuts a stream into whole pages and checks each page's CRC, so the
 * Vorbis and Opus decoders (data/codecs/wasm_decoders.ts) are fed one page at a time and an error is named by
 * the page's byte offset; a stream cut short (inside a page, or before its end-of-stream page) is an error
 * rather than a silently shorter recording.
 */
import { AudioFormatError } from "../audio_error.ts";
import type { ByteReader } from "./byte_reader.ts";

const HEADER_BYTES = 27;
const FLAG_BEGIN_OF_STREAM = 0x02;
const FLAG_END_OF_STREAM = 0x04;

/** CRC-32 as Ogg computes it: polynomial 0x04c11db7, MSB first, zero initial value, no final XOR. */
const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i << 24;
    for (let k = 0; k < 8; k++) c = c & 0x80000000 ? (c << 1) ^ 0x04c11db7 : c << 1;
    table[i] = c >>> 0;
  }
  return table;
})();

/** The page CRC of `page` with its CRC field (bytes 22..26) taken as zero. */
export function oggPageCrc(page: Uint8Array): number {
  let crc = 0;
  for (let i = 0; i < page.length; i++) {
    const byte = i >= 22 && i < 26 ? 0 : page[i];
    crc = ((crc << 8) ^ CRC_TABLE[((crc >>> 24) ^ byte) & 0xff]) >>> 0;
  }
  return crc;
}

export interface OggPage {
  /** Absolute byte offset of the page in the stream. */
  offset: number;
  /** The whole page, header included (a fresh copy). */
  bytes: Uint8Array;
  beginsStream: boolean;
  endOfStream: boolean;
  /** The codec's position at the end of the page's last completed packet (samples at 48 kHz for Opus); -1 if none. */
  granule: number;
}

export class OggPageWalker {
  private lastEnded = false;
  private pages = 0;

  constructor(private readonly reader: ByteReader) {}

  /** The next page, or null at the end of the stream (which must follow an end-of-stream page). */
  async next(): Promise<OggPage | null> {
    const offset = this.reader.offset;
    const head = await this.reader.peek(HEADER_BYTES);
    if (head.length === 0) {
      if (this.pages > 0 && !this.lastEnded) {
        throw new AudioFormatError("stream ends before the Ogg end-of-stream page (truncated file)", offset);
      }
      return null;
    }
    if (String.fromCharCode(...head.subarray(0, 4)) !== "OggS") {
      throw new AudioFormatError('expected an Ogg page ("OggS")', offset);
    }
    if (head.length < HEADER_BYTES) {
      throw new AudioFormatError("stream ends inside an Ogg page header", offset);
    }
    if (head[4] !== 0) throw new AudioFormatError(`Ogg page of unknown version ${head[4]}`, offset + 4);
    const flags = head[5];
    const segments = head[26];
    const table = await this.reader.peek(HEADER_BYTES + segments);
    if (table.length < HEADER_BYTES + segments) {
      throw new AudioFormatError("stream ends inside an Ogg page's segment table", offset);
    }
    let length = HEADER_BYTES + segments;
    for (let i = 0; i < segments; i++) length += table[HEADER_BYTES + i];
    const bytes = new Uint8Array(length);
    const got = await this.reader.readInto(bytes);
    if (got < length) {
      throw new AudioFormatError(`stream ends inside an Ogg page (${got} of ${length} bytes)`, offset);
    }
    const stored = new DataView(bytes.buffer).getUint32(22, true);
    const computed = oggPageCrc(bytes);
    if (stored !== computed) {
      throw new AudioFormatError(
        `Ogg page CRC is 0x${computed.toString(16)} but the page says 0x${stored.toString(16)}`,
        offset,
      );
    }
    this.pages++;
    this.lastEnded = (flags & FLAG_END_OF_STREAM) !== 0;
    const granule = Number(new DataView(bytes.buffer).getBigInt64(6, true));
    return {
      offset,
      bytes,
      beginsStream: (flags & FLAG_BEGIN_OF_STREAM) !== 0,
      endOfStream: this.lastEnded,
      granule,
    };
  }
}
