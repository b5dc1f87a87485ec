/**
 * Streaming audio loading: a recording of any length is read, decoded, mixed to mono and resampled in pieces,
 * so that memory is O(chunk + decoder state) and never grows with the file (a 2-hour file must not need
 * 2 hours of anything in memory at once). loadAudio (data/audio.ts) decodes a whole file to one array; this
 * module yields the same samples, bit for bit, as a sequence of chunks:
 *
 * - FLAC: FlacStreamDecoder reads the file's ReadableStream one frame at a time, into reused sample buffers.
 * - WAV: the chunk headers are walked with seeks and reads; the data chunk is then read in pieces, and each
 *   piece is converted by data/wav.ts's own readWav (given a tiny synthetic header in front of the piece), so
 *   the PCM/float rules live in one place.
 * - Mixing uses audio.ts's toMono on each piece (it works sample by sample, so pieces mix exactly as a whole).
 * - Resampling: StreamingResampler runs resample.ts's polyphase filter (same kernel, same float64 sums in the
 *   same order) over a sliding window of input: output o needs the padded input [frame*orig, frame*orig+taps)
 *   with frame = floor(o / phases); the left padding is `width` zeros, and at the end the signal is zero
 *   padded and the output cut at ceil(phases * length / orig), exactly as the whole-signal version does.
 */
import { detectAudioKind, toMono } from "./audio.ts";
import { AudioFormatError } from "./audio_error.ts";
import type { DecodedAudio } from "./flac/decoded_audio.ts";
import type { SampleAllocator } from "./flac/frame.ts";
import { type FlacBlock, FlacStreamDecoder } from "./flac/stream_decoder.ts";
import { type ResampleOptions, sincResampleKernel } from "./resample.ts";
import { readWav } from "./wav.ts";

export interface AudioStreamOptions {
  /** Samples (at the target rate) per yielded chunk; every chunk but the last has exactly this many. */
  chunkSamples?: number;
}

/** Mono float chunks at `sampleRate`; iterate once. close() stops early and releases the file. */
export interface AudioStream extends AsyncIterable<Float32Array> {
  /** The target rate of the chunks. */
  readonly sampleRate: number;
  /** The file's own sample rate. */
  readonly sourceRate: number;
  readonly channels: number;
  /** From FLAC STREAMINFO's total samples or the WAV data size; null when the file does not say. */
  readonly durationSeconds: number | null;
  close(): Promise<void>;
}

const DEFAULT_CHUNK_SECONDS = 10;
/** Upper bound on the bytes of one WAV read. */
const WAV_PIECE_BYTES = 1 << 18;

/** Opens a FLAC or WAV file for chunked decoding to mono at `targetRate`. Errors name the file. */
export async function openAudioStream(
  path: string,
  targetRate = 16000,
  opts: AudioStreamOptions = {},
): Promise<AudioStream> {
  const chunkSamples = opts.chunkSamples ?? targetRate * DEFAULT_CHUNK_SECONDS;
  if (!Number.isInteger(chunkSamples) || chunkSamples < 1) {
    throw new RangeError(`openAudioStream: chunkSamples must be a positive integer, got ${chunkSamples}`);
  }
  const file = await Deno.open(path, { read: true });
  let source: PcmSource | null = null;
  try {
    source = await openSource(file, path);
    const resampler = source.sourceRate === targetRate
      ? null
      : new StreamingResampler(source.sourceRate, targetRate);
    return new FileAudioStream(source, resampler, targetRate, chunkSamples, path);
  } catch (e) {
    if (source) await source.close();
    else closeQuietly(file);
    throw named(e, path);
  }
}

// ---- the stream ----

/** Mono pieces at the file's rate, in order, and a way to stop early. */
interface PcmSource {
  readonly sourceRate: number;
  readonly channels: number;
  readonly totalFrames: number | null;
  pieces(): AsyncGenerator<Float32Array, void, undefined>;
  close(): Promise<void>;
}

