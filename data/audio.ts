/**
 * Loading audio files for the recognizer: FLAC or WAV (told apart by their magic bytes), mixed down to mono,
 * scaled to [-1, 1) as torchaudio.load does (integer PCM divided by 2^(bps-1)), resampled to the target rate.
 */
import { AudioFormatError } from "./audio_error.ts";
import { decodeFlac } from "./flac.ts";
import type { DecodedAudio } from "./flac/decoded_audio.ts";
import { resample } from "./resample.ts";
import { isWav, readWav } from "./wav.ts";

export type AudioKind = "flac" | "wav";

/** Which format `head` (the first bytes of a file) is, or null. */
export function detectAudioKind(head: Uint8Array): AudioKind | null {
  const s = String.fromCharCode(...head.subarray(0, 4));
  if (s === "fLaC" || s.startsWith("ID3")) return "flac";
  if (head.length >= 2 && head[0] === 0xff && (head[1] & 0xfe) === 0xf8) return "flac";
  if (isWav(head)) return "wav";
  return null;
}

/** Mean of the channels as float in [-1, 1). */
export function toMono(audio: DecodedAudio): Float32Array {
  const channels = audio.channels;
  const n = audio.samples[0]?.length ?? 0;
  const out = new Float32Array(n);
  if (audio.float) {
    for (let c = 0; c < channels; c++) {
      const s = audio.float[c];
      for (let i = 0; i < n; i++) out[i] += s[i];
    }
    if (channels > 1) { for (let i = 0; i < n; i++) out[i] /= channels; }
    return out;
  }
  const scale = 1 / (2 ** (audio.bitsPerSample - 1) * channels);
  if (channels === 1) {
    const s = audio.samples[0];
    for (let i = 0; i < n; i++) out[i] = s[i] * scale;
    return out;
  }
  const sum = new Float64Array(n);
  for (let c = 0; c < channels; c++) {
    const s = audio.samples[c];
    for (let i = 0; i < n; i++) sum[i] += s[i];
  }
  for (let i = 0; i < n; i++) out[i] = sum[i] * scale;
  return out;
}

/** Decodes a FLAC or WAV file to one channel at `targetRate`. Errors name the file. */
export async function loadAudio(
  path: string,
  targetRate = 16000,
): Promise<{ waveform: Float32Array; sampleRate: number }> {
  let audio: DecodedAudio;
  const file = await Deno.open(path, { read: true });
  try {
    const head = new Uint8Array(12);
    let got = 0;
    while (got < head.length) {
      const r = await file.read(head.subarray(got));
      if (r === null) break;
      got += r;
    }
    const kind = detectAudioKind(head.subarray(0, got));
    if (kind === null) throw new AudioFormatError("not a FLAC or WAV file (unknown magic bytes)", 0, path);
    await file.seek(0, Deno.SeekMode.Start);
    if (kind === "flac") {
      audio = await decodeFlac(file.readable, { file: path });
    } else {
      const bytes = new Uint8Array((await file.stat()).size);
      let at = 0;
      while (at < bytes.length) {
        const r = await file.read(bytes.subarray(at));
        if (r === null) break;
        at += r;
      }
      audio = readWav(bytes.subarray(0, at), path);
    }
  } catch (e) {
    if (e instanceof AudioFormatError && e.file === undefined) throw e.withFile(path);
    throw e;
  } finally {
    try {
      file.close();
    } catch {
      // The readable stream closes the file when it ends.
    }
  }
  const mono = toMono(audio);
  const waveform = audio.sampleRate === targetRate ? mono : resample(mono, audio.sampleRate, targetRate);
  return { waveform, sampleRate: targetRate };
}
