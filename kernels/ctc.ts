/**
 * PyTorch's `F.ctc_loss` on the GPU: alpha recursion and per-sample losses in the forward pass, beta recursion
 * and the gradient with respect to the log-probabilities in the backward pass (WGSL and the log-space details in
 * ctc_wgsl.ts). Nothing is read back: the per-sample losses stay on the GPU, so a training loop can count and
 * exclude infinite ones whenever it reads its metrics anyway.
 */
import { needsGrad, record } from "../engine/autograd.ts";
import { gpu } from "../engine/device.ts";
import { launch } from "../engine/kernel.ts";
import { copyInto, empty, shapeString, type Tensor } from "../engine/tensor.ts";
import { lengthsTensor } from "./lengths.ts";
import { alphaProgram, betaProgram, gradProgram, reduceProgram, WG } from "./ctc_wgsl.ts";

export type CtcReduction = "none" | "mean" | "sum";

/**
 * How the recursions walk time: one workgroup per sample looping over frames with a storage barrier between them
 * ("loop"), or one launch per frame ("perFrame", ~43 us of recording each). On the CPU adapter (llvmpipe, 2
 * cores, C = 29, a loaded machine so +-30%), forward alone: T 200 / batch 4 / S 50: loop 6.9 ms, perFrame 12.1;
 * T 400 / 20 / 100: 48 vs 73 ms; T 800 / 20 / 200: 71 vs 155 ms. "loop" is the default everywhere (on a real GPU
 * a barrier is cheaper still than a launch).
 */
export type CtcStrategy = "loop" | "perFrame";

export interface CtcOptions {
  /** The blank class (default 0, as PyTorch's `F.ctc_loss`; the recognizer passes its own, `nClass - 1`). */
  blank?: number;
  reduction?: CtcReduction;
  /** Infinite losses (no alignment fits the input) and their gradients become 0. */
  zeroInfinity?: boolean;
  /** logProbs is (batch, T, C) instead of (T, batch, C). */
  batchFirst?: boolean;
  strategy?: CtcStrategy;
}

export interface CtcResult {
  /** The reduced loss ([] for mean/sum, [batch] for none), differentiable with respect to logProbs. */
  loss: Tensor;
  /** -log p(target | input) per sample, [batch], +inf where infeasible (whatever zeroInfinity says); no grad. */
  sampleLosses: Tensor;
}

const REDUCTION_CODE: Record<CtcReduction, number> = { none: 0, mean: 1, sum: 2 };

/**
 * CTC loss with its per-sample losses. `logProbs` (T, batch, C) (or (batch, T, C) with `batchFirst`) are
 * log-softmax outputs; `targets` (batch, S) padded i32 class indices (not the blank, < C; out-of-range values
 * are clamped, not reported, when given as a tensor); lengths per sample as i32 tensors or numbers.
 */
