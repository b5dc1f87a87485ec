/**
 * MD5 (RFC 1321) in TypeScript, incremental. FLAC's STREAMINFO carries an MD5 of the decoded audio and the
 * decoder checks it; node:crypto would do the hashing in Deno, but not in a browser, and the decoder must run in
 * both. MD5 is used here only as FLAC's integrity check, never for security.
 */

/** Per-round left-rotation amounts (RFC 1321 section 3.4), four per round. */
const SHIFTS = [7, 12, 17, 22, 5, 9, 14, 20, 4, 11, 16, 23, 6, 10, 15, 21];

/** K[i] = floor(2^32 * |sin(i + 1)|). */
const K = Int32Array.from({ length: 64 }, (_, i) => Math.floor(Math.abs(Math.sin(i + 1)) * 2 ** 32) | 0);

/** Which message word step i reads (RFC 1321: i, 5i+1, 3i+5, 7i, mod 16 by round). */
const WORD = Uint8Array.from({ length: 64 }, (_, i) => {
  if (i < 16) return i;
  if (i < 32) return (5 * i + 1) & 15;
  if (i < 48) return (3 * i + 5) & 15;
  return (7 * i) & 15;
});

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

export class Md5 {
  /** One block's words, for input that cannot be viewed as words in place. */
  private words = new Int32Array(16);
  private state = new Int32Array([0x67452301, 0xefcdab89 | 0, 0x98badcfe | 0, 0x10325476]);
  private tail = new Uint8Array(64);
  private tailLength = 0;
  private total = 0;
  private finished = false;

  /** Adds bytes to the message. */
  update(bytes: Uint8Array): this {
    if (this.finished) throw new Error("Md5: update after digest");
    this.total += bytes.length;
    let at = 0;
    if (this.tailLength > 0) {
      const take = Math.min(64 - this.tailLength, bytes.length);
      this.tail.set(bytes.subarray(0, take), this.tailLength);
      this.tailLength += take;
      at = take;
      if (this.tailLength < 64) return this;
      this.blockFromBytes(this.tail, 0);
      this.tailLength = 0;
    }
    const blocks = (bytes.length - at) >> 6;
    if (LITTLE_ENDIAN && ((bytes.byteOffset + at) & 3) === 0) {
      // MD5 reads little-endian words: on such a machine, aligned input is its own word array (2x faster).
      const words = new Int32Array(bytes.buffer, bytes.byteOffset + at, blocks * 16);
      for (let k = 0; k < blocks; k++) this.block(words, k * 16);
    } else {
      for (let k = 0; k < blocks; k++) this.blockFromBytes(bytes, at + k * 64);
    }
    at += blocks * 64;
    this.tail.set(bytes.subarray(at), 0);
    this.tailLength = bytes.length - at;
    return this;
  }

  /** The digest as 32 lower-case hex digits; the object takes no more input afterwards. */
  digestHex(): string {
    if (!this.finished) this.finish();
    let hex = "";
    for (let w = 0; w < 4; w++) {
      const v = this.state[w];
      for (let b = 0; b < 4; b++) hex += ((v >>> (8 * b)) & 0xff).toString(16).padStart(2, "0");
    }
    return hex;
  }

  /** Pads with 0x80, zeros and the message length in bits (64-bit little-endian). */
  private finish(): void {
    const bits = this.total * 8;
    const padLength = this.tailLength < 56 ? 56 - this.tailLength : 120 - this.tailLength;
    const pad = new Uint8Array(padLength + 8);
    pad[0] = 0x80;
    const view = new DataView(pad.buffer);
    view.setUint32(padLength, bits >>> 0, true);
    view.setUint32(padLength + 4, Math.floor(bits / 2 ** 32), true);
    const total = this.total;
    this.update(pad);
    this.total = total;
    this.finished = true;
  }

  /** The block of 64 bytes at `at`, assembled into words. */
  private blockFromBytes(bytes: Uint8Array, at: number): void {
    const x = this.words;
    for (let i = 0, o = at; i < 16; i++, o += 4) {
      x[i] = bytes[o] | (bytes[o + 1] << 8) | (bytes[o + 2] << 16) | (bytes[o + 3] << 24);
    }
    this.block(x, 0);
  }

  /** One block, the 16 words from x[w]: 64 steps in four rounds of sixteen. */
  private block(x: Int32Array, w: number): void {
    const s = this.state;
    let a = s[0], b = s[1], c = s[2], d = s[3];
    // Each round its own loop, so that the round function is not chosen per step (about 20% faster in V8).
    for (let i = 0; i < 16; i++) {
      const sum = (a + ((b & c) | (~b & d)) + K[i] + x[w + i]) | 0;
      const r = SHIFTS[i & 3];
      a = d, d = c, c = b;
      b = (b + ((sum << r) | (sum >>> (32 - r)))) | 0;
    }
    for (let i = 16; i < 32; i++) {
      const sum = (a + ((d & b) | (~d & c)) + K[i] + x[w + WORD[i]]) | 0;
      const r = SHIFTS[4 | (i & 3)];
      a = d, d = c, c = b;
      b = (b + ((sum << r) | (sum >>> (32 - r)))) | 0;
    }
    for (let i = 32; i < 48; i++) {
      const sum = (a + (b ^ c ^ d) + K[i] + x[w + WORD[i]]) | 0;
      const r = SHIFTS[8 | (i & 3)];
      a = d, d = c, c = b;
      b = (b + ((sum << r) | (sum >>> (32 - r)))) | 0;
    }
    for (let i = 48; i < 64; i++) {
      const sum = (a + (c ^ (b | ~d)) + K[i] + x[w + WORD[i]]) | 0;
      const r = SHIFTS[12 | (i & 3)];
      a = d, d = c, c = b;
      b = (b + ((sum << r) | (sum >>> (32 - r)))) | 0;
    }
    s[0] = (s[0] + a) | 0;
    s[1] = (s[1] + b) | 0;
    s[2] = (s[2] + c) | 0;
    s[3] = (s[3] + d) | 0;
  }
}
