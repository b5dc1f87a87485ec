import { equal as assertEquals, ok as assert } from "node:assert/strict";
import { backward, tensor, tidy } from "../../engine/mod.ts";
import { ctcLoss, ctcLossWithSamples, type CtcReduction, type CtcStrategy } from "../../kernels/ctc.ts";
import { logSoftmax } from "../../kernels/mod.ts";
import { assertClose, checkOp, randn, Random } from "../harness.ts";
import { haveTorchFixture, loadTorchFixture } from "../torch_fixtures.ts";

const rng = new Random(21);

function logAddExp(a: number, b: number): number {
  if (a === -Infinity) return b;
  if (b === -Infinity) return a;
  const m = Math.max(a, b);
  return m + Math.log(Math.exp(a - m) + Math.exp(b - m));
}

/** -log p(target | input) by the alpha recursion, float64; lp indexed lp(t, c). */
function refNll(lp: (t: number, c: number) => number, T: number, target: number[], blank: number): number {
  const ext: number[] = [blank];
  for (const l of target) ext.push(l, blank);
  const L = ext.length;
  if (T === 0) return L === 1 ? 0 : Infinity;
  let alpha = new Array(L).fill(-Infinity);
  alpha[0] = lp(0, ext[0]);
  if (L > 1) alpha[1] = lp(0, ext[1]);
  for (let t = 1; t < T; t++) {
    const next = new Array(L).fill(-Infinity);
    for (let s = 0; s < L; s++) {
      let a = alpha[s];
      if (s >= 1) a = logAddExp(a, alpha[s - 1]);
      if (s >= 2 && ext[s] !== blank && ext[s] !== ext[s - 2]) a = logAddExp(a, alpha[s - 2]);
      next[s] = a + lp(t, ext[s]);
    }
    alpha = next;
  }
  const ll = L > 1 ? logAddExp(alpha[L - 1], alpha[L - 2]) : alpha[0];
  return -ll;
}

/** -log p(target | input) by summing over every path of C^T (tiny cases only). */
function bruteNll(
  lp: (t: number, c: number) => number,
  T: number,
  C: number,
  target: number[],
  blank: number,
) {
  let total = -Infinity;
  const path = new Array(T).fill(0);
  for (let code = 0; code < C ** T; code++) {
    let rem = code;
    for (let t = 0; t < T; t++) {
      path[t] = rem % C;
      rem = Math.floor(rem / C);
    }
    const collapsed: number[] = [];
    for (let t = 0; t < T; t++) {
      if (path[t] !== blank && (t === 0 || path[t] !== path[t - 1])) collapsed.push(path[t]);
    }
    if (collapsed.length !== target.length || collapsed.some((v, i) => v !== target[i])) continue;
    let s = 0;
    for (let t = 0; t < T; t++) s += lp(t, path[t]);
    total = logAddExp(total, s);
  }
  return -total;
}

function logSoftmaxRows(x: Float64Array, C: number): Float64Array {
  const out = new Float64Array(x.length);
  for (let r = 0; r < x.length / C; r++) {
    let m = -Infinity;
    for (let c = 0; c < C; c++) m = Math.max(m, x[r * C + c]);
    let s = 0;
    for (let c = 0; c < C; c++) s += Math.exp(x[r * C + c] - m);
    const lse = m + Math.log(s);
    for (let c = 0; c < C; c++) out[r * C + c] = x[r * C + c] - lse;
  }
  return out;
}

interface Case {
  T: number;
  N: number;
  C: number;
  blank: number;
  targets: number[][];
  inputLengths: number[];
  batchFirst: boolean;
}

