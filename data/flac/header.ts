/**
 * The start of a FLAC stream (RFC 9639 sections 6 and 8.1): an optional ID3v2 tag, the "fLaC" marker and
 * metadata block headers, with STREAMINFO parsed. One reader for the streaming decoder and for callers that
 * want only STREAMINFO from a file's first bytes; it reads through a small byte-source interface so each can
 * supply bytes its own way.
 */
import { AudioFormatError } from "../audio_error.ts";
import { isFrameSync } from "./frame_header.ts";
import { ID3V2_HEADER_BYTES, id3v2TagLength, startsWithId3v2 } from "./id3.ts";
import { type MetadataBlockInfo, parseStreamInfo, type StreamInfo } from "./metadata.ts";

/** Sequential byte access to the start of a stream. */
export interface HeaderSource {
  /** Absolute offset of the next unread byte. */
  offset(): number;
  /** Up to n bytes from the read position, not consumed; fewer only at the end of input. Valid until the next call. */
  peek(n: number): Promise<Uint8Array>;
  /** Consumes up to n bytes; returns how many there were (fewer only at the end of input). */
  skip(n: number): Promise<number>;
}

/** How a stream starts, after any ID3v2 tag. */
export type StreamStart =
  /** The fLaC marker (consumed): metadata blocks follow. */
  | "marker"
  /** A frame sync code (not consumed): a stream without metadata. */
  | "frame"
  /** Fewer than 4 bytes, and no ID3v2 tag. */
  | "short"
  /** Anything else (nothing consumed). */
  | "other";

export interface BlockHeader extends MetadataBlockInfo {
  /** The last-metadata-block flag. */
  last: boolean;
}

/** `n` bytes at the read position, or AudioFormatError "stream ends inside <what>" at that position. */
export async function need(src: HeaderSource, n: number, what: string): Promise<Uint8Array> {
  const b = await src.peek(n);
  if (b.length < n) throw new AudioFormatError(`stream ends inside ${what}`, src.offset());
  return b;
}

/** Consumes n bytes, or fails with AudioFormatError "stream ends inside <what>" where the input ends. */
export async function skipBytes(src: HeaderSource, n: number, what: string): Promise<void> {
  const got = await src.skip(n);
  if (got < n) throw new AudioFormatError(`stream ends inside ${what}`, src.offset());
}

/**
 * Skips an ID3v2 tag at the read position, if there is one (its footer too, when flagged). Returns the tag's
 * total length, 0 when there is none. A truncated or malformed tag is an AudioFormatError naming the offset.
 */
export async function skipId3v2(src: HeaderSource): Promise<number> {
  const start = src.offset();
  if (!startsWithId3v2(await src.peek(3))) return 0;
  const head = await need(src, ID3V2_HEADER_BYTES, "an ID3v2 tag header");
  const length = id3v2TagLength(head, start);
  await skipBytes(src, length, `the ID3v2 tag at byte ${start} (${length} bytes)`);
  return length;
}

/** Skips any ID3v2 tag, then tells (and for "marker", consumes) how the FLAC stream proper starts. */
export async function readStreamStart(src: HeaderSource): Promise<StreamStart> {
  const tagged = (await skipId3v2(src)) > 0;
  const b = tagged ? await need(src, 4, "the stream marker") : await src.peek(4);
  if (b.length < 4) return "short";
  if (isFrameSync(b, 0)) return "frame";
  if (!(b[0] === 0x66 && b[1] === 0x4c && b[2] === 0x61 && b[3] === 0x43)) return "other";
  await src.skip(4);
  return "marker";
}

/** Reads (and consumes) one 4-byte metadata block header. Type 127 is an AudioFormatError. */
export async function readBlockHeader(src: HeaderSource): Promise<BlockHeader> {
  const offset = src.offset();
  const b = await need(src, 4, "a metadata block header");
  const last = (b[0] & 0x80) !== 0;
  const type = b[0] & 0x7f;
  const length = (b[1] << 16) | (b[2] << 8) | b[3];
  if (type === 127) throw new AudioFormatError("invalid metadata block type 127", offset);
  await src.skip(4);
  return { type, offset, length, last };
}

/** Reads (and consumes) the body of a STREAMINFO block whose header was just read. */
export async function readStreamInfoBody(src: HeaderSource, header: BlockHeader): Promise<StreamInfo> {
  const body = await need(src, header.length, "the STREAMINFO block");
  const info = parseStreamInfo(body.subarray(0, header.length), header.offset);
  await src.skip(header.length);
  return info;
}

/**
 * STREAMINFO from the start of a stream: skips an ID3v2 tag, checks the fLaC marker and reads the first
 * metadata block, which RFC 9639 requires to be STREAMINFO. Returns null when the stream does not start like
 * FLAC (no marker, or a first block of another type); a truncated or malformed tag or STREAMINFO is an
 * AudioFormatError naming the byte offset.
 */
export async function readStreamInfoFrom(src: HeaderSource): Promise<StreamInfo | null> {
  if ((await readStreamStart(src)) !== "marker") return null;
  const header = await readBlockHeader(src);
  if (header.type !== 0) return null;
  return await readStreamInfoBody(src, header);
}
