/** Rice-coded residual decoding (RFC 9639 section 9.2.7), the decoder's hottest loop. */
import { AudioFormatError } from "../audio_error.ts";
import type { BitReader } from "./bit_reader.ts";

/**
 * Reads the residual of one subframe into out[order..blockSize). Throws AudioFormatError on a malformed
 * partition layout and EndOfData when the buffered bytes run out.
 */
export function decodeResidual(r: BitReader, out: Int32Array, blockSize: number, order: number): void {
  const at = r.byteOffset();
  const method = r.readBits(2);
  if (method > 1) throw new AudioFormatError(`reserved residual coding method ${method}`, at);
  const paramBits = method === 0 ? 4 : 5;
  const escape = method === 0 ? 15 : 31;
  const partitionOrder = r.readBits(4);
  const partitions = 1 << partitionOrder;
  if ((blockSize & (partitions - 1)) !== 0) {
    throw new AudioFormatError(
      `block size ${blockSize} is not divisible into 2^${partitionOrder} residual partitions`,
      at,
    );
  }
  const partitionLength = blockSize >>> partitionOrder;
  if (partitionLength < order) {
    throw new AudioFormatError(
      `residual partition of ${partitionLength} samples is shorter than predictor order ${order}`,
      at,
    );
  }
  let i = order;
  for (let p = 1; p <= partitions; p++) {
    const end = p * partitionLength;
    const k = r.readBits(paramBits);
    if (k === escape) {
      const bits = r.readBits(5);
      if (bits === 0) out.fill(0, i, end);
      else {
        if (r.bitsLeft() < bits * (end - i)) r.checkEnd();
        for (; i < end; i++) out[i] = r.readSigned(bits);
      }
    } else {
      riceRun(r, out, i, end, k);
    }
    i = end;
    r.checkEnd();
  }
}

/**
 * Decodes Rice codes with parameter k into out[start, end). Each 32-bit window is loaded once and drained of
 * every code that lies wholly inside it, which keeps the memory load off most samples' dependency chain.
 */
function riceRun(r: BitReader, out: Int32Array, start: number, end: number, k: number): void {
  const words = r.words;
  const mask = (1 << k) - 1;
  let pos = r.pos;
  let i = start;
  while (i < end) {
    const wi = pos >>> 5;
    const s = pos & 31;
    let w = (words[wi] << s) | ((words[wi + 1] >>> 1) >>> (31 - s));
    let avail = 32;
    do {
      const z = Math.clz32(w);
      const used = z + 1 + k;
      if (used > avail) break;
      const u = (z << k) | ((w >>> (32 - used)) & mask);
      out[i++] = (u >>> 1) ^ -(u & 1);
      avail -= used;
      w = (w << (used - 1)) << 1;
    } while (i < end);
    if (avail === 32) {
      // Not even one code fits a window: a long unary run or a large parameter.
      r.pos = pos;
      out[i++] = riceSlow(r, k);
      pos = r.pos;
    } else {
      pos += 32 - avail;
    }
  }
  r.pos = pos;
}

/** One Rice code whose unary part or total length does not fit a 32-bit window. */
function riceSlow(r: BitReader, k: number): number {
  const at = r.byteOffset();
  const q = r.readUnary();
  const u = q * 2 ** k + r.readBits(k);
  if (u > 0xffffffff) throw new AudioFormatError(`Rice-coded residual ${u} does not fit in 32 bits`, at);
  return u % 2 === 1 ? -(u + 1) / 2 : u / 2;
}