/** Reference F.ctc_loss on logits (log_softmax first), float64, PyTorch's reductions. */
function refCtc(logits: Float64Array, k: Case, reduction: CtcReduction, zinf: boolean): Float64Array {
  const lp = logSoftmaxRows(logits, k.C);
  const losses = k.targets.map((tg, b) => {
    const at = (t: number, c: number) => lp[(k.batchFirst ? b * k.T + t : t * k.N + b) * k.C + c];
    const v = refNll(at, k.inputLengths[b], tg, k.blank);
    return zinf && v === Infinity ? 0 : v;
  });
  if (reduction === "none") return Float64Array.from(losses);
  const per = losses.map((v, b) => (reduction === "mean" ? v / Math.max(k.targets[b].length, 1) : v));
  const s = per.reduce((a, b) => a + b, 0);
  return Float64Array.of(reduction === "mean" ? s / k.N : s);
}

function paddedTargets(k: Case): { data: Int32Array; S: number } {
  const S = Math.max(1, ...k.targets.map((t) => t.length));
  const data = new Int32Array(k.N * S).fill(k.blank === 0 ? 1 : 0);
  k.targets.forEach((t, b) => data.set(t, b * S));
  return { data, S };
}

Deno.test("CTC reference: the alpha recursion equals the sum over all alignments", () => {
  const C = 3, T = 5;
  for (const target of [[], [0], [1, 1], [0, 1], [1, 0, 1]]) {
    const x = logSoftmaxRows(randn(rng, T * C), C);
    const lp = (t: number, c: number) => x[t * C + c];
    const a = refNll(lp, T, target, 2);
    const b = bruteNll(lp, T, C, target, 2);
    assert(Math.abs(a - b) < 1e-12 * Math.max(1, Math.abs(b)), `target [${target}]: ${a} vs ${b}`);
  }
  // Two repeated labels need a blank between them: [1, 1] cannot fit in 2 frames.
  assertEquals(refNll(() => Math.log(1 / 3), 2, [1, 1], 2), Infinity);
});

const CASES: { name: string; k: Case; reduction: CtcReduction; zinf: boolean; strategy?: CtcStrategy }[] = [
  {
    name: "none, time-first",
    k: {
      T: 9,
      N: 3,
      C: 5,
      blank: 4,
      targets: [[1, 1, 2], [0], [3, 2, 2, 1]],
      inputLengths: [9, 6, 8],
      batchFirst: false,
    },
    reduction: "none",
    zinf: false,
  },
  {
    name: "mean, batch-first, an empty target",
    k: {
      T: 7,
      N: 3,
      C: 6,
      blank: 0,
      targets: [[2, 3], [], [5, 5, 1]],
      inputLengths: [5, 7, 7],
      batchFirst: true,
    },
    reduction: "mean",
    zinf: false,
  },
  {
    name: "sum, zero_infinity with an infeasible sample",
    k: {
      T: 6,
      N: 3,
      C: 4,
      blank: 3,
      targets: [[0, 1], [2, 2, 2], [1, 0, 2]],
      inputLengths: [6, 4, 5],
      batchFirst: false,
    },
    reduction: "sum",
    zinf: true,
  },
  {
    name: "mean, per-frame strategy",
    k: { T: 8, N: 2, C: 5, blank: 2, targets: [[0, 1, 1], [4, 3]], inputLengths: [8, 5], batchFirst: false },
    reduction: "mean",
    zinf: false,
    strategy: "perFrame",
  },
];

for (const c of CASES) {
  Deno.test(`ctcLoss ${c.name}: loss and gradient through log_softmax vs float64`, async () => {
    const { k } = c;
    const { data: tg, S } = paddedTargets(k);
    const shape = k.batchFirst ? [k.N, k.T, k.C] : [k.T, k.N, k.C];
    await checkOp({
      name: `ctc ${c.name}`,
      inputs: [{ shape, data: randn(rng, k.T * k.N * k.C, 1.5) }],
      gpu: ([x]) =>
        ctcLoss(
          logSoftmax(x),
          tensor(tg, [k.N, S], "i32"),
          k.inputLengths,
          k.targets.map((t) => t.length),
          {
            blank: k.blank,
            reduction: c.reduction,
            zeroInfinity: c.zinf,
            batchFirst: k.batchFirst,
            strategy: c.strategy,
          },
        ),
      ref: ([x]) => refCtc(x, k, c.reduction, c.zinf),
    });
  });
}

