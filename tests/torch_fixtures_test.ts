import assert from "node:assert/strict";
import { loadGreedyReferences, loadTorchFixture, type TorchFixture } from "./torch_fixtures.ts";

const SMALL_PARAM_SHAPES: Record<string, number[]> = {
  "cnn.weight": [32, 1, 3, 3],
  "cnn.bias": [32],
  "rescnn_layers.0.cnn1.weight": [32, 32, 3, 3],
  "rescnn_layers.0.cnn1.bias": [32],
  "rescnn_layers.0.cnn2.weight": [32, 32, 3, 3],
  "rescnn_layers.0.cnn2.bias": [32],
  "rescnn_layers.0.layer_norm1.layer_norm.weight": [8],
  "rescnn_layers.0.layer_norm1.layer_norm.bias": [8],
  "rescnn_layers.0.layer_norm2.layer_norm.weight": [8],
  "rescnn_layers.0.layer_norm2.layer_norm.bias": [8],
  "fully_connected.weight": [32, 256],
  "fully_connected.bias": [32],
  "birnn_layers.0.layer_norm.weight": [32],
  "birnn_layers.0.layer_norm.bias": [32],
  "birnn_layers.1.layer_norm.weight": [64],
  "birnn_layers.1.layer_norm.bias": [64],
  "classifier.0.weight": [32, 64],
  "classifier.0.bias": [32],
  "classifier.3.weight": [29, 32],
  "classifier.3.bias": [29],
};
for (const [layer, input] of [[0, 32], [1, 64]]) {
  for (const suffix of ["", "_reverse"]) {
    const p = `birnn_layers.${layer}.BiGRU.`;
    SMALL_PARAM_SHAPES[`${p}weight_ih_l0${suffix}`] = [96, input];
    SMALL_PARAM_SHAPES[`${p}weight_hh_l0${suffix}`] = [96, 32];
    SMALL_PARAM_SHAPES[`${p}bias_ih_l0${suffix}`] = [96];
    SMALL_PARAM_SHAPES[`${p}bias_hh_l0${suffix}`] = [96];
  }
}

function sortedKeys(m: Map<string, unknown>): string[] {
  return [...m.keys()].sort();
}

function assertClose(actual: number, expected: number, tol: number, what: string): void {
  assert.ok(
    Math.abs(actual - expected) <= tol * Math.max(1, Math.abs(expected)),
    `${what}: ${actual} vs ${expected}`,
  );
}

/** The OneCycleLR facts shared by the linear 20-step and cosine 100-step schedules (max_lr 1e-3, pct 0.3). */
function checkOneCycle(fx: TorchFixture, steps: number): void {
  const lr = fx.f64("step.lr");
  const beta1 = fx.f64("step.beta1");
  assert.equal(lr.length, steps);
  assert.equal(beta1.length, steps);
  const peak = Math.round(0.3 * steps) - 1;
  assertClose(lr[0], 1e-3 / 25, 1e-12, "initial lr");
  assertClose(lr[peak], 1e-3, 1e-12, "peak lr");
  assertClose(beta1[0], 0.95, 1e-12, "initial beta1");
  assertClose(beta1[peak], 0.85, 1e-12, "beta1 at the peak");
  for (let i = 1; i <= peak; i++) {
    assert.ok(lr[i] > lr[i - 1] && beta1[i] < beta1[i - 1], `warm-up step ${i}`);
  }
  for (let i = peak + 1; i < steps; i++) {
    assert.ok(lr[i] < lr[i - 1] && beta1[i] > beta1[i - 1], `anneal ${i}`);
  }
  // torch 1.13 ends the anneal at step total_steps - 1, so the last step already uses the final lr.
  assert.ok(Math.abs(lr[steps - 1] - 1e-3 / 25 / 1e4) < 1e-18, `final lr ${lr[steps - 1]}`);
  assertClose(beta1[steps - 1], 0.95, 1e-12, "final beta1");
}

