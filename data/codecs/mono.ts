/**
 * Mixing to one channel, as the recognizer hears audio: the mean of the channels, integers scaled to [-1, 1)
 * as torchaudio.load does (x / 2^(bps-1)). Works sample by sample, so pieces of a stream mix exactly as the
 * whole would.
 */
import type { DecodedAudio } from "../flac/decoded_audio.ts";

/** Mean of float channels (each of the same length). */
export function meanOfChannels(channels: Float32Array[]): Float32Array {
  const n = channels[0]?.length ?? 0;
  if (channels.length === 1) return channels[0].slice();
  const out = new Float32Array(n);
  for (const s of channels) for (let i = 0; i < n; i++) out[i] += s[i];
  if (channels.length > 1) { for (let i = 0; i < n; i++) out[i] /= channels.length; }
  return out;
}

/** Mean of the channels as float in [-1, 1). */
export function toMono(audio: DecodedAudio): Float32Array {
  if (audio.float) return meanOfChannels(audio.float.slice(0, audio.channels));
  const channels = audio.channels;
  const n = audio.samples[0]?.length ?? 0;
  const out = new Float32Array(n);
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
