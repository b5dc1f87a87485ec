import * as K from "../../kernels/mod.ts";
import { checkOp, forEachIndex, randn, Random, strides, uniform } from "../harness.ts";

const rng = new Random(7);

function erf(x: number): number {
  // Float64 reference erf by series / continued fraction (accurate to ~1e-15).
  const ax = Math.abs(x);
  if (ax < 2.5) {
    let sum = ax, term = ax;
    for (let n = 1; n < 80; n++) {
      term *= -ax * ax / n;
      sum += term / (2 * n + 1);
    }
    return Math.sign(x) * 2 / Math.sqrt(Math.PI) * sum;
  }
  let f = 0;
  for (let n = 60; n >= 1; n--) f = n / 2 / (ax + f);
  return Math.sign(x) * (1 - Math.exp(-ax * ax) / Math.sqrt(Math.PI) / (ax + f));
}

const UNARY_REF: Record<string, [(x: number, s: number) => number, () => Float64Array]> = {
  neg: [(x) => -x, () => randn(rng, 35)],
  exp: [(x) => Math.exp(x), () => randn(rng, 35)],
  log: [(x) => Math.log(x), () => uniform(rng, 35, 0.5, 3)],
  sqrt: [(x) => Math.sqrt(x), () => uniform(rng, 35, 0.5, 3)],
  tanh: [(x) => Math.tanh(x), () => randn(rng, 35, 2)],
  sigmoid: [(x) => 1 / (1 + Math.exp(-x)), () => randn(rng, 35, 3)],
  gelu: [(x) => 0.5 * x * (1 + erf(x / Math.SQRT2)), () => randn(rng, 35, 2)],
  relu: [(x) => Math.max(x, 0), () => randn(rng, 35).map((v) => v + Math.sign(v) * 0.1)],
  square: [(x) => x * x, () => randn(rng, 35)],
  scale: [(x, s) => x * s, () => randn(rng, 35)],
  addScalar: [(x, s) => x + s, () => randn(rng, 35)],
  clampMin: [
    (x, s) => Math.max(x, s),
    () => randn(rng, 35).map((v) => (Math.abs(v - 0.3) < 0.05 ? v + 0.2 : v)),
  ],
};

for (const [op, [f, gen]] of Object.entries(UNARY_REF)) {
  Deno.test(`unary ${op}: forward and gradient`, async () => {
    const s = 0.3;
    await checkOp({
      name: op,
      inputs: [{ shape: [5, 7], data: gen() }],
      gpu: ([x]) => K.unary(op as K.UnaryOp, x, s),
      ref: ([x]) => x.map((v) => f(v, s)),
    });
  });
}

function broadcastRef(
  a: Float64Array,
  as: number[],
  b: Float64Array,
  bs: number[],
  f: (x: number, y: number) => number,
): Float64Array {
  const rank = Math.max(as.length, bs.length);
  const pa = [...new Array(rank - as.length).fill(1), ...as];
  const pb = [...new Array(rank - bs.length).fill(1), ...bs];
  const out = pa.map((d, i) => Math.max(d, pb[i]));
  const sa = strides(pa), sb = strides(pb);
  const res = new Float64Array(out.reduce((x, y) => x * y, 1));
  forEachIndex(out, (idx, flat) => {
    let ia = 0, ib = 0;
    idx.forEach((v, k) => {
      ia += (pa[k] === 1 ? 0 : v) * sa[k];
      ib += (pb[k] === 1 ? 0 : v) * sb[k];
    });
    res[flat] = f(a[ia], b[ib]);
  });
  return res;
}

