/**
 * One bidirectional GRU layer with PyTorch's equations, weight layout and packed-sequence semantics, forward and
 * backward through time on the GPU.
 *
 * Forward: one matmul projects every frame through both directions' W_ih at once (x [rows, in] times the stacked
 * [6H, in] weights); then one launch per time step runs the recurrence of both directions for every batch row
 * (gru_wgsl.ts), reading h_{t-1} straight from the output. Launches are only recorded, so the whole recurrence
 * is one submit with no CPU wait. When a gradient is needed the steps also save r, z, n, W_hn h + b_hn and
 * h_{t-1}.
 *
 * Backward: one launch per step from the last frame to the first computes the gate gradients, carrying dh
 * through W_hh; then grad x = dGi W_ih (one matmul), grad W_ih = dGi^T x, grad W_hh = dGh^T h_{t-1} (one
 * batched matmul for both directions) and the bias gradients as column sums, all over every frame at once.
 *
 * The saved activations belong to the enclosing scope, like any intermediate: run the forward and backward in
 * the same `tidy` (as a training step does).
 */
import { needsGrad, noGrad, record } from "../engine/autograd.ts";
import { launch } from "../engine/kernel.ts";
import { copyInto, empty, shapeString, type Tensor, tensor } from "../engine/tensor.ts";
import { lengthsTensor } from "./lengths.ts";
import { matmul } from "./matmul.ts";
import { sum } from "./reduce.ts";
import { backwardStep, forwardStep, stepInvocations } from "./gru_wgsl.ts";

/** The 8 parameters of one bidirectional layer, named as in PyTorch's state_dict without the `_l{k}` suffix. */
export interface BiGruWeights {
  /** [3H, in], gates stacked r, z, n. */
  weight_ih: Tensor;
  /** [3H, H]. */
  weight_hh: Tensor;
  /** [3H]. */
  bias_ih: Tensor;
  /** [3H]. */
  bias_hh: Tensor;
  weight_ih_reverse: Tensor;
  weight_hh_reverse: Tensor;
  bias_ih_reverse: Tensor;
  bias_hh_reverse: Tensor;
}

export interface BiGruOptions {
  /** x is (batch, time, in) when true, (time, batch, in) when false (the default, as in PyTorch). */
  batchFirst?: boolean;
  /**
   * Honour `lengths` as pack_padded_sequence does (default true when lengths are given): the forward direction
   * stops at frame len - 1, the reverse one starts there, and padded frames output 0 and take no gradient.
   */
  packed?: boolean;
}

/** The 8 weights in the order the autograd node lists them (and PyTorch's state_dict has them). */
export const WEIGHT_ORDER = [
  "weight_ih",
  "weight_hh",
  "bias_ih",
  "bias_hh",
  "weight_ih_reverse",
  "weight_hh_reverse",
  "bias_ih_reverse",
  "bias_hh_reverse",
] as const;

/** Concatenates same-shaped tensors into one of `shape` with buffer copies (not recorded). */
function stack(ts: readonly Tensor[], shape: readonly number[], label: string): Tensor {
  const n = ts[0].size;
  const out = empty(shape, "f32", label);
  ts.forEach((t, i) => copyInto(t, out, { dstOffset: i * n, count: n }));
  return out;
}

/** Part `i` of `n` equal leading blocks of `t`, as a new tensor of `shape` (a buffer copy). */
function part(t: Tensor, i: number, shape: readonly number[]): Tensor {
  const out = empty(shape, "f32", "gru grad");
  copyInto(t, out, { srcOffset: i * out.size, count: out.size });
  return out;
}

function checkWeights(w: BiGruWeights, inSize: number): number {
  for (const k of WEIGHT_ORDER) {
    if (!w[k]) throw new TypeError(`biGru: weights.${k} is missing`);
    if (w[k].dtype !== "f32") throw new TypeError(`biGru: weights.${k} must be f32`);
  }
  const H3 = w.weight_ih.shape[0];
  const H = H3 / 3;
  if (w.weight_ih.rank !== 2 || !Number.isInteger(H) || H < 1) {
    throw new RangeError(`biGru: weights.weight_ih ${shapeString(w.weight_ih.shape)} is not [3H, in]`);
  }
  const want: Record<string, number[]> = {
    weight_ih: [H3, inSize],
    weight_hh: [H3, H],
    bias_ih: [H3],
    bias_hh: [H3],
  };
  for (const k of WEIGHT_ORDER) {
    const e = want[k.replace("_reverse", "")];
    const s = w[k].shape;
    if (s.length !== e.length || s.some((d, i) => d !== e[i])) {
      throw new RangeError(`biGru: weights.${k} is ${shapeString(s)}, expected ${shapeString(e)} (H = ${H})`);
    }
  }
  return H;
}

function packedLengths(
  lengths: Tensor | readonly number[] | null | undefined,
  packed: boolean,
  B: number,
  T: number,
): Tensor {
  if (!packed || lengths == null) return tensor(new Int32Array(B).fill(T), [B], "i32");
  return lengthsTensor(lengths, B, { op: "biGru", what: "lengths", min: 1, max: T });
}

