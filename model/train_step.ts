/**
 * One training step of the recognizer: forward, log-softmax, CTC loss (mean over target lengths, infinite
 * samples zeroed), backward, optimizer update. Everything stays on the GPU: the loss is returned as a tensor to
 * be read back rarely, never awaited here.
 *
 * A batch whose activations would not fit one storage binding (128 MiB on the CPU adapter: the tutorial's model
 * at batch 20 on 25-35 s utterances needs more, in the BiGRU's saved gates and the CTC lattice) is run as
 * micro-batches whose gradients accumulate before the single optimizer step. In the default layout every
 * utterance is computed independently of the others, so this is the same computation, not an approximation.
 */
import { backward } from "../engine/autograd.ts";
import { commands } from "../engine/commands.ts";
import { gpu } from "../engine/device.ts";
import { profilePhase } from "../engine/profiler.ts";
import { keep, tidy } from "../engine/scope.ts";
import type { Tensor } from "../engine/tensor.ts";
import { ctcLossWithSamples } from "../kernels/ctc.ts";
import { add, scale } from "../kernels/elementwise.ts";
import { concat, narrow } from "../kernels/layout.ts";
import { logSoftmax } from "../kernels/softmax.ts";
import type { AdamW } from "./optim.ts";
import { CNN_CHANNELS, featsAfterConv, framesAfterConv, type SpeechRecognitionModel } from "./recognizer.ts";
import type { ModelConfig } from "./config.ts";
import { shardRange } from "../dist/shard.ts";

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

/** Bytes of the largest single activation a batch of `n` utterances needs in a training step. */
export function largestActivationBytes(c: ModelConfig, n: number, frames: number, maxLabel: number): number {
  const t = framesAfterConv(c, frames);
  const rows = n * t;
  const H = c.rnnDim;
  return 4 * Math.max(
    n * CNN_CHANNELS * featsAfterConv(c) * t, // convolution activations
    rows * 8 * H, // BiGRU saved gates, both directions
    rows * 6 * H, // BiGRU input projection
    2 * n * t * (2 * maxLabel + 1), // CTC alpha and beta
  );
}

/** How many groups `n` utterances must be cut into for every activation to fit one storage binding. */
export function groupsToFit(c: ModelConfig, n: number, frames: number, maxLabel: number): number {
  const limit = gpu().limits.maxStorageBufferBindingSize * 0.9;
  return Math.min(
    Math.max(1, Math.ceil(largestActivationBytes(c, n, frames, maxLabel) / limit)),
    Math.max(n, 1),
  );
}

/** How many micro-batches a batch must be cut into for every activation to fit one storage binding. */
export function microBatchCount(c: ModelConfig, batch: Batch): number {
  const [n, , , frames] = batch.spectrograms.shape;
  const k = groupsToFit(c, n, frames, batch.labels.shape[1]);
  if (k > 1 && c.gruLayout === "tutorial") {
    throw new RangeError(
      `this batch needs ${k} micro-batches to fit the adapter's binding limit, but the tutorial GRU layout runs ` +
        `its recurrence across the batch; use a smaller --batch-size`,
    );
  }
  return k;
}

/** Computes the loss of a batch (and its gradients when `withGrad`); used by training and evaluation. */
export function batchLoss(
  model: SpeechRecognitionModel,
  batch: Batch,
  opts: { training: boolean; dropoutSeed?: number; firstSample?: number },
): { loss: Tensor; sampleLosses: Tensor; logProbs: Tensor } {
  const logits = model.forward(batch.spectrograms, batch.inputLengths, opts);
  const logProbs = logSoftmax(logits, 2);
  const { loss, sampleLosses } = ctcLossWithSamples(
    logProbs,
    batch.labels,
    batch.inputLengths,
    batch.labelLengths,
    { blank: model.config.alphabet.blank, reduction: "mean", zeroInfinity: true, batchFirst: true },
  );
  return { loss, sampleLosses, logProbs };
}

function slice(batch: Batch, start: number, count: number): Batch {
  return {
    spectrograms: narrow(batch.spectrograms, 0, start, count),
    labels: narrow(batch.labels, 0, start, count),
    inputLengths: batch.inputLengths.slice(start, start + count),
    labelLengths: batch.labelLengths.slice(start, start + count),
  };
}

export interface GradientOptions {
  dropoutSeed: number;
  microBatches?: number;
  /**
   * Sum the gradient as this many data-parallel ranks would (default 1): the batch is cut into shards as
   * dist/shard.ts cuts a global batch, each shard's gradient is computed on its own, from zero, and the shards'
   * gradients and losses are added in shard order. For two shards that is the two-rank all-reduce's a + b, so a
   * single process reproduces a two-rank run bit for bit; with more, MPI may associate the sum differently.
   */
  shards?: number;
  /**
   * Index of this batch's first sample in the global batch (a rank's shard in data-parallel training): the
   * dropout masks are the global batch's. Default 0.
   */
  firstSample?: number;
  /**
   * Utterances of the global batch the loss is the mean over (default: this batch's). A rank's shard weighs its
   * loss by its share, so that the sum over ranks of losses and gradients is the global batch's.
   */
  globalBatch?: number;
}