const BINARY_REF: Record<string, (x: number, y: number) => number> = {
  add: (x, y) => x + y,
  sub: (x, y) => x - y,
  mul: (x, y) => x * y,
  div: (x, y) => x / y,
};
const SHAPE_PAIRS: [number[], number[]][] = [
  [[3, 5], [3, 5]], // same shape
  [[2, 3, 5], [5]], // bias-like (leading broadcast)
  [[3, 1, 5], [1, 4, 1]], // both broadcast, strided
  [[3, 5], []], // scalar
  [[1, 5], [3, 1]],
];
for (const [op, f] of Object.entries(BINARY_REF)) {
  for (const [sa, sb] of SHAPE_PAIRS) {
    Deno.test(`binary ${op} [${sa}] x [${sb}]`, async () => {
      const na = sa.reduce((x, y) => x * y, 1), nb = sb.reduce((x, y) => x * y, 1);
      const bdata = op === "div" ? uniform(rng, nb, 0.5, 2).map((v, i) => (i % 2 ? -v : v)) : randn(rng, nb);
      await checkOp({
        name: `${op}`,
        inputs: [{ shape: sa, data: randn(rng, na) }, { shape: sb, data: bdata }],
        gpu: ([a, b]) => K.binary(op as K.BinaryOp, a, b),
        ref: ([a, b]) => broadcastRef(a, sa, b, sb, f),
      });
    });
  }
}

function reduceRef(x: Float64Array, shape: number[], axis: number, f: "sum" | "mean" | "max"): Float64Array {
  const outer = shape.slice(0, axis).reduce((a, b) => a * b, 1);
  const len = shape[axis];
  const inner = shape.slice(axis + 1).reduce((a, b) => a * b, 1);
  const out = new Float64Array(outer * inner);
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) {
      let acc = f === "max" ? -Infinity : 0;
      for (let j = 0; j < len; j++) {
        const v = x[(o * len + j) * inner + i];
        acc = f === "max" ? Math.max(acc, v) : acc + v;
      }
      out[o * inner + i] = f === "mean" ? acc / len : acc;
    }
  }
  return out;
}

for (const f of ["sum", "mean", "max"] as const) {
  for (const axis of [0, 1, 2]) {
    Deno.test(`reduce ${f} over axis ${axis} of [3, 5, 7]`, async () => {
      const shape = [3, 5, 7];
      await checkOp({
        name: `${f} axis ${axis}`,
        inputs: [{ shape, data: randn(rng, 105) }],
        gpu: ([x]) => f === "max" ? K.max(x, axis).values : f === "sum" ? K.sum(x, axis) : K.mean(x, axis),
        ref: ([x]) => reduceRef(x, shape, axis, f),
      });
    });
  }
}

Deno.test("sum over a long axis takes the chunked path", async () => {
  const n = 5003;
  await checkOp({
    name: "sumAll 5003",
    inputs: [{ shape: [n], data: randn(rng, n) }],
    gpu: ([x]) => K.sumAll(x),
    ref: ([x]) => Float64Array.of(x.reduce((a, b) => a + b, 0)),
    h: 1e-2,
  });
});

Deno.test("sumAll keeps a scalar shape", async () => {
  await checkOp({
    name: "sumAll",
    inputs: [{ shape: [3, 7], data: randn(rng, 21) }],
    gpu: ([x]) => K.sumAll(x),
    ref: ([x]) => Float64Array.of(x.reduce((a, b) => a + b, 0)),
  });
});

function logSoftmaxRef(x: Float64Array, rows: number, cols: number): Float64Array {
  const out = new Float64Array(x.length);
  for (let r = 0; r < rows; r++) {
    let m = -Infinity;
    for (let j = 0; j < cols; j++) m = Math.max(m, x[r * cols + j]);
    let s = 0;
    for (let j = 0; j < cols; j++) s += Math.exp(x[r * cols + j] - m);
    for (let j = 0; j < cols; j++) out[r * cols + j] = x[r * cols + j] - m - Math.log(s);
  }
  return out;
}

Deno.test("log_softmax over the last axis", async () => {
  await checkOp({
    name: "log_softmax",
    inputs: [{ shape: [3, 5, 29], data: randn(rng, 435, 3) }],
    gpu: ([x]) => K.logSoftmax(x, -1),
    ref: ([x]) => logSoftmaxRef(x, 15, 29),
  });
});