export function ctcLossWithSamples(
  logProbs: Tensor,
  targets: Tensor,
  inputLengths: Tensor | readonly number[],
  targetLengths: Tensor | readonly number[],
  opts: CtcOptions = {},
): CtcResult {
  const blank = opts.blank ?? 0;
  const reduction = opts.reduction ?? "mean";
  const zinf = opts.zeroInfinity ?? false;
  const loop = (opts.strategy ?? "loop") === "loop";
  if (logProbs.rank !== 3 || logProbs.dtype !== "f32") {
    throw new RangeError(`ctcLoss: logProbs must be a rank-3 f32 tensor, got ${logProbs}`);
  }
  const [T, N] = opts.batchFirst
    ? [logProbs.shape[1], logProbs.shape[0]]
    : [logProbs.shape[0], logProbs.shape[1]];
  const C = logProbs.shape[2];
  if (!(blank >= 0 && blank < C)) throw new RangeError(`ctcLoss: blank ${blank} is not a class of ${C}`);
  if (!(reduction in REDUCTION_CODE)) throw new RangeError(`ctcLoss: unknown reduction "${reduction}"`);
  if (targets.dtype !== "i32" || targets.rank !== 2 || targets.shape[0] !== N) {
    throw new TypeError(`ctcLoss: targets must be an i32 (batch = ${N}, S) tensor, got ${targets}`);
  }
  const S = targets.shape[1];
  const L = 2 * S + 1;
  const ilen = lengthsTensor(inputLengths, N, { op: "ctcLoss", what: "inputLengths", min: 0, max: T });
  const tlen = lengthsTensor(targetLengths, N, { op: "ctcLoss", what: "targetLengths", min: 0, max: S });
  const lens = empty([2, N], "i32", "ctc lengths");
  copyInto(ilen, lens, { count: N });
  copyInto(tlen, lens, { dstOffset: N, count: N });
  if (ilen !== inputLengths) ilen.dispose();
  if (tlen !== targetLengths) tlen.dispose();
  const [stT, stB] = opts.batchFirst ? [C, T * C] : [N * C, C];
  const grad = needsGrad(logProbs);
  const ab = empty([grad ? 2 : 1, N, T, L], "f32", "ctc alpha/beta");
  if (ab.size * 4 > gpu().limits.maxStorageBufferBindingSize) {
    throw new RangeError(
      `ctcLoss: alpha/beta of ${
        shapeString(ab.shape)
      } exceed this adapter's binding limit; use a smaller batch`,
    );
  }
  const sampleLosses = empty([N], "f32", "ctc sample losses");
  const uniforms = (t: number) => ({ N, T, C, S, L, stT, stB, blank, t, inf: Infinity });
  const inputs = { lp: logProbs, targets, lens };
  if (N > 0) {
    if (loop) {
      launch(alphaProgram(true), {
        uniforms: uniforms(0),
        inputs,
        outputs: { ab, losses: sampleLosses },
        workgroups: [N, 1, 1],
      });
    } else {
      const alpha = alphaProgram(false);
      const outputs = { ab, losses: sampleLosses };
      for (let t = 0; t <= T; t++) {
        launch(alpha, { uniforms: uniforms(t), inputs, outputs, workgroups: [Math.ceil(L / WG), N, 1] });
      }
    }
  }
  const mode = REDUCTION_CODE[reduction];
  const loss = empty(reduction === "none" ? [N] : [], "f32", "ctc loss");
  launch(reduceProgram, {
    uniforms: { N, mode, zinf: +zinf },
    inputs: { losses: sampleLosses, lens },
    outputs: { out: loss },
    workgroups: [1, 1, 1],
  });
  if (!grad) {
    ab.dispose();
    lens.dispose();
    return { loss, sampleLosses };
  }
  record(loss, "ctcLoss", [logProbs], (g) => {
    if (loop) {
      launch(betaProgram(true), { uniforms: uniforms(0), inputs, outputs: { ab }, workgroups: [N, 1, 1] });
    } else {
      const beta = betaProgram(false);
      for (let k = 0; k < T; k++) {
        launch(beta, {
          uniforms: uniforms(k),
          inputs,
          outputs: { ab },
          workgroups: [Math.ceil(L / WG), N, 1],
        });
      }
    }
    const dlp = empty(logProbs.shape, "f32", "ctc grad");
    // The gradient kernel reads its mode from `t`: the reduction code, + 8 with zero_infinity.
    launch(gradProgram(C), {
      uniforms: uniforms(mode + (zinf ? 8 : 0)),
      inputs: { ...inputs, ab, losses: sampleLosses, gout: g },
      outputs: { grad: dlp },
      invocations: N * T,
    });
    return [dlp];
  });
  return { loss, sampleLosses };
}

/** PyTorch's `F.ctc_loss` (see {@link ctcLossWithSamples} for the arguments). */
export function ctcLoss(...args: Parameters<typeof ctcLossWithSamples>): Tensor {
  const { loss, sampleLosses } = ctcLossWithSamples(...args);
  // The backward pass reads the per-sample losses; then they belong to the enclosing scope.
  if (!loss.node) sampleLosses.dispose();
  return loss;
}
