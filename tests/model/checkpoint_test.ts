import { deepStrictEqual as assertEquals, rejects, throws } from "node:assert/strict";
import { initGpu, parameter } from "../../engine/mod.ts";
import { AdamW } from "../../model/optim.ts";
import {
  CheckpointError,
  checkWeights,
  loadCheckpoint,
  loadTrainingState,
  optimizerStateArrays,
  optimizerStateFrom,
  type ReadableTensor,
  saveCheckpoint,
  saveTrainingState,
} from "../../model/checkpoint.ts";
import { CheckpointManager, isCompleteSafetensors, type SaveOptions } from "../../cli/checkpoint_manager.ts";
import { configToMetadata, PRESETS, TUTORIAL_CONFIG } from "../../model/config.ts";
import { loadSafetensorsFile, saveSafetensorsFile } from "../../model/safetensors.ts";

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "checkpoint_test_" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function values(n: number, seed: number): Float32Array {
  return Float32Array.from({ length: n }, (_, i) => Math.sin(seed * 7.3 + i * 1.7) * (i + 1));
}

function fake(shape: number[], data: Float32Array): ReadableTensor {
  return { shape, dtype: "f32", data: () => Promise.resolve(data) };
}

Deno.test("checkpoint: real GPU parameters round trip with names, shapes and config", async () => {
  await initGpu();
  await withDir(async (dir) => {
    const params = new Map([
      ["cnn.weight", parameter(values(32 * 9, 1), [32, 1, 3, 3], "cnn.weight")],
      ["cnn.bias", parameter(values(32, 2), [32], "cnn.bias")],
      ["classifier.3.weight", parameter(values(29 * 5, 3), [29, 5], "classifier.3.weight")],
    ]);
    const path = `${dir}/model.safetensors`;
    await saveCheckpoint(path, params, PRESETS.tiny, { step: 123, dev_cer: 0.25 });
    assertEquals([...Deno.readDirSync(dir)].map((e) => e.name), ["model.safetensors"]);
    const ckpt = await loadCheckpoint(path);
    assertEquals(ckpt.config, PRESETS.tiny);
    assertEquals(ckpt.metadata.step, "123");
    assertEquals(ckpt.metadata.dev_cer, "0.25");
    assertEquals(ckpt.metadata.rnn_dim, "128");
    assertEquals(ckpt.shapes.get("cnn.weight"), [32, 1, 3, 3]);
    for (const [name, p] of params) assertEquals(ckpt.weights.get(name), await p.data());
    const raw = await loadSafetensorsFile(path);
    assertEquals([...raw.tensors.values()].map((t) => t.dtype), ["F32", "F32", "F32"]);
    for (const p of params.values()) p.dispose();
  });
});

