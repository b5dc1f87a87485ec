/**
 * ID3v2 tags before a FLAC stream (not part of RFC 9639, but written by some taggers and skipped by libFLAC):
 * a 10-byte header "ID3", version (2 bytes), flags, then a 28-bit synchsafe size of what follows the header,
 * and, when the footer flag (0x10) is set, a 10-byte footer after that.
 */
import { AudioFormatError } from "../audio_error.ts";

/** Bytes in an ID3v2 header (and in its footer). */
export const ID3V2_HEADER_BYTES = 10;
/** Flags bit saying a 10-byte footer follows the tag body. */
export const ID3V2_FOOTER_FLAG = 0x10;

/** True when b starts with the "ID3" identifier (needs 3 bytes). */
export function startsWithId3v2(b: Uint8Array): boolean {
  return b.length >= 3 && b[0] === 0x49 && b[1] === 0x44 && b[2] === 0x33;
}

/**
 * Total length in bytes (header, body and footer if flagged) of the ID3v2 tag whose 10-byte header is
 * head[0..10). `offset` is the header's absolute position, for errors: a version byte of 0xff or a size
 * byte with its top bit set (not synchsafe) is an AudioFormatError naming that byte.
 */
export function id3v2TagLength(head: Uint8Array, offset: number): number {
  if (head.length < ID3V2_HEADER_BYTES || !startsWithId3v2(head)) {
    throw new AudioFormatError("not an ID3v2 tag header", offset);
  }
  for (const i of [3, 4]) {
    if (head[i] === 0xff) throw new AudioFormatError(`ID3v2 version byte is 0xff`, offset + i);
  }
  let size = 0;
  for (let i = 6; i < 10; i++) {
    if (head[i] & 0x80) {
      throw new AudioFormatError(
        `ID3v2 tag size byte 0x${head[i].toString(16)} is not synchsafe`,
        offset + i,
      );
    }
    size = (size << 7) | head[i];
  }
  const footer = head[5] & ID3V2_FOOTER_FLAG ? ID3V2_HEADER_BYTES : 0;
  return ID3V2_HEADER_BYTES + size + footer;
}
