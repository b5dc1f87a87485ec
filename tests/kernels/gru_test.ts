import { equal as assertEquals } from "node:assert/strict";
import { backward, tensor, tidy } from "../../engine/mod.ts";
import { biGru, type BiGruWeights, WEIGHT_ORDER } from "../../kernels/gru.ts";
import { assertClose, checkOp, checkTorchParity, randn, Random } from "../harness.ts";
import { haveTorchFixture, loadTorchFixture } from "../torch_fixtures.ts";

const rng = new Random(11);

const WEIGHT_NAMES = WEIGHT_ORDER;

interface Dims {
  B: number;
  T: number;
  In: number;
  H: number;
  batchFirst: boolean;
}

const sigmoid = (v: number) => 1 / (1 + Math.exp(-v));

/**
 * Float64 reference of a bidirectional GRU layer (PyTorch's equations, h0 = 0, packed semantics when lengths
 * are given). `w` holds the 8 weights in WEIGHT_NAMES order.
 */
export function refBiGru(
  x: Float64Array,
  w: Float64Array[],
  d: Dims,
  lengths: number[] | null,
): Float64Array {
  const { B, T, In, H, batchFirst } = d;
  const out = new Float64Array(B * T * 2 * H);
  const row = (b: number, t: number) => (batchFirst ? b * T + t : t * B + b);
  for (let dir = 0; dir < 2; dir++) {
    const [wih, whh, bih, bhh] = w.slice(dir * 4, dir * 4 + 4);
    for (let b = 0; b < B; b++) {
      const L = lengths ? lengths[b] : T;
      let h = new Float64Array(H);
      for (let k = 0; k < L; k++) {
        const t = dir === 0 ? k : L - 1 - k;
        const xr = row(b, t) * In;
        const gi = new Float64Array(3 * H);
        const gh = new Float64Array(3 * H);
        for (let m = 0; m < 3 * H; m++) {
          let a = bih[m];
          for (let i = 0; i < In; i++) a += wih[m * In + i] * x[xr + i];
          gi[m] = a;
          let c = bhh[m];
          for (let i = 0; i < H; i++) c += whh[m * H + i] * h[i];
          gh[m] = c;
        }
        const hn = new Float64Array(H);
        for (let j = 0; j < H; j++) {
          const r = sigmoid(gi[j] + gh[j]);
          const z = sigmoid(gi[H + j] + gh[H + j]);
          const n = Math.tanh(gi[2 * H + j] + r * gh[2 * H + j]);
          hn[j] = (1 - z) * n + z * h[j];
          out[row(b, t) * 2 * H + dir * H + j] = hn[j];
        }
        h = hn;
      }
    }
  }
  return out;
}

function weightShapes(In: number, H: number): number[][] {
  return [[3 * H, In], [3 * H, H], [3 * H], [3 * H], [3 * H, In], [3 * H, H], [3 * H], [3 * H]];
}

function named(ts: readonly { shape: readonly number[] }[]): BiGruWeights {
  const o: Record<string, unknown> = {};
  WEIGHT_NAMES.forEach((k, i) => (o[k] = ts[i]));
  return o as unknown as BiGruWeights;
}

const CASES: { name: string; d: Dims; lengths: number[] | null }[] = [
  { name: "packed, batch-first", d: { B: 3, T: 9, In: 11, H: 7, batchFirst: true }, lengths: [9, 6, 4] },
  { name: "packed, time-first", d: { B: 3, T: 9, In: 11, H: 7, batchFirst: false }, lengths: [4, 9, 6] },
  { name: "unpacked, batch-first", d: { B: 3, T: 9, In: 11, H: 7, batchFirst: true }, lengths: null },
  { name: "unpacked, time-first", d: { B: 3, T: 9, In: 11, H: 7, batchFirst: false }, lengths: null },
  // H % 4 == 0 takes the vec4 kernels; 5 rows span two row blocks.
  { name: "packed, vec4 path", d: { B: 5, T: 6, In: 5, H: 8, batchFirst: true }, lengths: [6, 1, 3, 6, 5] },
];

for (const c of CASES) {
  Deno.test(`biGru ${c.name}: forward and gradients vs float64 reference`, async () => {
    const { B, T, In, H, batchFirst } = c.d;
    const xShape = batchFirst ? [B, T, In] : [T, B, In];
    const ws = weightShapes(In, H);
    const scale = 1 / Math.sqrt(H);
    await checkOp({
      name: `biGru ${c.name}`,
      inputs: [
        { shape: xShape, data: randn(rng, B * T * In) },
        ...ws.map((s) => ({ shape: s, data: randn(rng, s.reduce((a, b) => a * b, 1), scale * 1.5) })),
      ],
      gpu: ([x, ...w]) => biGru(x, c.lengths, named(w), { batchFirst }),
      ref: ([x, ...w]) => refBiGru(x, w, c.d, c.lengths),
      gradTol: 2e-3,
    });
  });
}