Deno.test("log_softmax over a middle axis", async () => {
  // Reference: permute so the axis is last, then permute back.
  const shape = [3, 7, 5];
  await checkOp({
    name: "log_softmax axis 1",
    inputs: [{ shape, data: randn(rng, 105, 2) }],
    gpu: ([x]) => K.logSoftmax(x, 1),
    ref: ([x]) => {
      const t = new Float64Array(105);
      forEachIndex(shape, ([a, b, c], f) => (t[(a * 5 + c) * 7 + b] = x[f]));
      const y = logSoftmaxRef(t, 15, 7);
      const out = new Float64Array(105);
      forEachIndex(shape, ([a, b, c], f) => (out[f] = y[(a * 5 + c) * 7 + b]));
      return out;
    },
  });
});

function matmulRef(
  a: Float64Array,
  b: Float64Array,
  batch: number,
  M: number,
  N: number,
  Kd: number,
  tA: boolean,
  tB: boolean,
  shareA: boolean,
  shareB: boolean,
): Float64Array {
  const out = new Float64Array(batch * M * N);
  for (let p = 0; p < batch; p++) {
    const oa = shareA ? 0 : p * M * Kd, ob = shareB ? 0 : p * Kd * N;
    for (let i = 0; i < M; i++) {
      for (let j = 0; j < N; j++) {
        let s = 0;
        for (let k = 0; k < Kd; k++) {
          s += a[oa + (tA ? k * M + i : i * Kd + k)] * b[ob + (tB ? j * Kd + k : k * N + j)];
        }
        out[(p * M + i) * N + j] = s;
      }
    }
  }
  return out;
}

const MM_SIZES: [number, number, number][] = [[13, 9, 11], [8, 12, 16], [5, 3, 2], [17, 20, 7]];
for (const [M, N, Kd] of MM_SIZES) {
  for (const tA of [false, true]) {
    for (const tB of [false, true]) {
      Deno.test(`matmul ${M}x${N}x${Kd} transA=${tA} transB=${tB}`, async () => {
        await checkOp({
          name: "matmul",
          inputs: [
            { shape: tA ? [Kd, M] : [M, Kd], data: randn(rng, M * Kd) },
            { shape: tB ? [N, Kd] : [Kd, N], data: randn(rng, Kd * N) },
          ],
          gpu: ([a, b]) => K.matmul(a, b, { transA: tA, transB: tB }),
          ref: ([a, b]) => matmulRef(a, b, 1, M, N, Kd, tA, tB, false, false),
        });
      });
    }
  }
}

for (const [tA, tB] of [[false, false], [true, false], [false, true], [true, true]]) {
  Deno.test(`batched matmul 3 x (9x10x6) transA=${tA} transB=${tB}`, async () => {
    const [B, M, N, Kd] = [3, 9, 10, 6];
    await checkOp({
      name: "batched matmul",
      inputs: [
        { shape: tA ? [B, Kd, M] : [B, M, Kd], data: randn(rng, B * M * Kd) },
        { shape: tB ? [B, N, Kd] : [B, Kd, N], data: randn(rng, B * Kd * N) },
      ],
      gpu: ([a, b]) => K.matmul(a, b, { transA: tA, transB: tB }),
      ref: ([a, b]) => matmulRef(a, b, B, M, N, Kd, tA, tB, false, false),
    });
  });
  Deno.test(`matmul with a shared right operand transA=${tA} transB=${tB}`, async () => {
    const [B, M, N, Kd] = [3, 7, 5, 9];
    await checkOp({
      name: "shared-B matmul",
      inputs: [
        { shape: tA ? [B, Kd, M] : [B, M, Kd], data: randn(rng, B * M * Kd) },
        { shape: tB ? [N, Kd] : [Kd, N], data: randn(rng, Kd * N) },
      ],
      gpu: ([a, b]) => K.matmul(a, b, { transA: tA, transB: tB }),
      ref: ([a, b]) => matmulRef(a, b, B, M, N, Kd, tA, tB, false, true),
    });
  });
  Deno.test(`matmul with a shared left operand transA=${tA} transB=${tB}`, async () => {
    const [B, M, N, Kd] = [2, 6, 9, 5];
    await checkOp({
      name: "shared-A matmul",
      inputs: [
        { shape: tA ? [Kd, M] : [M, Kd], data: randn(rng, M * Kd) },
        { shape: tB ? [B, N, Kd] : [B, Kd, N], data: randn(rng, B * Kd * N) },
      ],
      gpu: ([a, b]) => K.matmul(a, b, { transA: tA, transB: tB }),
      ref: ([a, b]) => matmulRef(a, b, B, M, N, Kd, tA, tB, true, false),
    });
  });
}

