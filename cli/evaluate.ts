/**
 * Evaluation during training: greedy decoding of a held-out set, WER/CER corpus-level and as the tutorial
 * reports them, and the mean CTC loss. One readback per batch (log-probabilities and per-sample losses).
 */
import { noGrad } from "../engine/autograd.ts";
import { profileIterable, profilePhase } from "../engine/profiler.ts";
import { tidy } from "../engine/scope.ts";
import {
  type Batch,
  BatchLoader,
  labelTensor,
  type SkippedFile,
  spectrogramFrames,
} from "../data/batching.ts";
import type { AudioDecoder } from "../data/audio_pool.ts";
import type { UtteranceInfo } from "../data/librispeech.ts";
import { melSpectrogram } from "../data/features.ts";
import { greedyDecode } from "../model/decode.ts";
import { normaliseTranscript } from "../data/normalise.ts";
import { type ErrorRates, errorRates } from "../model/metrics.ts";
import type { SpeechRecognitionModel } from "../model/recognizer.ts";
import { batchLoss, groupsToFit } from "../model/train_step.ts";

/** Utterances [start, start + size) of a loaded batch, with their labels re-padded. */
function partOf(b: Batch, start: number, size: number): Batch {
  const end = Math.min(b.utterances.length, start + size);
  if (start === 0 && end === b.utterances.length) return b;
  const labelLengths = b.labelLengths.slice(start, end);
  const maxLabelLength = Math.max(0, ...labelLengths);
  const labels = new Int32Array((end - start) * maxLabelLength);
  for (let i = start; i < end; i++) {
    labels.set(
      b.labels.subarray(i * b.maxLabelLength, i * b.maxLabelLength + maxLabelLength),
      (i - start) * maxLabelLength,
    );
  }
  return {
    ...b,
    utterances: b.utterances.slice(start, end),
    waveforms: b.waveforms.slice(start, end),
    labels,
    maxLabelLength,
    labelLengths,
    inputLengths: b.inputLengths.slice(start, end),
    skipped: [],
  };
}

export interface EvalResult extends ErrorRates {
  /** Mean CTC loss over the utterances whose target fits (infinite ones are left out). */
  loss: number;
  skipped: SkippedFile[];
  examples: { reference: string; hypothesis: string }[];
}

export async function evaluate(
  model: SpeechRecognitionModel,
  items: readonly UtteranceInfo[],
  decoder: AudioDecoder,
  batchSize: number,
): Promise<EvalResult> {
  const batches: UtteranceInfo[][] = [];
  for (let i = 0; i < items.length; i += batchSize) batches.push(items.slice(i, i + batchSize));
  const alphabet = model.config.alphabet;
  const loader = new BatchLoader(batches, { decoder, alphabet });
  const references: string[] = [];
  const hypotheses: string[] = [];
  let lossSum = 0;
  let lossCount = 0;
  const c = model.config;
  for await (const whole of profileIterable("decode audio", loader)) {
    const frames = spectrogramFrames(Math.max(...whole.waveforms.map((w) => w.length)));
    const parts = groupsToFit(c, whole.utterances.length, frames, whole.maxLabelLength);
    const size = Math.ceil(whole.utterances.length / parts);
    for (let s = 0; s < whole.utterances.length; s += size) {
      await evaluatePart(partOf(whole, s, size));
    }
  }
  async function evaluatePart(b: Batch): Promise<void> {
    const { logProbs, sampleLosses } = noGrad(() =>
      tidy(() => {
        const { features, labels } = profilePhase("features", () => ({
          features: melSpectrogram(b.waveforms, { nMels: c.nFeats, log: c.features === "logmel" }).features,
          labels: labelTensor(b),
        }));
        const r = profilePhase("forward", () =>
          batchLoss(model, {
            spectrograms: features,
            labels,
            inputLengths: b.inputLengths,
            labelLengths: b.labelLengths,
          }, { training: false }));
        return { logProbs: r.logProbs, sampleLosses: r.sampleLosses };
      })
    );
    const [lp, losses] = await profilePhase(
      "readback",
      () => Promise.all([logProbs.f32(), sampleLosses.f32()]),
    );
    const [n, time, nClass] = logProbs.shape;
    logProbs.dispose();
    sampleLosses.dispose();
    profilePhase("CTC decoding", () => {
      for (let k = 0; k < n; k++) {
        const d = greedyDecode(
          lp.subarray(k * time * nClass, (k + 1) * time * nClass),
          time,
          b.inputLengths[k],
        );
        hypotheses.push(d.text);
        references.push(normaliseTranscript(b.utterances[k].transcript, alphabet));
        if (Number.isFinite(losses[k])) {
          lossSum += losses[k] / Math.max(b.labelLengths[k], 1);
          lossCount++;
        }
      }
    });
  }
  const rates = errorRates(references, hypotheses);
  const examples = references.slice(0, 3).map((reference, i) => ({ reference, hypothesis: hypotheses[i] }));
  return { ...rates, loss: lossCount > 0 ? lossSum / lossCount : NaN, skipped: loader.skipped, examples };
}
