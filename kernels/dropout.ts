/**
 * Dropout with a counter-based random generator: element i of a tensor is kept when a hash of (seed, i) says
 * so, with probability 1 - p, and kept values are scaled by 1 / (1 - p) (PyTorch's inverted dropout).
 *
 * The mask is never stored. Because it is a pure function of (seed, p, i), the backward pass regenerates it by
 * running the same kernel on the incoming gradient: no mask tensor stays alive between the forward and the
 * backward pass (the model's activations reach 143 MB; a mask as big would be pure overhead), and a rerun with
 * the same seed is bit-identical.
 *
 * The hash is two rounds of the PCG output permutation (Jarzynski & Olano, "Hash Functions for GPU Rendering",
 * 2020) keyed by the seed: h = pcg(pcg(i ^ k0) + k1) with k0 = pcg(seed), k1 = pcg(k0). The top 24 bits give a
 * uniform number in [0, 1). {@link dropoutKeep} is the same computation on the CPU, for tests.
 *
 * The index hashed is the element's index in the whole batch: a tensor that holds part of a batch (a
 * micro-batch, or one rank's shard in data-parallel training) passes `firstIndex`, the batch index of its first
 * element, so each sample's mask is the one it gets in the whole batch, wherever it is computed.
 */
import { record } from "../engine/autograd.ts";
import { gpu } from "../engine/device.ts";
import { launch, program } from "../engine/kernel.ts";
import { empty, type Tensor } from "../engine/tensor.ts";
import { forEachBatchChunk } from "./batch_chunks.ts";

const WG = 256;

export interface DropoutOptions {
  /** Largest storage binding in bytes (default: the adapter's limit); tests lower it to force chunking. */
  maxBindingBytes?: number;
  /** Index of `x`'s first element in the whole batch the seed's masks are drawn for (default 0). */
  firstIndex?: number;
}

function pcg(v: number): number {
  const state = (Math.imul(v, 747796405) + 2891336453) >>> 0;
  const word = Math.imul(((state >>> ((state >>> 28) + 4)) ^ state) >>> 0, 277803737) >>> 0;
  return ((word >>> 22) ^ word) >>> 0;
}

/** Whether element `index` survives dropout with probability `p` under `seed` (the GPU kernel's rule). */
export function dropoutKeep(seed: number, p: number, index: number): boolean {
  const k0 = pcg(seed >>> 0);
  const k1 = pcg(k0);
  const h = pcg((pcg((index ^ k0) >>> 0) + k1) >>> 0);
  return (h >>> 8) / 16777216 >= Math.fround(p);
}

const mask = program({
  name: "dropout",
  uniforms: { n: "u32", offset: "u32", seed: "u32", p: "f32", scale: "f32" },
  inputs: { x: "f32" },
  outputs: { o: "f32" },
  workgroupSize: WG,
  helpers: `
fn pcg(v: u32) -> u32 {
  let state = v * 747796405u + 2891336453u;
  let word = ((state >> ((state >> 28u) + 4u)) ^ state) * 277803737u;
  return (word >> 22u) ^ word;
}`,
  body: `
  let i = gidx;
  if (i >= u.n) { return; }
  let k0 = pcg(u.seed);
  let k1 = pcg(k0);
  let h = pcg(pcg((u.offset + i) ^ k0) + k1);
  let r = f32(h >> 8u) * (1.0 / 16777216.0);
  o[i] = select(0.0, x[i] * u.scale, r >= u.p);`,
});

/** The mask of (seed, p) applied to every element of `x`, scaled; chunked under the binding limit. */
function applyMask(x: Tensor, p: number, seed: number, limit: number, firstIndex: number): Tensor {
  const out = empty(x.shape, "f32", "dropout");
  if (x.size === 0) return out;
  const xv = x.view([x.size]);
  const ov = out.view([x.size]);
  const scale = p >= 1 ? 0 : 1 / (1 - p);
  forEachBatchChunk("dropout", limit, { inputs: { x: xv }, outputs: { o: ov } }, (c) => {
    launch(mask, {
      uniforms: { n: c.count, offset: (firstIndex + c.start) >>> 0, seed: seed >>> 0, p, scale },
      inputs: c.inputs,
      outputs: c.outputs,
      invocations: c.count,
    });
  });
  xv.dispose();
  ov.dispose();
  return out;
}

/**
 * PyTorch's `F.dropout(x, p, training)` with an explicit 32-bit `seed` (use a new seed per call, e.g. from the
 * training step's `Random`). Returns `x` itself when `p` is 0 or `training` is false. Differentiable: the
 * gradient passes through the same mask, with the same scale.
 */
export function dropout(
  x: Tensor,
  p: number,
  seed: number,
  training = true,
  opts: DropoutOptions = {},
): Tensor {
  if (!(p >= 0 && p <= 1)) throw new RangeError(`dropout: probability ${p} is not in [0, 1]`);
  if (!Number.isFinite(seed)) throw new RangeError(`dropout: seed ${seed} is not a number`);
  if (x.dtype !== "f32") throw new TypeError("dropout: expected an f32 tensor");
  if (p === 0 || !training) return x;
  const limit = opts.maxBindingBytes ?? gpu().limits.maxStorageBufferBindingSize;
  const first = opts.firstIndex ?? 0;
  if (!Number.isInteger(first) || first < 0) {
    throw new RangeError(`dropout: firstIndex ${first} is not an index`);
  }
  const out = applyMask(x, p, seed, limit, first);
  return record(out, "dropout", [x], (g) => [applyMask(g, p, seed, limit, first)]);
}
