/**
 * Streaming FLAC decoder: reads metadata, then yields one decoded frame at a time from a ReadableStream (or a
 * Uint8Array) while holding only about one frame of input, and checks the STREAMINFO MD5 at the end.
 */
import { AudioFormatError } from "../audio_error.ts";
import { BitReader, EndOfData } from "./bit_reader.ts";
import {
  type DecodedFrame,
  decodeFrame,
  FrameScratch,
  freshSamples,
  type SampleAllocator,
  type StreamDefaults,
} from "./frame.ts";
import { isFrameSync } from "./frame_header.ts";
import { FlacMd5 } from "./md5.ts";
import {
  type HeaderSource,
  readBlockHeader,
  readStreamInfoBody,
  readStreamStart,
  skipBytes,
} from "./header.ts";
import {
  BLOCK_TYPE_NAMES,
  type MetadataBlockInfo,
  parseVorbisComments,
  type StreamInfo,
  type VorbisComments,
} from "./metadata.ts";
import { StreamBuffer } from "./stream_buffer.ts";

export interface FlacMetadata {
  /** null when the stream starts directly at a frame (no fLaC marker) or has no STREAMINFO block. */
  streamInfo: StreamInfo | null;
  /** Every metadata block, in stream order (unknown types included, their contents skipped). */
  blocks: MetadataBlockInfo[];
  /** The VORBIS_COMMENT block, if present and well formed. */
  vorbisComments: VorbisComments | null;
  /** Absolute byte offset of the first frame. */
  audioOffset: number;
}

/** One decoded frame. */
export interface FlacBlock {
  /** Absolute byte offset of the frame in the stream. */
  offset: number;
  /** Index (per channel) of the block's first sample in the decoded stream. */
  firstSample: number;
  sampleRate: number;
  channels: number;
  bitsPerSample: number;
  /** One array per channel, owned by the caller. */
  samples: Int32Array[];
}

export interface FlacDecoderOptions {
  /** File name put into errors. */
  file?: string;
  /** Check the decoded audio against the STREAMINFO MD5 (default true). */
  verifyMd5?: boolean;
  /**
   * Where each block is decoded: called with (channels, blockSize) before a frame's subframes are read (again
   * if the frame is retried after more input arrives); returns one array of at least blockSize entries per
   * channel. Default: fresh arrays, so blocks are the caller's to keep.
   */
  allocate?: SampleAllocator;
}

/** How many bytes to keep buffered ahead of a frame before decoding it (grown when a frame is larger). */
const DEFAULT_LOOKAHEAD = 1 << 16;
/** Bodies of VORBIS_COMMENT blocks larger than this are skipped instead of parsed, to bound memory. */
const MAX_PARSED_COMMENT_BYTES = 1 << 20;

export class FlacStreamDecoder {
  private readonly buffer: StreamBuffer;
  private readonly reader: BitReader;
  private readonly scratch = new FrameScratch();
  private readonly file: string | undefined;
  private readonly md5: FlacMd5 | null;
  private readonly allocate: SampleAllocator;
  private metadata: FlacMetadata | null = null;
  private defaults: StreamDefaults | null = null;
  private first: DecodedFrame | null = null;
  private lookahead = DEFAULT_LOOKAHEAD;
  private decodedSamples = 0;
  private finished = false;
  private md5Verified = false;
  private md5FieldOffset = -1;

  constructor(input: Uint8Array | ReadableStream<Uint8Array>, options: FlacDecoderOptions = {}) {
    this.buffer = new StreamBuffer(input);
    this.reader = new BitReader(this.buffer);
    this.file = options.file;
    this.md5 = options.verifyMd5 === false ? null : new FlacMd5();
    this.allocate = options.allocate ?? freshSamples;
  }

  /** True once the stream ended and its audio matched the STREAMINFO MD5. */
  get md5Checked(): boolean {
    return this.md5Verified;
  }

  /** Samples per channel decoded so far. */
  get samplesDecoded(): number {
    return this.decodedSamples;
  }