class FileAudioStream implements AudioStream {
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
    private readonly path: string,
  ) {
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
      throw named(e, this.path);
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

function named(e: unknown, path: string): unknown {
  return e instanceof AudioFormatError && e.file === undefined ? e.withFile(path) : e;
}

function closeQuietly(file: Deno.FsFile): void {
  try {
    file.close();
  } catch {
    // Already closed (a ReadableStream closes its file when it ends or is cancelled).
  }
}

async function openSource(file: Deno.FsFile, path: string): Promise<PcmSource> {
  const head = new Uint8Array(12);
  const got = await readFully(file, head);
  const kind = detectAudioKind(head.subarray(0, got));
  if (kind === null) throw new AudioFormatError("not a FLAC or WAV file (unknown magic bytes)", 0, path);
  await file.seek(0, Deno.SeekMode.Start);
  return kind === "flac" ? await openFlac(file, path) : await openWav(file, path);
}

/** Reads until `buf` is full or the file ends; returns the bytes read. */
async function readFully(file: Deno.FsFile, buf: Uint8Array): Promise<number> {
  let got = 0;
  while (got < buf.length) {
    const r = await file.read(buf.subarray(got));
    if (r === null) break;
    got += r;
  }
  return got;
}

// ---- FLAC ----

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

async function openFlac(file: Deno.FsFile, path: string): Promise<PcmSource> {
  const decoder = new FlacStreamDecoder(file.readable, { file: path, allocate: reusedSamples() });
  const si = (await decoder.readMetadata()).streamInfo;
  const blocks = decoder.blocks();
  // The first frame is decoded now: it gives the rate when there is no STREAMINFO, and it starts the
  // generator, so that blocks.return() (close) always runs its cleanup, which cancels the file's stream.
  const first = await blocks.next();
  const firstMono = first.done ? null : flacMono(first.value);
  const format = first.done ? si : first.value;
  return {
    sourceRate: format?.sampleRate ?? 0,
    channels: format?.channels ?? 0,
    totalFrames: si && si.totalSamples > 0 ? si.totalSamples : null,
    async *pieces() {
      if (firstMono) yield firstMono;
      for (;;) {
        const r = await blocks.next();
        if (r.done) return;
        yield flacMono(r.value);
      }
    },
    async close() {
      await blocks.return();
      closeQuietly(file);
    },
  };
}

// ---- WAV ----

interface WavLayout {
  /** Synthetic "RIFF....WAVE" + the file's fmt chunk + "data" header, for readWav. */
  header: Uint8Array;
  /** Absolute offset and size of the data chunk's body. */
  dataStart: number;
  dataSize: number;
  blockAlign: number;
  sampleRate: number;
  channels: number;
}

/** RIFF + WAVE + fmt chunk (as in the file) + an empty data chunk header. */
function syntheticHeader(fmtChunk: Uint8Array): Uint8Array {
  const header = new Uint8Array(12 + fmtChunk.length + 8);
  header.set(new TextEncoder().encode("RIFF\0\0\0\0WAVE"), 0);
  header.set(fmtChunk, 12);
  header.set(new TextEncoder().encode("data"), 12 + fmtChunk.length);
  return header;
}

/** Checks a fmt chunk with wav.ts's own rules (errors moved to the chunk's offset in the file). */
function checkFormat(fmtChunk: Uint8Array, chunkOffset: number, path: string): DecodedAudio {
  try {
    return readWav(syntheticHeader(fmtChunk), path);
  } catch (e) {
    if (e instanceof AudioFormatError) {
      throw new AudioFormatError(e.detail, e.offset === 12 ? chunkOffset : e.offset, path);
    }
    throw e;
  }
}

async function readAt(file: Deno.FsFile, at: number, n: number): Promise<Uint8Array> {
  await file.seek(at, Deno.SeekMode.Start);
  const buf = new Uint8Array(n);
  return buf.subarray(0, await readFully(file, buf));
}

/** Walks the chunks like readWav does, reading only chunk headers and the fmt chunk. */
async function readWavLayout(file: Deno.FsFile, path: string): Promise<WavLayout> {
  const fail = (detail: string, offset: number): never => {
    throw new AudioFormatError(detail, offset, path);
  };
  const fileSize = (await file.stat()).size;
  let fmtChunk: Uint8Array | null = null;
  let format: DecodedAudio | null = null;
  let pos = 12;
  while (pos + 8 <= fileSize) {
    const chunkHeader = await readAt(file, pos, 8);
    if (chunkHeader.length < 8) fail("file ended while reading it", pos);
    const id = String.fromCharCode(...chunkHeader.subarray(0, 4));
    let size = new DataView(chunkHeader.buffer).getUint32(4, true);
    const body = pos + 8;
    if (id === "fmt ") {
      if (size < 16 || body + size > fileSize) fail(`fmt chunk of ${size} bytes is malformed`, pos);
      fmtChunk = new Uint8Array(8 + size + (size & 1));
      fmtChunk.set(chunkHeader);
      fmtChunk.set(await readAt(file, body, size), 8);
      format = checkFormat(fmtChunk, pos, path);
    } else if (id === "data") {
      if (!fmtChunk || !format) return fail("data chunk comes before the fmt chunk", pos);
      const available = fileSize - body;
      if (size === 0xffffffff || (size === 0 && available > 0)) size = available;
      if (size > available) fail(`data chunk claims ${size} bytes but only ${available} remain`, pos);
      const blockAlign = new DataView(fmtChunk.buffer).getUint16(8 + 12, true);
      if (size % blockAlign !== 0) {
        fail(`data chunk of ${size} bytes is not a whole number of ${blockAlign}-byte frames`, pos);
      }
      const header = syntheticHeader(fmtChunk);
      return {
        header,
        dataStart: body,
        dataSize: size,
        blockAlign,
        sampleRate: format.sampleRate,
        channels: format.channels,
      };
    }
    pos = body + size + (size & 1);
  }
  return fail(fmtChunk ? "no data chunk" : "no fmt chunk", pos);
}

/** Reads the data chunk piece by piece into one buffer behind the synthetic header and lets readWav decode it. */
async function* wavPieces(file: Deno.FsFile, w: WavLayout, path: string): AsyncGenerator<Float32Array> {
  const frames = Math.max(1, Math.floor(WAV_PIECE_BYTES / w.blockAlign));
  const buf = new Uint8Array(w.header.length + frames * w.blockAlign);
  buf.set(w.header);
  const view = new DataView(buf.buffer);
  await file.seek(w.dataStart, Deno.SeekMode.Start);
  for (let done = 0; done < w.dataSize;) {
    const n = Math.min(frames * w.blockAlign, w.dataSize - done);
    const body = buf.subarray(w.header.length, w.header.length + n);
    const got = await readFully(file, body);
    if (got < n) {
      throw new AudioFormatError("file ends inside the data chunk", w.dataStart + done + got, path);
    }
    view.setUint32(w.header.length - 4, n, true);
    yield toMono(readWav(buf.subarray(0, w.header.length + n), path));
    done += n;
  }
}

async function openWav(file: Deno.FsFile, path: string): Promise<PcmSource> {
  const layout = await readWavLayout(file, path);
  let closed = false;
  return {
    sourceRate: layout.sampleRate,
    channels: layout.channels,
    totalFrames: layout.dataSize / layout.blockAlign,
    pieces: () => wavPieces(file, layout, path),
    close() {
      if (!closed) closeQuietly(file);
      closed = true;
      return Promise.resolve();
    },
  };
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
