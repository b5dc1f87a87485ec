/** Subframe decoding (RFC 9639 section 9.2): CONSTANT, VERBATIM, FIXED and LPC, with wasted bits. */
import { AudioFormatError } from "../audio_error.ts";
import type { BitReader } from "./bit_reader.ts";
import { restoreFixed, restoreFixedWide, restoreLpc, restoreLpcWide } from "./predictor.ts";
import { decodeResidual } from "./residual.ts";

interface SubframeHeader {
  type: number;
  wasted: number;
  at: number;
}

function readSubframeHeader(r: BitReader, bps: number): SubframeHeader {
  const at = r.byteOffset();
  if (r.readBits(1) !== 0) throw new AudioFormatError("subframe header padding bit is set", at);
  const type = r.readBits(6);
  let wasted = 0;
  if (r.readBits(1) === 1) {
    wasted = r.readUnary() + 1;
    if (wasted >= bps) {
      throw new AudioFormatError(`subframe has ${wasted} wasted bits but only ${bps} bits per sample`, at);
    }
  }
  if (type >= 2 && type < 8 || type >= 13 && type < 32) {
    throw new AudioFormatError(`reserved subframe type ${type}`, at);
  }
  return { type, wasted, at };
}

/** Kind of predictor in a subframe type code: 0 constant, 1 verbatim, 8..12 fixed, 32..63 LPC. */
function predictorOrder(type: number): number {
  return type >= 32 ? type - 31 : type - 8;
}

function checkOrder(order: number, n: number, at: number): void {
  if (order > n) throw new AudioFormatError(`predictor order ${order} exceeds block size ${n}`, at);
}

interface LpcParams {
  coefs: Int32Array;
  shift: number;
}

function readLpcParams(r: BitReader, order: number, coefs: Int32Array): LpcParams {
  const at = r.byteOffset();
  const precisionCode = r.readBits(4);
  if (precisionCode === 15) throw new AudioFormatError("invalid LPC coefficient precision code 15", at);
  const precision = precisionCode + 1;
  const shift = r.readSigned(5);
  if (shift < 0) throw new AudioFormatError(`negative LPC shift ${shift}`, at);
  for (let j = 0; j < order; j++) coefs[j] = r.readSigned(precision);
  return { coefs, shift };
}

/**
 * Decodes one subframe of n samples at `bps` bits (at most 32) into out[0..n). `coefs` is scratch space of
 * at least 32 entries.
 */
export function decodeSubframe(
  r: BitReader,
  out: Int32Array,
  n: number,
  bps: number,
  coefs: Int32Array,
): void {
  const { type, wasted, at } = readSubframeHeader(r, bps);
  const sbps = bps - wasted;
  if (type === 0) {
    out.fill(r.readSigned(sbps), 0, n);
  } else if (type === 1) {
    if (r.bitsLeft() < n * sbps) r.checkEnd();
    for (let i = 0; i < n; i++) out[i] = r.readSigned(sbps);
  } else {
    const order = predictorOrder(type);
    checkOrder(order, n, at);
    for (let i = 0; i < order; i++) out[i] = r.readSigned(sbps);
    if (type < 32) {
      decodeResidual(r, out, n, order);
      restoreFixed(out, n, order);
    } else {
      const { shift } = readLpcParams(r, order, coefs);
      decodeResidual(r, out, n, order);
      restoreLpc(out, n, coefs, order, shift, sbps);
    }
  }
  r.checkEnd();
  if (wasted > 0) { for (let i = 0; i < n; i++) out[i] <<= wasted; }
}

/**
 * Decodes a subframe whose samples need more than 32 bits (the side channel of 32-bit audio) into
 * float64, exactly. `residual` is int32 scratch of at least n entries.
 */
export function decodeWideSubframe(
  r: BitReader,
  out: Float64Array,
  n: number,
  bps: number,
  coefs: Int32Array,
  residual: Int32Array,
): void {
  const { type, wasted, at } = readSubframeHeader(r, bps);
  const sbps = bps - wasted;
  if (type === 0) {
    out.fill(r.readSignedWide(sbps), 0, n);
  } else if (type === 1) {
    if (r.bitsLeft() < n * sbps) r.checkEnd();
    for (let i = 0; i < n; i++) out[i] = r.readSignedWide(sbps);
  } else {
    const order = predictorOrder(type);
    checkOrder(order, n, at);
    for (let i = 0; i < order; i++) out[i] = r.readSignedWide(sbps);
    const shift = type < 32 ? 0 : readLpcParams(r, order, coefs).shift;
    decodeResidual(r, residual, n, order);
    for (let i = order; i < n; i++) out[i] = residual[i];
    if (type < 32) restoreFixedWide(out, n, order);
    else restoreLpcWide(out, n, coefs, order, shift);
  }
  r.checkEnd();
  if (wasted > 0) {
    const scale = 2 ** wasted;
    for (let i = 0; i < n; i++) out[i] *= scale;
  }
}
