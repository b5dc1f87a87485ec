/**
 * Pure-TypeScript FLAC decoder (RFC 9639). `decodeFlac` decodes a whole stream; `FlacStreamDecoder` yields
 * frames one at a time from a ReadableStream in bounded memory. Errors are AudioFormatError with the byte
 * offset of the problem.
 */
export { decodeFlac } from "./flac/decode.ts";
export type { DecodedAudio } from "./flac/decoded_audio.ts";
export {
  type FlacBlock,
  type FlacDecoderOptions,
  type FlacMetadata,
  FlacStreamDecoder,
} from "./flac/stream_decoder.ts";
export type { MetadataBlockInfo, StreamInfo, VorbisComments } from "./flac/metadata.ts";
export { AudioFormatError } from "./audio_error.ts";
