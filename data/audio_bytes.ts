/**
 * Audio from bytes already in memory (a browser's file input, drop or fetch, where there are no paths): FLAC or
 * WAV told apart by their magic bytes, mixed down and resampled exactly as data/audio.ts's loadAudio does for a
 * file, so a clip gives the same samples, bit for bit, whichever way it was read. Only our TypeScript decoders:
 * the compressed formats loadAudio also reads go through WebAssembly packages that a page does not bundle (a
 * page has the browser's own decoders for them).
 */
import { AudioFormatError } from "./audio_error.ts";
import { detectAudioKind } from "./codecs/sniff.ts";
import { toMono } from "./codecs/mono.ts";
import { decodeFlac } from "./flac/decode.ts";
import { id3v2TagLength, startsWithId3v2 } from "./flac/id3.ts";
import type { DecodedAudio } from "./flac/decoded_audio.ts";
import { resample } from "./resample.ts";
import { readWav } from "./wav.ts";

/** Whether `bytes` start like a FLAC or WAV file (what {@link decodeAudioBytes} reads). */
export function isFlacOrWav(bytes: Uint8Array): boolean {
  const kind = kindOf(bytes);
  return kind === "flac" || kind === "wav";
}

/** The format after any ID3v2 tag (FLAC files may carry one; the FLAC decoder skips it). */
function kindOf(bytes: Uint8Array): string | null {
  if (!startsWithId3v2(bytes)) return detectAudioKind(bytes);
  const kind = detectAudioKind(bytes.subarray(id3v2TagLength(bytes, 0)));
  return kind === "flac" ? kind : null;
}

/**
 * Decodes a whole FLAC or WAV file held in memory to one channel at `targetRate`. `name` (a file name or URL)
 * is what errors call it; an unknown format is an AudioFormatError at byte 0.
 */
export async function decodeAudioBytes(
  bytes: Uint8Array,
  name: string,
  targetRate = 16000,
): Promise<{ waveform: Float32Array; sampleRate: number }> {
  const kind = kindOf(bytes);
  if (kind !== "flac" && kind !== "wav") {
    throw new AudioFormatError(`not a FLAC or WAV file (${kind ?? "unknown magic bytes"})`, 0, name);
  }
  let audio: DecodedAudio;
  try {
    audio = kind === "flac" ? await decodeFlac(bytes, { file: name }) : readWav(bytes, name);
  } catch (e) {
    if (e instanceof AudioFormatError && e.file === undefined) throw e.withFile(name);
    throw e;
  }
  return { waveform: toSampleRate(toMono(audio), audio.sampleRate, targetRate), sampleRate: targetRate };
}

/** `mono` at `targetRate` (torchaudio's resampling, data/resample.ts; unchanged when the rates agree). */
export function toSampleRate(mono: Float32Array, rate: number, targetRate: number): Float32Array {
  return rate === targetRate ? mono : resample(mono, rate, targetRate);
}
