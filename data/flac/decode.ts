/** Whole-stream FLAC decoding on top of the streaming decoder. */
import type { DecodedAudio } from "./decoded_audio.ts";
import { type FlacDecoderOptions, FlacStreamDecoder } from "./stream_decoder.ts";

/** Largest output preallocated on STREAMINFO's word alone (samples per channel); beyond it, arrays grow. */
const MAX_PREALLOCATED = 1 << 25;

/**
 * Decodes a whole FLAC stream to one Int32Array per channel, checking every frame's CRCs and the STREAMINFO
 * MD5. A ReadableStream input is consumed incrementally; only the decoded samples accumulate. Frames are
 * decoded straight into the output arrays (sized from STREAMINFO's total, grown when it is wrong).
 */
export async function decodeFlac(
  input: Uint8Array | ReadableStream<Uint8Array>,
  options: Omit<FlacDecoderOptions, "allocate"> = {},
): Promise<DecodedAudio> {
  let out: Int32Array[] = [];
  let used = 0;
  let capacity = 0;
  const allocate = (channels: number, n: number): Int32Array[] => {
    if (out.length !== channels) {
      // Only the first frame sets the layout; a later change is rejected by the decoder after decoding.
      if (used > 0) return Array.from({ length: channels }, () => new Int32Array(n));
      capacity = Math.max(capacity, n);
      out = Array.from({ length: channels }, () => new Int32Array(capacity));
    }
    if (used + n > capacity) {
      capacity = Math.max(used + n, capacity * 2);
      out = out.map((old) => {
        const grown = new Int32Array(capacity);
        grown.set(old.subarray(0, used));
        return grown;
      });
    }
    return out.map((a) => a.subarray(used, used + n));
  };
  const decoder = new FlacStreamDecoder(input, { ...options, allocate });
  const metadata = await decoder.readMetadata();
  const si = metadata.streamInfo;
  capacity = Math.min(si?.totalSamples ?? 0, MAX_PREALLOCATED);
  let sampleRate = si?.sampleRate ?? 0;
  let channels = si?.channels ?? 0;
  let bitsPerSample = si?.bitsPerSample ?? 0;
  for await (const block of decoder) {
    if (used === 0) {
      sampleRate = block.sampleRate;
      channels = block.channels;
      bitsPerSample = block.bitsPerSample;
    }
    used += block.samples[0].length;
  }
  const samples = used === capacity ? out : out.map((a) => a.slice(0, used));
  while (samples.length < channels) samples.push(new Int32Array(0));
  return { sampleRate, channels, bitsPerSample, samples };
}
