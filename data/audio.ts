/**
 * Loading whole audio files for the recognizer: FLAC, WAV, MP3, Ogg Vorbis or Ogg Opus (told apart by their
 * first bytes), mixed down to mono, scaled to [-1, 1) as torchaudio.load does (integer PCM divided by
 * 2^(bps-1)), resampled to the target rate. The same decoders as openAudioStream (data/audio_stream.ts), so
 * the two give the same samples bit for bit.
 */
import { namingFile } from "./audio_error.ts";
import { openSourcePcm } from "./audio_stream.ts";
import { resample } from "./resample.ts";

export { type AudioKind, detectAudioKind } from "./codecs/sniff.ts";
export { meanOfChannels, toMono } from "./codecs/mono.ts";

/** Decodes a file (by path) or a byte stream to one channel at `targetRate`. Errors name the file or `name`. */
export async function loadAudio(
  source: string | ReadableStream<Uint8Array>,
  targetRate = 16000,
  name = typeof source === "string" ? source : "stdin",
): Promise<{ waveform: Float32Array; sampleRate: number }> {
  const pcm = await openSourcePcm(source, name);
  const pieces: Float32Array[] = [];
  let length = 0;
  try {
    for await (const piece of pcm.pieces()) {
      pieces.push(piece);
      length += piece.length;
    }
  } catch (e) {
    throw namingFile(e, name);
  } finally {
    await pcm.close();
  }
  const mono = pieces.length === 1 ? pieces[0] : new Float32Array(length);
  if (pieces.length !== 1) pieces.reduce((at, p) => (mono.set(p, at), at + p.length), 0);
  const waveform = pcm.sourceRate === targetRate ? mono : resample(mono, pcm.sourceRate, targetRate);
  return { waveform, sampleRate: targetRate };
}
