/**
 * A representative subset of the kernel suite that runs wherever the engine runs, browsers included: matmul on
 * both strategies against a float64 product, and conv2d, LayerNorm, the BiGRU (its step kernels), CTC and the
 * FFT mel spectrogram against the PyTorch float64 references of tests/fixtures/torch/ (forward and gradients).
 * It takes the fixture files as bytes, so a page can fetch them; tests/web/kernels_test.ts runs it in Chromium
 * on Dawn's SwiftShader, whose validation and limits differ from Deno's wgpu on lavapipe.
 */
import { backward } from "../../engine/autograd.ts";
import { tidy } from "../../engine/scope.ts";
import { type Tensor, tensor } from "../../engine/tensor.ts";
import { Random } from "../../engine/random.ts";
import { conv2d } from "../../kernels/conv2d.ts";
import { ctcLossWithSamples } from "../../kernels/ctc.ts";
import { biGru, type BiGruWeights, WEIGHT_ORDER } from "../../kernels/gru.ts";
import { layerNorm } from "../../kernels/layernorm.ts";
import { matmul, setMatmulStrategy } from "../../kernels/matmul.ts";
import { logSoftmax } from "../../kernels/softmax.ts";
import { melSpectrogram } from "../../data/features.ts";
import { readSafetensors, type SafeTensor } from "../../model/safetensors_codec.ts";

/** One comparison: relative error ||got - want|| / ||want|| against its tolerance. */
export interface CheckResult {
  name: string;
  error: number;
  tolerance: number;
  ok: boolean;
}

type Fixture = Map<string, SafeTensor>;

function relError(got: ArrayLike<number>, want: ArrayLike<number>): number {
  if (got.length !== want.length) return Infinity;
  let num = 0;
  let den = 0;
  for (let i = 0; i < got.length; i++) {
    num += (got[i] - want[i]) ** 2;
    den += want[i] ** 2;
  }
  return Math.sqrt(num) / Math.max(Math.sqrt(den), 1e-30);
}

class Checks {
  readonly results: CheckResult[] = [];

  compare(name: string, got: ArrayLike<number>, want: ArrayLike<number>, tolerance = 1e-5): void {
    const error = relError(got, want);
    this.results.push({ name, error, tolerance, ok: error <= tolerance });
  }
}

function get(f: Fixture, name: string): SafeTensor {
  const t = f.get(name);
  if (!t) throw new Error(`fixture has no tensor ${name}`);
  return t;
}
const f32 = (f: Fixture, name: string) => Float32Array.from(get(f, name).data as ArrayLike<number>);
const f64 = (f: Fixture, name: string) => Float64Array.from(get(f, name).data as ArrayLike<number>);
const i32 = (f: Fixture, name: string) => Array.from(get(f, name).data as ArrayLike<number>);

/** A fixture op's output and every input's gradient (seed `${prefix}.gout`) against PyTorch's. */
async function parity(
  c: Checks,
  f: Fixture,
  prefix: string,
  inputs: string[],
  op: (xs: Tensor[]) => Tensor,
): Promise<void> {
  const { out, grads } = tidy(() => {
    const ts = inputs.map((n) => {
      const t = tensor(f32(f, `${prefix}.${n}`), get(f, `${prefix}.${n}`).shape);
      t.requiresGrad = true;
      return t;
    });
    const y = op(ts);
    backward(y, tensor(f32(f, `${prefix}.gout`), y.shape));
    const grads = ts.map((t) => {
      const g = t.grad!;
      t.grad = null;
      return g;
    });
    return { out: y, grads };
  });
  c.compare(`${prefix} output`, await out.data(), f64(f, `${prefix}.output`));
  for (let i = 0; i < inputs.length; i++) {
    c.compare(`${prefix} grad_${inputs[i]}`, await grads[i].data(), f64(f, `${prefix}.grad_${inputs[i]}`));
    grads[i].dispose();
  }
  out.dispose();
}

/** Batched C = op(A) op(B) in float64 from the float32-rounded operands. */
function refMatmul(
  a: Float32Array,
  b: Float32Array,
  batch: number,
  M: number,
  N: number,
  K: number,
  transA: boolean,
  transB: boolean,
): Float64Array {
  const c = new Float64Array(batch * M * N);
  for (let p = 0; p < batch; p++) {
    for (let i = 0; i < M; i++) {
      for (let j = 0; j < N; j++) {
        let s = 0;
        for (let k = 0; k < K; k++) {
          const av = a[p * M * K + (transA ? k * M + i : i * K + k)];
          const bv = b[p * K * N + (transB ? j * K + k : k * N + j)];
          s += av * bv;
        }
        c[(p * M + i) * N + j] = s;
      }
    }
  }
  return c;
}

