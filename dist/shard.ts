/**
 * How a global batch is split across ranks: rank r of N takes the contiguous utterances
 * [floor(r B / N), floor((r + 1) B / N)) of the batch's list, so that the ranks' shards, in rank order, are the
 * batch in its own order (sample i of the global batch is sample i - first of one shard). What each rank
 * decoded is then agreed in one small all-reduce: the global count (the loss is the mean over it), each
 * rank's first sample (dropout and SpecAugment draws are the global batch's), and the longest input and label
 * (every shard is padded as the whole batch would be).
 */
import { allGatherNumbers } from "./collectives.ts";
import type { Communicator } from "./communicator.ts";

/** Rank `rank`'s part [start, end) of `n` items split over `size` ranks. */
export function shardRange(n: number, rank: number, size: number): [number, number] {
  return [Math.floor((rank * n) / size), Math.floor(((rank + 1) * n) / size)];
}

/** What one rank decoded of its shard. */
export interface ShardShape {
  utterances: number;
  /** Spectrogram frames of its longest input (0 for an empty shard). */
  frames: number;
  /** Its longest label. */
  maxLabel: number;
}

/** The global batch as the ranks' shards make it up. */
export interface GlobalBatch {
  utterances: number;
  /** This rank's first sample's index in the global batch. */
  firstSample: number;
  frames: number;
  maxLabel: number;
}

/** Combines the ranks' shard shapes (one all-reduce of 3 N floats). */
export async function globalBatch(comm: Communicator, mine: ShardShape): Promise<GlobalBatch> {
  const all = await allGatherNumbers(comm, [mine.utterances, mine.frames, mine.maxLabel]);
  return {
    utterances: all.reduce((s, r) => s + r[0], 0),
    firstSample: all.slice(0, comm.rank).reduce((s, r) => s + r[0], 0),
    frames: Math.max(...all.map((r) => r[1])),
    maxLabel: Math.max(...all.map((r) => r[2])),
  };
}
