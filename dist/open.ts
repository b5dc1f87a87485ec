/**
 * The communicator of this process: MPI when a launcher started it (dist/launcher.ts), else a single process.
 * Launched by mpirun but unable to use MPI, every rank would otherwise train alone and write the same run
 * folder N times: instead rank 0 prints one line saying why and every rank exits with status 1.
 */
import type { Communicator } from "./communicator.ts";
import { SingleProcess } from "./communicator.ts";
import { detectLaunch } from "./launcher.ts";
import { MpiCommunicator, MpiUnavailableError } from "./mpi.ts";

let current: Communicator | null = null;

/** Opens (once per process) the communicator the launch environment asks for. */
export function communicator(): Communicator {
  if (current) return current;
  const launch = detectLaunch();
  if (!launch) return current = new SingleProcess();
  try {
    current = MpiCommunicator.open(launch.kind, launch.localRank);
  } catch (e) {
    if (launch.rank === 0) {
      const why = e instanceof MpiUnavailableError
        ? e.message
        : `MPI failed to start: ${(e as Error).message}`;
      console.error(`error: ${why}`);
    }
    Deno.exit(1);
  }
  if (current.size !== launch.size || current.rank !== launch.rank) {
    console.error(
      `error: MPI says rank ${current.rank} of ${current.size}, the launcher said ${launch.rank} of ` +
        `${launch.size}: the library does not match the launcher (mpirun of one MPI, library of another?)`,
    );
    current.abort(1);
  }
  return current;
}