/** The fixture's F.ctc_loss calls pass blank=28 (the recognizer's). */
const FIXTURE_BLANK = 28;

for (const strategy of ["loop", "perFrame"] as const) {
  Deno.test({
    name: `ctcLoss matches PyTorch F.ctc_loss (${strategy}): none/mean x zero_infinity, gradients`,
    ignore: !haveTorchFixture(),
    fn: async () => {
      const f = loadTorchFixture("ops.safetensors");
      const [T, N, C] = f.shape("ctc.log_probs");
      const ilen = Array.from(f.i32("ctc.input_lengths"));
      const tlen = Array.from(f.i32("ctc.target_lengths"));
      const targets = () => tensor(f.i32("ctc.targets"), f.shape("ctc.targets"), "i32");
      for (const reduction of ["none", "mean"] as const) {
        for (const zinf of [true, false]) {
          const want = f.f64(`ctc.${reduction}_${zinf ? "zinf" : "inf"}.loss`);
          const got = await tidy(() => {
            const lp = tensor(f.f32("ctc.log_probs"), [T, N, C]);
            return ctcLoss(lp, targets(), ilen, tensor(Int32Array.from(tlen), [N], "i32"), {
              blank: FIXTURE_BLANK,
              reduction,
              zeroInfinity: zinf,
              strategy,
            });
          }).data();
          for (let i = 0; i < want.length; i++) {
            if (want[i] === Infinity) assertEquals(got[i], Infinity, `${reduction} zinf=${zinf} loss ${i}`);
          }
          const finite = (a: ArrayLike<number>) => Array.from(a).filter((_, i) => want[i] !== Infinity);
          assertClose(finite(got), finite(want), 1e-5, `${reduction} zinf=${zinf} loss`);
        }
      }
      const res = tidy(() => {
        const logits = tensor(f.f32("ctc.logits"), [T, N, C]);
        logits.requiresGrad = true;
        const lp = tensor(f.f32("ctc.log_probs"), [T, N, C]);
        lp.requiresGrad = true;
        const opts = { blank: FIXTURE_BLANK, reduction: "mean" as const, zeroInfinity: true, strategy };
        const { loss, sampleLosses } = ctcLossWithSamples(lp, targets(), ilen, tlen, opts);
        backward(loss);
        backward(ctcLoss(logSoftmax(logits), targets(), ilen, tlen, opts));
        const out = { gl: lp.grad!, gx: logits.grad!, sampleLosses };
        lp.grad = null;
        logits.grad = null;
        return out;
      });
      assertClose(await res.gl.data(), f.f64("ctc.mean_zinf.grad_log_probs"), 1e-5, "grad log_probs");
      assertClose(await res.gx.data(), f.f64("ctc.mean_zinf.grad_logits"), 1e-5, "grad logits");
      const samples = await res.sampleLosses.data();
      assertClose(samples.slice(0, 3), f.f64("ctc.none_inf.loss").slice(0, 3), 1e-5, "per-sample losses");
      assertEquals(samples[3], Infinity, "the infeasible sample's loss stays +inf in sampleLosses");
      [res.gl, res.gx, res.sampleLosses].forEach((t) => t.dispose());
    },
  });
}

Deno.test("ctcLoss: the default blank is 0, as F.ctc_loss's", async () => {
  const T = 6, N = 2, C = 4;
  const x = logSoftmaxRows(randn(rng, T * N * C), C);
  const tg = [[1, 2], [3, 3]];
  const want = tg.map((t, b) => refNll((i, c) => x[(i * N + b) * C + c], T, t, 0));
  const got = await tidy(() =>
    ctcLoss(
      tensor(Float32Array.from(x), [T, N, C]),
      tensor(Int32Array.of(1, 2, 3, 3), [N, 2], "i32"),
      [6, 6],
      [
        2,
        2,
      ],
      { reduction: "none" },
    )
  ).data();
  assertClose(got, want, 1e-5, "default blank");
  // A single class is the blank alone: valid with the default (the old default, 28, was not a class of 1).
  await tidy(async () => {
    const lp = tensor(new Float32Array(T * N * 1), [T, N, 1]);
    const none = tensor(new Int32Array(0), [N, 0], "i32");
    assertEquals(await ctcLoss(lp, none, [6, 6], [0, 0], { reduction: "sum" }).item(), 0);
  });
});

