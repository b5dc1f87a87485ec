/** Writes lpc_unrolled.ts: straight-line LPC loops for orders 1..16. */
const MAX = 16;
let s =
  `// Generated: one straight-line LPC loop per order, history kept in locals (no reloads of out[i-k]).\n// The newest sample's product is added last, so the loop-carried dependency is one multiply and two adds.
// Made by lpc_unrolled_gen.ts (deno run -A data/flac/lpc_unrolled_gen.ts); edit that, not this.

/** Int32 LPC restore, for sums proven to fit in int32. Returns false when the order is not unrolled. */
export function restoreLpcInt32Unrolled(out: Int32Array, n: number, c: Int32Array, order: number, shift: number): boolean {
  switch (order) {
`;
for (let o = 1; o <= MAX; o++) {
  const cs = Array.from({ length: o }, (_, j) => `c${j} = c[${j}]`).join(", ");
  const hs = Array.from({ length: o }, (_, j) => `h${j + 1} = out[${o - 1 - j}]`).join(", ");
  const sum = Array.from({ length: o }, (_, j) => `Math.imul(c${o - 1 - j}, h${o - j})`).join(" + ");
  const shiftH = Array.from({ length: o - 1 }, (_, j) => `h${o - j} = h${o - j - 1};`).join(" ");
  s += `    case ${o}: {
      const ${cs};
      let ${hs};
      for (let i = ${o}; i < n; i++) {
        const v = (out[i] + ((${sum}) >> shift)) | 0;
        out[i] = v;
        ${shiftH} h1 = v;
      }
      return true;
    }
`;
}
s += `  }
  return false;
}

/** Exact float64 LPC restore (products and sums stay below 2^53). Returns false when the order is not unrolled. */
export function restoreLpcFloatUnrolled(out: Int32Array, n: number, c: Int32Array, order: number, shift: number): boolean {
  const scale = 2 ** -shift;
  switch (order) {
`;
for (let o = 1; o <= MAX; o++) {
  const cs = Array.from({ length: o }, (_, j) => `c${j} = c[${j}]`).join(", ");
  const hs = Array.from({ length: o }, (_, j) => `h${j + 1} = out[${o - 1 - j}]`).join(", ");
  const sum = Array.from({ length: o }, (_, j) => `c${o - 1 - j} * h${o - j}`).join(" + ");
  const shiftH = Array.from({ length: o - 1 }, (_, j) => `h${o - j} = h${o - j - 1};`).join(" ");
  s += `    case ${o}: {
      const ${cs};
      let ${hs};
      for (let i = ${o}; i < n; i++) {
        const v = (out[i] + Math.floor((${sum}) * scale)) | 0;
        out[i] = v;
        ${shiftH} h1 = v;
      }
      return true;
    }
`;
}
s += `  }
  return false;
}
`;
Deno.writeTextFileSync(new URL("./lpc_unrolled.ts", import.meta.url), s);
