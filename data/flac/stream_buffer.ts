/**
 * The bytes of a FLAC stream that are in memory now, mirrored as big-endian 32-bit words so the bit reader
 * can fetch any 32-bit window with two loads. Input is pulled chunk by chunk from a ReadableStream (or from
 * slices of a Uint8Array), and consumed bytes are dropped, so memory stays bounded by about one frame plus
 * one chunk.
 */

/** Zero words kept after the data, so a reader can look a few words past the end without a bounds check. */
export const WORD_PADDING = 8;
const SLICE_BYTES = 1 << 20;
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

export class StreamBuffer {
  /** Buffered bytes; bytes[length..] are zero. */
  bytes: Uint8Array;
  /** words[j] = big-endian bytes[4j..4j+3]; zero past the data. */
  words: Int32Array;
  /** Number of valid bytes in `bytes`. */
  length = 0;
  /** Absolute stream offset of bytes[0]. */
  base = 0;
  /** True once the input has no more chunks. */
  eof = false;

  private reader: ReadableStreamDefaultReader<Uint8Array> | null = null;
  private whole: Uint8Array | null = null;
  private wholePos = 0;

  constructor(input: Uint8Array | ReadableStream<Uint8Array>, initialCapacity = 1 << 16) {
    if (input instanceof Uint8Array) this.whole = input;
    else this.reader = input.getReader();
    const cap = roundUp4(initialCapacity);
    this.bytes = new Uint8Array(cap);
    this.words = new Int32Array(cap / 4 + WORD_PADDING);
  }

  /** Appends the next chunk of input. Returns false (and sets eof) when the input is exhausted. */
  async pull(): Promise<boolean> {
    if (this.eof) return false;
    let chunk: Uint8Array | undefined;
    if (this.whole) {
      if (this.wholePos >= this.whole.length) chunk = undefined;
      else {
        chunk = this.whole.subarray(this.wholePos, this.wholePos + SLICE_BYTES);
        this.wholePos += chunk.length;
      }
    } else {
      // Empty chunks are legal in a ReadableStream; skip them.
      do {
        const r = await this.reader!.read();
        chunk = r.done ? undefined : r.value;
      } while (chunk !== undefined && chunk.length === 0);
    }
    if (chunk === undefined) {
      this.eof = true;
      this.reader?.releaseLock();
      return false;
    }
    this.append(chunk);
    return true;
  }

  /** Stops reading the input early (cancels the stream). */
  async close(): Promise<void> {
    if (this.reader && !this.eof) {
      this.eof = true;
      await this.reader.cancel().catch(() => {});
    }
  }

  /**
   * Drops the bytes before `keepFrom` (rounded down to a multiple of 4 to keep the word alignment).
   * Returns the number of bytes dropped; callers shift their positions by it.
   */
  compact(keepFrom: number): number {
    const drop = keepFrom & ~3;
    if (drop <= 0) return 0;
    const oldLength = this.length;
    const oldWords = (oldLength + 3) >>> 2;
    this.bytes.copyWithin(0, drop, oldLength);
    this.bytes.fill(0, oldLength - drop, oldLength);
    this.words.copyWithin(0, drop >>> 2, oldWords);
    this.words.fill(0, oldWords - (drop >>> 2), oldWords);
    this.length = oldLength - drop;
    this.base += drop;
    return drop;
  }

  private append(chunk: Uint8Array): void {
    const needed = this.length + chunk.length;
    if (needed > this.bytes.length) {
      const cap = roundUp4(Math.max(needed, this.bytes.length * 2));
      const bytes = new Uint8Array(cap);
      bytes.set(this.bytes.subarray(0, this.length));
      const words = new Int32Array(cap / 4 + WORD_PADDING);
      words.set(this.words.subarray(0, (this.length + 3) >>> 2));
      this.bytes = bytes;
      this.words = words;
    }
    const from = this.length >>> 2;
    this.bytes.set(chunk, this.length);
    this.length = needed;
    const to = (needed + 3) >>> 2;
    const w = this.words;
    if (LITTLE_ENDIAN) {
      const native = new Int32Array(this.bytes.buffer, 0, to);
      for (let j = from; j < to; j++) {
        const v = native[j];
        w[j] = (v << 24) | ((v & 0xff00) << 8) | ((v >>> 8) & 0xff00) | (v >>> 24);
      }
    } else {
      w.set(new Int32Array(this.bytes.buffer, from * 4, to - from), from);
    }
  }
}

function roundUp4(n: number): number {
  return (n + 3) & ~3;
}