Deno.test("checkpoint: metadata-free files are the tutorial model; F16/F64 convert; integers are refused", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/torch.safetensors`;
    await saveSafetensorsFile(path, {
      "a": { dtype: "F64", shape: [2], data: new Float64Array([0.1, -2.5]) },
      "b": { dtype: "F16", shape: [1, 2], data: new Float32Array([0.5, -1]) },
    });
    const ckpt = await loadCheckpoint(path);
    assertEquals(ckpt.config, TUTORIAL_CONFIG);
    assertEquals(ckpt.weights.get("a"), new Float32Array([0.1, -2.5]));
    assertEquals(ckpt.weights.get("b"), new Float32Array([0.5, -1]));
    assertEquals(ckpt.shapes.get("b"), [1, 2]);

    const bad = `${dir}/int.safetensors`;
    await saveSafetensorsFile(bad, {
      "w": { dtype: "F32", shape: [1], data: new Float32Array([1]) },
      "n": { dtype: "I64", shape: [1], data: new Int32Array([3]) },
      "m": { dtype: "I32", shape: [1], data: new Int32Array([3]) },
    });
    await rejects(loadCheckpoint(bad), (e: Error) => {
      assertEquals(e instanceof CheckpointError, true);
      assertEquals(e.message.includes(bad), true);
      assertEquals(e.message.includes("n (I64)"), true);
      assertEquals(e.message.includes("m (I32)"), true);
      return true;
    });
    await rejects(loadCheckpoint(`${dir}/absent.safetensors`), Deno.errors.NotFound);
  });
});

Deno.test("checkpoint: one error lists every missing, unexpected and wrongly shaped tensor", async () => {
  const specs = [
    { name: "cnn.weight", shape: [32, 1, 3, 3] },
    { name: "cnn.bias", shape: [32] },
    { name: "fc.weight", shape: [4, 6] },
    { name: "fc.bias", shape: [4] },
  ];
  const weights = new Map([
    ["cnn.weight", new Float32Array(288)],
    ["cnn.bias", new Float32Array(16)],
    ["fc.weight", new Float32Array(24)],
    ["extra.weight", new Float32Array(3)],
  ]);
  const shapes = new Map([["cnn.weight", [32, 1, 3, 3]], ["cnn.bias", [16]], ["fc.weight", [6, 4]], [
    "extra.weight",
    [3],
  ]]);
  throws(() => checkWeights(weights, specs, "run/x.safetensors", shapes), (e: Error) => {
    assertEquals(
      e.message,
      "run/x.safetensors: the checkpoint does not match the model\n" +
        "  missing (1): fc.bias [4]\n" +
        "  unexpected (1): extra.weight [3]\n" +
        "  wrong shape (2): cnn.bias: expected [32], got [16]; fc.weight: expected [4, 6], got [6, 4]",
    );
    return true;
  });
  // Without shapes, element counts are compared.
  throws(
    () => checkWeights(weights, specs, "f"),
    /wrong shape \(1\): cnn\.bias: expected \[32\], got 16 values/,
  );
  const good = new Map(specs.map((s) => [s.name, new Float32Array(s.shape.reduce((a, b) => a * b))]));
  checkWeights(good, specs, "f");

  await withDir(async (dir) => {
    const path = `${dir}/m.safetensors`;
    await saveCheckpoint(path, new Map([["fc.weight", fake([6, 4], new Float32Array(24))]]), PRESETS.small);
    await rejects(
      loadCheckpoint(path, {
        specs: (c) => (c.rnnDim === 256 ? specs.slice(2) : []),
      }),
      /missing \(1\): fc\.bias \[4\][\s\S]*fc\.weight: expected \[4, 6\], got \[6, 4\]/,
    );
  });
});

Deno.test("checkpoint: extra metadata may not overwrite the config; i32 parameters are refused", async () => {
  await withDir(async (dir) => {
    const p = new Map([["w", fake([1], new Float32Array(1))]]);
    await rejects(saveCheckpoint(`${dir}/a.safetensors`, p, TUTORIAL_CONFIG, { rnn_dim: 3 }), /rnn_dim/);
    const i: ReadableTensor = { shape: [1], dtype: "i32", data: () => Promise.resolve(new Int32Array(1)) };
    await rejects(saveCheckpoint(`${dir}/b.safetensors`, new Map([["n", i]]), TUTORIAL_CONFIG), /n is i32/);
    assertEquals([...Deno.readDirSync(dir)], []);
  });
});

Deno.test("training state: arrays and JSON meta (with non-finite numbers) round trip", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/step-000010.state.safetensors`;
    const state = {
      tensors: new Map<string, Float32Array | Int32Array>([
        ["optimizer.cnn.weight.exp_avg", values(6, 4)],
        ["order", new Int32Array([4, 2, 0, 1, 3])],
      ]),
      meta: {
        step: 10,
        epoch: 2,
        position: 3,
        rng: [1, 4294967295, 0, 7],
        best_cer: Infinity,
        last_loss: NaN,
        scheduler: { lastEpoch: 10 },
        note: "ok",
        skipped: undefined,
      },
    };
    await saveTrainingState(path, state);
    const back = await loadTrainingState(path);
    assertEquals(back.tensors, state.tensors);
    assertEquals(back.tensors.get("order") instanceof Int32Array, true);
    const { skipped: _, ...meta } = state.meta;
    assertEquals(back.meta, meta);
    // A model file is not a training state.
    const model = `${dir}/model.safetensors`;
    await saveSafetensorsFile(model, { w: { dtype: "F32", shape: [1], data: new Float32Array(1) } }, {
      ...configToMetadata(TUTORIAL_CONFIG),
    });
    await rejects(loadTrainingState(model), /not a training state file/);
    await rejects(saveTrainingState(path, { tensors: new Map(), meta: { format: 1 } }), /reserved/);
  });
});

