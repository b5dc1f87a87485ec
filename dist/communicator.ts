/**
 * What data-parallel training needs from the processes it runs in: who this process is (rank of size), an
 * in-place sum of f32 values over all ranks, a broadcast from one rank, a barrier and a job-wide abort. MPI
 * implements it across processes and hosts (dist/mpi.ts); {@link SingleProcess} is the one-process case, where
 * every collective is the identity, so the training code has one path.
 */

export interface Communicator {
  /** This process's index, 0 .. size - 1. Rank 0 writes the run folder and prints. */
  readonly rank: number;
  readonly size: number;
  /** This process's index among the ranks on its host (which adapter it takes on a multi-GPU host). */
  readonly localRank: number;
  /** What carries the collectives, for log lines ("Open MPI 4.1.4", "single process"). */
  readonly description: string;
  /** Replaces `values` on every rank with the element-wise sum over all ranks. */
  allReduceSum(values: Float32Array): Promise<void>;
  /** Copies `bytes` of rank `root` into `bytes` of every other rank (all ranks pass the same length). */
  broadcast(bytes: Uint8Array, root: number): Promise<void>;
  /** Returns once every rank has called it. */
  barrier(): Promise<void>;
  /** Ends the whole job, every rank on every host, with exit status `code`. */
  abort(code: number): never;
  /** Leaves the job cleanly (after the last collective). */
  close(): Promise<void>;
}

/** The communicator of a run that is not launched by an MPI launcher: rank 0 of 1. */
export class SingleProcess implements Communicator {
  readonly rank = 0;
  readonly size = 1;
  readonly localRank = 0;
  readonly description = "single process";

  allReduceSum(_values: Float32Array): Promise<void> {
    return Promise.resolve();
  }

  broadcast(_bytes: Uint8Array, root: number): Promise<void> {
    if (root !== 0) throw new RangeError(`broadcast: root ${root} is not a rank of a single process`);
    return Promise.resolve();
  }

  barrier(): Promise<void> {
    return Promise.resolve();
  }

  abort(code: number): never {
    Deno.exit(code);
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