Deno.test("reshape and permute", async () => {
  const shape = [2, 3, 5];
  await checkOp({
    name: "permute",
    inputs: [{ shape, data: randn(rng, 30) }],
    gpu: ([x]) => K.permute(K.reshape(K.reshape(x, [2, 15]), [-1, 3, 5]), [2, 0, 1]),
    ref: ([x]) => {
      const out = new Float64Array(30);
      forEachIndex([5, 2, 3], ([c, a, b], f) => (out[f] = x[(a * 3 + b) * 5 + c]));
      return out;
    },
  });
});

Deno.test("slice, pad and concat", async () => {
  const shape = [3, 4, 5];
  await checkOp({
    name: "slice",
    inputs: [{ shape, data: randn(rng, 60) }],
    gpu: ([x]) => K.slice(x, [1, 0, 2], [2, 3, -1]),
    ref: ([x]) => {
      const out = new Float64Array(18);
      forEachIndex([2, 3, 3], ([a, b, c], f) => (out[f] = x[((a + 1) * 4 + b) * 5 + c + 2]));
      return out;
    },
  });
  await checkOp({
    name: "pad",
    inputs: [{ shape: [2, 3], data: randn(rng, 6) }],
    gpu: ([x]) => K.pad(x, [[1, 0], [2, 1]], 0.5),
    ref: ([x]) => {
      const out = new Float64Array(3 * 6).fill(0.5);
      forEachIndex([2, 3], ([a, b], f) => (out[(a + 1) * 6 + b + 2] = x[f]));
      return out;
    },
  });
  await checkOp({
    name: "concat",
    inputs: [{ shape: [2, 3], data: randn(rng, 6) }, { shape: [2, 1], data: randn(rng, 2) }, {
      shape: [2, 2],
      data: randn(rng, 4),
    }],
    gpu: (xs) => K.concat(xs, 1),
    ref: ([a, b, c]) => {
      const out = new Float64Array(12);
      for (let r = 0; r < 2; r++) {
        out.set(a.subarray(r * 3, r * 3 + 3), r * 6);
        out[r * 6 + 3] = b[r];
        out.set(c.subarray(r * 2, r * 2 + 2), r * 6 + 4);
      }
      return out;
    },
  });
});

// The shared-memory path that real GPUs take runs here too (slowly), so its numbers are checked in CI.
// Sizes cross the 64x64 output tile in M and in N, and the 16-deep K stage.
for (const [M, N, Kd] of [[13, 9, 11], [67, 5, 3], [3, 66, 5], [5, 7, 37]] as [number, number, number][]) {
  for (const tA of [false, true]) {
    for (const tB of [false, true]) {
      Deno.test(`matmul (GPU shared-memory path) ${M}x${N}x${Kd} transA=${tA} transB=${tB}`, async () => {
        K.setMatmulStrategy("shared");
        try {
          await checkOp({
            name: "matmul shared",
            inputs: [
              { shape: [2, ...(tA ? [Kd, M] : [M, Kd])], data: randn(rng, 2 * M * Kd) },
              { shape: tB ? [N, Kd] : [Kd, N], data: randn(rng, Kd * N) },
            ],
            gpu: ([a, b]) => K.matmul(a, b, { transA: tA, transB: tB }),
            ref: ([a, b]) => matmulRef(a, b, 2, M, N, Kd, tA, tB, false, true),
          });
        } finally {
          K.setMatmulStrategy(null);
        }
      });
    }
  }
}
