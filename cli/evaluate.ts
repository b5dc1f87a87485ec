/**
 * Evaluation during training: greedy decoding of a held-out set, WER/CER corpus-level and as the tutorial
 * reports them, the mean CTC loss and the expected calibration error of the word confidences. One readback per
 * batch (log-probabilities and per-sample losses). Also the confidence report line of `deno task eval`.
 *
 * In data-parallel training the eval batches are dealt to the ranks (batch k to rank k mod N, padded as in one
 * process), and each utterance's reference, hypothesis, words and loss are gathered back in batch order, so
 * every rank scores the whole set exactly as one process would.
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
import { confidenceSummary } from "../model/calibration.ts";
import { formatCalibration } from "../model/confidence.ts";
import { decodeLogProbs, type DecoderOptions, type UtteranceLogProbs } from "../model/inference.ts";
import type { SpeechRecognitionModel } from "../model/recognizer.ts";
import { batchLoss, groupsToFit } from "../model/train_step.ts";
import { allGatherJson } from "../dist/collectives.ts";
import type { Communicator } from "../dist/communicator.ts";

/** One evaluated utterance, as the ranks exchange it. */
interface Scored {
  /** Its eval batch. */
  batch: number;
  reference: string;
  hypothesis: string;
  words: { word: string; probability?: number }[];
  /** Its loss over its target length, or null when infinite. */
  loss: number | null;
}

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
  /** Expected calibration error of the greedy words' raw confidence (10 bins; NaN without words). */
  confidenceEce: number;
  skipped: SkippedFile[];
  examples: { reference: string; hypothesis: string }[];
}

export async function evaluate(
  model: SpeechRecognitionModel,
  items: readonly UtteranceInfo[],
  decoder: AudioDecoder,
  batchSize: number,
  comm?: Communicator,
): Promise<EvalResult> {
  const all: UtteranceInfo[][] = [];
  for (let i = 0; i < items.length; i += batchSize) all.push(items.slice(i, i + batchSize));
  const [rank, size] = comm ? [comm.rank, comm.size] : [0, 1];
  const mine = all.map((_, k) => k).filter((k) => k % size === rank);
  const batches = mine.map((k) => all[k]);
  const alphabet = model.config.alphabet;
  const loader = new BatchLoader(batches, { decoder, alphabet });
  const scored: Scored[] = [];
  let current = 0;
  const c = model.config;
  for await (const whole of profileIterable("decode audio", loader)) {
    current = mine[whole.index];
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
          0,
          { alphabet },
        );
        scored.push({
          batch: current,
          reference: normaliseTranscript(b.utterances[k].transcript, alphabet),
          hypothesis: d.text,
          words: d.words,
          loss: Number.isFinite(losses[k]) ? losses[k] / Math.max(b.labelLengths[k], 1) : null,
        });
      }
    });
  }
  let skipped = loader.skipped.map((f) => ({ ...f, batch: mine[f.batch] }));
  let everyone = scored;
  if (comm && size > 1) {
    const gathered = await allGatherJson(comm, { scored, skipped });
    // Batch order, as one process scores them (sort is stable: utterance order within a batch stays).
    everyone = gathered.flatMap((g) => g.scored).sort((a, b) => a.batch - b.batch);
    skipped = gathered.flatMap((g) => g.skipped).sort((a, b) => a.batch - b.batch);
  }
  const references = everyone.map((u) => u.reference);
  const hypotheses = everyone.map((u) => u.hypothesis);
  const hypothesisWords = everyone.map((u) => ({ words: u.words }));
  let lossSum = 0;
  let lossCount = 0;
  for (const u of everyone) {
    if (u.loss === null) continue;
    lossSum += u.loss;
    lossCount++;
  }
  const rates = errorRates(references, hypotheses);
  const examples = references.slice(0, 3).map((reference, i) => ({ reference, hypothesis: hypotheses[i] }));
  const confidenceEce = confidenceSummary(references, hypothesisWords).ece;
  return {
    ...rates,
    loss: lossCount > 0 ? lossSum / lossCount : NaN,
    confidenceEce,
    skipped,
    examples,
  };
}

/**
 * `deno task eval`'s confidence line: decodes `outputs` with `opts` and scores the words' confidence against
 * the references: the expected calibration error, and the calibration fitted on this set (for use on another).
 */
export function confidenceLine(
  references: readonly string[],
  outputs: readonly UtteranceLogProbs[],
  opts: DecoderOptions,
): string {
  const s = confidenceSummary(references, outputs.map((u) => decodeLogProbs(u, opts)), opts.calibration);
  return `confidence:  ECE ${s.ece.toFixed(4)} (10 bins) | ${s.words} words, ${
    (100 * s.accuracy).toFixed(1)
  }% ` +
    `right, mean confidence ${(100 * s.meanConfidence).toFixed(1)}% | fitted on this set (use on another): ` +
    `--confidence-calibration ${formatCalibration(s.fitted)}`;
}
