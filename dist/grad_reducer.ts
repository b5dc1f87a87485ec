/**
 * The gradient all-reduce of data-parallel training: after every rank's backward pass, each trainable
 * parameter's gradient is replaced by the sum over ranks, and so is the step's loss, so that every rank then
 * clips, checks for non-finite values and steps the optimizer on the same numbers.
 *
 * The gradients are packed on the GPU into a few flat buckets (consecutive parameters, about `bucketBytes`
 * each, the loss in the last bucket's extra slot), read back, summed by MPI in place and written back. All
 * readbacks are queued at once, so bucket k + 1 comes off the GPU while bucket k is being reduced, and bucket
 * k is uploaded while k + 1 is reduced. (WebGPU gives no way to start a readback in the middle of the backward
 * pass's command stream, so the reduction starts when the backward is done.) A parameter without a gradient on
 * this rank (a rank whose shard was empty) contributes zeros and gets the sum.
 */
import { keep } from "../engine/scope.ts";
import { assign, copyInto, type Tensor, zeros } from "../engine/tensor.ts";
import { fillInPlace } from "../kernels/fill.ts";
import type { Communicator } from "./communicator.ts";

/** Default bucket size: 25 MB, as PyTorch DDP's bucket_cap_mb. */
export const DEFAULT_BUCKET_BYTES = 25 * 1024 * 1024;

interface Bucket {
  /** Indices into the parameter list. */
  params: number[];
  /** Offset of each parameter's gradient in the flat buffer. */
  offsets: number[];
  /** Floats of gradients (the loss slot, where present, comes after). */
  floats: number;
  flat: Tensor;
  host: Float32Array;
}

/** Consecutive parameters grouped into buckets of at least `bucketFloats` floats (the last may be smaller). */
export function planBuckets(sizes: readonly number[], bucketFloats: number): number[][] {
  const groups: number[][] = [];
  let current: number[] = [];
  let floats = 0;
  sizes.forEach((size, i) => {
    current.push(i);
    floats += size;
    if (floats >= bucketFloats) {
      groups.push(current);
      current = [];
      floats = 0;
    }
  });
  if (current.length > 0 || groups.length === 0) groups.push(current);
  return groups;
}

/** Timings of the last {@link GradientReducer.allReduce}, in ms. */
export interface ReduceTimings {
  total: number;
  /** Of which inside MPI_Allreduce. */
  mpi: number;
}

export class GradientReducer {
  readonly buckets: Bucket[];
  readonly floats: number;
  last: ReduceTimings = { total: 0, mpi: 0 };

  constructor(
    readonly comm: Communicator,
    readonly params: readonly Tensor[],
    opts: { bucketBytes?: number } = {},
  ) {
    const plan = planBuckets(params.map((p) => p.size), (opts.bucketBytes ?? DEFAULT_BUCKET_BYTES) / 4);
    this.buckets = plan.map((indices, k) => {
      const offsets: number[] = [];
      let floats = 0;
      for (const i of indices) {
        offsets.push(floats);
        floats += params[i].size;
      }
      const total = floats + (k === plan.length - 1 ? 1 : 0);
      return { params: indices, offsets, floats, flat: keep(zeros([total])), host: new Float32Array(total) };
    });
    this.floats = params.reduce((s, p) => s + p.size, 0);
  }

  /**
   * Sums every parameter's gradient and `loss` (one element, replaced in place) over all ranks. Resolves once
   * the sums are written back (as GPU work recorded in order, before whatever is recorded next).
   */
  async allReduce(loss: Tensor): Promise<void> {
    const start = performance.now();
    let mpi = 0;
    const lastBucket = this.buckets.length - 1;
    const readbacks = this.buckets.map((b, k) => {
      if (b.params.some((i) => !this.params[i].grad)) fillInPlace(b.flat, 0);
      b.params.forEach((i, j) => {
        const g = this.params[i].grad;
        if (g) copyInto(g, b.flat, { dstOffset: b.offsets[j], count: g.size });
      });
      if (k === lastBucket) copyInto(loss, b.flat, { dstOffset: b.floats, count: 1 });
      return b.flat.f32();
    });
    for (let k = 0; k < this.buckets.length; k++) {
      const b = this.buckets[k];
      b.host.set(await readbacks[k]);
      const t = performance.now();
      await this.comm.allReduceSum(b.host);
      mpi += performance.now() - t;
      assign(b.flat, b.host);
      b.params.forEach((i, j) => {
        const p = this.params[i];
        if (!p.grad) p.grad = keep(zeros(p.shape));
        copyInto(b.flat, p.grad, { srcOffset: b.offsets[j], count: p.size });
      });
      if (k === lastBucket) copyInto(b.flat, loss, { srcOffset: b.floats, count: 1 });
    }
    this.last = { total: performance.now() - start, mpi };
  }

  dispose(): void {
    for (const b of this.buckets) b.flat.dispose();
  }
}
