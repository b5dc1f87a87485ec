/**
 * One interface over every format's decoder: mono float pieces at the stream's own rate, in order, read from
 * a ByteReader front to back. openPcmSource sniffs the format and picks the decoder; the compressed formats'
 * WebAssembly decoders are imported only when such a stream turns up, so FLAC- and WAV-only work (training
 * workers) never loads them.
 */
import { openFlacSource } from "./flac_source.ts";
import type { ByteReader } from "./byte_reader.ts";
import { type AudioKind, sniffAudio } from "./sniff.ts";
import { openWavSource } from "./wav_source.ts";

/** Mono pieces at the stream's rate, in order, and a way to stop early. */
export interface PcmSource {
  readonly kind: AudioKind;
  readonly sourceRate: number;
  readonly channels: number;
  /** Frames (samples per channel) in the stream when its header says; null when it does not. */
  readonly totalFrames: number | null;
  /** Iterate once. Errors are AudioFormatError with the absolute byte offset (no file name). */
  pieces(): AsyncGenerator<Float32Array, void, undefined>;
  /** Stops reading and cancels the input stream. Safe to call more than once. */
  close(): Promise<void>;
}

export interface PcmSourceOptions {
  /** The stream's total size in bytes when known (a file): lets WAV check its chunk sizes up front. */
  size?: number;
}

/** Sniffs the format and opens its decoder; the reader is cancelled if that fails. */
export async function openPcmSource(reader: ByteReader, opts: PcmSourceOptions = {}): Promise<PcmSource> {
  try {
    const { kind } = await sniffAudio(reader);
    if (kind === "flac") return await openFlacSource(reader);
    if (kind === "wav") return await openWavSource(reader, opts.size ?? null);
    const { openWasmSource } = await import("./wasm_decoders.ts");
    return await openWasmSource(kind, reader);
  } catch (e) {
    await reader.cancel();
    throw e;
  }
}