  /** Reads (once) everything before the first frame. */
  async readMetadata(): Promise<FlacMetadata> {
    if (this.metadata) return this.metadata;
    try {
      this.metadata = await this.parseMetadata();
    } catch (e) {
      await this.buffer.close();
      throw this.named(e);
    }
    const si = this.metadata.streamInfo;
    if (si) {
      this.defaults = { sampleRate: si.sampleRate, bitsPerSample: si.bitsPerSample };
      if (si.maxFrameSize > 0) this.lookahead = Math.max(DEFAULT_LOOKAHEAD, si.maxFrameSize + 64);
    }
    return this.metadata;
  }

  /** The next decoded frame, or null at the end of the stream (after the MD5 check). */
  async nextBlock(): Promise<FlacBlock | null> {
    await this.readMetadata();
    if (this.finished) return null;
    try {
      const frame = await this.readFrame();
      if (frame === null) {
        this.finish();
        return null;
      }
      const n = frame.header.blockSize;
      this.md5?.update(frame.samples, n, frame.bitsPerSample);
      const block: FlacBlock = {
        offset: frame.header.offset,
        firstSample: this.decodedSamples,
        sampleRate: frame.sampleRate,
        channels: frame.header.channels,
        bitsPerSample: frame.bitsPerSample,
        samples: frame.samples,
      };
      this.decodedSamples += n;
      return block;
    } catch (e) {
      this.finished = true;
      await this.buffer.close();
      throw this.named(e);
    }
  }

  async *blocks(): AsyncGenerator<FlacBlock, void, undefined> {
    try {
      for (;;) {
        const block = await this.nextBlock();
        if (block === null) return;
        yield block;
      }
    } finally {
      if (!this.finished) {
        this.finished = true;
        await this.buffer.close();
      }
    }
  }

  [Symbol.asyncIterator](): AsyncGenerator<FlacBlock, void, undefined> {
    return this.blocks();
  }

  private named(e: unknown): unknown {
    if (e instanceof AudioFormatError && this.file && e.file === undefined) return e.withFile(this.file);
    return e;
  }

  private finish(): void {
    this.finished = true;
    const si = this.metadata?.streamInfo;
    if (!this.md5 || !si || /^0+$/.test(si.md5)) return;
    const digest = this.md5.digest();
    if (digest !== si.md5) {
      throw new AudioFormatError(
        `MD5 of the decoded audio (${digest}) differs from STREAMINFO's (${si.md5})`,
        this.md5FieldOffset,
        this.file,
      );
    }
    this.md5Verified = true;
  }

  // ---- byte-level helpers for the metadata section ----

  private available(): number {
    return this.buffer.length - (this.reader.pos >>> 3);
  }

  /** Buffers at least n bytes past the (byte-aligned) read position, or fails with a truncation error. */
  private async need(n: number, what: string): Promise<void> {
    while (this.available() < n) {
      this.compactBeforeReader();
      if (!(await this.buffer.pull())) {
        throw new AudioFormatError(`stream ends inside ${what}`, this.reader.byteOffset());
      }
      this.reader.sync();
    }
  }

  /** The metadata section as the shared header reader sees it (bytes at the byte-aligned read position). */
  private headerSource(): HeaderSource {
    return {
      offset: () => this.reader.byteOffset(),
      peek: async (n) => {
        await this.ensureLookahead(n);
        const i = this.reader.byteIndex();
        return this.buffer.bytes.subarray(i, Math.min(i + n, this.buffer.length));
      },
      skip: async (n) => {
        let left = n;
        for (;;) {
          const take = Math.min(left, this.available());
          this.reader.pos += take * 8;
          left -= take;
          if (left === 0) return n;
          this.compactBeforeReader();
          if (!(await this.buffer.pull())) return n - left;
          this.reader.sync();
        }
      },
    };
  }

  private compactBeforeReader(): void {
    const dropped = this.buffer.compact(this.reader.pos >>> 3);
    this.reader.pos -= dropped * 8;
    this.reader.sync();
  }

