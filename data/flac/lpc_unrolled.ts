// Generated: one straight-line LPC loop per order, history kept in locals (no reloads of out[i-k]).
// The newest sample's product is added last, so the loop-carried dependency is one multiply and two adds.
// Made by lpc_unrolled_gen.ts (deno run -A data/flac/lpc_unrolled_gen.ts); edit that, not this.

/** Int32 LPC restore, for sums proven to fit in int32. Returns false when the order is not unrolled. */
export function restoreLpcInt32Unrolled(
  out: Int32Array,
  n: number,
  c: Int32Array,
  order: number,
  shift: number,
): boolean {
  switch (order) {
    case 1: {
      const c0 = c[0];
      let h1 = out[0];
      for (let i = 1; i < n; i++) {
        const v = (out[i] + ((Math.imul(c0, h1)) >> shift)) | 0;
        out[i] = v;
        h1 = v;
      }
      return true;
    }
    case 2: {
      const c0 = c[0], c1 = c[1];
      let h1 = out[1], h2 = out[0];
      for (let i = 2; i < n; i++) {
        const v = (out[i] + ((Math.imul(c1, h2) + Math.imul(c0, h1)) >> shift)) | 0;
        out[i] = v;
        h2 = h1;
        h1 = v;
      }
      return true;
    }
    case 3: {
      const c0 = c[0], c1 = c[1], c2 = c[2];
      let h1 = out[2], h2 = out[1], h3 = out[0];
      for (let i = 3; i < n; i++) {
        const v = (out[i] + ((Math.imul(c2, h3) + Math.imul(c1, h2) + Math.imul(c0, h1)) >> shift)) | 0;
        out[i] = v;
        h3 = h2;
        h2 = h1;
        h1 = v;
      }
      return true;
    }
    case 4: {
      const c0 = c[0], c1 = c[1], c2 = c[2], c3 = c[3];
      let h1 = out[3], h2 = out[2], h3 = out[1], h4 = out[0];
      for (let i = 4; i < n; i++) {
        const v = (out[i] +
          ((Math.imul(c3, h4) + Math.imul(c2, h3) + Math.imul(c1, h2) + Math.imul(c0, h1)) >> shift)) | 0;
        out[i] = v;
        h4 = h3;
        h3 = h2;
        h2 = h1;
        h1 = v;
      }
      return true;
    }
    case 5: {
      const c0 = c[0], c1 = c[1], c2 = c[2], c3 = c[3], c4 = c[4];
      let h1 = out[4], h2 = out[3], h3 = out[2], h4 = out[1], h5 = out[0];
      for (let i = 5; i < n; i++) {
        const v = (out[i] +
          ((Math.imul(c4, h5) + Math.imul(c3, h4) + Math.imul(c2, h3) + Math.imul(c1, h2) +
            Math.imul(c0, h1)) >> shift)) | 0;
        out[i] = v;
        h5 = h4;
        h4 = h3;
        h3 = h2;
        h2 = h1;
        h1 = v;
      }
      return true;
    }
    case 6: {
      const c0 = c[0], c1 = c[1], c2 = c[2], c3 = c[3], c4 = c[4], c5 = c[5];
      let h1 = out[5], h2 = out[4], h3 = out[3], h4 = out[2], h5 = out[1], h6 = out[0];
      for (let i = 6; i < n; i++) {
        const v = (out[i] +
          ((Math.imul(c5, h6) + Math.imul(c4, h5) + Math.imul(c3, h4) + Math.imul(c2, h3) +
            Math.imul(c1, h2) + Math.imul(c0, h1)) >> shift)) | 0;
        out[i] = v;
        h6 = h5;
        h5 = h4;
        h4 = h3;
        h3 = h2;
        h2 = h1;
        h1 = v;
      }
      return true;
    }
    case 7: {
      const c0 = c[0], c1 = c[1], c2 = c[2], c3 = c[3], c4 = c[4], c5 = c[5], c6 = c[6];
      let h1 = out[6], h2 = out[5], h3 = out[4], h4 = out[3], h5 = out[2], h6 = out[1], h7 = out[0];
      for (let i = 7; i < n; i++) {
        const v = (out[i] +
          ((Math.imul(c6, h7) + Math.imul(c5, h6) + Math.imul(c4, h5) + Math.imul(c3, h4) +
            Math.imul(c2, h3) + Math.imul(c1, h2) + Math.imul(c0, h1)) >> shift)) | 0;
        out[i] = v;
        h7 = h6;
        h6 = h5;
        h5 = h4;
        h4 = h3;
        h3 = h2;
        h2 = h1;
        h1 = v;
      }
      return true;
    }
    case 8: {
      const c0 = c[0], c1 = c[1], c2 = c[2], c3 = c[3], c4 = c[4], c5 = c[5], c6 = c[6], c7 = c[7];
      let h1 = out[7],
        h2 = out[6],
        h3 = out[5],
        h4 = out[4],
        h5 = out[3],
        h6 = out[2],
        h7 = out[1],
        h8 = out[0];
      for (let i = 8; i < n; i++) {
        const v = (out[i] +
          ((Math.imul(c7, h8) + Math.imul(c6, h7) + Math.imul(c5, h6) + Math.imul(c4, h5) +
            Math.imul(c3, h4) + Math.imul(c2, h3) + Math.imul(c1, h2) + Math.imul(c0, h1)) >> shift)) | 0;
        out[i] = v;
        h8 = h7;
        h7 = h6;
        h6 = h5;
        h5 = h4;
        h4 = h3;
        h3 = h2;
        h2 = h1;
        h1 = v;
      }
      return true;
    }
    case 9: {
      const c0 = c[0], c1 = c[1], c2 = c[2], c3 = c[3], c4 = c[4], c5 = c[5], c6 = c[6], c7 = c[7], c8 = c[8];
      let h1 = out[8],
        h2 = out[7],
        h3 = out[6],
        h4 = out[5],
        h5 = out[4],
        h6 = out[3],
        h7 = out[2],
        h8 = out[1],
        h9 = out[0];
      for (let i = 9; i < n; i++) {
        const v = (out[i] +
          ((Math.imul(c8, h9) + Math.imul(c7, h8) + Math.imul(c6, h7) + Math.imul(c5, h6) +
            Math.imul(c4, h5) + Math.imul(c3, h4) + Math.imul(c2, h3) + Math.imul(c1, h2) +
            Math.imul(c0, h1)) >> shift)) | 0;
        out[i] = v;
        h9 = h8;
        h8 = h7;
        h7 = h6;
        h6 = h5;
        h5 = h4;
        h4 = h3;
        h3 = h2;
        h2 = h1;
        h1 = v;
      }
      return true;
    }
    case 10: {
      const c0 = c[0],
        c1 = c[1],
        c2 = c[2],
        c3 = c[3],
        c4 = c[4],
        c5 = c[5],
        c6 = c[6],
        c7 = c[7],
        c8 = c[8],
        c9 = c[9];
      let h1 = out[9],
        h2 = out[8],
        h3 = out[7],
        h4 = out[6],
        h5 = out[5],
        h6 = out[4],
        h7 = out[3],
        h8 = out[2],
        h9 = out[1],
        h10 = out[0];
      for (let i = 10; i < n; i++) {
        const v = (out[i] +
          ((Math.imul(c9, h10) + Math.imul(c8, h9) + Math.imul(c7, h8) + Math.imul(c6, h7) +
            Math.imul(c5, h6) + Math.imul(c4, h5) + Math.imul(c3, h4) + Math.imul(c2, h3) +
            Math.imul(c1, h2) + Math.imul(c0, h1)) >> shift)) | 0;
        out[i] = v;
        h10 = h9;
        h9 = h8;
        h8 = h7;
        h7 = h6;
        h6 = h5;
        h5 = h4;
        h4 = h3;
        h3 = h2;
        h2 = h1;
        h1 = v;
      }
      return true;
    }
    case 11: {
      const c0 = c[0],
        c1 = c[1],
        c2 = c[2],
        c3 = c[3],
        c4 = c[4],
        c5 = c[5],
        c6 = c[6],
        c7 = c[7],
        c8 = c[8],
        c9 = c[9],
        c10 = c[10];
      let h1 = out[10],
        h2 = out[9],
        h3 = out[8],
        h4 = out[7],
        h5 = out[6],
        h6 = out[5],
        h7 = out[4],
        h8 = out[3],
        h9 = out[2],
        h10 = out[1],
        h11 = out[0];
      for (let i = 11; i < n; i++) {
        const v = (out[i] +
          ((Math.imul(c10, h11) + Math.imul(c9, h10) + Math.imul(c8, h9) + Math.imul(c7, h8) +
            Math.imul(c6, h7) + Math.imul(c5, h6) + Math.imul(c4, h5) + Math.imul(c3, h4) +
            Math.imul(c2, h3) + Math.imul(c1, h2) + Math.imul(c0, h1)) >> shift)) | 0;
        out[i] = v;
        h11 = h10;
        h10 = h9;
        h9 = h8;
        h8 = h7;
        h7 = h6;
        h6 = h5;
        h5 = h4;
        h4 = h3;
        h3 = h2;
        h2 = h1;
        h1 = v;
      }
      return true;
    }
    case 12: {
      const c0 = c[0],
        c1 = c[1],
        c2 = c[2],
        c3 = c[3],
        c4 = c[4],
        c5 = c[5],
        c6 = c[6],
        c7 = c[7],
        c8 = c[8],
        c9 = c[9],
        c10 = c[10],
        c11 = c[11];
      let h1 = out[11],
        h2 = out[10],
        h3 = out[9],
        h4 = out[8],
        h5 = out[7],
        h6 = out[6],
        h7 = out[5],
        h8 = out[4],
        h9 = out[3],
        h10 = out[2],
        h11 = out[1],
        h12 = out[0];
      for (let i = 12; i < n; i++) {
        const v = (out[i] +
          ((Math.imul(c11, h12) + Math.imul(c10, h11) + Math.imul(c9, h10) + Math.imul(c8, h9) +
            Math.imul(c7, h8) + Math.imul(c6, h7) + Math.imul(c5, h6) + Math.imul(c4, h5) +
            Math.imul(c3, h4) + Math.imul(c2, h3) + Math.imul(c1, h2) + Math.imul(c0, h1)) >> shift)) | 0;
        out[i] = v;
        h12 = h11;
        h11 = h10;
        h10 = h9;
        h9 = h8;
        h8 = h7;
        h7 = h6;
        h6 = h5;
        h5 = h4;
        h4 = h3;
        h3 = h2;
        h2 = h1;
        h1 = v;
      }
      return true;
    }
    case 13: {
      const c0 = c[0],
        c1 = c[1],
        c2 = c[2],
        c3 = c[3],
        c4 = c[4],
        c5 = c[5],
        c6 = c[6],
        c7 = c[7],
        c8 = c[8],
        c9 = c[9],
        c10 = c[10],
        c11 = c[11],
        c12 = c[12];
      let h1 = out[12],
        h2 = out[11],
        h3 = out[10],
        h4 = out[9],
        h5 = out[8],
        h6 = out[7],
        h7 = out[6],
        h8 = out[5],
        h9 = out[4],
        h10 = out[3],
        h11 = out[2],
        h12 = out[1],
        h13 = out[0];
      for (let i = 13; i < n; i++) {
        const v = (out[i] +
          ((Math.imul(c12, h13) + Math.imul(c11, h12) + Math.imul(c10, h11) + Math.imul(c9, h10) +
            Math.imul(c8, h9) + Math.imul(c7, h8) + Math.imul(c6, h7) + Math.imul(c5, h6) +
            Math.imul(c4, h5) + Math.imul(c3, h4) + Math.imul(c2, h3) + Math.imul(c1, h2) +
            Math.imul(c0, h1)) >> shift)) | 0;
        out[i] = v;
        h13 = h12;
        h12 = h11;
        h11 = h10;
        h10 = h9;
        h9 = h8;
        h8 = h7;
        h7 = h6;
        h6 = h5;
        h5 = h4;
        h4 = h3;
        h3 = h2;
        h2 = h1;
        h1 = v;
      }
      return true;
    }
    case 14: {
      const c0 = c[0],
        c1 = c[1],
        c2 = c[2],
        c3 = c[3],
        c4 = c[4],
        c5 = c[5],
        c6 = c[6],
        c7 = c[7],
        c8 = c[8],
        c9 = c[9],
        c10 = c[10],
        c11 = c[11],
        c12 = c[12],
        c13 = c[13];
      let h1 = out[13],
        h2 = out[12],
        h3 = out[11],
        h4 = out[10],
        h5 = out[9],
        h6 = out[8],
        h7 = out[7],
        h8 = out[6],
        h9 = out[5],
        h10 = out[4],
        h11 = out[3],
        h12 = out[2],
        h13 = out[1],
        h14 = out[0];
      for (let i = 14; i < n; i++) {
        const v = (out[i] +
          ((Math.imul(c13, h14) + Math.imul(c12, h13) + Math.imul(c11, h12) + Math.imul(c10, h11) +
            Math.imul(c9, h10) + Math.imul(c8, h9) + Math.imul(c7, h8) + Math.imul(c6, h7) +
            Math.imul(c5, h6) + Math.imul(c4, h5) + Math.imul(c3, h4) + Math.imul(c2, h3) +
            Math.imul(c1, h2) + Math.imul(c0, h1)) >> shift)) | 0;
        out[i] = v;
        h14 = h13;
        h13 = h12;
        h12 = h11;
        h11 = h10;
        h10 = h9;
        h9 = h8;
        h8 = h7;
        h7 = h6;
        h6 = h5;
        h5 = h4;
        h4 = h3;
        h3 = h2;
        h2 = h1;
        h1 = v;
      }
      return true;
    }
    case 15: {
      const c0 = c[0],
        c1 = c[1],
        c2 = c[2],
        c3 = c[3],
        c4 = c[4],
        c5 = c[5],
        c6 = c[6],
        c7 = c[7],
        c8 = c[8],
        c9 = c[9],
        c10 = c[10],
        c11 = c[11],
        c12 = c[12],
        c13 = c[13],
        c14 = c[14];
      let h1 = out[14],
        h2 = out[13],
        h3 = out[12],
        h4 = out[11],
        h5 = out[10],
        h6 = out[9],
        h7 = out[8],
        h8 = out[7],
        h9 = out[6],
        h10 = out[5],
        h11 = out[4],
        h12 = out[3],
        h13 = out[2],
        h14 = out[1],
        h15 = out[0];
      for (let i = 15; i < n; i++) {
        const v = (out[i] +
          ((Math.imul(c14, h15) + Math.imul(c13, h14) + Math.imul(c12, h13) + Math.imul(c11, h12) +
            Math.imul(c10, h11) + Math.imul(c9, h10) + Math.imul(c8, h9) + Math.imul(c7, h8) +
            Math.imul(c6, h7) + Math.imul(c5, h6) + Math.imul(c4, h5) + Math.imul(c3, h4) +
            Math.imul(c2, h3) + Math.imul(c1, h2) + Math.imul(c0, h1)) >> shift)) | 0;
        out[i] = v;
        h15 = h14;
        h14 = h13;
        h13 = h12;
        h12 = h11;
        h11 = h10;
        h10 = h9;
        h9 = h8;
        h8 = h7;
        h7 = h6;
        h6 = h5;
        h5 = h4;
        h4 = h3;
        h3 = h2;
        h2 = h1;
        h1 = v;
      }
      return true;
    }
    case 16: {
      const c0 = c[0],
        c1 = c[1],
        c2 = c[2],
        c3 = c[3],
        c4 = c[4],
        c5 = c[5],
        c6 = c[6],
        c7 = c[7],
        c8 = c[8],
        c9 = c[9],
        c10 = c[10],
        c11 = c[11],
        c12 = c[12],
        c13 = c[13],
        c14 = c[14],
        c15 = c[15];
      let h1 = out[15],
        h2 = out[14],
        h3 = out[13],
        h4 = out[12],
        h5 = out[11],
        h6 = out[10],
        h7 = out[9],
        h8 = out[8],
        h9 = out[7],
        h10 = out[6],
        h11 = out[5],
        h12 = out[4],
        h13 = out[3],
        h14 = out[2],
        h15 = out[1],
        h16 = out[0];
      for (let i = 16; i < n; i++) {
        const v = (out[i] +
          ((Math.imul(c15, h16) + Math.imul(c14, h15) + Math.imul(c13, h14) + Math.imul(c12, h13) +
            Math.imul(c11, h12) + Math.imul(c10, h11) + Math.imul(c9, h10) + Math.imul(c8, h9) +
            Math.imul(c7, h8) + Math.imul(c6, h7) + Math.imul(c5, h6) + Math.imul(c4, h5) +
            Math.imul(c3, h4) + Math.imul(c2, h3) + Math.imul(c1, h2) + Math.imul(c0, h1)) >> shift)) | 0;
        out[i] = v;
        h16 = h15;
        h15 = h14;
        h14 = h13;
        h13 = h12;
        h12 = h11;
        h11 = h10;
        h10 = h9;
        h9 = h8;
        h8 = h7;
        h7 = h6;
        h6 = h5;
        h5 = h4;
        h4 = h3;
        h3 = h2;
        h2 = h1;
        h1 = v;
      }
      return true;
    }
  }
  return false;
}

