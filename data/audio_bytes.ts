/**
 * Audio from bytes already in memory (a browser's file input, drop or fetch, where there are no paths): FLAC or
 * WAV told apart by their magic bytes, mixed down and resampled exactly as data/audio.ts's loadAudio does for a
 * file, so a clip gives the same samples, bit for bit, whichever way it was read.
 */
import { detectAudioKind, toMono } from "./audio.ts";
import { AudioFormatError } from "./audio_error.ts";
import { decodeFlac } from "./flac/decode.ts";
import type { DecodedAudio } from "./flac/decoded_audio.ts";
import { resample } from "./resample.ts";
import { readWav } from "./wav.ts";

/** Whether `bytes` start like a FLAC or WAV file (what {@link decodeAudioBytes} reads). */
export function isFlacOrWav(bytes: Uint8Array): boolean {
  return detectAudioKind(bytes.subarray(0, 12)) !== null;
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
  const kind = detectAudioKind(bytes.subarray(0, 12));
  if (kind === null) throw new AudioFormatError("not a FLAC or WAV file (unknown magic bytes)", 0, name);
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
