/**
 * One training step of the recognizer: forward, log-softmax, CTC loss (mean over target lengths, infinite
 * samples zeroed), backward, optimizer update. Everything stays on the GPU: the loss is returned as a tensor to
 * be read back rarely, never awaited here.
 */
import { backward } from "../engine/autograd.ts";
import { keep, tidy } from "../engine/scope.ts";
import type { Tensor } from "../engine/tensor.ts";
import { ctcLossWithSamples } from "../kernels/ctc.ts";
import { logSoftmax } from "../kernels/softmax.ts";
import type { AdamW } from "./optim.ts";
import type { SpeechRecognitionModel } from "./recognizer.ts";

export interface Batch {
  /** (batch, 1, n_feats, frames) features, zero-padded. */
  spectrograms: Tensor;
  /** (batch, maxLabel) i32 class indices, padded. */
  labels: Tensor;
  /** Valid output frames per utterance (the tutorial's frames // 2). */
  inputLengths: number[];
  labelLengths: number[];
}

export interface StepResult {
  /** The batch's loss ([]), kept alive for the caller (dispose it after reading). */
  loss: Tensor;
  /** Per-sample losses ([batch]; +inf for a target that cannot fit its input), kept alive likewise. */
  sampleLosses: Tensor;
}

/** Computes the loss of a batch (and its gradients when `withGrad`); used by training and evaluation. */
export function batchLoss(
  model: SpeechRecognitionModel,
  batch: Batch,
  opts: { training: boolean; dropoutSeed?: number },
): { loss: Tensor; sampleLosses: Tensor; logProbs: Tensor } {
  const logits = model.forward(batch.spectrograms, batch.inputLengths, opts);
  const logProbs = logSoftmax(logits, 2);
  const { loss, sampleLosses } = ctcLossWithSamples(
    logProbs,
    batch.labels,
    batch.inputLengths,
    batch.labelLengths,
    { blank: model.config.nClass - 1, reduction: "mean", zeroInfinity: true, batchFirst: true },
  );
  return { loss, sampleLosses, logProbs };
}

/**
 * Forward, backward and one optimizer update, recording GPU work only. A step whose loss or gradient is not
 * finite changes nothing (the optimizer's guard); samples whose target cannot fit are zeroed by the loss.
 */
export function trainStep(
  model: SpeechRecognitionModel,
  optimizer: AdamW,
  batch: Batch,
  opts: { lr: number; beta1: number; dropoutSeed: number },
): StepResult {
  return tidy(() => {
    const { loss, sampleLosses } = batchLoss(model, batch, { training: true, dropoutSeed: opts.dropoutSeed });
    backward(loss);
    optimizer.step({ lr: opts.lr, beta1: opts.beta1, loss });
    optimizer.zeroGrad();
    return { loss: keep(loss), sampleLosses: keep(sampleLosses) };
  });
}