/**
 * One bidirectional GRU layer (PyTorch's nn.GRU, bidirectional, h0 = 0). `x` is [batch, time, in] with
 * `batchFirst`, else [time, batch, in] (the recurrence runs along "time"). Returns [.., 2H]: forward and reverse
 * hidden states concatenated on the last axis. `lengths` (one per batch row, an i32 tensor or numbers) packs
 * the sequences when `packed` is not false; `null` means every row runs the full length.
 */
export function biGru(
  x: Tensor,
  lengths: Tensor | readonly number[] | null,
  weights: BiGruWeights,
  opts: BiGruOptions = {},
): Tensor {
  if (x.rank !== 3 || x.dtype !== "f32") {
    throw new RangeError(`biGru: x must be a rank-3 f32 tensor, got ${x}`);
  }
  const batchFirst = opts.batchFirst ?? false;
  const packed = opts.packed ?? lengths != null;
  const [B, T] = batchFirst ? [x.shape[0], x.shape[1]] : [x.shape[1], x.shape[0]];
  const inSize = x.shape[2];
  const H = checkWeights(weights, inSize);
  const rows = B * T;
  const [sb, st] = batchFirst ? [T, 1] : [1, B];
  const vec = H % 4 === 0;
  const w = weights;
  const inputs = [x, ...WEIGHT_ORDER.map((k) => w[k])];
  const save = needsGrad(...inputs);
  const y = empty([x.shape[0], x.shape[1], 2 * H], "f32", "biGru");
  if (rows === 0) return y;
  const lens = packedLengths(lengths, packed, B, T);
  const invocations = stepInvocations(B, H);
  const whh = stack([w.weight_hh, w.weight_hh_reverse], [2, 3 * H, H], "gru whh");
  const bias = stack([w.bias_ih, w.bias_ih_reverse, w.bias_hh, w.bias_hh_reverse], [4, 3 * H], "gru bias");
  const { saves, hp } = noGrad(() => {
    const x2 = x.view([rows, inSize]);
    const wih = stack([w.weight_ih, w.weight_ih_reverse], [6 * H, inSize], "gru wih");
    const gi = matmul(x2, wih, { transB: true });
    x2.dispose();
    wih.dispose();
    const saves = save ? empty([2, rows, 4, H], "f32", "gru saves") : null;
    const hp = save ? empty([2, rows, H], "f32", "gru h_prev") : null;
    const step = forwardStep(vec, save, H);
    const inputs = { gi, whh, bias, lens };
    const outputs = save ? { y, saves: saves!, hp: hp! } : { y };
    for (let s = 0; s < T; s++) {
      launch(step, { uniforms: { B, T, H, sb, st, s, rows }, inputs, outputs, invocations });
    }
    gi.dispose();
    return { saves, hp };
  });
  if (!save) {
    whh.dispose();
    bias.dispose();
    if (lens !== lengths) lens.dispose();
    return y;
  }
  return record(y, "biGru", inputs, (gy) => {
    const dgi = empty([rows, 6 * H], "f32", "gru dGi");
    const dgh = empty([2, rows, 3 * H], "f32", "gru dGh");
    const carry = empty([2, B, H], "f32", "gru carry");
    const step = backwardStep(vec, H);
    const inputs = { gy, saves: saves!, whh, lens, hp: hp! };
    const outputs = { dgi, dgh, carry };
    for (let s = T - 1; s >= 0; s--) {
      launch(step, { uniforms: { B, T, H, sb, st, s, rows }, inputs, outputs, invocations });
    }
    carry.dispose();
    const grads: (Tensor | null)[] = new Array(9).fill(null);
    if (x.requiresGrad) {
      const wih = stack([w.weight_ih, w.weight_ih_reverse], [6 * H, inSize], "gru wih");
      const dx = matmul(dgi, wih);
      wih.dispose();
      grads[0] = dx.view(x.shape);
      dx.dispose();
    }
    const need = (k: (typeof WEIGHT_ORDER)[number]) => w[k].requiresGrad;
    if (need("weight_ih") || need("weight_ih_reverse")) {
      const x2 = x.view([rows, inSize]);
      const dw = matmul(dgi, x2, { transA: true });
      x2.dispose();
      if (need("weight_ih")) grads[1] = part(dw, 0, [3 * H, inSize]);
      if (need("weight_ih_reverse")) grads[5] = part(dw, 1, [3 * H, inSize]);
      dw.dispose();
    }
    if (need("weight_hh") || need("weight_hh_reverse")) {
      const dw = matmul(dgh, hp!, { transA: true });
      if (need("weight_hh")) grads[2] = part(dw, 0, [3 * H, H]);
      if (need("weight_hh_reverse")) grads[6] = part(dw, 1, [3 * H, H]);
      dw.dispose();
    }
    if (need("bias_ih") || need("bias_ih_reverse")) {
      const db = sum(dgi, 0);
      if (need("bias_ih")) grads[3] = part(db, 0, [3 * H]);
      if (need("bias_ih_reverse")) grads[7] = part(db, 1, [3 * H]);
      db.dispose();
    }
    if (need("bias_hh") || need("bias_hh_reverse")) {
      const db = sum(dgh, 1);
      if (need("bias_hh")) grads[4] = part(db, 0, [3 * H]);
      if (need("bias_hh_reverse")) grads[8] = part(db, 1, [3 * H]);
      db.dispose();
    }
    dgi.dispose();
    dgh.dispose();
    return grads;
  });
}