Deno.test("biGru packed: padded frames output exactly 0 and pass no gradient to x; i32 lengths tensor", async () => {
  const d: Dims = { B: 3, T: 6, In: 4, H: 5, batchFirst: false };
  const lengths = [6, 2, 4];
  const xd = Float32Array.from(randn(rng, d.T * d.B * d.In));
  const wd = weightShapes(d.In, d.H).map((s) =>
    Float32Array.from(randn(rng, s.reduce((a, b) => a * b, 1), 0.4))
  );
  const { y, gx } = tidy(() => {
    const x = tensor(xd, [d.T, d.B, d.In]);
    x.requiresGrad = true;
    const w = wd.map((v, i) => tensor(v, weightShapes(d.In, d.H)[i]));
    const y = biGru(x, tensor(Int32Array.from(lengths), [3], "i32"), named(w));
    backward(y, tensor(Float32Array.from(randn(rng, y.size)), y.shape));
    const gx = x.grad!;
    x.grad = null;
    return { y, gx };
  });
  const yv = await y.data();
  const gv = await gx.data();
  const want = refBiGru(Float64Array.from(xd), wd.map((v) => Float64Array.from(v)), d, lengths);
  assertClose(yv, want, 1e-5, "output");
  for (let t = 0; t < d.T; t++) {
    for (let b = 0; b < d.B; b++) {
      if (t < lengths[b]) continue;
      for (let j = 0; j < 2 * d.H; j++) assertEquals(yv[(t * d.B + b) * 2 * d.H + j], 0);
      for (let i = 0; i < d.In; i++) assertEquals(gv[(t * d.B + b) * d.In + i], 0);
    }
  }
  y.dispose();
  gx.dispose();
});

for (const kase of ["packed", "unpacked"]) {
  Deno.test({
    name: `biGru ${kase} matches PyTorch nn.GRU (bidirectional, batch_first): output and every gradient`,
    ignore: !haveTorchFixture(),
    fn: () => {
      const f = loadTorchFixture("ops.safetensors");
      const p = `gru.${kase}`;
      const lengths = kase === "packed" ? Array.from(f.i32(`${p}.lengths`)) : null;
      const wNames = WEIGHT_NAMES.map((k) =>
        k.replace(/_reverse$/, "_l0_reverse").replace(/(_[ih]h)$/, "$1_l0")
      );
      return checkTorchParity({
        prefix: p,
        inputs: ["input", ...wNames],
        op: ([x, ...ws]) => biGru(x, lengths, named(ws), { batchFirst: true }),
      });
    },
  });
}

Deno.test("biGru without gradients (inference kernels) gives the same output and frees its temporaries", async () => {
  const d: Dims = { B: 2, T: 5, In: 3, H: 4, batchFirst: true };
  const xd = randn(rng, d.B * d.T * d.In);
  const wd = weightShapes(d.In, d.H).map((s) => randn(rng, s.reduce((a, b) => a * b, 1), 0.5));
  const r32 = (a: Float64Array) => Float32Array.from(a);
  const { commands, noGrad } = await import("../../engine/mod.ts");
  const x = tensor(r32(xd), [d.B, d.T, d.In]);
  const ws = wd.map((v, i) => tensor(r32(v), weightShapes(d.In, d.H)[i]));
  const before = commands().pool.liveCount;
  const y = noGrad(() => biGru(x, [5, 3], named(ws), { batchFirst: true }));
  assertEquals(commands().pool.liveCount, before + 1, "only the output stays live");
  const want = refBiGru(Float64Array.from(r32(xd)), wd.map((v) => Float64Array.from(r32(v))), d, [5, 3]);
  assertClose(await y.data(), want, 1e-5, "inference output");
  [x, y, ...ws].forEach((t) => t.dispose());
});

Deno.test("biGru forward + backward inside tidy leaves only the parameters and their gradients live", async () => {
  const { commands } = await import("../../engine/mod.ts");
  const d: Dims = { B: 2, T: 4, In: 3, H: 4, batchFirst: false };
  const x = tensor(Float32Array.from(randn(rng, d.T * d.B * d.In)), [d.T, d.B, d.In]);
  const ws = weightShapes(d.In, d.H).map((s) => {
    const t = tensor(Float32Array.from(randn(rng, s.reduce((a, b) => a * b, 1), 0.5)), s);
    t.requiresGrad = true;
    return t;
  });
  const before = commands().pool.liveCount;
  tidy(() => {
    const y = biGru(x, [4, 2], named(ws));
    backward(y, tensor(Float32Array.from(randn(rng, y.size)), y.shape));
  });
  assertEquals(commands().pool.liveCount, before + ws.length, "one gradient per weight, nothing else");
  for (const w of ws) {
    assertEquals(w.grad!.shape.join(), w.shape.join());
    w.dispose();
  }
  x.dispose();
  await commands().sync();
});
