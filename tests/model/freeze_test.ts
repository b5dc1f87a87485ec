/**
 * --freeze: which parameters each name covers, the errors, and training with frozen parts: frozen tensors stay
 * bit-identical through AdamW steps (weight decay included) and have no optimizer state, while the trainable ones
 * get exactly the gradients they get without freezing.
 */
import assert from "node:assert/strict";
import { backward, Random, tensor, tidy } from "../../engine/mod.ts";
import { alphabetOf } from "../../data/alphabet.ts";
import { type ModelConfig, PRESETS, withAlphabet } from "../../model/config.ts";
import { FREEZE_GROUPS, freezeParameters, frozenNames } from "../../model/freeze.ts";
import { AdamW } from "../../model/optim.ts";
import { parameterSpecs, SpeechRecognitionModel } from "../../model/recognizer.ts";
import { type Batch, batchLoss, trainStep } from "../../model/train_step.ts";
import "../harness.ts";

const CONFIG: ModelConfig = withAlphabet(
  { ...PRESETS.tiny, nCnnLayers: 2, nRnnLayers: 2, rnnDim: 8, nFeats: 8, dropout: 0 },
  alphabetOf([" ", ..."abcde"]),
);
const NAMES = parameterSpecs(CONFIG).map((s) => s.name);

function batch(seed: number): Batch {
  const rng = new Random(seed);
  const [n, frames, maxLabel] = [3, 20, 4];
  const spec = new Float32Array(n * CONFIG.nFeats * frames).map(() => rng.normal());
  const labels = new Int32Array(n * maxLabel).map(() => Math.floor(rng.uniform() * CONFIG.alphabet.blank));
  return {
    spectrograms: tensor(spec, [n, 1, CONFIG.nFeats, frames]),
    labels: tensor(labels, [n, maxLabel], "i32"),
    inputLengths: [10, 8, 6],
    labelLengths: [4, 3, 2],
  };
}

async function values(model: SpeechRecognitionModel): Promise<Map<string, Float32Array>> {
  const out = new Map<string, Float32Array>();
  for (const [name, p] of model.params) out.set(name, await p.f32());
  return out;
}

Deno.test("freeze: cnn is cnn.* and rescnn_layers.*, rnn is fully_connected.* and birnn_layers.*", () => {
  assert.deepEqual(FREEZE_GROUPS.cnn, ["cnn.", "rescnn_layers."]);
  const cnn = frozenNames(NAMES, ["cnn"]);
  assert.ok(cnn.length > 2 && cnn.every((n) => n.startsWith("cnn.") || n.startsWith("rescnn_layers.")));
  assert.deepEqual(cnn, NAMES.filter((n) => /^(cnn|rescnn_layers)\./.test(n)));
  const rnn = frozenNames(NAMES, ["rnn"]);
  assert.deepEqual(rnn, NAMES.filter((n) => /^(fully_connected|birnn_layers)\./.test(n)));
  // cnn,rnn leaves the classifier alone.
  const both = new Set(frozenNames(NAMES, ["cnn", "rnn"]));
  assert.deepEqual(NAMES.filter((n) => !both.has(n)), NAMES.filter((n) => n.startsWith("classifier.")));
  // Prefixes match at a dot; "cnn." is the first convolution alone; a whole name is its own prefix.
  assert.deepEqual(frozenNames(NAMES, ["cnn."]), ["cnn.weight", "cnn.bias"]);
  assert.deepEqual(frozenNames(NAMES, ["classifier.3.bias"]), ["classifier.3.bias"]);
  assert.deepEqual(frozenNames(["a.1.w", "a.10.w"], ["a.1"]), ["a.1.w"]);
  assert.equal(frozenNames(NAMES, ["rescnn_layers.1"]).length, 8);
});

Deno.test("freeze: a name that matches nothing is an error naming it; so is freezing everything", () => {
  assert.throws(
    () => frozenNames(NAMES, ["cnn", "encoder"]),
    /--freeze: "encoder" matches no parameter \(give cnn, rnn, or a name prefix such as "cnn", "rescnn_layers", "fully_connected", "birnn_layers", "classifier"\)/,
  );
  assert.throws(() => frozenNames(NAMES, ["rescnn"]), /"rescnn" matches no parameter/);
  assert.throws(() => frozenNames(NAMES, ["cnn", "rnn", "classifier"]), /freezes every parameter/);
});

Deno.test("freeze cnn: frozen tensors bit-identical after AdamW steps with weight decay, no optimizer state", async () => {
  const model = new SpeechRecognitionModel(CONFIG, undefined, 3);
  const before = await values(model);
  const { frozen, trainable } = freezeParameters(model.params, ["cnn"]);
  assert.equal(frozen.length, 2 + 8 * CONFIG.nCnnLayers);
  const optimizer = new AdamW(trainable, { lr: 1e-2, weightDecay: 0.1 });
  const state = [...optimizer.stateTensors().keys()];
  assert.ok(state.every((k) => !k.startsWith("cnn.") && !k.startsWith("rescnn_layers.")), state.join());
  assert.equal(optimizer.stateTensors().get("step")!.size, NAMES.length - frozen.length);
  for (let step = 0; step < 3; step++) {
    const r = tidy(() =>
      trainStep(model, optimizer, batch(step), { lr: 1e-2, beta1: 0.9, dropoutSeed: step })
    );
    assert.ok(Number.isFinite(await r.loss.item()));
    r.loss.dispose();
    r.sampleLosses.dispose();
  }
  const after = await values(model);
  for (const name of NAMES) {
    const same = before.get(name)!.every((v, i) => Object.is(v, after.get(name)![i]));
    assert.equal(same, frozen.includes(name), `${name}: ${same ? "unchanged" : "changed"}`);
  }
  assert.deepEqual(await optimizer.stepCounts(), new Array(trainable.length).fill(3));
  optimizer.dispose();
  model.dispose();
});

/** The gradients of every parameter after one backward of the batch's loss (null for frozen ones). */
async function gradients(freeze: string[]): Promise<Map<string, Float32Array | null>> {
  const model = new SpeechRecognitionModel(CONFIG, undefined, 5);
  if (freeze.length > 0) freezeParameters(model.params, freeze);
  tidy(() => backward(batchLoss(model, batch(9), { training: true }).loss));
  const out = new Map<string, Float32Array | null>();
  for (const [name, p] of model.params) out.set(name, p.grad ? await p.grad.f32() : null);
  model.dispose();
  return out;
}

Deno.test("freeze: the trainable parameters get the gradients they get unfrozen (cnn., cnn, rnn)", async () => {
  const full = await gradients([]);
  for (const freeze of [["cnn."], ["cnn"], ["rnn"], ["rescnn_layers.0", "birnn_layers.1"]]) {
    const frozen = new Set(frozenNames(NAMES, freeze));
    const got = await gradients(freeze);
    for (const [name, g] of got) {
      if (frozen.has(name)) {
        assert.equal(g, null, `${freeze}: ${name} is frozen but has a gradient`);
        continue;
      }
      const want = full.get(name)!;
      assert.ok(g, `${freeze}: ${name} has no gradient`);
      const scale = Math.max(...want.map(Math.abs), 1e-12);
      const err = Math.max(...g.map((v, i) => Math.abs(v - want[i])));
      assert.ok(err <= 1e-6 * scale, `${freeze}: ${name} gradient differs by ${err} (scale ${scale})`);
    }
  }
});