Deno.test("training state: AdamW state saved and restored through a file", async () => {
  await initGpu();
  await withDir(async (dir) => {
    const w = parameter(values(6, 5), [2, 3], "fc.weight");
    const b = parameter(values(2, 6), [2], "fc.bias");
    const opt = new AdamW([w, b], { lr: 0.1 });
    for (const p of [w, b]) p.grad = parameter(values(p.size, 7), p.shape);
    opt.step();
    const path = `${dir}/s.state.safetensors`;
    await saveTrainingState(path, {
      tensors: await optimizerStateArrays(opt.stateTensors()),
      meta: { step: 1 },
    });
    const loaded = await loadTrainingState(path);
    assertEquals([...loaded.tensors.keys()].sort(), [
      "optimizer.fc.bias.exp_avg",
      "optimizer.fc.bias.exp_avg_sq",
      "optimizer.fc.weight.exp_avg",
      "optimizer.fc.weight.exp_avg_sq",
      "optimizer.skipped_steps",
      "optimizer.step",
    ]);
    const opt2 = new AdamW([w, b], { lr: 0.1 });
    opt2.loadState(optimizerStateFrom(loaded.tensors));
    for (const [name, t] of opt.stateTensors()) {
      assertEquals(await opt2.stateTensors().get(name)!.data(), await t.data(), name);
    }
    opt.zeroGrad();
    opt.dispose();
    opt2.dispose();
    w.dispose();
    b.dispose();
  });
});

// ---- the run folder's checkpoints (cli/checkpoint_manager.ts) ------------------------------------------------

function saveOptions(seed: number, cer?: number, epoch?: number): SaveOptions {
  return {
    params: new Map([["fc.weight", fake([2, 2], values(4, seed))]]),
    config: PRESETS.tiny,
    state: { tensors: new Map([["order", new Int32Array([seed, 1, 0])]]), meta: { step: seed } },
    cer,
    epoch,
  };
}

function names(dir: string): string[] {
  return [...Deno.readDirSync(dir)].map((e) => e.name).sort();
}

Deno.test("checkpoint manager: keeps the last K and a copy of the best by dev CER", async () => {
  await withDir(async (run) => {
    const m = await CheckpointManager.open(run, { keepLast: 2, everySteps: 25 });
    assertEquals([m.shouldSave(25, false), m.shouldSave(30, false), m.shouldSave(30, true)], [
      true,
      false,
      true,
    ]);
    assertEquals(await m.latest(), null);
    const cers = [0.9, 0.5, 0.7, 0.6];
    for (let i = 0; i < cers.length; i++) await m.save((i + 1) * 10, saveOptions(i + 1, cers[i], i + 1));
    assertEquals(names(m.dir), [
      "best.json",
      "best.safetensors",
      "step-000030.safetensors",
      "step-000030.state.safetensors",
      "step-000040.safetensors",
      "step-000040.state.safetensors",
    ]);
    assertEquals(m.best, { step: 20, cer: 0.5, epoch: 2, source: "step-000020.safetensors" });
    const best = await loadCheckpoint(m.bestPath);
    assertEquals(best.weights.get("fc.weight"), values(4, 2));
    assertEquals(best.metadata.step, "20");
    assertEquals(best.metadata.dev_cer, "0.5");
    assertEquals(best.config, PRESETS.tiny);
    const latest = await m.latest();
    assertEquals(latest?.step, 40);
    assertEquals((await loadTrainingState(latest!.state)).tensors.get("order"), new Int32Array([4, 1, 0]));

    // Reopening reads the best record back; a worse CER does not replace it, a better one does.
    const again = await CheckpointManager.open(run, { keepLast: 2 });
    assertEquals(again.best?.step, 20);
    await again.save(50, saveOptions(5, 0.55));
    assertEquals(again.best?.step, 20);
    await again.save(60, saveOptions(6));
    assertEquals(await again.updateBest(60, 0.4, 6), true);
    assertEquals(again.best, { step: 60, cer: 0.4, epoch: 6, source: "step-000060.safetensors" });
    assertEquals((await loadCheckpoint(again.bestPath)).weights.get("fc.weight"), values(4, 6));
    assertEquals(await again.updateBest(60, NaN), false);
    assertEquals((await again.list()).map((e) => e.step), [50, 60]);
  });
});