for (const layout of ["default", "tutorial"]) {
  Deno.test(`torch fixtures: model_small_${layout} has params, inputs, outputs and grads`, () => {
    const fx = loadTorchFixture(`model_small_${layout}.safetensors`);
    assert.equal(fx.metadata.gru_layout, layout);
    assert.equal(fx.metadata.n_feats, "16");
    assert.equal(fx.metadata.dropout, "0.0");
    const params = fx.withPrefix("param.");
    const grads = fx.withPrefix("grad.");
    assert.deepEqual(sortedKeys(params), Object.keys(SMALL_PARAM_SHAPES).sort());
    assert.deepEqual(sortedKeys(grads), sortedKeys(params));
    for (const [name, shape] of Object.entries(SMALL_PARAM_SHAPES)) {
      assert.equal(params.get(name)!.dtype, "F32", name);
      assert.deepEqual(params.get(name)!.shape, shape, name);
      assert.equal(grads.get(name)!.dtype, "F64", name);
      assert.deepEqual(grads.get(name)!.shape, shape, name);
      assert.ok(fx.f64(`grad.${name}`).some((g) => g !== 0), `grad.${name} is not all zero`);
    }
    assert.deepEqual(fx.shape("input.spectrogram"), [3, 1, 16, 90]);
    const frames = fx.i32("input.spectrogram_lengths");
    assert.deepEqual(Array.from(frames), [90, 71, 50]);
    assert.deepEqual(Array.from(fx.i32("input.input_lengths")), [45, 35, 25]);
    assert.deepEqual(Array.from(fx.i32("input.target_lengths")), [12, 9, 7]);
    const targets = fx.i32("input.targets");
    assert.deepEqual(fx.shape("input.targets"), [3, 12]);
    assert.ok(targets.every((t) => t >= 0 && t <= 27));
    // Padding is zeros, valid frames never are.
    const spec = fx.f32("input.spectrogram");
    for (let b = 0; b < 3; b++) {
      for (let f = 0; f < 16; f++) {
        for (let t = 0; t < 90; t++) {
          const v = spec[(b * 16 + f) * 90 + t];
          assert.ok(t < frames[b] ? v > 0 : v === 0, `spectrogram[${b},0,${f},${t}] = ${v}`);
        }
      }
    }
    assert.deepEqual(fx.shape("output.logits"), [3, 45, 29]);
    assert.deepEqual(fx.shape("output.log_probs"), [3, 45, 29]);
    const logits = fx.f64("output.logits");
    const logProbs = fx.f64("output.log_probs");
    for (let row = 0; row < 3 * 45; row++) {
      let max = -Infinity;
      for (let c = 0; c < 29; c++) max = Math.max(max, logits[row * 29 + c]);
      let sum = 0;
      for (let c = 0; c < 29; c++) sum += Math.exp(logits[row * 29 + c] - max);
      const lse = max + Math.log(sum);
      for (let c = 0; c < 29; c++) {
        assertClose(logProbs[row * 29 + c], logits[row * 29 + c] - lse, 1e-12, "log_probs");
      }
    }
    assert.deepEqual(fx.shape("output.loss"), []);
    const loss = fx.scalar("output.loss");
    assert.ok(Number.isFinite(loss) && loss > 0, `loss ${loss}`);
  });

  Deno.test(`torch fixtures: train_small_${layout} has 20 steps of a OneCycle linear schedule`, () => {
    const fx = loadTorchFixture(`train_small_${layout}.safetensors`);
    checkOneCycle(fx, 20);
    const losses = fx.f64("step.loss");
    assert.equal(losses.length, 20);
    assert.equal(losses[0], loadTorchFixture(`model_small_${layout}.safetensors`).scalar("output.loss"));
    assert.ok(losses.every(Number.isFinite));
    assert.ok(losses[19] < losses[0] - 0.5, `loss falls: ${losses[0]} -> ${losses[19]}`);
    const finals = fx.withPrefix("final.");
    assert.deepEqual(sortedKeys(finals), Object.keys(SMALL_PARAM_SHAPES).sort());
    const initial = loadTorchFixture(`model_small_${layout}.safetensors`);
    for (const name of finals.keys()) {
      assert.deepEqual(finals.get(name)!.shape, SMALL_PARAM_SHAPES[name]);
      const before = initial.f64(`param.${name}`);
      const after = fx.f64(`final.${name}`);
      assert.ok(after.some((v, i) => v !== before[i]), `${name} moved`);
    }
  });
}

Deno.test("torch fixtures: the two GRU layouts disagree (the tutorial's batch_first bug matters)", () => {
  const a = loadTorchFixture("model_small_default.safetensors").f64("output.logits");
  const b = loadTorchFixture("model_small_tutorial.safetensors").f64("output.logits");
  let maxDiff = 0;
  for (let i = 0; i < a.length; i++) maxDiff = Math.max(maxDiff, Math.abs(a[i] - b[i]));
  assert.ok(maxDiff > 0.01, `max difference ${maxDiff}`);
});

