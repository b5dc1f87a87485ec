/**
 * The order in which an epoch visits the training set, as batches of item indices. The order is a pure function
 * of (items, batch size, seed, epoch, bucketing), so a run resumed at (epoch, batch position) takes
 * `epochBatches(...).slice(position)` and sees exactly what the uninterrupted run would have seen.
 *
 * - Plain: the PyTorch tutorial's `DataLoader(shuffle=True, batch_size=B)`: a random permutation cut into
 *   batches of B, the last partial batch kept (drop_last=False).
 * - Bucketed: the permutation is cut into pools of `poolBatches * B` items; each pool is sorted by duration and
 *   cut into batches, and the order of all batches is shuffled. Batches then hold clips of similar length, which
 *   cuts the padding the model computes on, while every epoch still mixes differently.
 */
import { Random } from "../engine/random.ts";

export interface SamplerOptions {
  batchSize: number;
  /** The run's seed. */
  seed: number;
  /** 0-based epoch number; each epoch gets its own order. */
  epoch: number;
  /** Sort by duration within shuffled pools (needs `seconds` on every item). Default false. */
  bucketed?: boolean;
  /** Pool size in batches for bucketing (default 50). */
  poolBatches?: number;
}

/**
 * The seed of the generator for one epoch. Part of the resume contract: changing it changes the order that
 * resumed runs reproduce.
 */
export function epochSeed(seed: number, epoch: number): number {
  if (!Number.isInteger(seed)) throw new RangeError(`sampler: seed must be an integer, got ${seed}`);
  if (!Number.isInteger(epoch) || epoch < 0) {
    throw new RangeError(`sampler: epoch must be an integer >= 0, got ${epoch}`);
  }
  // A murmur3-style finalizer of (seed, epoch) so neighbouring seeds and epochs give unrelated streams.
  let h = (seed >>> 0) ^ Math.imul(epoch + 1, 0x9e3779b1);
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** The epoch's batches as lists of indices into `items`; every index appears exactly once. */
export function epochBatches(items: readonly { seconds?: number }[], options: SamplerOptions): number[][] {
  const { batchSize } = options;
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw new RangeError(`sampler: batchSize must be an integer >= 1, got ${batchSize}`);
  }
  const rng = new Random(epochSeed(options.seed, options.epoch));
  const order = rng.shuffle(Array.from({ length: items.length }, (_, i) => i));
  if (!options.bucketed) return cut(order, batchSize);

  const poolBatches = options.poolBatches ?? 50;
  if (!Number.isInteger(poolBatches) || poolBatches < 1) {
    throw new RangeError(`sampler: poolBatches must be an integer >= 1, got ${poolBatches}`);
  }
  const seconds = durations(items);
  const poolSize = poolBatches * batchSize;
  const batches: number[][] = [];
  for (let start = 0; start < order.length; start += poolSize) {
    const pool = order.slice(start, start + poolSize);
    // Ties keep their shuffled order (Array.prototype.sort is stable).
    pool.sort((a, b) => seconds[a] - seconds[b]);
    batches.push(...cut(pool, batchSize));
  }
  return rng.shuffle(batches);
}

/** Padding that batching costs: the sum over batches of (longest clip x batch size - audio in the batch). */
export function batchPadding(
  items: readonly { seconds?: number }[],
  batches: readonly (readonly number[])[],
): { audioSeconds: number; paddingSeconds: number } {
  const seconds = durations(items);
  let audioSeconds = 0;
  let paddingSeconds = 0;
  for (const batch of batches) {
    let longest = 0;
    let sum = 0;
    for (const i of batch) {
      longest = Math.max(longest, seconds[i]);
      sum += seconds[i];
    }
    audioSeconds += sum;
    paddingSeconds += longest * batch.length - sum;
  }
  return { audioSeconds, paddingSeconds };
}

function cut(order: number[], size: number): number[][] {
  const batches: number[][] = [];
  for (let i = 0; i < order.length; i += size) batches.push(order.slice(i, i + size));
  return batches;
}

function durations(items: readonly { seconds?: number }[]): Float64Array {
  const seconds = new Float64Array(items.length);
  for (let i = 0; i < items.length; i++) {
    const s = items[i].seconds;
    if (s === undefined || !Number.isFinite(s) || s < 0) {
      const path = (items[i] as { audioPath?: string }).audioPath;
      throw new RangeError(
        `sampler: length bucketing needs a duration for every item; item ${i}` +
          `${path ? ` (${path})` : ""} has ${s} ` +
          `(give a manifest.tsv with durations, or sample without bucketing)`,
      );
    }
    seconds[i] = s;
  }
  return seconds;
}
