/**
 * The communicator: launcher detection from the environment, the single-process identity collectives, and the
 * MPI implementation under `mpirun -np 2` (sum, JSON broadcast and gather, per-rank numbers, barrier), plus the
 * one clear line when the library cannot be loaded.
 */
import { deepEqual, equal, ok } from "node:assert/strict";
import { SingleProcess } from "../../dist/communicator.ts";
import { detectLaunch } from "../../dist/launcher.ts";
import { mpirun, MPIRUN_MISSING } from "./mpirun.ts";

const WORKER = new URL("./comm_worker.ts", import.meta.url).pathname;

Deno.test("launcher detection: Open MPI, PMI (Hydra, srun), none", () => {
  const env = (vars: Record<string, string>) => (n: string) => vars[n];
  deepEqual(
    detectLaunch(
      env({ OMPI_COMM_WORLD_SIZE: "4", OMPI_COMM_WORLD_RANK: "3", OMPI_COMM_WORLD_LOCAL_RANK: "1" }),
    ),
    { kind: "openmpi", size: 4, rank: 3, localRank: 1 },
  );
  deepEqual(detectLaunch(env({ PMI_SIZE: "2", PMI_RANK: "1", SLURM_LOCALID: "0" })), {
    kind: "pmi",
    size: 2,
    rank: 1,
    localRank: 0,
  });
  equal(detectLaunch(env({})), null);
  let message = "";
  try {
    detectLaunch(env({ PMI_SIZE: "two" }));
  } catch (e) {
    message = (e as Error).message;
  }
  equal(message, "environment variable PMI_SIZE=two is not a count");
});

Deno.test("a single process: rank 0 of 1, collectives leave values as they are", async () => {
  const c = new SingleProcess();
  const v = Float32Array.of(1, 2, 3);
  await c.allReduceSum(v);
  deepEqual([...v], [1, 2, 3]);
  equal(c.rank, 0);
  equal(c.size, 1);
});

Deno.test({
  name: "MPI over FFI under mpirun -np 2: sum, broadcast, gather, barrier",
  ignore: MPIRUN_MISSING !== null,
  fn: async () => {
    const out = await mpirun(2, WORKER).output();
    const stdout = new TextDecoder().decode(out.stdout);
    equal(out.code, 0, new TextDecoder().decode(out.stderr));
    const ranks = stdout.trim().split("\n").map((l) => JSON.parse(l)).sort((a, b) => a.rank - b.rank);
    equal(ranks.length, 2);
    ranks.forEach((r, i) => {
      equal(r.rank, i);
      equal(r.size, 2);
      equal(r.localRank, i);
      ok(/Open MPI|MPICH/.test(r.description), r.description);
      deepEqual(r.sum, [3, 6, 9, 12, 15]);
      deepEqual(r.config, { from: 0, text: "héllo" });
      deepEqual(r.gathered, [{ rank: 0, words: ["a"] }, { rank: 1, words: ["a", "b"] }]);
      deepEqual(r.maxima, [[10, 0], [11, 20]]);
    });
  },
});

Deno.test({
  name: "launched by mpirun without a loadable MPI library: one line from rank 0, the job fails",
  ignore: MPIRUN_MISSING !== null,
  fn: async () => {
    const out = await mpirun(2, WORKER, [], { MPI_LIBRARY: "/nonexistent/libmpi.so.40" }).output();
    const stderr = new TextDecoder().decode(out.stderr);
    ok(!out.success);
    equal(new TextDecoder().decode(out.stdout).includes('"rank"'), false, "no rank ran alone");
    equal(stderr.match(/no MPI library could be loaded/g)?.length, 1, stderr);
    ok(stderr.includes("/nonexistent/libmpi.so.40"), stderr);
  },
});
