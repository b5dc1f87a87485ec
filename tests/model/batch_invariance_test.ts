/**
 * A clip's transcript does not depend on what it is batched with: padded next to longer clips, a clip gives the
 * log-probabilities and the transcript it gives alone (the model masks the padding before its 3x3 convolutions),
 * and transcribing several recordings in one call gives each the transcript it gets on its own. The unmasked
 * forward is measured too, as the evidence of where padding leaks in.
 */
import * as assert from "node:assert/strict";
import { initGpu, noGrad, setQuiet, tidy } from "../../mod.ts";
import { loadAudio } from "../../data/audio.ts";
import { melSpectrogram } from "../../data/features.ts";
import { loadModel } from "../../cli/common.ts";
import { type ModelConfig, PRESETS } from "../../model/config.ts";
import { decodeLogProbs, inputLength, logProbsOf, type UtteranceLogProbs } from "../../model/inference.ts";
import { transcribeRecordings } from "../../model/long_inference.ts";
import { parameterSpecs, SpeechRecognitionModel } from "../../model/recognizer.ts";
import { assertClose, Random, uniform } from "../harness.ts";
import { TORCH_FIXTURES_DIR } from "../torch_fixtures.ts";

setQuiet(true);
await initGpu();

// Real speech: spoken digits joined with silences (the word-timing fixtures: fsdd test takes).
const SAMPLE = new URL("../fixtures/fsdd_joined/", import.meta.url).pathname;
const FSDD_DIGITS = new URL("../fixtures/fsdd_digits/model.safetensors", import.meta.url).pathname;
const FSDD_TINY = new URL("../fixtures/fsdd_tiny/model.safetensors", import.meta.url).pathname;
const PYTORCH_TRAINED = new URL("pytorch_trained/model.safetensors", TORCH_FIXTURES_DIR).pathname;
const exists = (p: string) => Deno.stat(p).then(() => true, () => false);
const CHECKPOINT = await exists(FSDD_DIGITS)
  ? FSDD_DIGITS
  : await exists(FSDD_TINY)
  ? FSDD_TINY
  : PYTORCH_TRAINED;

/** A joined-digit recording (speaker-chapter-n, e.g. "90001-3-0000"), at 16 kHz. */
async function clip(id: string): Promise<Float32Array> {
  const [speaker, chapter] = id.split("-");
  return (await loadAudio(`${SAMPLE}${speaker}/${chapter}/${id}.flac`, 16000)).waveform;
}
const long = await clip("90002-3-0006"); // 9.7 s, twelve digits
const clips = [
  (await clip("90001-3-0000")).slice(4000, 4000 + 8001), // 0.5 s, an odd number of frames (41)
  await clip("90002-3-0003"), // 0.9 s
  (await clip("90001-3-0001")).slice(0, 16000), // 1 s, an even number of frames (81)
  await clip("90001-3-0005"), // 1.4 s
  await clip("90001-3-0002"), // 3.4 s
];

/**
 * A random model whose ResCNN LayerNorms have random biases, as a trained model's do: with PyTorch's init (bias
 * 0) a padded frame's constant conv bias normalises to 0 and the padding barely shows.
 */
function randomModel(config: ModelConfig, seed: number): SpeechRecognitionModel {
  const rng = new Random(seed);
  const weights = new Map<string, Float32Array>();
  for (const s of parameterSpecs(config)) {
    if (/^rescnn_layers\.\d+\.layer_norm\d\.layer_norm\.bias$/.test(s.name)) {
      weights.set(s.name, Float32Array.from(uniform(rng, s.shape[0], -0.5, 0.5)));
    }
  }
  return new SpeechRecognitionModel(config, weights, seed);
}

const RANDOM_CONFIG: ModelConfig = { ...PRESETS.tiny, nCnnLayers: 2, nRnnLayers: 2, rnnDim: 32, nFeats: 32 };

/** The valid rows of one utterance's log-probabilities. */
function validRows(u: UtteranceLogProbs, nClass: number): Float32Array {
  return u.logProbs.subarray(0, u.length * nClass);
}