async function matmulChecks(c: Checks): Promise<void> {
  const rng = new Random(5);
  const shapes: [number, number, number, number][] = [[1, 37, 29, 53], [3, 64, 48, 32], [2, 5, 130, 7]];
  for (const strategy of ["registers", "shared"] as const) {
    setMatmulStrategy(strategy);
    try {
      for (const [batch, M, N, K] of shapes) {
        for (const [transA, transB] of [[false, false], [true, false], [false, true]] as const) {
          const a = Float32Array.from({ length: batch * M * K }, () => rng.normal());
          const b = Float32Array.from({ length: batch * K * N }, () => rng.normal());
          const got = await tidy(() => {
            const ta = tensor(a, transA ? [batch, K, M] : [batch, M, K]);
            const tb = tensor(b, transB ? [batch, N, K] : [batch, K, N]);
            return matmul(ta, tb, { transA, transB });
          }).data();
          c.compare(
            `matmul ${strategy} ${batch}x${M}x${N}x${K}${transA ? " A^T" : ""}${transB ? " B^T" : ""}`,
            got,
            refMatmul(a, b, batch, M, N, K, transA, transB),
          );
        }
      }
    } finally {
      setMatmulStrategy(null);
    }
  }
}

async function gruChecks(c: Checks, f: Fixture): Promise<void> {
  const names = WEIGHT_ORDER.map((k) => k.replace(/_reverse$/, "_l0_reverse").replace(/(_[ih]h)$/, "$1_l0"));
  const lengths = i32(f, "gru.packed.lengths");
  await parity(c, f, "gru.packed", ["input", ...names], ([x, ...ws]) => {
    const o: Record<string, Tensor> = {};
    WEIGHT_ORDER.forEach((k, i) => (o[k] = ws[i]));
    return biGru(x, lengths, o as unknown as BiGruWeights, { batchFirst: true });
  });
}

async function ctcChecks(c: Checks, f: Fixture): Promise<void> {
  const [T, N, C] = get(f, "ctc.log_probs").shape;
  const ilen = i32(f, "ctc.input_lengths");
  const tlen = i32(f, "ctc.target_lengths");
  const r = tidy(() => {
    const logits = tensor(f32(f, "ctc.logits"), [T, N, C]);
    logits.requiresGrad = true;
    const targets = tensor(Int32Array.from(i32(f, "ctc.targets")), get(f, "ctc.targets").shape, "i32");
    const opts = { blank: 28, reduction: "mean" as const, zeroInfinity: true };
    const { loss, sampleLosses } = ctcLossWithSamples(logSoftmax(logits), targets, ilen, tlen, opts);
    backward(loss);
    const gx = logits.grad!;
    logits.grad = null;
    return { loss, sampleLosses, gx };
  });
  c.compare("ctc mean zero_infinity loss", await r.loss.data(), f64(f, "ctc.mean_zinf.loss"));
  const samples = await r.sampleLosses.data();
  c.compare("ctc per-sample losses (feasible)", samples.slice(0, 3), f64(f, "ctc.none_inf.loss").slice(0, 3));
  c.compare("ctc grad_logits", await r.gx.data(), f64(f, "ctc.mean_zinf.grad_logits"));
  [r.loss, r.sampleLosses, r.gx].forEach((t) => t.dispose());
}

async function melChecks(c: Checks, mel: Fixture): Promise<void> {
  for (const clip of ["1089-134691-0000", "90002-1-0007"]) {
    const { features } = tidy(() => melSpectrogram([f32(mel, `${clip}.waveform`)], { method: "fft" }));
    c.compare(`mel spectrogram (FFT) ${clip}`, await features.f32(), f64(mel, `${clip}.mel`), 1e-6);
    features.dispose();
  }
}

/** Runs every check; `ops` and `mel` are the bytes of ops.safetensors and mel.safetensors. */
export async function runKernelChecks(ops: Uint8Array, mel: Uint8Array): Promise<CheckResult[]> {
  const c = new Checks();
  const o = readSafetensors(ops, "ops.safetensors").tensors;
  const m = readSafetensors(mel, "mel.safetensors").tensors;
  await matmulChecks(c);
  for (const [name, stride] of [["s2p1", 2], ["cin1", 2], ["s1p1", 1]] as const) {
    await parity(
      c,
      o,
      `conv2d.${name}`,
      ["input", "weight", "bias"],
      ([x, w, b]) => conv2d(x, w, b, { stride, padding: 1 }),
    );
  }
  await parity(c, o, "layer_norm.last", ["input", "weight", "bias"], ([x, w, b]) => layerNorm(x, w, b, 1e-5));
  await gruChecks(c, o);
  await ctcChecks(c, o);
  await melChecks(c, m);
  return c.results;
}