Deno.test("torch fixtures: onecycle_cos has 100 steps of a OneCycle cosine schedule", () => {
  const fx = loadTorchFixture("onecycle_cos.safetensors");
  checkOneCycle(fx, 100);
  // Cosine warm-up: half way up (step 14.5 of 29) the lr is the midpoint of 4e-5 and 1e-3.
  const lr = fx.f64("step.lr");
  const mid = (1e-3 / 25 + 1e-3) / 2;
  assert.ok(lr[14] < mid && lr[15] > mid);
});

Deno.test("torch fixtures: ops conv2d, layer_norm, gelu, log_softmax and linear shapes and values", () => {
  const fx = loadTorchFixture("ops.safetensors");
  const convCases: [string, number, number[]][] = [["s2p1", 3, [2, 5, 4, 5]], ["s1p1", 3, [2, 5, 7, 9]], [
    "cin1",
    1,
    [2, 5, 4, 5],
  ]];
  for (const [name, cIn, outShape] of convCases) {
    const p = `conv2d.${name}.`;
    assert.deepEqual(fx.shape(p + "input"), [2, cIn, 7, 9]);
    assert.deepEqual(fx.shape(p + "weight"), [5, cIn, 3, 3]);
    assert.deepEqual(fx.shape(p + "output"), outShape);
    assert.deepEqual(fx.shape(p + "gout"), outShape);
    assert.deepEqual(fx.shape(p + "grad_input"), [2, cIn, 7, 9]);
    assert.deepEqual(fx.shape(p + "grad_weight"), [5, cIn, 3, 3]);
    assert.deepEqual(fx.shape(p + "grad_bias"), [5]);
  }
  for (const p of ["layer_norm.last.", "gelu.odd.", "log_softmax.last."]) {
    assert.deepEqual(fx.shape(p + "output"), [3, 5, 7]);
    assert.deepEqual(fx.shape(p + "grad_input"), [3, 5, 7]);
  }
  assert.deepEqual(fx.shape("layer_norm.last.grad_weight"), [7]);
  // log_softmax and linear are simple enough to recompute here, which pins down the layouts.
  const x = fx.f64("log_softmax.last.input");
  const y = fx.f64("log_softmax.last.output");
  for (let row = 0; row < 15; row++) {
    let sum = 0;
    for (let c = 0; c < 7; c++) sum += Math.exp(x[row * 7 + c]);
    for (let c = 0; c < 7; c++) {
      assertClose(y[row * 7 + c], x[row * 7 + c] - Math.log(sum), 1e-12, "log_softmax");
    }
  }
  const lx = fx.f64("linear.odd.input");
  const w = fx.f64("linear.odd.weight");
  const bias = fx.f64("linear.odd.bias");
  const ly = fx.f64("linear.odd.output");
  assert.deepEqual(fx.shape("linear.odd.output"), [3, 5, 11]);
  for (let row = 0; row < 15; row++) {
    for (let o = 0; o < 11; o++) {
      let s = bias[o];
      for (let i = 0; i < 7; i++) s += lx[row * 7 + i] * w[o * 7 + i];
      assertClose(ly[row * 11 + o], s, 1e-12, "linear");
    }
  }
});

