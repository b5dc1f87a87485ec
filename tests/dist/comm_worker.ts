/**
 * Run by tests/dist/communicator_test.ts under `mpirun -np 2`: each rank exercises the MPI communicator and
 * prints one JSON line of what it saw.
 */
import { communicator } from "../../dist/open.ts";
import { allGatherJson, allGatherNumbers, broadcastJson } from "../../dist/collectives.ts";

const comm = communicator();
const sum = Float32Array.from({ length: 5 }, (_, i) => (comm.rank + 1) * (i + 1));
await comm.allReduceSum(sum);
const config = await broadcastJson(comm, comm.rank === 0 ? { from: 0, text: "héllo" } : null);
const gathered = await allGatherJson(comm, { rank: comm.rank, words: ["a", "b"].slice(0, comm.rank + 1) });
const maxima = await allGatherNumbers(comm, [10 + comm.rank, 20 * comm.rank]);
await comm.barrier();
console.log(
  JSON.stringify({
    rank: comm.rank,
    size: comm.size,
    localRank: comm.localRank,
    description: comm.description,
    sum: [...sum],
    config,
    gathered,
    maxima,
  }),
);
await comm.close();
