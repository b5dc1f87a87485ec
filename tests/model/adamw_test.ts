import { equal as assertEquals, ok as assert, throws as assertThrows } from "node:assert/strict";
import { commands, keep, parameter, Tensor, tensor } from "../../engine/mod.ts";
import { gpu } from "../../engine/device.ts";
import { AdamW, type AdamWOptions } from "../../model/optim.ts";
import { OneCycleLR } from "../../model/schedule.ts";
import { assertClose, randn, Random } from "../harness.ts";

/** Float64 AdamW with PyTorch 1.13's math (`_single_tensor_adamw`, amsgrad off) and `clip_grad_norm_`. */
class RefAdamW {
  m: Float64Array[];
  v: Float64Array[];
  steps: number[];
  /** Steps whose gradients were scaled down by clipping. */
  clipped = 0;
  constructor(
    public p: Float64Array[],
    readonly o: { betas: [number, number]; eps: number; weightDecay: number; maxGradNorm?: number },
  ) {
    this.m = p.map((x) => new Float64Array(x.length));
    this.v = p.map((x) => new Float64Array(x.length));
    this.steps = p.map(() => 0);
  }

  step(grads: (Float64Array | null)[], lr: number, beta1: number): void {
    let scale = 1;
    if (this.o.maxGradNorm !== undefined) {
      let ss = 0;
      for (const g of grads) if (g) { for (const x of g) ss += x * x; }
      scale = Math.min(this.o.maxGradNorm / (Math.sqrt(ss) + 1e-6), 1);
      if (scale < 1) this.clipped++;
    }
    const beta2 = this.o.betas[1];
    grads.forEach((g, k) => {
      if (!g) return;
      const t = ++this.steps[k];
      const bc1 = 1 - beta1 ** t;
      const bc2 = 1 - beta2 ** t;
      const stepSize = lr / bc1;
      const bc2Sqrt = Math.sqrt(bc2);
      const p = this.p[k], m = this.m[k], v = this.v[k];
      for (let i = 0; i < p.length; i++) {
        const gi = g[i] * scale;
        p[i] *= 1 - lr * this.o.weightDecay;
        m[i] = m[i] * beta1 + (1 - beta1) * gi;
        v[i] = v[i] * beta2 + (1 - beta2) * gi * gi;
        p[i] += -stepSize * m[i] / (Math.sqrt(v[i]) / bc2Sqrt + this.o.eps);
      }
    });
  }
}

const SHAPES = [[7, 5], [13], [3, 4, 5], [1], [1031], [6, 43]];

function makeParams(rng: Random, scale = 0.5): { init: Float32Array[]; params: Tensor[] } {
  const init = SHAPES.map((s) => Float32Array.from(randn(rng, s.reduce((a, b) => a * b, 1), scale)));
  const params = init.map((d, i) => parameter(d.slice(), SHAPES[i], `layer${i}.weight`));
  return { init, params };
}

function setGrads(params: Tensor[], grads: (Float32Array | null)[]): void {
  params.forEach((p, i) => {
    p.grad?.dispose();
    p.grad = grads[i] ? keep(tensor(grads[i]!, p.shape)) : null;
  });
}

const f64 = (x: Float32Array) => Float64Array.from(x);

/** Runs GPU and reference side by side for `steps` steps of random gradients, lr and beta1. */
async function compare(
  opts: AdamWOptions & { betas: [number, number]; eps: number; weightDecay: number },
  steps: number,
  gradScale: number,
  tol: number,
  missing: (step: number, k: number) => boolean = () => false,
): Promise<RefAdamW> {
  const rng = new Random(5);
  const { init, params } = makeParams(rng, 0.05);
  const opt = new AdamW(params, opts);
  const ref = new RefAdamW(init.map(f64), opts);
  for (let s = 0; s < steps; s++) {
    const lr = 1e-3 * (1 + 9 * rng.uniform());
    const beta1 = 0.85 + 0.1 * rng.uniform();
    const grads = params.map((p, k) =>
      missing(s, k) ? null : Float32Array.from(randn(rng, p.size, gradScale * (1 + k)))
    );
    setGrads(params, grads);
    opt.step({ lr, beta1 });
    ref.step(grads.map((g) => g && f64(g)), lr, beta1);
  }
  const state = opt.stateTensors();
  for (let k = 0; k < params.length; k++) {
    const name = opt.names[k];
    assertClose(await params[k].f32(), ref.p[k], tol, `param ${name}`);
    assertClose(await state.get(`${name}.exp_avg`)!.f32(), ref.m[k], tol, `exp_avg ${name}`);
    assertClose(await state.get(`${name}.exp_avg_sq`)!.f32(), ref.v[k], tol, `exp_avg_sq ${name}`);
    // The update itself must be accurate too (up to the f32 rounding of the parameter it is added to).
    const got = await params[k].f32();
    const moved = got.map((x, i) => x - init[k][i]);
    const want = ref.p[k].map((x, i) => x - init[k][i]);
    assertClose(moved, want, 2e-5, `total update of ${name}`);
  }
  assertEquals((await opt.stepCounts()).join(), ref.steps.join());
  assertEquals(await opt.skippedSteps(), 0);
  opt.zeroGrad();
  opt.dispose();
  params.forEach((p) => p.dispose());
  return ref;
}

