/**
 * Weights move both ways between PyTorch and us: a checkpoint trained in PyTorch gives PyTorch's logits and
 * greedy transcripts here (through the transcribe path: FLAC decoding, GPU log-mel, the model, greedy CTC), and a
 * checkpoint we write loads in PyTorch with strict=True and gives the same logits.
 */
import { tensor, tidy } from "../../engine/mod.ts";
import { loadAudio } from "../../data/audio.ts";
import { loadModel } from "../../cli/common.ts";
import { saveCheckpoint } from "../../model/checkpoint.ts";
import { decodeLogProbs, logProbsOf } from "../../model/inference.ts";
import { assertClose } from "../harness.ts";
import { loadGreedyReferences, loadTorchFixture, TORCH_FIXTURES_DIR } from "../torch_fixtures.ts";
import { equal } from "node:assert/strict";
import * as assert from "node:assert/strict";
import { type SafeTensor, saveSafetensorsFile } from "../../model/safetensors.ts";

const CHECKPOINT = new URL("pytorch_trained/model.safetensors", TORCH_FIXTURES_DIR).pathname;
const SHARED_SPEECH = new URL("../../../shared/speech/", import.meta.url).pathname;
const hasShared = await Deno.stat(SHARED_SPEECH).then(() => true, () => false);
const hasTorch = await new Deno.Command("/usr/bin/python3", { args: ["-c", "import torch"], stderr: "null" })
  .output().then((o) => o.success, () => false);
if (!hasTorch) {
  console.log(
    "checkpoint_parity_test: skipping the PyTorch strict-load check: /usr/bin/python3 cannot import torch " +
      "(apt-get install python3-torch)",
  );
}

Deno.test("a PyTorch-trained checkpoint gives PyTorch's logits", async () => {
  const model = await loadModel(CHECKPOINT);
  for (const k of [0, 7]) {
    const fx = loadTorchFixture(`pytorch_trained/logits_${k}.safetensors`);
    const logits = tidy(() =>
      model.forward(
        tensor(fx.f32("input.spectrogram"), fx.shape("input.spectrogram")),
        Array.from(fx.i32("input.input_lengths")),
      )
    );
    assertClose(await logits.data(), fx.f64("output.logits_f64"), 1e-5, `logits of clip ${k}`);
    logits.dispose();
  }
  model.dispose();
});

Deno.test({
  name: "a PyTorch-trained checkpoint transcribes real audio as PyTorch's greedy decoding does",
  ignore: !hasShared,
  fn: async () => {
    const model = await loadModel(CHECKPOINT);
    const refs = loadGreedyReferences();
    equal(refs.length, 20);
    for (const r of refs) {
      const { waveform } = await loadAudio(SHARED_SPEECH + r.file, 16000);
      const [u] = await logProbsOf(model, [waveform]);
      equal(decodeLogProbs(u).text, r.pytorchGreedy, r.file);
    }
    model.dispose();
  },
});

Deno.test({
  name: "a checkpoint we write loads in PyTorch (strict) and gives the same logits",
  ignore: !hasTorch,
  fn: async () => {
    const model = await loadModel(CHECKPOINT);
    const dir = await Deno.makeTempDir();
    const ours = `${dir}/ours.safetensors`;
    await saveCheckpoint(ours, model.params, model.config);
    const script = new URL("../fixtures/torch/check_checkpoint.py", import.meta.url).pathname;
    const input = new URL("pytorch_trained/logits_0.safetensors", TORCH_FIXTURES_DIR).pathname;
    const out = await new Deno.Command("/usr/bin/python3", { args: [script, ours, input] }).output();
    const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
    equal(out.code, 0, text);
    await Deno.remove(dir, { recursive: true });
    model.dispose();
  },
});

Deno.test("a checkpoint of another shape is refused with every mismatch named", async () => {
  const fx = loadTorchFixture("model_small_default.safetensors");
  const tensors = new Map<string, SafeTensor>();
  for (const [name, t] of fx.withPrefix("param.")) tensors.set(name, t);
  tensors.delete("classifier.3.bias");
  const dir = await Deno.makeTempDir();
  const path = `${dir}/other.safetensors`;
  // The weights are of a 32-unit model; the metadata claims 64 units.
  await saveSafetensorsFile(path, tensors, { ...fx.metadata, features: "logmel", rnn_dim: "64" });
  await assert.rejects(() => loadModel(path), (e: Error) => {
    assert.match(e.message, /other\.safetensors/);
    assert.match(e.message, /missing \(1\): classifier\.3\.bias/);
    assert.match(e.message, /wrong shape .*birnn_layers\.0\.BiGRU\.weight_ih_l0/);
    return true;
  });
  await Deno.remove(dir, { recursive: true });
});