/** Exact float64 LPC restore (products and sums stay below 2^53). Returns false when the order is not unrolled. */
export function restoreLpcFloatUnrolled(
  out: Int32Array,
  n: number,
  c: Int32Array,
  order: number,
  shift: number,
): boolean {
  const scale = 2 ** -shift;
  switch (order) {
    case 1: {
      const c0 = c[0];
      let h1 = out[0];
      for (let i = 1; i < n; i++) {
        const v = (out[i] + Math.floor((c0 * h1) * scale)) | 0;
        out[i] = v;
        h1 = v;
      }
      return true;
    }
    case 2: {
      const c0 = c[0], c1 = c[1];
      let h1 = out[1], h2 = out[0];
      for (let i = 2; i < n; i++) {
        const v = (out[i] + Math.floor((c1 * h2 + c0 * h1) * scale)) | 0;
        out[i] = v;
        h2 = h1;
        h1 = v;
      }
      return true;
    }
    case 3: {
      const c0 = c[0], c1 = c[1], c2 = c[2];
      let h1 = out[2], h2 = out[1], h3 = out[0];
      for (let i = 3; i < n; i++) {
        const v = (out[i] + Math.floor((c2 * h3 + c1 * h2 + c0 * h1) * scale)) | 0;
        out[i] = v;
        h3 = h2;
        h2 = h1;
        h1 = v;
      }
      return true;
    }
    case 4: {
      const c0 = c[0], c1 = c[1], c2 = c[2], c3 = c[3];
      let h1 = out[3], h2 = out[2], h3 = out[1], h4 = out[0];
      for (let i = 4; i < n; i++) {
        const v = (out[i] + Math.floor((c3 * h4 + c2 * h3 + c1 * h2 + c0 * h1) * scale)) | 0;
        out[i] = v;
        h4 = h3;
        h3 = h2;
        h2 = h1;
        h1 = v;
      }
      return true;
    }
    case 5: {
      const c0 = c[0], c1 = c[1], c2 = c[2], c3 = c[3], c4 = c[4];
      let h1 = out[4], h2 = out[3], h3 = out[2], h4 = out[1], h5 = out[0];
      for (let i = 5; i < n; i++) {
        const v = (out[i] + Math.floor((c4 * h5 + c3 * h4 + c2 * h3 + c1 * h2 + c0 * h1) * scale)) | 0;
        out[i] = v;
        h5 = h4;
        h4 = h3;
        h3 = h2;
        h2 = h1;
        h1 = v;
      }
      return true;
    }
    case 6: {
      const c0 = c[0], c1 = c[1], c2 = c[2], c3 = c[3], c4 = c[4], c5 = c[5];
      let h1 = out[5], h2 = out[4], h3 = out[3], h4 = out[2], h5 = out[1], h6 = out[0];
      for (let i = 6; i < n; i++) {
        const v = (out[i] + Math.floor((c5 * h6 + c4 * h5 + c3 * h4 + c2 * h3 + c1 * h2 + c0 * h1) * scale)) |
          0;
        out[i] = v;
        h6 = h5;
        h5 = h4;
        h4 = h3;
        h3 = h2;
        h2 = h1;
        h1 = v;
      }
      return true;
    }
    case 7: {
      const c0 = c[0], c1 = c[1], c2 = c[2], c3 = c[3], c4 = c[4], c5 = c[5], c6 = c[6];
      let h1 = out[6], h2 = out[5], h3 = out[4], h4 = out[3], h5 = out[2], h6 = out[1], h7 = out[0];
      for (let i = 7; i < n; i++) {
        const v = (out[i] +
          Math.floor((c6 * h7 + c5 * h6 + c4 * h5 + c3 * h4 + c2 * h3 + c1 * h2 + c0 * h1) * scale)) | 0;
        out[i] = v;
        h7 = h6;
        h6 = h5;
        h5 = h4;
        h4 = h3;
        h3 = h2;
        h2 = h1;
        h1 = v;
      }
      return true;
    }
    case 8: {
      const c0 = c[0], c1 = c[1], c2 = c[2], c3 = c[3], c4 = c[4], c5 = c[5], c6 = c[6], c7 = c[7];
      let h1 = out[7],
        h2 = out[6],
        h3 = out[5],
        h4 = out[4],
        h5 = out[3],
        h6 = out[2],
        h7 = out[1],
        h8 = out[0];
      for (let i = 8; i < n; i++) {
        const v = (out[i] +
          Math.floor(
            (c7 * h8 + c6 * h7 + c5 * h6 + c4 * h5 + c3 * h4 + c2 * h3 + c1 * h2 + c0 * h1) * scale,
          )) | 0;
        out[i] = v;
        h8 = h7;
        h7 = h6;
        h6 = h5;
        h5 = h4;
        h4 = h3;
        h3 = h2;
        h2 = h1;
        h1 = v;
      }
      return true;
    }
    case 9: {
      const c0 = c[0], c1 = c[1], c2 = c[2], c3 = c[3], c4 = c[4], c5 = c[5], c6 = c[6], c7 = c[7], c8 = c[8];
      let h1 = out[8],
        h2 = out[7],
        h3 = out[6],
        h4 = out[5],
        h5 = out[4],
        h6 = out[3],
        h7 = out[2],
        h8 = out[1],
        h9 = out[0];
      for (let i = 9; i < n; i++) {
        const v = (out[i] +
          Math.floor(
            (c8 * h9 + c7 * h8 + c6 * h7 + c5 * h6 + c4 * h5 + c3 * h4 + c2 * h3 + c1 * h2 + c0 * h1) *
              scale,
          )) | 0;
        out[i] = v;
        h9 = h8;
        h8 = h7;
        h7 = h6;
        h6 = h5;
        h5 = h4;
        h4 = h3;
        h3 = h2;
        h2 = h1;
        h1 = v;
      }
      return true;
    }
    case 10: {
      const c0 = c[0],
        c1 = c[1],
        c2 = c[2],
        c3 = c[3],
        c4 = c[4],
        c5 = c[5],
        c6 = c[6],
        c7 = c[7],
        c8 = c[8],
        c9 = c[9];
      let h1 = out[9],
        h2 = out[8],
        h3 = out[7],
        h4 = out[6],
        h5 = out[5],
        h6 = out[4],
        h7 = out[3],
        h8 = out[2],
        h9 = out[1],
        h10 = out[0];
      for (let i = 10; i < n; i++) {
        const v = (out[i] +
          Math.floor(
            (c9 * h10 + c8 * h9 + c7 * h8 + c6 * h7 + c5 * h6 + c4 * h5 + c3 * h4 + c2 * h3 + c1 * h2 +
              c0 * h1) * scale,
          )) | 0;
        out[i] = v;
        h10 = h9;
        h9 = h8;
        h8 = h7;
        h7 = h6;
        h6 = h5;
        h5 = h4;
        h4 = h3;
        h3 = h2;
        h2 = h1;
        h1 = v;
      }
      return true;
    }
    case 11: {
      const c0 = c[0],
        c1 = c[1],
        c2 = c[2],
        c3 = c[3],
        c4 = c[4],
        c5 = c[5],
        c6 = c[6],
        c7 = c[7],
        c8 = c[8],
        c9 = c[9],
        c10 = c[10];
      let h1 = out[10],
        h2 = out[9],
        h3 = out[8],
        h4 = out[7],
        h5 = out[6],
        h6 = out[5],
        h7 = out[4],
        h8 = out[3],
        h9 = out[2],
        h10 = out[1],
        h11 = out[0];
      for (let i = 11; i < n; i++) {
        const v = (out[i] +
          Math.floor(
            (c10 * h11 + c9 * h10 + c8 * h9 + c7 * h8 + c6 * h7 + c5 * h6 + c4 * h5 + c3 * h4 + c2 * h3 +
              c1 * h2 + c0 * h1) * scale,
          )) | 0;
        out[i] = v;
        h11 = h10;
        h10 = h9;
        h9 = h8;
        h8 = h7;
        h7 = h6;
        h6 = h5;
        h5 = h4;
        h4 = h3;
        h3 = h2;
        h2 = h1;
        h1 = v;
      }
      return true;
    }
    case 12: {
      const c0 = c[0],
        c1 = c[1],
        c2 = c[2],
        c3 = c[3],
        c4 = c[4],
        c5 = c[5],
        c6 = c[6],
        c7 = c[7],
        c8 = c[8],
        c9 = c[9],
        c10 = c[10],
        c11 = c[11];
      let h1 = out[11],
        h2 = out[10],
        h3 = out[9],
        h4 = out[8],
        h5 = out[7],
        h6 = out[6],
        h7 = out[5],
        h8 = out[4],
        h9 = out[3],
        h10 = out[2],
        h11 = out[1],
        h12 = out[0];
      for (let i = 12; i < n; i++) {
        const v = (out[i] +
          Math.floor(
            (c11 * h12 + c10 * h11 + c9 * h10 + c8 * h9 + c7 * h8 + c6 * h7 + c5 * h6 + c4 * h5 + c3 * h4 +
              c2 * h3 + c1 * h2 + c0 * h1) * scale,
          )) | 0;
        out[i] = v;
        h12 = h11;
        h11 = h10;
        h10 = h9;
        h9 = h8;
        h8 = h7;
        h7 = h6;
        h6 = h5;
        h5 = h4;
        h4 = h3;
        h3 = h2;
        h2 = h1;
        h1 = v;
      }
      return true;
    }
    case 13: {
      const c0 = c[0],
        c1 = c[1],
        c2 = c[2],
        c3 = c[3],
        c4 = c[4],
        c5 = c[5],
        c6 = c[6],
        c7 = c[7],
        c8 = c[8],
        c9 = c[9],
        c10 = c[10],
        c11 = c[11],
        c12 = c[12];
      let h1 = out[12],
        h2 = out[11],
        h3 = out[10],
        h4 = out[9],
        h5 = out[8],
        h6 = out[7],
        h7 = out[6],
        h8 = out[5],
        h9 = out[4],
        h10 = out[3],
        h11 = out[2],
        h12 = out[1],
        h13 = out[0];
      for (let i = 13; i < n; i++) {
        const v = (out[i] +
          Math.floor(
            (c12 * h13 + c11 * h12 + c10 * h11 + c9 * h10 + c8 * h9 + c7 * h8 + c6 * h7 + c5 * h6 +
              c4 * h5 + c3 * h4 + c2 * h3 + c1 * h2 + c0 * h1) * scale,
          )) | 0;
        out[i] = v;
        h13 = h12;
        h12 = h11;
        h11 = h10;
        h10 = h9;
        h9 = h8;
        h8 = h7;
        h7 = h6;
        h6 = h5;
        h5 = h4;
        h4 = h3;
        h3 = h2;
        h2 = h1;
        h1 = v;
      }
      return true;
    }
    case 14: {
      const c0 = c[0],
        c1 = c[1],
        c2 = c[2],
        c3 = c[3],
        c4 = c[4],
        c5 = c[5],
        c6 = c[6],
        c7 = c[7],
        c8 = c[8],
        c9 = c[9],
        c10 = c[10],
        c11 = c[11],
        c12 = c[12],
        c13 = c[13];
      let h1 = out[13],
        h2 = out[12],
        h3 = out[11],
        h4 = out[10],
        h5 = out[9],
        h6 = out[8],
        h7 = out[7],
        h8 = out[6],
        h9 = out[5],
        h10 = out[4],
        h11 = out[3],
        h12 = out[2],
        h13 = out[1],
        h14 = out[0];
      for (let i = 14; i < n; i++) {
        const v = (out[i] +
          Math.floor(
            (c13 * h14 + c12 * h13 + c11 * h12 + c10 * h11 + c9 * h10 + c8 * h9 + c7 * h8 + c6 * h7 +
              c5 * h6 + c4 * h5 + c3 * h4 + c2 * h3 + c1 * h2 + c0 * h1) * scale,
          )) | 0;
        out[i] = v;
        h14 = h13;
        h13 = h12;
        h12 = h11;
        h11 = h10;
        h10 = h9;
        h9 = h8;
        h8 = h7;
        h7 = h6;
        h6 = h5;
        h5 = h4;
        h4 = h3;
        h3 = h2;
        h2 = h1;
        h1 = v;
      }
      return true;
    }
    case 15: {
      const c0 = c[0],
        c1 = c[1],
        c2 = c[2],
        c3 = c[3],
        c4 = c[4],
        c5 = c[5],
        c6 = c[6],
        c7 = c[7],
        c8 = c[8],
        c9 = c[9],
        c10 = c[10],
        c11 = c[11],
        c12 = c[12],
        c13 = c[13],
        c14 = c[14];
      let h1 = out[14],
        h2 = out[13],
        h3 = out[12],
        h4 = out[11],
        h5 = out[10],
        h6 = out[9],
        h7 = out[8],
        h8 = out[7],
        h9 = out[6],
        h10 = out[5],
        h11 = out[4],
        h12 = out[3],
        h13 = out[2],
        h14 = out[1],
        h15 = out[0];
      for (let i = 15; i < n; i++) {
        const v = (out[i] +
          Math.floor(
            (c14 * h15 + c13 * h14 + c12 * h13 + c11 * h12 + c10 * h11 + c9 * h10 + c8 * h9 + c7 * h8 +
              c6 * h7 + c5 * h6 + c4 * h5 + c3 * h4 + c2 * h3 + c1 * h2 + c0 * h1) * scale,
          )) | 0;
        out[i] = v;
        h15 = h14;
        h14 = h13;
        h13 = h12;
        h12 = h11;
        h11 = h10;
        h10 = h9;
        h9 = h8;
        h8 = h7;
        h7 = h6;
        h6 = h5;
        h5 = h4;
        h4 = h3;
        h3 = h2;
        h2 = h1;
        h1 = v;
      }
      return true;
    }
    case 16: {
      const c0 = c[0],
        c1 = c[1],
        c2 = c[2],
        c3 = c[3],
        c4 = c[4],
        c5 = c[5],
        c6 = c[6],
        c7 = c[7],
        c8 = c[8],
        c9 = c[9],
        c10 = c[10],
        c11 = c[11],
        c12 = c[12],
        c13 = c[13],
        c14 = c[14],
        c15 = c[15];
      let h1 = out[15],
        h2 = out[14],
        h3 = out[13],
        h4 = out[12],
        h5 = out[11],
        h6 = out[10],
        h7 = out[9],
        h8 = out[8],
        h9 = out[7],
        h10 = out[6],
        h11 = out[5],
        h12 = out[4],
        h13 = out[3],
        h14 = out[2],
        h15 = out[1],
        h16 = out[0];
      for (let i = 16; i < n; i++) {
        const v = (out[i] +
          Math.floor(
            (c15 * h16 + c14 * h15 + c13 * h14 + c12 * h13 + c11 * h12 + c10 * h11 + c9 * h10 + c8 * h9 +
              c7 * h8 + c6 * h7 + c5 * h6 + c4 * h5 + c3 * h4 + c2 * h3 + c1 * h2 + c0 * h1) * scale,
          )) | 0;
        out[i] = v;
        h16 = h15;
        h15 = h14;
        h14 = h13;
        h13 = h12;
        h12 = h11;
        h11 = h10;
        h10 = h9;
        h9 = h8;
        h8 = h7;
        h7 = h6;
        h6 = h5;
        h5 = h4;
        h4 = h3;
        h3 = h2;
        h2 = h1;
        h1 = v;
      }
      return true;
    }
  }
  return false;
}
