/**
 * --init-from: which tensors load and which are re-initialised, against our own specs and against the state_dict
 * names and shapes PyTorch's reference model has with n_class=39 (tests/fixtures/finetune/make_fixture.py).
 */
import assert from "node:assert/strict";
import { readAlphabetFile } from "../../data/alphabet.ts";
import { type ModelConfig, PRESETS, withAlphabet } from "../../model/config.ts";
import { describeInit, matchWeights } from "../../model/init_from.ts";
import { parameterSpecs } from "../../model/recognizer.ts";

const FIXTURES = new URL("../fixtures/finetune/", import.meta.url).pathname;
const BASE: ModelConfig = { ...PRESETS.tiny, nCnnLayers: 1, nRnnLayers: 2, rnnDim: 16, nFeats: 32 };
const DIGITS = await readAlphabetFile(`${FIXTURES}alphabet_digits.txt`);

/** A checkpoint's tensors for `config`: each filled with its index, so where a value came from is visible. */
function checkpointOf(config: ModelConfig) {
  const weights = new Map<string, Float32Array>();
  const shapes = new Map<string, number[]>();
  parameterSpecs(config).forEach((s, i) => {
    weights.set(s.name, new Float32Array(s.shape.reduce((a, b) => a * b, 1)).fill(i));
    shapes.set(s.name, s.shape);
  });
  return { weights, shapes };
}

Deno.test("init-from with the digits added: every tensor loads but classifier.3.*", () => {
  const ck = checkpointOf(BASE);
  const target = withAlphabet(BASE, DIGITS);
  assert.equal(target.nClass, 39);
  const { weights, report } = matchWeights(parameterSpecs(target), ck.weights, ck.shapes);
  assert.deepEqual(report.reinitialised, [
    { name: "classifier.3.weight", reason: "checkpoint has [29, 16], the model [39, 16]" },
    { name: "classifier.3.bias", reason: "checkpoint has [29], the model [39]" },
  ]);
  assert.deepEqual(report.unused, []);
  assert.equal(report.loaded.length, parameterSpecs(target).length - 2);
  // The loaded values are the checkpoint's own arrays.
  for (const name of report.loaded) assert.equal(weights.get(name), ck.weights.get(name));
  assert.ok(!weights.has("classifier.3.weight"));
  assert.deepEqual(describeInit(report, "base.safetensors"), [
    "init from base.safetensors: 34 tensors loaded",
    "  re-initialised (2):",
    "    classifier.3.weight: checkpoint has [29, 16], the model [39, 16]",
    "    classifier.3.bias: checkpoint has [29], the model [39]",
  ]);
});

Deno.test("init-from another architecture: missing, reshaped and unused tensors are all named", () => {
  const ck = checkpointOf({ ...BASE, nRnnLayers: 3 });
  ck.weights.set("extra.weight", new Float32Array(2));
  ck.shapes.set("extra.weight", [2]);
  const { report } = matchWeights(parameterSpecs({ ...BASE, nCnnLayers: 2 }), ck.weights, ck.shapes);
  assert.deepEqual(
    report.reinitialised.map((r) => `${r.name}: ${r.reason}`),
    [
      "rescnn_layers.1.cnn1.weight",
      "rescnn_layers.1.cnn1.bias",
      "rescnn_layers.1.cnn2.weight",
      "rescnn_layers.1.cnn2.bias",
      "rescnn_layers.1.layer_norm1.layer_norm.weight",
      "rescnn_layers.1.layer_norm1.layer_norm.bias",
      "rescnn_layers.1.layer_norm2.layer_norm.weight",
      "rescnn_layers.1.layer_norm2.layer_norm.bias",
    ].map((n) => `${n}: not in the checkpoint`),
  );
  assert.equal(report.unused.length, 11);
  assert.ok(
    report.unused.every((n) => n.startsWith("birnn_layers.2.") || n === "extra.weight"),
    `${report.unused}`,
  );
});

Deno.test("a 39-class model has the state_dict names, order and shapes of PyTorch's with n_class=39", async () => {
  const fx = JSON.parse(await Deno.readTextFile(`${FIXTURES}torch_state_dict_39.json`));
  const c = fx.config;
  const config = withAlphabet(
    { ...BASE, nCnnLayers: c.n_cnn_layers, nRnnLayers: c.n_rnn_layers, rnnDim: c.rnn_dim, nFeats: c.n_feats },
    DIGITS,
  );
  assert.equal(config.nClass, c.n_class);
  assert.deepEqual(
    parameterSpecs(config).map((s) => ({ name: s.name, shape: s.shape })),
    fx.tensors,
  );
});
