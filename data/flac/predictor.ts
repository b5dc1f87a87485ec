/**
 * Rebuilding samples from residuals (RFC 9639 sections 9.2.5 and 9.2.6). On entry out[0..order) holds the
 * warm-up samples and out[order..n) the residuals; on exit out holds the samples.
 *
 * Fixed predictors have no shift, so 32-bit wrapping arithmetic gives the exact result for any stream
 * whose samples fit their bit depth. LPC sums are shifted right, so they must be exact: Int32 arithmetic
 * when sum|coef| * 2^(bps-1) provably stays below 2^31, otherwise float64, which is exact because
 * |sum| <= 32 * 2^15 * 2^32 < 2^53.
 */
import { restoreLpcFloatUnrolled, restoreLpcInt32Unrolled } from "./lpc_unrolled.ts";

export function restoreFixed(out: Int32Array, n: number, order: number): void {
  // History in locals, newest term last: the loop-carried dependency is then a single add or multiply-add.
  if (n <= order) return;
  switch (order) {
    case 1: {
      let h1 = out[0];
      for (let i = 1; i < n; i++) {
        h1 = (out[i] + h1) | 0;
        out[i] = h1;
      }
      return;
    }
    case 2: {
      let h2 = out[0], h1 = out[1];
      for (let i = 2; i < n; i++) {
        const v = (out[i] - h2 + 2 * h1) | 0;
        out[i] = v;
        h2 = h1;
        h1 = v;
      }
      return;
    }
    case 3: {
      let h3 = out[0], h2 = out[1], h1 = out[2];
      for (let i = 3; i < n; i++) {
        const v = (out[i] + h3 - 3 * h2 + 3 * h1) | 0;
        out[i] = v;
        h3 = h2;
        h2 = h1;
        h1 = v;
      }
      return;
    }
    case 4: {
      let h4 = out[0], h3 = out[1], h2 = out[2], h1 = out[3];
      for (let i = 4; i < n; i++) {
        const v = (out[i] - h4 + 4 * h3 - 6 * h2 + 4 * h1) | 0;
        out[i] = v;
        h4 = h3;
        h3 = h2;
        h2 = h1;
        h1 = v;
      }
      return;
    }
  }
}

/** restoreFixed for 33-bit side channels held in float64 (all values exact integers). */
export function restoreFixedWide(out: Float64Array, n: number, order: number): void {
  switch (order) {
    case 1:
      for (let i = 1; i < n; i++) out[i] = out[i] + out[i - 1];
      return;
    case 2:
      for (let i = 2; i < n; i++) out[i] = out[i] + 2 * out[i - 1] - out[i - 2];
      return;
    case 3:
      for (let i = 3; i < n; i++) out[i] = out[i] + 3 * (out[i - 1] - out[i - 2]) + out[i - 3];
      return;
    case 4:
      for (let i = 4; i < n; i++) {
        out[i] = out[i] + 4 * (out[i - 1] + out[i - 3]) - 6 * out[i - 2] - out[i - 4];
      }
      return;
  }
}

/** True when every partial LPC sum fits in int32 for samples of `bps` bits. */
export function lpcFitsInt32(coefs: Int32Array, order: number, bps: number): boolean {
  let sumAbs = 0;
  for (let j = 0; j < order; j++) sumAbs += Math.abs(coefs[j]);
  return sumAbs * 2 ** (bps - 1) < 2 ** 31;
}

/**
 * LPC restore. coefs[j] multiplies the sample j+1 steps back. `bps` is the subframe's sample width, used to
 * pick exact int32 arithmetic when it cannot overflow.
 */
export function restoreLpc(
  out: Int32Array,
  n: number,
  coefs: Int32Array,
  order: number,
  shift: number,
  bps: number,
): void {
  if (lpcFitsInt32(coefs, order, bps)) restoreLpcInt32(out, n, coefs, order, shift);
  else restoreLpcFloat(out, n, coefs, order, shift);
}

function restoreLpcInt32(out: Int32Array, n: number, c: Int32Array, order: number, shift: number): void {
  if (restoreLpcInt32Unrolled(out, n, c, order, shift)) return;
  for (let i = order; i < n; i++) {
    let sum = 0;
    for (let j = 0, t = i - 1; j < order; j++, t--) sum += Math.imul(c[j], out[t]);
    out[i] = out[i] + (sum >> shift);
  }
}

function restoreLpcFloat(out: Int32Array, n: number, c: Int32Array, order: number, shift: number): void {
  if (restoreLpcFloatUnrolled(out, n, c, order, shift)) return;
  const scale = 2 ** -shift;
  for (let i = order; i < n; i++) {
    let sum = 0;
    for (let j = 0, t = i - 1; j < order; j++, t--) sum += c[j] * out[t];
    out[i] = out[i] + Math.floor(sum * scale);
  }
}

/** LPC restore for 33-bit side channels held in float64. */
export function restoreLpcWide(
  out: Float64Array,
  n: number,
  c: Int32Array,
  order: number,
  shift: number,
): void {
  const scale = 2 ** -shift;
  for (let i = order; i < n; i++) {
    let sum = 0;
    for (let j = 0, t = i - 1; j < order; j++, t--) sum += c[j] * out[t];
    out[i] = out[i] + Math.floor(sum * scale);
  }
}
