/**
 * The shared gradient-check harness: an op on the GPU against a float64 reference on the CPU, forward values
 * and gradients. Gradients are checked on L = sum(out * w) for a random weighting w: the GPU's analytic
 * gradient (backward with seed w) against central finite differences of the float64 reference.
 */
import { backward, initGpu, Random, setQuiet, type Tensor, tensor, tidy } from "../engine/mod.ts";
import { loadTorchFixture } from "./torch_fixtures.ts";

export { Random };

setQuiet(true);
await initGpu();

/** Random normal data (never zeros), as float64. */
export function randn(rng: Random, n: number, scale = 1): Float64Array {
  const a = new Float64Array(n);
  for (let i = 0; i < n; i++) a[i] = rng.normal() * scale;
  return a;
}

/** Random data uniform in [lo, hi). */
export function uniform(rng: Random, n: number, lo: number, hi: number): Float64Array {
  const a = new Float64Array(n);
  for (let i = 0; i < n; i++) a[i] = lo + (hi - lo) * rng.uniform();
  return a;
}

/** ||a - b|| / max(||b||, tiny): the relative error we report everywhere. */
export function relError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) {
    num += (a[i] - b[i]) ** 2;
    den += b[i] ** 2;
  }
  return Math.sqrt(num) / Math.max(Math.sqrt(den), 1e-30);
}

export function assertClose(
  got: ArrayLike<number>,
  want: ArrayLike<number>,
  tol: number,
  what: string,
): void {
  const e = relError(got, want);
  if (!(e <= tol)) {
    const show = (x: ArrayLike<number>) => Array.from(x).slice(0, 6).map((v) => v.toPrecision(6)).join(", ");
    throw new Error(
      `${what}: relative error ${e.toExponential(3)} > ${tol}\n  got  ${show(got)}\n  want ${show(want)}`,
    );
  }
}

export interface GradCase {
  name: string;
  /** Input shapes and values (float64; uploaded as f32, and the reference uses the f32-rounded values). */
  inputs: { shape: number[]; data: Float64Array; grad?: boolean }[];
  /** The op on the GPU. */
  gpu: (xs: Tensor[]) => Tensor;
  /** The float64 reference: same inputs, flat output in the GPU output's row-major order. */
  ref: (xs: Float64Array[]) => Float64Array;
  forwardTol?: number;
  gradTol?: number;
  /** Finite-difference step. */
  h?: number;
}

/** Runs the forward check and, for inputs with `grad !== false`, the gradient check. */
export async function checkOp(c: GradCase): Promise<void> {
  const rng = new Random(1234);
  const rounded = c.inputs.map((x) => Float64Array.from(Float32Array.from(x.data)));
  const want = c.ref(rounded);
  const w = randn(rng, want.length);
  const { out, grads } = tidy(() => {
    const ts = c.inputs.map((x, i) => {
      const t = tensor(Float32Array.from(rounded[i]), x.shape);
      t.requiresGrad = x.grad !== false;
      return t;
    });
    const y = c.gpu(ts);
    const seed = tensor(Float32Array.from(w), y.shape);
    backward(y, seed);
    // Take the gradients off the inputs, which the scope frees (and with them their .grad).
    const grads = ts.map((t) => {
      const g = t.grad;
      t.grad = null;
      return g;
    });
    return { out: y, grads };
  });
  const got = await out.data();
  assertClose(got, want, c.forwardTol ?? 1e-5, `${c.name} forward`);
  const h = c.h ?? 1e-3;
  for (let i = 0; i < c.inputs.length; i++) {
    if (c.inputs[i].grad === false) continue;
    const g = grads[i];
    if (!g) throw new Error(`${c.name}: no gradient for input ${i}`);
    const analytic = await g.data();
    const numeric = new Float64Array(rounded[i].length);
    for (let j = 0; j < numeric.length; j++) {
      const xs = rounded.map((r) => r.slice());
      xs[i][j] += h;
      const up = c.ref(xs);
      xs[i][j] -= 2 * h;
      const down = c.ref(xs);
      let s = 0;
      for (let k = 0; k < w.length; k++) s += w[k] * (up[k] - down[k]);
      numeric[j] = s / (2 * h);
    }
    assertClose(analytic, numeric, c.gradTol ?? 1e-3, `${c.name} gradient of input ${i}`);
    g.dispose();
  }
  out.dispose();
}

/** Row-major strides: the engine's own (ops_test imports it from here). */
export { stridesOf as strides } from "../engine/shape.ts";

/** Visits every multi-index of `shape` in row-major order. */
export function forEachIndex(shape: number[], fn: (idx: number[], flat: number) => void): void {
  const n = shape.reduce((a, b) => a * b, 1);
  const idx = new Array(shape.length).fill(0);
  for (let f = 0; f < n; f++) {
    fn(idx, f);
    for (let k = shape.length - 1; k >= 0; k--) {
      if (++idx[k] < shape[k]) break;
      idx[k] = 0;
    }
  }
}

/** A parity check of an op against a PyTorch fixture: see checkTorchParity. */
export interface TorchParityCase {
  /** The tensors' common name prefix in the fixture, e.g. "conv2d.s2p1" for "conv2d.s2p1.input". */
  prefix: string;
  /** The op's inputs, in order: `${prefix}.${name}`, each with gradients checked against `${prefix}.grad_${name}`. */
  inputs: string[];
  /** The op on the GPU. */
  op: (xs: Tensor[]) => Tensor;
  /** The fixture file; default "ops.safetensors". */
  file?: string;
}

/**
 * Runs `op` on a fixture's inputs (float32, all requiring gradients), backward with seed `${prefix}.gout`, and
 * checks the output against `${prefix}.output` and every input's gradient against `${prefix}.grad_${name}`, each
 * to a relative error of 1e-5.
 */
export async function checkTorchParity(c: TorchParityCase): Promise<void> {
  const f = loadTorchFixture(c.file ?? "ops.safetensors");
  const p = c.prefix;
  const { out, grads } = tidy(() => {
    const ts = c.inputs.map((n) => {
      const t = tensor(f.f32(`${p}.${n}`), f.shape(`${p}.${n}`));
      t.requiresGrad = true;
      return t;
    });
    const y = c.op(ts);
    backward(y, tensor(f.f32(`${p}.gout`), y.shape));
    const grads = ts.map((t) => {
      const g = t.grad!;
      t.grad = null;
      return g;
    });
    return { out: y, grads };
  });
  assertClose(await out.data(), f.f64(`${p}.output`), 1e-5, `${p} output`);
  for (let i = 0; i < c.inputs.length; i++) {
    assertClose(await grads[i].data(), f.f64(`${p}.grad_${c.inputs[i]}`), 1e-5, `${p} grad_${c.inputs[i]}`);
    grads[i].dispose();
  }
  out.dispose();
}