Deno.test("torch fixtures: ops GRU has every weight and gradient; packed padding is zero", () => {
  const fx = loadTorchFixture("ops.safetensors");
  const names = ["weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"];
  for (const c of ["packed", "unpacked"]) {
    const p = `gru.${c}.`;
    assert.deepEqual(fx.shape(p + "input"), [3, 9, 11]);
    assert.deepEqual(fx.shape(p + "output"), [3, 9, 14]);
    assert.deepEqual(fx.shape(p + "h_n"), [2, 3, 7]);
    for (const n of names) {
      for (const n2 of [n, n + "_reverse"]) {
        const shape = n2.startsWith("weight_ih") ? [21, 11] : n2.startsWith("weight_hh") ? [21, 7] : [21];
        assert.deepEqual(fx.shape(p + n2), shape, n2);
        assert.deepEqual(fx.shape(p + "grad_" + n2), shape, "grad_" + n2);
      }
    }
  }
  const lengths = fx.i32("gru.packed.lengths");
  assert.deepEqual(Array.from(lengths), [9, 6, 4]);
  const out = fx.f64("gru.packed.output");
  const gIn = fx.f64("gru.packed.grad_input");
  for (let b = 0; b < 3; b++) {
    for (let t = 0; t < 9; t++) {
      const outRow = out.subarray((b * 9 + t) * 14, (b * 9 + t + 1) * 14);
      const gRow = gIn.subarray((b * 9 + t) * 11, (b * 9 + t + 1) * 11);
      if (t < lengths[b]) {
        assert.ok(outRow.some((v) => v !== 0) && gRow.some((v) => v !== 0), `valid ${b},${t}`);
      } else assert.ok(outRow.every((v) => v === 0) && gRow.every((v) => v === 0), `padded ${b},${t}`);
    }
  }
  // Sample 0 is full length, so packed and unpacked agree on it.
  const unpacked = fx.f64("gru.unpacked.output");
  for (let i = 0; i < 9 * 14; i++) assertClose(out[i], unpacked[i], 1e-12, "full-length sample");
});

Deno.test("torch fixtures: ops CTC, with sample 3 infeasible: infinite, or zeroed by zero_infinity", () => {
  const fx = loadTorchFixture("ops.safetensors");
  assert.deepEqual(fx.shape("ctc.log_probs"), [20, 4, 29]);
  const targetLengths = fx.i32("ctc.target_lengths");
  const inputLengths = fx.i32("ctc.input_lengths");
  assert.deepEqual(Array.from(targetLengths), [5, 3, 8, 11]);
  assert.deepEqual(Array.from(inputLengths), [20, 17, 12, 8]);
  const inf = fx.f64("ctc.none_inf.loss");
  const zinf = fx.f64("ctc.none_zinf.loss");
  for (let b = 0; b < 3; b++) {
    assert.ok(Number.isFinite(inf[b]) && inf[b] > 0);
    assert.equal(zinf[b], inf[b]);
  }
  assert.equal(inf[3], Infinity);
  assert.equal(zinf[3], 0);
  assert.equal(fx.scalar("ctc.mean_inf.loss"), Infinity);
  // 'mean' divides each loss by its target length, then averages over the batch (zeroed sample included).
  let mean = 0;
  for (let b = 0; b < 4; b++) mean += zinf[b] / targetLengths[b] / 4;
  assertClose(fx.scalar("ctc.mean_zinf.loss"), mean, 1e-12, "mean reduction");
  const grad = fx.f64("ctc.mean_zinf.grad_log_probs");
  const gradLogits = fx.f64("ctc.mean_zinf.grad_logits");
  for (let t = 0; t < 20; t++) {
    for (let b = 0; b < 4; b++) {
      const row = grad.subarray((t * 4 + b) * 29, (t * 4 + b + 1) * 29);
      const rowLogits = gradLogits.subarray((t * 4 + b) * 29, (t * 4 + b + 1) * 29);
      const live = b < 3 && t < inputLengths[b];
      assert.equal(row.some((v) => v !== 0), live, `grad_log_probs[${t},${b}]`);
      // PyTorch's CTC gradient is softmax minus the alignment posterior: it already sums to 0 over classes.
      if (live) assertClose(row.reduce((s, v) => s + v, 0), 0, 1e-12, "grad row sum");
      for (let c = 0; c < 29; c++) assertClose(rowLogits[c], row[c], 1e-12, "grad_logits = grad_log_probs");
    }
  }
});

