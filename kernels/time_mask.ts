/**
 * Zeroing each sample's frames past its length, along the last (time) axis of a batch-major tensor.
 *
 * A padded batch runs the model's 3x3 convolutions over frames that lie past a short utterance's end; after the
 * first convolution's bias, a LayerNorm and a GELU those frames are no longer zero, and the next convolution
 * mixes them into the utterance's last valid frame, from which the BiGRU carries the change to every frame. With
 * the padding zeroed before each convolution, the convolution sees what it sees for the utterance alone (its own
 * zero padding), so an utterance's output does not depend on what it is batched with (model/recognizer.ts).
 *
 * `select` rather than a multiplication by a 0/1 mask: a masked frame is 0 even when it holds an infinity or a
 * NaN, and a kept one is its value bit for bit.
 */
import { isGradEnabled, record } from "../engine/autograd.ts";
import { gpu } from "../engine/device.ts";
import { launch, program } from "../engine/kernel.ts";
import { empty, shapeString, type Tensor } from "../engine/tensor.ts";
import { forEachBatchChunk } from "./batch_chunks.ts";
import { lengthsTensor } from "./lengths.ts";

const WG = 256;

export interface TimeMaskOptions {
  /** Largest storage binding in bytes (default: the adapter's limit); tests lower it to force chunking. */
  maxBindingBytes?: number;
}

const maskProgram = program({
  name: "timeMask",
  uniforms: { n: "u32", perSample: "u32", nt: "u32", firstSample: "u32" },
  inputs: { x: "f32", lens: "i32" },
  outputs: { o: "f32" },
  workgroupSize: WG,
  body: `
  let i = gidx;
  if (i >= u.n) { return; }
  let b = u.firstSample + i / u.perSample;
  let t = i32(i % u.nt);
  o[i] = select(0.0, x[i], t < lens[b]);`,
});

/** The same rule on one read-write binding: only the masked elements are written. */
const inPlaceProgram = program({
  name: "timeMaskInPlace",
  uniforms: { n: "u32", perSample: "u32", nt: "u32" },
  inputs: { lens: "i32" },
  outputs: { o: "f32" },
  workgroupSize: WG,
  body: `
  let i = gidx;
  if (i >= u.n) { return; }
  if (i32(i % u.nt) >= lens[i / u.perSample]) { o[i] = 0.0; }`,
});

function applyMask(x: Tensor, lens: Tensor, limit: number): Tensor {
  const out = empty(x.shape, "f32", "timeMask");
  if (x.size === 0) return out;
  const nt = x.shape[x.rank - 1];
  forEachBatchChunk("timeMask", limit, { inputs: { x }, outputs: { o: out } }, (c) => {
    launch(maskProgram, {
      uniforms: { n: c.inputs.x.size, perSample: x.size / x.shape[0], nt, firstSample: c.start },
      inputs: { x: c.inputs.x, lens },
      outputs: c.outputs,
      invocations: c.inputs.x.size,
    });
  });
  return out;
}

/**
 * `x` (batch, ..., time) with `x[b, ..., t]` set to 0 wherever `t >= lengths[b]`: a new tensor. Differentiable:
 * the gradient passes through the kept frames and is 0 at the masked ones.
 */
export function timeMask(x: Tensor, lengths: readonly number[], opts: TimeMaskOptions = {}): Tensor {
  if (x.dtype !== "f32" || x.rank < 2) {
    throw new TypeError(
      `timeMask: expected an f32 tensor (batch, ..., time), got ${x.dtype} ${shapeString(x.shape)}`,
    );
  }
  const limit = opts.maxBindingBytes ?? gpu().limits.maxStorageBufferBindingSize;
  const check = { op: "timeMask", what: "lengths", min: 0, max: x.shape[x.rank - 1] };
  const lens = lengthsTensor(lengths, x.shape[0], check);
  const out = applyMask(x, lens, limit);
  lens.dispose();
  return record(out, "timeMask", [x], (g) => {
    const l = lengthsTensor(lengths, x.shape[0], check);
    const gx = applyMask(g, l, limit);
    l.dispose();
    return [gx];
  });
}

/**
 * {@link timeMask} of a tensor its caller owns (no other tensor shares its buffer, nothing else reads it
 * unmasked): `x` itself, masked in place, when nothing records for backward (inference) and `x` fits one storage
 * binding; otherwise a new tensor, as `timeMask` gives. The inference forward then holds no extra activation for
 * the mask.
 */
export function timeMaskOwned(x: Tensor, lengths: readonly number[], opts: TimeMaskOptions = {}): Tensor {
  const limit = opts.maxBindingBytes ?? gpu().limits.maxStorageBufferBindingSize;
  if (isGradEnabled() || x.requiresGrad || x.dtype !== "f32" || x.rank < 2 || x.buffer.size > limit) {
    return timeMask(x, lengths, opts);
  }
  const lens = lengthsTensor(lengths, x.shape[0], {
    op: "timeMask",
    what: "lengths",
    min: 0,
    max: x.shape[x.rank - 1],
  });
  if (x.size > 0) {
    launch(inPlaceProgram, {
      uniforms: { n: x.size, perSample: x.size / x.shape[0], nt: x.shape[x.rank - 1] },
      inputs: { lens },
      outputs: { o: x },
      invocations: x.size,
    });
  }
  lens.dispose();
  return x;
}