const DEFAULTS = { betas: [0.9, 0.999] as [number, number], eps: 1e-8, weightDecay: 0.01 };

Deno.test("AdamW: 10 steps with changing lr and beta1 match a float64 reference", async () => {
  await compare(DEFAULTS, 10, 1, 1e-6);
});

Deno.test("AdamW: clipping by global norm (some steps clipped, some not) matches the reference", async () => {
  // Gradient norms are about 190 * gradScale and vary by about 2% from step to step.
  const some = await compare({ ...DEFAULTS, maxGradNorm: 9.5 }, 10, 0.05, 1e-6);
  assert(some.clipped > 0 && some.clipped < 10, `clipped ${some.clipped} of 10 steps`);
  const all = await compare({ ...DEFAULTS, maxGradNorm: 1 }, 6, 0.2, 1e-6);
  assertEquals(all.clipped, 6);
});

Deno.test("AdamW: parameters without a gradient are left alone and keep their step count", async () => {
  await compare(DEFAULTS, 6, 1, 1e-6, (s, k) => (k === 2 && s % 2 === 0) || (k === 4 && s === 1));
});

Deno.test("AdamW: a parameter in an unpadded buffer takes the scalar kernel and matches too", async () => {
  const rng = new Random(9);
  const n = 13;
  const init = Float32Array.from(randn(rng, n));
  // A buffer of exactly 13 floats, as a tensor made outside the pool would have (the vec4 kernel needs 16).
  const buffer = gpu().device.createBuffer({
    size: n * 4,
    usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST,
  });
  gpu().device.queue.writeBuffer(buffer, 0, init);
  const p = keep(new Tensor([n], "f32", buffer));
  p.requiresGrad = true;
  const opt = new AdamW([p]);
  const ref = new RefAdamW([f64(init)], DEFAULTS);
  for (let s = 0; s < 3; s++) {
    const g = Float32Array.from(randn(rng, n));
    setGrads([p], [g]);
    opt.step({ lr: 1e-2 });
    ref.step([f64(g)], 1e-2, 0.9);
  }
  assertClose(await p.f32(), ref.p[0], 1e-6, "scalar-path parameter");
  opt.dispose();
  p.grad?.dispose();
  buffer.destroy();
});

Deno.test("AdamW: bias corrections stay accurate at large step counts", async () => {
  for (const t0 of [1, 9, 99, 999, 12345, 1e6]) {
    const rng = new Random(t0);
    // Parameters far smaller than one update, so that f32 rounding of p does not hide the update's error.
    const { init, params } = makeParams(rng, 1e-5);
    const opt = new AdamW(params, { weightDecay: 0 });
    const ref = new RefAdamW(init.map(f64), { ...DEFAULTS, weightDecay: 0 });
    const m = params.map((p) => Float32Array.from(randn(rng, p.size, 0.1)));
    const v = params.map((p) => Float32Array.from(randn(rng, p.size, 0.1)).map((x) => x * x));
    const state = new Map<string, Float32Array>([["step", new Float32Array(params.length).fill(t0)]]);
    opt.names.forEach((n, k) => {
      state.set(`${n}.exp_avg`, m[k]);
      state.set(`${n}.exp_avg_sq`, v[k]);
    });
    opt.loadState(state);
    ref.m = m.map(f64);
    ref.v = v.map(f64);
    ref.steps = params.map(() => t0);
    const grads = params.map((p) => Float32Array.from(randn(rng, p.size)));
    setGrads(params, grads);
    opt.step({ lr: 1e-3, beta1: 0.87 });
    ref.step(grads.map(f64), 1e-3, 0.87);
    for (let k = 0; k < params.length; k++) {
      assertClose(await params[k].f32(), ref.p[k], 1e-6, `param ${k} after step ${t0 + 1}`);
    }
    opt.dispose();
    params.forEach((p) => p.dispose());
  }
});

