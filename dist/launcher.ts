/**
 * Whether this process was started by an MPI launcher, read from the environment the launcher sets: Open MPI's
 * mpirun (OMPI_COMM_WORLD_*), MPICH's Hydra and Slurm's srun with PMI (PMI_SIZE, PMI_RANK, MPI_LOCALRANKID or
 * SLURM_LOCALID). Without these the run is a single process and MPI is never loaded, so a plain
 * `deno task train` does not need an MPI installation.
 */

export interface LaunchInfo {
  /** Which launcher family set the variables (decides which MPI library to try first). */
  kind: "openmpi" | "pmi";
  rank: number;
  size: number;
  /** Rank among this host's ranks (null when the launcher does not say). */
  localRank: number | null;
}

function intVar(env: (name: string) => string | undefined, name: string): number | null {
  const v = env(name);
  if (v === undefined || v === "") return null;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new RangeError(`environment variable ${name}=${v} is not a count`);
  return n;
}

/** The launch this process belongs to, or null when no launcher started it (or it started one process only). */
export function detectLaunch(
  env: (name: string) => string | undefined = (n) => Deno.env.get(n),
): LaunchInfo | null {
  const ompiSize = intVar(env, "OMPI_COMM_WORLD_SIZE");
  if (ompiSize !== null) {
    return {
      kind: "openmpi",
      size: ompiSize,
      rank: intVar(env, "OMPI_COMM_WORLD_RANK") ?? 0,
      localRank: intVar(env, "OMPI_COMM_WORLD_LOCAL_RANK"),
    };
  }
  const pmiSize = intVar(env, "PMI_SIZE");
  if (pmiSize !== null) {
    return {
      kind: "pmi",
      size: pmiSize,
      rank: intVar(env, "PMI_RANK") ?? 0,
      localRank: intVar(env, "MPI_LOCALRANKID") ?? intVar(env, "SLURM_LOCALID"),
    };
  }
  return null;
}
