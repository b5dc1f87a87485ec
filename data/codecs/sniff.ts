/**
 * Telling audio formats apart by their first bytes, never by a file's name (uploads and stdin have none, and
 * names lie): FLAC and WAV, which we decode ourselves, and MP3, Ogg Vorbis and Ogg Opus, which go to the
 * WebAssembly decoders (data/codecs/wasm_decoders.ts). An ID3v2 tag (common before MP3, sometimes before FLAC)
 * is skipped first and the format read from what follows it.
 */
import { AudioFormatError } from "../audio_error.ts";
import { ID3V2_HEADER_BYTES, id3v2TagLength, startsWithId3v2 } from "../flac/id3.ts";
import { isWav } from "../wav.ts";
import { looksLikeMpeg, MPEG_SNIFF_BYTES } from "./mpeg_frames.ts";
import type { ByteReader } from "./byte_reader.ts";

export type AudioKind = "flac" | "wav" | "mp3" | "vorbis" | "opus";

/** The accepted formats, for messages. */
export const ACCEPTED_FORMATS = "FLAC, WAV, MP3, Ogg Vorbis or Ogg Opus";

/** Bytes detectAudioKind needs to see to decide on any format: two MPEG frames, an Ogg page header. */
export const SNIFF_BYTES = Math.max(27 + 255 + 8, MPEG_SNIFF_BYTES);

/** The codec of an Ogg stream from its first page's first packet: "OpusHead", "\x01vorbis", or null. */
function oggCodec(b: Uint8Array): "opus" | "vorbis" | "other" | "short" {
  if (b.length < 27) return "short";
  const packet = 27 + b[26];
  if (b.length < packet + 8) return "short";
  const magic = String.fromCharCode(...b.subarray(packet, packet + 8));
  if (magic === "OpusHead") return "opus";
  if (magic.startsWith("\x01vorbis")) return "vorbis";
  return "other";
}

const ascii = (b: Uint8Array, n: number) => String.fromCharCode(...b.subarray(0, n));

/**
 * Which format `head` (the first bytes of a stream, after any ID3v2 tag; SNIFF_BYTES of them, or all there
 * are) is, or null. An "ID3" head is null: the tag has to be skipped first (sniffAudio does). MP3 is called
 * so only when a second frame header follows the first where its length says.
 */
export function detectAudioKind(head: Uint8Array): AudioKind | null {
  if (ascii(head, 4) === "fLaC") return "flac";
  // A FLAC frame sync code (a stream without metadata): 14 one bits, a zero bit, the blocking-strategy bit.
  if (head.length >= 2 && head[0] === 0xff && (head[1] & 0xfe) === 0xf8) return "flac";
  if (isWav(head)) return "wav";
  if (ascii(head, 4) === "OggS") {
    const codec = oggCodec(head);
    return codec === "opus" || codec === "vorbis" ? codec : null;
  }
  if (looksLikeMpeg(head)) return "mp3";
  return null;
}

/** Why a head is not audio we read, for the error message. */
function unknownDetail(head: Uint8Array): string {
  if (ascii(head, 4) === "OggS") {
    const codec = oggCodec(head);
    const what = codec === "short"
      ? "an Ogg stream that ends inside its first page"
      : "an Ogg stream of a codec";
    return `${what} other than Vorbis or Opus; the accepted formats are ${ACCEPTED_FORMATS}`;
  }
  return `not a ${ACCEPTED_FORMATS} file (unknown magic bytes)`;
}

export interface Sniffed {
  kind: AudioKind;
  /** Bytes of ID3v2 tag skipped before the audio (the reader is past them). */
  tagBytes: number;
}

/**
 * Skips any ID3v2 tag and tells the format from the bytes after it, which stay unread in `reader`. Throws
 * AudioFormatError (offset 0, or the tag's bad byte) when the format is not one we read.
 */
export async function sniffAudio(reader: ByteReader): Promise<Sniffed> {
  let tagBytes = 0;
  let head = await reader.peek(SNIFF_BYTES);
  if (startsWithId3v2(head)) {
    if (head.length < ID3V2_HEADER_BYTES) {
      throw new AudioFormatError("stream ends inside an ID3v2 tag header", 0);
    }
    tagBytes = id3v2TagLength(head, 0);
    if (await reader.skip(tagBytes) < tagBytes) {
      throw new AudioFormatError(`stream ends inside the ID3v2 tag (${tagBytes} bytes)`, reader.offset);
    }
    head = await reader.peek(SNIFF_BYTES);
  }
  const kind = detectAudioKind(head);
  if (kind === null) throw new AudioFormatError(unknownDetail(head), tagBytes);
  return { kind, tagBytes };
}
