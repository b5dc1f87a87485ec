/**
 * FLAC as a PcmSource: our FlacStreamDecoder reads the stream one frame at a time into reused sample buffers,
 * and each frame is mixed to mono before the next is decoded.
 */
import { AudioFormatError } from "../audio_error.ts";
import type { SampleAllocator } from "../flac/frame.ts";
import { type FlacBlock, FlacStreamDecoder } from "../flac/stream_decoder.ts";
import type { ByteReader } from "./byte_reader.ts";
import { toMono } from "./mono.ts";
import type { PcmSource } from "./pcm_source.ts";

/** One set of per-channel buffers reused for every frame (each frame is mixed to mono before the next). */
function reusedSamples(): SampleAllocator {
  let bufs: Int32Array[] = [];
  return (channels, n) => {
    if (bufs.length !== channels || bufs[0].length < n) {
      const size = Math.max(n, bufs[0]?.length ?? 0);
      bufs = Array.from({ length: channels }, () => new Int32Array(size));
    }
    return bufs.map((b) => b.subarray(0, n));
  };
}

function flacMono(block: FlacBlock): Float32Array {
  const { sampleRate, channels, bitsPerSample, samples } = block;
  return toMono({ sampleRate, channels, bitsPerSample, samples });
}

/**
 * The decoder counts offsets from where it starts reading, which is past any ID3v2 tag the sniffer skipped;
 * its errors are moved by `base` (the tag's length) to be offsets in the whole stream.
 */
function shifted(e: unknown, base: number): unknown {
  if (!(e instanceof AudioFormatError) || base === 0 || e.offset < 0) return e;
  return new AudioFormatError(e.detail, e.offset + base, e.file);
}

/** Opens the FLAC stream at the reader's position (past any ID3v2 tag). */
export async function openFlacSource(reader: ByteReader): Promise<PcmSource> {
  const base = reader.offset;
  const decoder = new FlacStreamDecoder(reader.remainder(), { allocate: reusedSamples() });
  try {
    const si = (await decoder.readMetadata()).streamInfo;
    const blocks = decoder.blocks();
    // The first frame is decoded now: it gives the rate when there is no STREAMINFO, and it starts the
    // generator, so that blocks.return() (close) always runs its cleanup, which cancels the stream.
    const first = await blocks.next();
    const firstMono = first.done ? null : flacMono(first.value);
    const format = first.done ? si : first.value;
    return {
      kind: "flac",
      sourceRate: format?.sampleRate ?? 0,
      channels: format?.channels ?? 0,
      totalFrames: si && si.totalSamples > 0 ? si.totalSamples : null,
      async *pieces() {
        try {
          if (firstMono) yield firstMono;
          for (;;) {
            const r = await blocks.next();
            if (r.done) return;
            yield flacMono(r.value);
          }
        } catch (e) {
          throw shifted(e, base);
        }
      },
      async close() {
        await blocks.return();
        await reader.cancel();
      },
    };
  } catch (e) {
    await reader.cancel();
    throw shifted(e, base);
  }
}