/**
 * Forward and backward of `batch`, leaving the gradients in the parameters' `.grad` (summed over micro-batches,
 * each weighted by its share of the batch). Records GPU work only. Each micro-batch's samples get the dropout
 * masks they get in the whole batch.
 */
export function accumulateGradients(
  model: SpeechRecognitionModel,
  batch: Batch,
  opts: GradientOptions,
): StepResult {
  const shards = Math.min(opts.shards ?? 1, batch.spectrograms.shape[0]);
  return shards > 1
    ? shardedGradients(model, batch, opts, shards)
    : microBatchedGradients(model, batch, opts);
}

/**
 * {@link accumulateGradients} as `shards` ranks: each shard's gradients start from zero (what the parameters
 * held is set aside) and are then added to what came before, as the all-reduce adds the ranks' sums.
 */
function shardedGradients(
  model: SpeechRecognitionModel,
  batch: Batch,
  opts: GradientOptions,
  shards: number,
): StepResult {
  const n = batch.spectrograms.shape[0];
  const params = model.parameters();
  let total: Tensor | null = null;
  const perShard: Tensor[] = [];
  for (let r = 0; r < shards; r++) {
    const [start, end] = shardRange(n, r, shards);
    const before = params.map((p) => p.grad);
    params.forEach((p) => p.grad = null);
    const part = microBatchedGradients(model, slice(batch, start, end - start), {
      ...opts,
      firstSample: (opts.firstSample ?? 0) + start,
      globalBatch: opts.globalBatch ?? n,
    });
    params.forEach((p, i) => p.grad = sumInto(before[i], p.grad));
    total = sumInto(total, part.loss);
    perShard.push(part.sampleLosses);
  }
  const sampleLosses = keep(concat(perShard, 0));
  perShard.forEach((t) => t.dispose());
  return { loss: total!, sampleLosses };
}

/** `a + b` as a kept tensor, the inputs disposed; either may be missing. */
function sumInto(a: Tensor | null, b: Tensor | null): Tensor | null {
  if (!a || !b) return a ?? b;
  const sum = keep(add(a, b));
  a.dispose();
  b.dispose();
  return sum;
}

/** {@link accumulateGradients} of one rank's batch, in micro-batches where the binding limit needs them. */
function microBatchedGradients(
  model: SpeechRecognitionModel,
  batch: Batch,
  opts: GradientOptions,
): StepResult {
  const n = batch.spectrograms.shape[0];
  const globalBatch = opts.globalBatch ?? n;
  const parts = opts.microBatches ?? microBatchCount(model.config, batch);
  const size = Math.ceil(n / parts);
  let total: Tensor | null = null;
  const perSample: Tensor[] = [];
  for (let start = 0; start < n; start += size) {
    const count = Math.min(size, n - start);
    const r = tidy(() => {
      const part = parts > 1 ? slice(batch, start, count) : batch;
      const { loss, sampleLosses } = profilePhase("forward", () =>
        batchLoss(model, part, {
          training: true,
          dropoutSeed: opts.dropoutSeed,
          firstSample: (opts.firstSample ?? 0) + start,
        }));
      // The batch loss is the mean over utterances: each part weighs by its share.
      const weighted = count !== globalBatch ? scale(loss, count / globalBatch) : loss;
      profilePhase("backward", () => backward(weighted));
      return { loss: keep(weighted), sampleLosses: keep(sampleLosses) };
    });
    perSample.push(r.sampleLosses);
    total = sumInto(total, r.loss);
  }
  const sampleLosses = perSample.length === 1 ? perSample[0] : keep(concat(perSample, 0));
  if (perSample.length > 1) perSample.forEach((t) => t.dispose());
  return { loss: total!, sampleLosses };
}

/**
 * The optimizer update from the parameters' gradients and the step's `loss` (a non-finite one skips the
 * step), then the gradients are dropped and the recorded work submitted.
 */
export function applyUpdate(optimizer: AdamW, loss: Tensor, opts: { lr: number; beta1: number }): void {
  profilePhase("optimizer", () =>
    tidy(() => {
      optimizer.step({ lr: opts.lr, beta1: opts.beta1, loss });
      optimizer.zeroGrad();
    }));
  // Submitting (which does not wait) makes this step's released buffers reusable by the next: the pool then
  // holds what one step needs, not what wherever the 384-launch submits happen to fall leaves parked.
  commands().flush();
}

/**
 * Forward, backward and one optimizer update, recording GPU work only. A step whose loss or gradient is not
 * finite changes nothing (the optimizer's guard); samples whose target cannot fit are zeroed by the loss.
 */
export function trainStep(
  model: SpeechRecognitionModel,
  optimizer: AdamW,
  batch: Batch,
  opts: { lr: number; beta1: number; dropoutSeed: number; microBatches?: number },
): StepResult {
  const r = accumulateGradients(model, batch, opts);
  applyUpdate(optimizer, r.loss, opts);
  return r;
}