Deno.test("torch fixtures: mel matches a direct STFT + filterbank on sample frames", () => {
  const fx = loadTorchFixture("mel.safetensors");
  assert.deepEqual(fx.shape("fbanks"), [201, 128]);
  assert.deepEqual(fx.shape("window"), [400]);
  const window = fx.f64("window");
  for (let n = 0; n < 400; n++) {
    assertClose(window[n], 0.5 - 0.5 * Math.cos((2 * Math.PI * n) / 400), 1e-12, "hann");
  }
  const fb = fx.f64("fbanks");
  const clips = ["1089-134691-0000", "1089-134686-0001", "90002-1-0007"];
  for (const clip of clips) {
    assert.ok(fx.metadata[clip]?.endsWith(`${clip}.flac`), `metadata names the file of ${clip}`);
    const shape = fx.shape(`${clip}.waveform`);
    assert.equal(shape[0], 1);
    const samples = shape[1];
    const frames = Math.floor(samples / 200) + 1;
    assert.deepEqual(fx.shape(`${clip}.mel`), [1, 128, frames]);
    const wave = fx.f64(`${clip}.waveform`);
    const mel = fx.f64(`${clip}.mel`);
    for (const frame of [0, Math.floor(frames / 2), frames - 1]) {
      // center=True: frame k covers samples k*200-200 .. k*200+199, reflect-padded at both ends.
      const seg = new Float64Array(400);
      for (let n = 0; n < 400; n++) {
        let i = frame * 200 - 200 + n;
        if (i < 0) i = -i;
        if (i >= samples) i = 2 * (samples - 1) - i;
        seg[n] = wave[i] * window[n];
      }
      for (const m of [5, 60, 127]) {
        let want = 0;
        for (let f = 0; f < 201; f++) {
          if (fb[f * 128 + m] === 0) continue;
          let re = 0, im = 0;
          for (let n = 0; n < 400; n++) {
            re += seg[n] * Math.cos((2 * Math.PI * f * n) / 400);
            im -= seg[n] * Math.sin((2 * Math.PI * f * n) / 400);
          }
          want += (re * re + im * im) * fb[f * 128 + m];
        }
        const got = mel[m * frames + frame];
        assert.ok(
          Math.abs(got - want) <= 1e-9 * Math.max(1e-6, want),
          `${clip} mel[${m},${frame}] ${got} vs ${want}`,
        );
      }
    }
  }
});

Deno.test("torch fixtures: pytorch_trained checkpoint, greedy transcripts and logits", () => {
  const model = loadTorchFixture("pytorch_trained/model.safetensors");
  assert.deepEqual(model.metadata, {
    n_cnn_layers: "1",
    n_rnn_layers: "2",
    rnn_dim: "64",
    n_class: "29",
    n_feats: "128",
    stride: "2",
    dropout: "0.1",
    gru_layout: "default",
    features: "logmel",
  });
  assert.deepEqual(sortedKeys(model.tensors), Object.keys(SMALL_PARAM_SHAPES).sort());
  assert.deepEqual(model.shape("fully_connected.weight"), [64, 64 * 32]);
  assert.deepEqual(model.shape("birnn_layers.1.BiGRU.weight_ih_l0"), [192, 128]);
  for (const t of model.tensors.values()) assert.equal(t.dtype, "F32");

  const rows = loadGreedyReferences();
  assert.equal(rows.length, 20);
  for (const row of rows) {
    assert.match(row.file, /^fsdd\/librispeech\/\d+\/\d+\/\d+-\d+-\d+\.flac$/);
    const utt = Number(row.file.match(/-(\d+)\.flac$/)![1]);
    assert.ok(utt % 50 < 5, `${row.file} is a test clip`);
    assert.match(row.pytorchGreedy, /^[a-z' ]*$/);
  }
  assert.ok(rows.filter((r) => r.pytorchGreedy === r.reference).length >= 1, "some transcripts are right");
  assert.ok(rows.filter((r) => r.pytorchGreedy.length > 0).length >= 15, "most transcripts are non-empty");

  for (const n of [0, 7]) {
    const fx = loadTorchFixture(`pytorch_trained/logits_${n}.safetensors`);
    assert.equal(fx.metadata.file, rows[n].file);
    assert.equal(fx.metadata.pytorch_greedy, rows[n].pytorchGreedy);
    const [b, c, feats, frames] = fx.shape("input.spectrogram");
    assert.deepEqual([b, c, feats], [1, 1, 128]);
    assert.deepEqual(Array.from(fx.i32("input.input_lengths")), [Math.floor(frames / 2)]);
    assert.equal(fx.get("output.logits").dtype, "F32");
    assert.deepEqual(fx.shape("output.logits"), [1, Math.ceil(frames / 2), 29]);
    const f32 = fx.f64("output.logits");
    const f64 = fx.f64("output.logits_f64");
    let maxAbs = 0, maxDiff = 0;
    for (let i = 0; i < f64.length; i++) {
      maxAbs = Math.max(maxAbs, Math.abs(f64[i]));
      maxDiff = Math.max(maxDiff, Math.abs(f32[i] - f64[i]));
    }
    assert.ok(maxDiff / maxAbs < 1e-5, `float32 vs float64 logits ${maxDiff / maxAbs}`);
  }
});
