/**
 * Naming the rank a hang waits for: heartbeat files of 4 ranks in one folder (one behind, one stale inside the
 * same collective, one without a file), and a watchdog over a communicator whose all-reduce never returns (a
 * peer that never arrives), which must expire with a line naming the laggard, the collective and the wait.
 */
import { deepEqual, equal, match, ok } from "node:assert/strict";
import type { Communicator } from "../../dist/communicator.ts";
import { heartbeatDir, Heartbeats } from "../../dist/heartbeat.ts";
import { Watchdog } from "../../dist/watchdog.ts";

Deno.test("heartbeats: rank 0 empties the folder; the ranks behind, stale or unseen are named", () => {
  const run = Deno.makeTempDirSync();
  const dir = heartbeatDir(run);
  Deno.mkdirSync(dir);
  Deno.writeTextFileSync(`${dir}/rank-3.json`, JSON.stringify({ calls: 99, what: "an earlier job" }));
  Heartbeats.prepare(dir);
  deepEqual([...Deno.readDirSync(dir)], [], "prepare leaves an empty folder");

  const [r0, r1, r2] = [0, 1, 2].map((r) => new Heartbeats(dir, r, 4));
  r0.beat(12, "the gradient all-reduce of step 4");
  r1.beat(11, "the batch-size exchange of step 4");
  r2.beat(12, "the gradient all-reduce of step 4");
  const beats = r0.others();
  equal(beats.get(1)?.calls, 11);
  equal(beats.get(1)?.what, "the batch-size exchange of step 4");
  equal(beats.get(1)?.pid, Deno.pid);
  equal(beats.get(3), null, "rank 3 wrote nothing");

  const now = beats.get(2)!.at + 7000;
  const line = r0.blame(12, 5000, now);
  const parts = line.split("; ");
  equal(parts.length, 3, line);
  match(
    parts[0],
    /^rank 1 \(pid \d+ on .+\) has not reached this collective: its last heartbeat, \d+\.\d s ago/,
  );
  ok(parts[0].endsWith("was from the batch-size exchange of step 4"), parts[0]);
  match(
    parts[1],
    /^rank 2 \(pid \d+ on .+\) entered this collective but stopped responding: its last heartbeat was 7\.0 s ago$/,
  );
  match(parts[2], /^rank 3 has no heartbeat in .*\.heartbeats on this host/);

  // Fresh, and in the same collective: nobody to blame but MPI or the network.
  const pair = [0, 1].map((r) => new Heartbeats(dir, r, 2));
  pair[0].beat(20, "x");
  pair[1].beat(20, "x");
  match(pair[0].blame(20, 5000), /^every other rank has entered this collective too/);
  // A longer beat, then a shorter one: the file still parses (padded, no bytes of the longer one after it).
  pair[1].beat(21, "the evaluation after epoch 12 of a rather long run");
  pair[1].beat(22, "y");
  equal(pair[0].others().get(1)?.what, "y");
  for (const h of [r0, r1, r2, ...pair]) h.close();

  Heartbeats.remove(dir);
  ok(![...Deno.readDirSync(run)].some((e) => e.name === ".heartbeats"));
  // A rank whose run folder is not on its host writes nothing (and fails nothing).
  const elsewhere = new Heartbeats(dir, 1, 2);
  elsewhere.beat(1, "x");
  elsewhere.close();
  ok(![...Deno.readDirSync(run)].some((e) => e.name === ".heartbeats"));
  Deno.removeSync(run, { recursive: true });
});

/** Rank 0 of 2 whose peer does not arrive: every collective stays pending until `arrive`. */
function strandedRank(): { comm: Communicator; arrive: () => void } {
  const waiting: (() => void)[] = [];
  const pending = () => new Promise<void>((r) => waiting.push(r));
  const comm: Communicator = {
    rank: 0,
    size: 2,
    localRank: 0,
    description: "a peer that does not arrive",
    allReduceSum: pending,
    broadcast: pending,
    barrier: pending,
    abort: () => {
      throw new Error("not in this test");
    },
    close: () => Promise.resolve(),
  };
  return { comm, arrive: () => waiting.forEach((r) => r()) };
}

Deno.test("watchdog: a collective past its deadline names the rank that did not arrive, and its phase", async () => {
  const run = Deno.makeTempDirSync();
  const dir = heartbeatDir(run);
  Heartbeats.prepare(dir);
  const peer = new Heartbeats(dir, 1, 2);
  peer.beat(0, "the batch-size exchange of step 1");
  let expired: (line: string) => void = () => {};
  const line = new Promise<string>((r) => expired = r);
  const own = new Heartbeats(dir, 0, 2);
  const watchdog = new Watchdog((l) => expired(l), { startupSeconds: 0.2 }, own);
  const stranded = strandedRank();
  const comm = watchdog.watch(stranded.comm);
  // The watchdog's line is what would end the job; here the test reads it, then lets the peer arrive.
  const reduced = watchdog.guard(
    "the gradient all-reduce of step 1",
    () => comm.allReduceSum(new Float32Array(4)),
  );
  const got = await line;
  stranded.arrive();
  await reduced;
  match(
    got,
    /^rank 1 \(pid \d+ on .+\) has not reached this collective: .* was from the batch-size exchange of step 1; /,
  );
  ok(
    got.endsWith("rank 0 waited 0.2 s in the gradient all-reduce of step 1 (the first 3 steps' limit)"),
    got,
  );
  const mine = JSON.parse(Deno.readTextFileSync(`${dir}/rank-0.json`));
  equal(mine.calls, 1);
  equal(mine.what, "the gradient all-reduce of step 1");
  own.close();
  peer.close();
  Deno.removeSync(run, { recursive: true });
});