Deno.test("AdamW: a NaN gradient or a non-finite loss skips the whole step on the GPU", async () => {
  const rng = new Random(8);
  const { init, params } = makeParams(rng);
  const opt = new AdamW(params, { maxGradNorm: 5 });
  const ref = new RefAdamW(init.map(f64), { ...DEFAULTS, maxGradNorm: 5 });
  const snapshot = async () => await Promise.all([...opt.stateTensors().values()].map((t) => t.f32()));
  const paramsNow = async () => await Promise.all(params.map((p) => p.f32()));
  for (let s = 0; s < 6; s++) {
    const grads = params.map((p) => Float32Array.from(randn(rng, p.size)));
    const loss = tensor([s === 4 ? Infinity : 1.5], []);
    if (s === 2) grads[4][77] = NaN;
    const beforeP = await paramsNow();
    const beforeS = await snapshot();
    setGrads(params, grads);
    opt.step({ lr: 2e-3, beta1: 0.9, loss });
    loss.dispose();
    if (s === 2 || s === 4) {
      const afterP = await paramsNow();
      afterP.forEach((p, k) =>
        assertEquals(p.join(), beforeP[k].join(), `param ${k} moved on a skipped step`)
      );
      const afterS = await snapshot();
      // Everything but the skipped counter (the last entry) is unchanged.
      afterS.slice(0, -1).forEach((t, k) => assertEquals(t.join(), beforeS[k].join(), `state ${k} changed`));
      continue;
    }
    ref.step(grads.map(f64), 2e-3, 0.9);
  }
  assertEquals(await opt.skippedSteps(), 2);
  assertEquals((await opt.stepCounts()).join(), ref.steps.join());
  for (let k = 0; k < params.length; k++) assertClose(await params[k].f32(), ref.p[k], 1e-6, `param ${k}`);
  opt.dispose();
  params.forEach((p) => p.dispose());
});

Deno.test("AdamW: with the guard off a NaN gradient poisons the step as in PyTorch", async () => {
  const p = parameter(new Float32Array([1, 2, 3]), [3], "w");
  const opt = new AdamW([p], { skipNonFinite: false });
  setGrads([p], [new Float32Array([0.1, NaN, 0.3])]);
  opt.step();
  const got = await p.f32();
  assert(Number.isNaN(got[1]) && Number.isFinite(got[0]));
  assertEquals(await opt.skippedSteps(), 0);
  opt.dispose();
  p.dispose();
});

Deno.test("AdamW: stateTensors / loadState resume a run exactly", async () => {
  const rng = new Random(21);
  const { init, params: a } = makeParams(rng);
  const b = init.map((d, i) => parameter(d.slice(), SHAPES[i], `layer${i}.weight`));
  const optA = new AdamW(a);
  const gradSeq = Array.from({ length: 5 }, () => a.map((p) => Float32Array.from(randn(rng, p.size))));
  for (let s = 0; s < 3; s++) {
    setGrads(a, gradSeq[s]);
    optA.step({ lr: 1e-3 * (s + 1), beta1: 0.95 - 0.02 * s });
  }
  // Save through the CPU, as a checkpoint does; the parameters travel separately.
  const saved = new Map<string, Float32Array>();
  for (const [k, t] of optA.stateTensors()) saved.set(k, await t.f32());
  for (let i = 0; i < b.length; i++) commands().copy(a[i].buffer, 0, b[i].buffer, 0, a[i].size * 4);
  const optB = new AdamW(b);
  optB.loadState(saved);
  for (let s = 3; s < 5; s++) {
    for (const [params, opt] of [[a, optA], [b, optB]] as const) {
      setGrads(params as Tensor[], gradSeq[s]);
      opt.step({ lr: 1e-3 * (s + 1), beta1: 0.95 - 0.02 * s });
    }
  }
  for (let i = 0; i < a.length; i++) assertEquals((await a[i].f32()).join(), (await b[i].f32()).join());
  assertEquals((await optB.stepCounts()).join(), "5,5,5,5,5,5");
  assertThrows(
    () => optB.loadState(new Map([...saved, ["step", new Float32Array(2)]])),
    /"step" has 2 values/,
  );
  assertThrows(() => optB.loadState(new Map([["bogus", new Float32Array(1)]])), /unknown keys bogus/);
  const partial = new Map(saved);
  partial.delete("layer3.weight.exp_avg");
  assertThrows(() => optB.loadState(partial), /missing "layer3.weight.exp_avg"/);
  for (const o of [optA, optB]) o.dispose();
  [...a, ...b].forEach((p) => p.dispose());
});