async function assertSameAsAlone(model: SpeechRecognitionModel, batch: Float32Array[], what: string) {
  const nClass = model.config.nClass;
  const together = await logProbsOf(model, batch);
  for (let i = 0; i < batch.length; i++) {
    const [alone] = await logProbsOf(model, [batch[i]]);
    assert.equal(together[i].length, alone.length, `${what}: clip ${i}'s valid frames`);
    assertClose(validRows(together[i], nClass), validRows(alone, nClass), 1e-5, `${what}: clip ${i}`);
    assert.equal(
      decodeLogProbs(together[i], { alphabet: model.config.alphabet }).text,
      decodeLogProbs(alone, { alphabet: model.config.alphabet }).text,
      `${what}: clip ${i}'s transcript`,
    );
  }
}

const models: [string, () => Promise<SpeechRecognitionModel>][] = [
  ["a random model", () => Promise.resolve(randomModel(RANDOM_CONFIG, 11))],
  ["the trained checkpoint", () => loadModel(CHECKPOINT)],
];

Deno.test("the test clips are shorter than the long one, so that batching pads them", () => {
  for (const c of clips) assert.ok(c.length < long.length, `${c.length} samples vs ${long.length}`);
});

for (const [label, make] of models) {
  Deno.test(`${label}: a short clip batched with a longer one gives what it gives alone`, async () => {
    const model = await make();
    for (const c of clips) {
      await assertSameAsAlone(model, [long, c], `${c.length} samples beside ${long.length}`);
    }
    model.dispose();
  });

  Deno.test(`${label}: clips of several lengths in one batch each give what they give alone`, async () => {
    const model = await make();
    await assertSameAsAlone(model, [clips[0], long, ...clips.slice(1)], "six lengths");
    model.dispose();
  });

  Deno.test(`${label}: without the mask the padding reaches the clip's valid frames`, async () => {
    // The evidence for the cause: the same features, the forward without `unpaddedFrames`.
    const model = await make();
    const c = model.config;
    const logits = async (waves: Float32Array[], masked: boolean) => {
      const out = noGrad(() =>
        tidy(() => {
          const { features, frames } = melSpectrogram(waves, {
            nMels: c.nFeats,
            log: c.features === "logmel",
          });
          return model.forward(features, frames.map(inputLength), masked ? { unpaddedFrames: frames } : {});
        })
      );
      const [b, t] = out.shape;
      const data = await out.f32();
      out.dispose();
      // The short clip, last in the batch: its valid frames.
      const valid = inputLength(1 + Math.floor(clips[0].length / 200));
      return data.slice((b - 1) * t * c.nClass, ((b - 1) * t + valid) * c.nClass);
    };
    const alone = await logits([clips[0]], false);
    const leaked = await logits([long, clips[0]], false);
    const masked = await logits([long, clips[0]], true);
    let worst = 0;
    for (let i = 0; i < alone.length; i++) worst = Math.max(worst, Math.abs(leaked[i] - alone[i]));
    assert.ok(worst > 1e-3, `unmasked batched logits differ from alone by only ${worst}`);
    assertClose(masked, alone, 1e-5, "masked batched logits");
    model.dispose();
  });
}

Deno.test("three recordings transcribed in one call get the transcripts each gets alone", async () => {
  const model = await loadModel(CHECKPOINT);
  const names = ["90001-3-0000", "90001-3-0001", "90001-3-0004"];
  const audio = await Promise.all(names.map(clip));
  // The three windows (all under the 24 s window) fit one batch of 3 windows: they run together, padded.
  const opts = { batchSize: 3 };
  const together = [];
  for await (
    const r of transcribeRecordings(model, names.map((name, i) => ({ name, audio: audio[i] })), opts)
  ) {
    together.push(r);
  }
  assert.deepEqual(together.map((r) => r.name), names);
  for (let i = 0; i < names.length; i++) {
    const alone = [];
    for await (const r of transcribeRecordings(model, [{ name: names[i], audio: audio[i] }], opts)) {
      alone.push(r);
    }
    assert.equal(alone.length, 1);
    assert.equal(together[i].frames, alone[0].frames);
    assert.ok(
      together[i].transcript && together[i].transcript!.text.length > 0,
      `${names[i]} has a transcript`,
    );
    assert.deepEqual(
      together[i].transcript,
      alone[0].transcript,
      `${names[i]}'s transcript and word confidences`,
    );
  }
  model.dispose();
});