Deno.test({
  name:
    "ctcLoss with the default blank matches PyTorch F.ctc_loss on the fixture with classes 0 and 28 swapped",
  ignore: !haveTorchFixture(),
  fn: async () => {
    const f = loadTorchFixture("ops.safetensors");
    const [T, N, C] = f.shape("ctc.log_probs");
    // Swapping two classes in the log-probabilities and the targets leaves every alignment's probability alone:
    // with the blank moved from 28 to 0, F.ctc_loss(blank=28) on the original is the loss of the default blank.
    const swapClasses = (a: ArrayLike<number>) => {
      const out = Float32Array.from(a);
      for (let r = 0; r < T * N; r++) {
        [out[r * C], out[r * C + FIXTURE_BLANK]] = [a[r * C + FIXTURE_BLANK], a[r * C]];
      }
      return out;
    };
    const targets = f.i32("ctc.targets").map((v) => (v === 0 ? FIXTURE_BLANK : v === FIXTURE_BLANK ? 0 : v));
    const ilen = Array.from(f.i32("ctc.input_lengths"));
    const tlen = Array.from(f.i32("ctc.target_lengths"));
    const res = tidy(() => {
      const lp = tensor(swapClasses(f.f32("ctc.log_probs")), [T, N, C]);
      lp.requiresGrad = true;
      const tg = tensor(targets, f.shape("ctc.targets"), "i32");
      const none = ctcLoss(lp, tg, ilen, tlen, { reduction: "none" });
      const mean = ctcLoss(lp, tg, ilen, tlen, { zeroInfinity: true });
      backward(mean);
      const out = { none, mean, grad: lp.grad! };
      lp.grad = null;
      return out;
    });
    const want = f.f64("ctc.none_inf.loss");
    const none = await res.none.data();
    for (let i = 0; i < want.length; i++) {
      if (want[i] === Infinity) assertEquals(none[i], Infinity, `loss ${i}`);
      else assertClose([none[i]], [want[i]], 1e-5, `loss ${i}`);
    }
    assertClose([await res.mean.item()], f.f64("ctc.mean_zinf.loss"), 1e-5, "mean zero_infinity loss");
    assertClose(swapClasses(await res.grad.data()), f.f64("ctc.mean_zinf.grad_log_probs"), 1e-5, "grad");
    [res.none, res.mean, res.grad].forEach((t) => t.dispose());
  },
});

Deno.test("ctcLoss frees its temporaries: inference and training under tidy", async () => {
  const { commands, noGrad } = await import("../../engine/mod.ts");
  const x = tensor(Float32Array.from(randn(rng, 6 * 2 * 4)), [6, 2, 4]);
  const tg = tensor(Int32Array.of(0, 1, 2, 2), [2, 2], "i32");
  const before = commands().pool.liveCount;
  const loss = noGrad(() => ctcLoss(x, tg, [6, 5], [2, 2], { blank: 3 }));
  assertEquals(commands().pool.liveCount, before + 1, "only the loss stays live");
  loss.dispose();
  x.requiresGrad = true;
  tidy(() => backward(ctcLoss(logSoftmax(x), tg, [6, 5], [2, 2], { blank: 3 })));
  assertEquals(commands().pool.liveCount, before + 1, "only x.grad stays live");
  assert(Array.from(await x.grad!.data()).every(Number.isFinite));
  x.dispose();
  tg.dispose();
});
