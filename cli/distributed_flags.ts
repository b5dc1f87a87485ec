/**
 * The train command's flags for data-parallel runs under an MPI launcher (declared here, spread into
 * cli/train_args.ts's spec) and what they parse to. They change how an invocation watches its ranks, or how
 * one process sums its gradients, not what the run computes beyond float round-off, so a `--resume` takes them
 * from its own command line.
 */
import type { Flag, FlagValues } from "./flags.ts";

export const DISTRIBUTED_FLAGS = {
  "hang-timeout": {
    type: "number",
    min: 0,
    minExclusive: true,
    arg: "SECS",
    group: "data-parallel (under mpirun)",
    help:
      "seconds a rank may wait in a collective (the other ranks' gradients, a checkpoint, an evaluation) " +
      "before it ends the job with a line naming the rank that did not arrive; once 3 steps are measured, a " +
      "step's collectives wait 10 x the median step where that is longer",
    defaultText: "900 for the first 3 steps, checkpoints and evaluations, else 60",
  },
  "grad-shards": {
    type: "integer",
    min: 1,
    default: 1,
    arg: "K",
    group: "data-parallel (under mpirun)",
    help:
      "in one process, sum each batch's gradient as K ranks would (the batch cut as mpirun -np K cuts it, the " +
      "shards' gradients added in rank order), so that one process reproduces a 2-rank run bit for bit; a " +
      "plain run differs from it by float round-off only; under mpirun the ranks are the shards",
  },
} as const satisfies Record<string, Flag>;

/** What the data-parallel flags parse to (part of TrainArgs). */
export interface DistributedArgs {
  /** `--hang-timeout`: replaces both the watchdog's floor and its first steps' limit, in seconds. */
  hangTimeout?: number;
  /** `--grad-shards`: in one process, the ranks whose gradient sum it reproduces. */
  gradShards: number;
}

export function distributedArgs(values: FlagValues<typeof DISTRIBUTED_FLAGS>): DistributedArgs {
  return { hangTimeout: values["hang-timeout"], gradShards: values["grad-shards"] };
}
