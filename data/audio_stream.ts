/**
 * Streaming audio loading: a recording of any length is read, decoded, mixed to mono and resampled in pieces,
 * so that memory is O(chunk + decoder state) and never grows with the file (a 2-hour file must not need
 * 2 hours of anything in memory at once). The source is a file or any byte stream (stdin, an upload), read
 * front to back as its bytes arrive; its format is told by its first bytes (data/codecs/sniff.ts). loadAudio
 * (data/audio.ts) decodes a whole file to one array; this module yields the same samples, bit for bit, as a
 * sequence of chunks:
 *
 * - Decoding: data/codecs/pcm_source.ts gives mono pieces at the source's rate for every format (FLAC and WAV
 *   by our own decoders, MP3, Vorbis and Opus by WebAssembly ones).
 * - Resampling: StreamingResampler runs resample.ts's polyphase filter (same kernel, same float64 sums in the
 *   same order) over a sliding window of input: output o needs the padded input [frame*orig, frame*orig+taps)
 *   with frame = floor(o / phases); the left padding is `width` zeros, and at the end the signal is zero
 *   padded and the output cut at ceil(phases * length / orig), exactly as the whole-signal version does.
 */
import { namingFile } from "./audio_error.ts";
import { ByteReader } from "./codecs/byte_reader.ts";
import { openPcmSource, type PcmSource } from "./codecs/pcm_source.ts";
import type { AudioKind } from "./codecs/sniff.ts";
import { type ResampleOptions, sincResampleKernel } from "./resample.ts";

export interface AudioStreamOptions {
  /** Samples (at the target rate) per yielded chunk; every chunk but the last has exactly this many. */
  chunkSamples?: number;
  /** What errors call a byte stream source (default "stdin"); a file is named by its path. */
  name?: string;
}

/** Mono float chunks at `sampleRate`; iterate once. close() stops early and releases the file or stream. */
export interface AudioStream extends AsyncIterable<Float32Array> {
  /** The format the source's first bytes say it is. */
  readonly kind: AudioKind;
  /** The target rate of the chunks. */
  readonly sampleRate: number;
  /** The source's own sample rate. */
  readonly sourceRate: number;
  readonly channels: number;
  /** From FLAC STREAMINFO's total samples or the WAV data size; null when the source does not say. */
  readonly durationSeconds: number | null;
  close(): Promise<void>;
}

const DEFAULT_CHUNK_SECONDS = 10;

/**
 * Opens a file (by path) or a byte stream (e.g. Deno.stdin.readable) for chunked decoding to mono at
 * `targetRate`. Errors are AudioFormatError naming the file (or `opts.name`, default "stdin") and byte offset.
 */
export async function openAudioStream(
  source: string | ReadableStream<Uint8Array>,
  targetRate = 16000,
  opts: AudioStreamOptions = {},
): Promise<AudioStream> {
  const chunkSamples = opts.chunkSamples ?? targetRate * DEFAULT_CHUNK_SECONDS;
  if (!Number.isInteger(chunkSamples) || chunkSamples < 1) {
    throw new RangeError(`openAudioStream: chunkSamples must be a positive integer, got ${chunkSamples}`);
  }
  const name = typeof source === "string" ? source : opts.name ?? "stdin";
  const pcm = await openSourcePcm(source, name);
  const resampler = pcm.sourceRate === targetRate ? null : new StreamingResampler(pcm.sourceRate, targetRate);
  return new DecodingAudioStream(pcm, resampler, targetRate, chunkSamples, name);
}

/** Opens the decoder of a file or stream; errors (and the file, on failure) are dealt with here. */
export async function openSourcePcm(
  source: string | ReadableStream<Uint8Array>,
  name: string,
): Promise<PcmSource> {
  let stream = source;
  let size: number | undefined;
  if (typeof source === "string") {
    const file = await Deno.open(source, { read: true });
    try {
      size = (await file.stat()).size;
    } catch (e) {
      file.close();
      throw e;
    }
    stream = file.readable; // closes the file when it ends or is cancelled
  }
  try {
    return await openPcmSource(new ByteReader(stream as ReadableStream<Uint8Array>), { size });
  } catch (e) {
    throw namingFile(e, name);
  }
}

// ---- the stream ----

class DecodingAudioStream implements AudioStream {
  readonly kind: AudioKind;
  readonly sampleRate: number;
  readonly sourceRate: number;
  readonly channels: number;
  readonly durationSeconds: number | null;
  private started = false;
  private closed = false;

  constructor(
    private readonly source: PcmSource,
    private readonly resampler: StreamingResampler | null,
    targetRate: number,
    private readonly chunkSamples: number,
    private readonly name: string,
  ) {
    this.kind = source.kind;
    this.sampleRate = targetRate;
    this.sourceRate = source.sourceRate;
    this.channels = source.channels;
    const total = source.totalFrames;
    this.durationSeconds = total === null || source.sourceRate <= 0 ? null : total / source.sourceRate;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.source.close();
  }

