/**
 * MSB-first bit reader over a StreamBuffer's big-endian word mirror. Any 32-bit window is two word loads
 * and two shifts, so there is no refill loop. Reads past the buffered data see zeros; `checkEnd` (called at
 * least once per subframe, and inside every unbounded loop) turns that into an EndOfData signal.
 */
import type { StreamBuffer } from "./stream_buffer.ts";

/** Thrown when decoding needs bytes that are not buffered yet. Never escapes the stream decoder. */
export class EndOfData extends Error {
  constructor() {
    super("end of buffered data");
    this.name = "EndOfData";
  }
}

export class BitReader {
  words: Int32Array;
  /** Current position, in bits from the start of the buffer. */
  pos = 0;
  /** Number of valid bits in the buffer. */
  limit = 0;

  constructor(readonly buffer: StreamBuffer) {
    this.words = buffer.words;
    this.sync();
  }

  /** Picks up the buffer's arrays and length after a pull or compact. */
  sync(): void {
    this.words = this.buffer.words;
    this.limit = this.buffer.length * 8;
  }

  /** Absolute byte offset (in the stream) of the current position, rounded down. */
  byteOffset(): number {
    return this.buffer.base + (this.pos >>> 3);
  }

  /** Index in buffer.bytes of the current position (which must be byte aligned). */
  byteIndex(): number {
    return this.pos >>> 3;
  }

  bitsLeft(): number {
    return this.limit - this.pos;
  }

  /** Throws EndOfData when the reader has gone past the buffered data. */
  checkEnd(): void {
    if (this.pos > this.limit) throw new EndOfData();
  }

  /** The next 32 bits, without consuming them. */
  peek32(): number {
    const p = this.pos;
    const i = p >>> 5;
    const s = p & 31;
    const w = this.words;
    return (w[i] << s) | ((w[i + 1] >>> 1) >>> (31 - s));
  }

  /** Reads n bits (0..32) as an unsigned number. */
  readBits(n: number): number {
    if (n === 0) return 0;
    const v = this.peek32() >>> (32 - n);
    this.pos += n;
    return v;
  }

  /** Reads n bits (0..32) as a two's complement signed number. */
  readSigned(n: number): number {
    if (n === 0) return 0;
    const v = this.peek32() >> (32 - n);
    this.pos += n;
    return v;
  }

  /** Reads n bits (0..53) as a two's complement signed number (used for 33-bit side channels). */
  readSignedWide(n: number): number {
    if (n <= 32) return this.readSigned(n);
    const hi = this.readSigned(n - 32);
    return hi * 4294967296 + this.readBits(32);
  }

  /** Reads n bits (0..53) as an unsigned number. */
  readBitsWide(n: number): number {
    if (n <= 32) return this.readBits(n);
    const hi = this.readBits(n - 32);
    return hi * 4294967296 + this.readBits(32);
  }

  /** Counts zero bits up to and including the next one bit; returns the number of zeros. */
  readUnary(): number {
    let count = 0;
    for (;;) {
      const w = this.peek32();
      if (w !== 0) {
        const z = Math.clz32(w);
        this.pos += z + 1;
        return count + z;
      }
      count += 32;
      this.pos += 32;
      this.checkEnd();
    }
  }

  alignToByte(): void {
    this.pos = (this.pos + 7) & ~7;
  }

  isByteAligned(): boolean {
    return (this.pos & 7) === 0;
  }
}
