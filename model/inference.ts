/**
 * Running a trained recognizer: features on the GPU, the model in inference mode, log-probabilities read back
 * once per batch, then CTC decoding on the CPU (greedy, or beam search with an optional language model).
 */
import { noGrad } from "../engine/autograd.ts";
import { profilePhase } from "../engine/profiler.ts";
import { tidy } from "../engine/scope.ts";
import { melSpectrogram } from "../data/features.ts";
import { logSoftmax } from "../kernels/softmax.ts";
import type { Alphabet } from "../data/alphabet.ts";
import type { NgramLm } from "./arpa.ts";
import { ctcBeamSearch } from "./beam_search.ts";
import type { ConfidenceCalibration } from "./confidence.ts";
import { greedyDecode } from "./decode.ts";
import type { Hotword } from "./hotwords.ts";
import type { SpeechRecognitionModel } from "./recognizer.ts";
import { groupsToFit } from "./train_step.ts";
import { spectrogramFrames } from "../data/frames.ts";
import type { WordTiming } from "./word_timestamps.ts";

/** Log-probabilities of one utterance: `time` rows of `nClass`, of which `length` are valid. */
export interface UtteranceLogProbs {
  logProbs: Float32Array;
  time: number;
  length: number;
}

/** The tutorial's valid output length for a spectrogram of `frames` frames. */
export function inputLength(frames: number): number {
  return Math.floor(frames / 2);
}

/** Runs the model on a batch of 16 kHz mono waveforms; one readback for the whole batch. */
export async function logProbsOf(
  model: SpeechRecognitionModel,
  waveforms: Float32Array[],
): Promise<UtteranceLogProbs[]> {
  const c = model.config;
  const longest = Math.max(...waveforms.map((w) => w.length));
  const parts = groupsToFit(c, waveforms.length, spectrogramFrames(longest), 0);
  if (parts > 1 && waveforms.length > 1) {
    // Too big for one storage binding: run the utterances in smaller groups (each is independent).
    const size = Math.ceil(waveforms.length / parts);
    const out: UtteranceLogProbs[] = [];
    for (let i = 0; i < waveforms.length; i += size) {
      out.push(...await logProbsOf(model, waveforms.slice(i, i + size)));
    }
    return out;
  }
  const { lp, frames } = noGrad(() =>
    tidy(() => {
      const { features, frames } = profilePhase("features", () =>
        melSpectrogram(waveforms, {
          nMels: c.nFeats,
          log: c.features === "logmel",
        }));
      const lp = profilePhase("forward", () => {
        // With each clip's own frames the model masks the batch's padding: a clip's output does not depend on
        // the clips it is batched with.
        const logits = model.forward(features, frames.map(inputLength), {
          training: false,
          unpaddedFrames: frames,
        });
        features.dispose();
        return logSoftmax(logits, 2);
      });
      return { lp, frames };
    })
  );
  const all = await profilePhase("readback", () => lp.f32());
  const [batch, time, nClass] = lp.shape;
  lp.dispose();
  const out: UtteranceLogProbs[] = [];
  for (let b = 0; b < batch; b++) {
    out.push({
      logProbs: all.slice(b * time * nClass, (b + 1) * time * nClass),
      time,
      length: Math.min(inputLength(frames[b]), time),
    });
  }
  return out;
}

export interface DecoderOptions {
  decoder?: "greedy" | "beam";
  beamWidth?: number;
  lm?: NgramLm | null;
  alpha?: number;
  beta?: number;
  /** The model's classes (callers pass `model.config.alphabet`; default the tutorial's 29). */
  alphabet?: Alphabet;
  /** Beam search: also return this many hypotheses, best first, in `alternatives` (default 1: none). */
  nBest?: number;
  /** Beam search: phrases to favour (model/hotwords.ts). */
  hotwords?: readonly Hotword[];
  /** Raw-to-calibrated word confidence map (model/confidence.ts; default the identity). */
  calibration?: ConfidenceCalibration;
}

/** One of the beam search's n best hypotheses. */
export interface Alternative {
  text: string;
  /** Its ranking score: ln P_ctc + LM terms + hotword boosts. */
  score: number;
}

export interface Transcript {
  text: string;
  /** Words with their frames and confidence in [0, 1]. */
  words: WordTiming[];
  /** With `nBest` > 1 (beam search): the n best hypotheses, best first (the first is `text`). */
  alternatives?: Alternative[];
}

/** Decodes one utterance's log-probabilities. */
export function decodeLogProbs(u: UtteranceLogProbs, opts: DecoderOptions = {}): Transcript {
  if ((opts.decoder ?? "greedy") === "greedy") {
    const d = greedyDecode(u.logProbs, u.time, u.length, 0, {
      alphabet: opts.alphabet,
      calibration: opts.calibration,
    });
    return { text: d.text, words: d.words };
  }
  const nBest = opts.nBest ?? 1;
  const hyps = ctcBeamSearch(u.logProbs, u.time, u.length, {
    beamWidth: opts.beamWidth ?? 100,
    lm: opts.lm ?? undefined,
    alpha: opts.alpha,
    beta: opts.beta,
    alphabet: opts.alphabet,
    nBest,
    hotwords: opts.hotwords,
    calibration: opts.calibration,
  });
  const best = hyps[0];
  const t: Transcript = { text: best.text, words: best.words };
  if (nBest > 1) t.alternatives = hyps.map((h) => ({ text: h.text, score: h.score }));
  return t;
}