  [Symbol.asyncIterator](): AsyncGenerator<Float32Array, void, undefined> {
    if (this.started) throw new Error("openAudioStream: a stream can be iterated only once");
    this.started = true;
    return this.chunks();
  }

  private async *chunks(): AsyncGenerator<Float32Array, void, undefined> {
    const out = new ChunkAssembler(this.chunkSamples);
    try {
      for await (const mono of this.source.pieces()) {
        yield* out.add(this.resampler ? this.resampler.push(mono) : mono);
      }
      if (this.resampler) yield* out.add(this.resampler.finish());
      yield* out.flush();
    } catch (e) {
      throw namingFile(e, this.name);
    } finally {
      await this.close();
    }
  }
}

/** Cuts a sequence of arrays of any lengths into fresh arrays of exactly `size` samples (the last shorter). */
class ChunkAssembler {
  private chunk: Float32Array;
  private filled = 0;

  constructor(private readonly size: number) {
    this.chunk = new Float32Array(size);
  }

  *add(x: Float32Array): Generator<Float32Array, void, undefined> {
    let at = 0;
    while (at < x.length) {
      const take = Math.min(this.size - this.filled, x.length - at);
      this.chunk.set(x.subarray(at, at + take), this.filled);
      this.filled += take;
      at += take;
      if (this.filled === this.size) {
        yield this.chunk;
        this.chunk = new Float32Array(this.size);
        this.filled = 0;
      }
    }
  }

  *flush(): Generator<Float32Array, void, undefined> {
    if (this.filled > 0) yield this.chunk.slice(0, this.filled);
    this.filled = 0;
  }
}

// ---- resampling ----

/**
 * resample() (data/resample.ts) fed in pieces: push() returns the outputs whose whole input window has arrived,
 * finish() zero pads the end and returns the rest. Holds the kernel plus at most one window (taps + orig input
 * samples) more than the latest piece.
 */
export class StreamingResampler {
  private readonly kernel: Float64Array;
  private readonly phases: number;
  private readonly taps: number;
  private readonly orig: number;
  /** Padded input from padded index `start` on (padded index = input index + width). */
  private buf: Float64Array;
  private start = 0;
  private length: number;
  private inputs = 0;
  private produced = 0;
  private finished = false;

  constructor(origRate: number, newRate: number, options: ResampleOptions = {}) {
    if (!Number.isInteger(origRate) || !Number.isInteger(newRate) || origRate <= 0 || newRate <= 0) {
      throw new RangeError(`resample: rates must be positive integers, got ${origRate} -> ${newRate}`);
    }
    const k = sincResampleKernel(origRate, newRate, options);
    this.kernel = k.kernel;
    this.phases = k.phases;
    this.taps = k.taps;
    this.orig = k.orig;
    this.buf = new Float64Array(Math.max(4096, 2 * (k.taps + k.orig)));
    this.length = k.width; // the left padding: zeros
  }

  /** Feeds the next input samples; returns the outputs now computable (possibly none). */
  push(input: Float32Array): Float32Array {
    if (this.finished) throw new Error("StreamingResampler: push after finish");
    this.append(input);
    this.inputs += input.length;
    return this.drain(Infinity);
  }

  /** Ends the input; returns the remaining outputs (total output length ceil(phases * inputs / orig)). */
  finish(): Float32Array {
    if (this.finished) return new Float32Array(0);
    this.finished = true;
    this.append(new Float32Array(this.taps + this.orig));
    return this.drain(Math.ceil((this.phases * this.inputs) / this.orig));
  }

  private append(x: Float32Array): void {
    if (this.length + x.length > this.buf.length) {
      const grown = new Float64Array(Math.max(this.length + x.length, 2 * this.buf.length));
      grown.set(this.buf.subarray(0, this.length));
      this.buf = grown;
    }
    this.buf.set(x, this.length);
    this.length += x.length;
  }

  /** Outputs [produced, limit) whose windows are in the buffer, then drops input no later output needs. */
  private drain(limit: number): Float32Array {
    const end = this.start + this.length;
    const frames = end < this.taps ? 0 : Math.floor((end - this.taps) / this.orig) + 1;
    const upTo = Math.min(frames * this.phases, limit);
    const out = new Float32Array(Math.max(0, upTo - this.produced));
    for (let i = 0; i < out.length; i++) out[i] = this.output(this.produced + i);
    this.produced += out.length;
    this.dropBefore(Math.floor(this.produced / this.phases) * this.orig);
    return out;
  }

  /** Output sample o, summed exactly as resample() does. */
  private output(o: number): number {
    const frame = Math.floor(o / this.phases);
    const row = (o - frame * this.phases) * this.taps;
    const at = frame * this.orig - this.start;
    const { kernel, buf, taps } = this;
    let sum = 0;
    for (let k = 0; k < taps; k++) sum += kernel[row + k] * buf[at + k];
    return sum;
  }

  private dropBefore(padded: number): void {
    const drop = Math.min(padded - this.start, this.length);
    if (drop <= 0) return;
    this.buf.copyWithin(0, drop, this.length);
    this.length -= drop;
    this.start += drop;
  }
}