Deno.test("checkpoint manager: leftovers of a crash do not confuse latest(), and are cleaned up", async () => {
  await withDir(async (run) => {
    const m = await CheckpointManager.open(run, { keepLast: 3 });
    await m.save(100, saveOptions(1));
    await m.save(200, saveOptions(2));
    const d = m.dir;
    // A crash during a save: a temporary file, and a state file whose model was never renamed into place.
    await Deno.writeFile(`${d}/step-000300.safetensors.123-abc.tmp`, new Uint8Array(100));
    await Deno.copyFile(`${d}/step-000200.state.safetensors`, `${d}/step-000300.state.safetensors`);
    // A model without its state (a half-deleted set, or a state file lost).
    await Deno.copyFile(`${d}/step-000200.safetensors`, `${d}/step-000400.safetensors`);
    // A cut model file (e.g. a crash on a filesystem without ordered renames).
    const whole = await Deno.readFile(`${d}/step-000200.safetensors`);
    await Deno.writeFile(`${d}/step-000500.safetensors`, whole.subarray(0, whole.length - 3));
    await Deno.copyFile(`${d}/step-000200.state.safetensors`, `${d}/step-000500.state.safetensors`);
    // An empty file.
    await Deno.writeFile(`${d}/step-000600.safetensors`, new Uint8Array(0));
    await Deno.copyFile(`${d}/step-000200.state.safetensors`, `${d}/step-000600.state.safetensors`);

    assertEquals(await isCompleteSafetensors(`${d}/step-000200.safetensors`), true);
    assertEquals(await isCompleteSafetensors(`${d}/step-000500.safetensors`), false);
    assertEquals(await isCompleteSafetensors(`${d}/step-000600.safetensors`), false);
    assertEquals(await isCompleteSafetensors(`${d}/absent.safetensors`), false);
    assertEquals((await m.latest())?.step, 200);

    const reopened = await CheckpointManager.open(run, { keepLast: 3 });
    assertEquals(names(d).some((n) => n.endsWith(".tmp")), false);
    assertEquals((await reopened.latest())?.step, 200);
    await reopened.save(700, saveOptions(7));
    assertEquals(names(d), [
      "step-000100.safetensors",
      "step-000100.state.safetensors",
      "step-000200.safetensors",
      "step-000200.state.safetensors",
      "step-000700.safetensors",
      "step-000700.state.safetensors",
    ]);
    assertEquals((await reopened.latest())?.step, 700);
  });
});

Deno.test("checkpoint manager: a failed save leaves the previous checkpoints intact", async () => {
  await withDir(async (run) => {
    const m = await CheckpointManager.open(run, { keepLast: 1 });
    await m.save(1, saveOptions(1));
    const failing: ReadableTensor = {
      shape: [1],
      dtype: "f32",
      data: () => Promise.reject(new Error("device lost")),
    };
    await rejects(
      m.save(2, { ...saveOptions(2), params: new Map([["w", failing]]) }),
      /device lost/,
    );
    assertEquals((await m.latest())?.step, 1);
    assertEquals(names(m.dir), ["step-000001.safetensors", "step-000001.state.safetensors"]);
    assertEquals((await loadCheckpoint((await m.latest())!.model)).weights.get("fc.weight"), values(4, 1));
  });
});