Deno.test("AdamW: bad options and gradients give clear errors", () => {
  const p = parameter(new Float32Array(4), [2, 2], "w");
  assertThrows(() => new AdamW([]), /empty parameter list/);
  assertThrows(() => new AdamW([p], { betas: [1, 0.999] }), /beta1 must be in \[0, 1\)/);
  assertThrows(() => new AdamW([p, p]), /listed twice/);
  const opt = new AdamW([p]);
  assertThrows(() => opt.step({ lr: NaN }), /learning rate/);
  p.grad = keep(tensor(new Float32Array(3)));
  assertThrows(() => opt.step(), /gradient \[3\] f32 of w does not match \[2, 2\]/);
  opt.zeroGrad();
  assertEquals(p.grad, null);
  opt.dispose();
  assertThrows(() => opt.step(), /after dispose/);
  p.dispose();
});

Deno.test("AdamW: steps do not leak GPU buffers", async () => {
  const rng = new Random(4);
  const { params } = makeParams(rng);
  const opt = new AdamW(params, { maxGradNorm: 1 });
  const grads = params.map((p) => Float32Array.from(randn(rng, p.size)));
  const pool = commands().pool;
  const counts: number[] = [];
  for (let s = 0; s < 8; s++) {
    setGrads(params, grads);
    opt.step({ lr: 1e-3 });
    opt.gradNorm().dispose();
    opt.zeroGrad();
    counts.push(pool.liveCount);
  }
  await commands().sync();
  assertEquals(new Set(counts).size, 1, `live buffers drifted: ${counts}`);
  opt.dispose();
  params.forEach((p) => p.dispose());
});

interface TorchCase {
  name: string;
  lr: number;
  weight_decay: number;
  max_grad_norm: number | null;
  onecycle: { max_lr: number; anneal_strategy: "linear" | "cos" } | null;
  names: string[];
  shapes: number[][];
  init: number[][];
  steps: { lr: number; beta1: number; grads: number[][]; params: number[][] }[];
  final: { exp_avg: number[][]; exp_avg_sq: number[][]; step: number[] };
  clipped_steps: number;
}

const torchCases: TorchCase[] = JSON.parse(
  await Deno.readTextFile(new URL("../fixtures/adamw.json", import.meta.url)),
).cases;

for (const c of torchCases) {
  Deno.test(`AdamW ${c.name}: trajectory matches PyTorch 1.13 AdamW within 1e-6`, async () => {
    const params = c.init.map((d, i) => parameter(Float32Array.from(d), c.shapes[i], c.names[i]));
    const opt = new AdamW(params, {
      lr: c.lr,
      weightDecay: c.weight_decay,
      maxGradNorm: c.max_grad_norm ?? undefined,
    });
    const sched = c.onecycle
      ? new OneCycleLR({
        maxLr: c.onecycle.max_lr,
        totalSteps: c.steps.length,
        annealStrategy: c.onecycle.anneal_strategy,
      })
      : null;
    for (const [s, step] of c.steps.entries()) {
      const lr = sched ? sched.lr : c.lr;
      const beta1 = sched ? sched.beta1! : 0.9;
      assertClose([lr, beta1], [step.lr, step.beta1], 1e-14, `lr and beta1 of step ${s}`);
      setGrads(params, step.grads.map((g) => Float32Array.from(g)));
      opt.step({ lr, beta1 });
      sched?.step();
      for (let k = 0; k < params.length; k++) {
        const got = await params[k].f32();
        const want = Float32Array.from(step.params[k]);
        assertClose(got, want, 1e-6, `${c.names[k]} at step ${s}`);
        // The distance travelled, which is much smaller than the parameters, agrees too.
        const init = c.init[k];
        assertClose(
          got.map((x, i) => x - init[i]),
          want.map((x, i) => x - init[i]),
          2e-6,
          `${c.names[k]} update`,
        );
      }
    }
    const state = opt.stateTensors();
    for (const [k, n] of c.names.entries()) {
      assertClose(
        await state.get(`${n}.exp_avg`)!.f32(),
        Float32Array.from(c.final.exp_avg[k]),
        1e-6,
        `${n} m`,
      );
      assertClose(
        await state.get(`${n}.exp_avg_sq`)!.f32(),
        Float32Array.from(c.final.exp_avg_sq[k]),
        1e-6,
        `${n} v`,
      );
    }
    assertEquals((await opt.stepCounts()).join(), c.final.step.join());
    opt.dispose();
    params.forEach((p) => p.dispose());
  });
}
