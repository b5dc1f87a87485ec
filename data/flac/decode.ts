/** Whole-stream FLAC decoding on top of the streaming decoder. */
import type { DecodedAudio } from "./decoded_audio.ts";
import { type FlacDecoderOptions, FlacStreamDecoder } from "./stream_decoder.ts";

/**
 * Decodes a whole FLAC stream to one Int32Array per channel, checking every frame's CRCs and the STREAMINFO
 * MD5. A ReadableStream input is consumed incrementally; only the decoded samples accumulate.
 */
export async function decodeFlac(
  input: Uint8Array | ReadableStream<Uint8Array>,
  options: FlacDecoderOptions = {},
): Promise<DecodedAudio> {
  const decoder = new FlacStreamDecoder(input, options);
  const metadata = await decoder.readMetadata();
  const si = metadata.streamInfo;
  const parts: Int32Array[][] = [];
  let sampleRate = si?.sampleRate ?? 0;
  let channels = si?.channels ?? 0;
  let bitsPerSample = si?.bitsPerSample ?? 0;
  for await (const block of decoder) {
    if (parts.length === 0) {
      sampleRate = block.sampleRate;
      channels = block.channels;
      bitsPerSample = block.bitsPerSample;
    }
    parts.push(block.samples);
  }
  const total = decoder.samplesDecoded;
  const samples: Int32Array[] = [];
  for (let c = 0; c < channels; c++) {
    const out = new Int32Array(total);
    let at = 0;
    for (const p of parts) {
      out.set(p[c], at);
      at += p[c].length;
    }
    samples.push(out);
  }
  return { sampleRate, channels, bitsPerSample, samples };
}
