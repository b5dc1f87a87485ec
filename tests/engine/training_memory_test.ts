/**
 * Training keeps for backward only what backward reads, as numbers computed from the shapes: what a ResCNN block
 * and a BiGRU layer add to the live memory between the forward and the backward pass, and that recomputed
 * segments (LayerNorm + GELU + dropout) give the same gradients as the plain composition.
 */
import * as assert from "node:assert/strict";
import { backward, initGpu, memoryStats, noGrad, parameter, setQuiet, tensor, tidy } from "../../mod.ts";
import { sizeClass } from "../../engine/buffer_pool.ts";
import { recompute } from "../../engine/recompute.ts";
import { dropout } from "../../kernels/dropout.ts";
import { gelu, mul } from "../../kernels/elementwise.ts";
import { sumAll } from "../../kernels/reduce.ts";
import { layerNormAxis } from "../../kernels/layernorm.ts";
import { PRESETS } from "../../model/config.ts";
import { SpeechRecognitionModel } from "../../model/recognizer.ts";
import { Random } from "../harness.ts";

setQuiet(true);
await initGpu();

const BATCH = 2;
const FRAMES = 61; // spectrogram frames: 31 after the first convolution
const T = 31;

/** Live bytes (size classes asked for) that a training forward leaves for backward, beyond the parameters. */
async function heldForBackward(nCnnLayers: number, nRnnLayers: number, rnnDim: number): Promise<number> {
  const c = { ...PRESETS.tiny, nCnnLayers, nRnnLayers, rnnDim, nFeats: 16, dropout: 0.1 };
  const rng = new Random(4);
  const model = new SpeechRecognitionModel(c, undefined, 5);
  const x = tensor(new Float32Array(BATCH * c.nFeats * FRAMES).map(() => rng.normal()), [
    BATCH,
    1,
    16,
    FRAMES,
  ]);
  await x.data();
  let held = 0;
  tidy(() => {
    const before = memoryStats().requestedLiveBytes;
    const logits = model.forward(x, [T, 25], { training: true, dropoutSeed: 3 });
    held = memoryStats().requestedLiveBytes - before - sizeClass(logits.size * 4);
    backward(sumAll(mul(logits, logits)));
  });
  await model.params.get("cnn.weight")!.grad!.data();
  x.dispose();
  model.dispose();
  return held;
}

Deno.test("a ResCNN block holds four activations for backward (not its LayerNorm and GELU outputs)", async () => {
  const one = await heldForBackward(1, 1, 8);
  const three = await heldForBackward(3, 1, 8);
  // (batch, 32 channels, 8 features, 31 frames): dropout 1's output and conv 1's (read by conv 1 and by the
  // second segment's recomputation), dropout 2's output (conv 2's input) and the block's output.
  const activation = sizeClass(BATCH * 32 * 8 * T * 4);
  assert.equal(three - one, 2 * 4 * activation);
});

Deno.test("a BiGRU layer holds its input, its GELU output, the saved gates and the stacked weights", async () => {
  const H = 8;
  const two = await heldForBackward(1, 2, H);
  const four = await heldForBackward(1, 4, H);
  const rows = BATCH * T;
  const perLayer = sizeClass(rows * 2 * H * 4) + // dropout output (the next LayerNorm's input)
    sizeClass(rows * 2 * H * 4) + // GELU output (the GRU's input, read for dW_ih)
    sizeClass(2 * rows * 4 * H * 4) + // r, z, n, W_hn h + b_hn of both directions
    sizeClass(2 * rows * H * 4) + // h_{t-1} of both directions
    sizeClass(2 * 3 * H * H * 4) + // W_hh of both directions, stacked
    sizeClass(4 * 3 * H * 4) + // the four biases, stacked
    sizeClass(BATCH * 4); // the lengths
  assert.equal(four - two, 2 * perLayer);
});

Deno.test("a recomputed LayerNorm + GELU + dropout segment has the plain composition's value and gradients", async () => {
  const rng = new Random(8);
  const shape = [3, 4, 5, 7];
  const xs = Float32Array.from({ length: 3 * 4 * 5 * 7 }, () => rng.normal());
  const run = async (checkpointed: boolean) => {
    const x = parameter(xs.slice(), shape, "x");
    const w = parameter(Float32Array.from({ length: 5 }, (_, i) => 1 + 0.1 * i), [5], "w");
    const b = parameter(Float32Array.from({ length: 5 }, (_, i) => 0.05 * i), [5], "b");
    const seg = (x: typeof w, w2: typeof w, b2: typeof w) =>
      dropout(gelu(layerNormAxis(x, w2, b2, 2)), 0.3, 99, true);
    const value = tidy(() => {
      const y = checkpointed ? recompute("seg", [x, w, b], seg) : seg(x, w, b);
      const loss = sumAll(mul(y, y));
      backward(loss);
      return loss;
    });
    const out = [await value.item(), ...[x, w, b].map((t) => t.grad!)];
    const grads = await Promise.all([x, w, b].map((t) => t.grad!.f32()));
    [x, w, b, value].forEach((t) => t.dispose());
    return { loss: out[0] as number, grads };
  };
  const plain = await run(false);
  const again = await run(true);
  assert.equal(again.loss, plain.loss);
  again.grads.forEach((g, i) => assert.deepEqual(g, plain.grads[i]));
  // Without a gradient the segment is just evaluated.
  const x = tensor(xs, shape);
  const y = noGrad(() => recompute("seg", [x], (x) => gelu(x)));
  assert.deepEqual(await y.f32(), await noGrad(() => gelu(x)).f32());
});