  private async parseMetadata(): Promise<FlacMetadata> {
    const r = this.reader;
    const blocks: MetadataBlockInfo[] = [];
    let streamInfo: StreamInfo | null = null;
    let vorbisComments: VorbisComments | null = null;
    const src = this.headerSource();
    const start = await readStreamStart(src);
    if (start === "short") throw new AudioFormatError("stream is too short to be FLAC", 0);
    if (start === "frame") {
      return { streamInfo: null, blocks, vorbisComments: null, audioOffset: r.byteOffset() };
    }
    if (start === "other") {
      throw new AudioFormatError("not a FLAC stream: no fLaC marker and no frame sync code", r.byteOffset());
    }
    for (let last = false; !last;) {
      const header = await readBlockHeader(src);
      const { type, offset, length } = header;
      last = header.last;
      blocks.push({ type, offset, length });
      const name = BLOCK_TYPE_NAMES[type] ?? `metadata block of type ${type}`;
      if (type === 0) {
        if (streamInfo) throw new AudioFormatError("second STREAMINFO block", offset);
        streamInfo = await readStreamInfoBody(src, header);
        this.md5FieldOffset = offset + 4 + 18;
      } else if (type === 4 && length <= MAX_PARSED_COMMENT_BYTES) {
        await this.need(length, `the ${name} block`);
        const at = r.byteIndex();
        vorbisComments = parseVorbisComments(this.buffer.bytes.subarray(at, at + length));
        r.pos += length * 8;
      } else {
        await skipBytes(src, length, `the ${name} block`);
      }
    }
    const audioOffset = r.byteOffset();
    if (!(await this.ensureLookahead(2)) || !isFrameSync(this.buffer.bytes, r.byteIndex())) {
      if (this.available() === 0 && this.buffer.eof) {
        return { streamInfo, blocks, vorbisComments, audioOffset };
      }
      throw new AudioFormatError(
        "no frame sync code after the last metadata block (wrong metadata block length?)",
        audioOffset,
      );
    }
    return { streamInfo, blocks, vorbisComments, audioOffset };
  }

  /** Buffers up to n bytes ahead of the read position; false when fewer than n exist. */
  private async ensureLookahead(n: number): Promise<boolean> {
    while (this.available() < n) {
      this.compactBeforeReader();
      if (!(await this.buffer.pull())) return false;
      this.reader.sync();
    }
    return true;
  }

  // ---- frames ----

  private async readFrame(): Promise<DecodedFrame | null> {
    const r = this.reader;
    await this.ensureLookahead(this.lookahead);
    if (this.available() === 0) return null;
    for (;;) {
      const start = r.pos;
      try {
        const frame = decodeFrame(r, this.defaults, this.scratch, this.allocate);
        this.checkConsistent(frame);
        return frame;
      } catch (e) {
        if (!(e instanceof EndOfData)) throw e;
        r.pos = start;
        if (this.buffer.eof) {
          throw new AudioFormatError("stream ends inside a frame (truncated file)", r.byteOffset());
        }
        this.lookahead = Math.max(this.lookahead, this.available() * 2);
        await this.ensureLookahead(this.lookahead);
      }
    }
  }

  /** A stream has one sample rate, channel count and bit depth; reject frames that disagree (as libFLAC does). */
  private checkConsistent(frame: DecodedFrame): void {
    const h = frame.header;
    const si = this.metadata?.streamInfo;
    const ref = si
      ? {
        sampleRate: si.sampleRate,
        channels: si.channels,
        bitsPerSample: si.bitsPerSample,
        source: "STREAMINFO",
      }
      : this.first
      ? {
        sampleRate: this.first.sampleRate,
        channels: this.first.header.channels,
        bitsPerSample: this.first.bitsPerSample,
        source: "the first frame",
      }
      : null;
    if (!this.first) this.first = frame;
    if (!ref) return;
    const check = (what: string, got: number, want: number) => {
      if (got !== want) {
        throw new AudioFormatError(`${what} is ${got} in this frame but ${want} in ${ref.source}`, h.offset);
      }
    };
    check("sample rate", frame.sampleRate, ref.sampleRate);
    check("channel count", h.channels, ref.channels);
    check("bits per sample", frame.bitsPerSample, ref.bitsPerSample);
  }
}
