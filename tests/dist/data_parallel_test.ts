/**
 * `deno task train` under `mpirun -np 2` on the bundled sample corpus with the tiny model (1 ResCNN + 2 BiGRU of
 * 128 on 128 mel bands, dropout and SpecAugment on): 2 ranks x global batch 8 for 20 steps give the per-step
 * losses and final weights of one process with batch 8, in one run folder.
 *
 * Two references. One process with `--grad-shards 2` sums each batch's gradient as the two ranks do (the shards'
 * sums added, a + b, as the all-reduce adds them): the 2-rank run must equal it bit for bit, losses and every
 * weight, so the data-parallel machinery (sharding, padding, per-sample dropout and SpecAugment, loss weights,
 * all-reduce, broadcast) adds nothing. A plain process sums the whole batch in its kernels' own order, which
 * differs from the ranks' by float round-off; AdamW's normalised steps carry that round-off into the weights
 * (1e-5 of their norm after these 20 steps), so it is held to its losses (1e-5) and a round-off bound.
 */
import { equal, ok } from "node:assert/strict";
import { mpirun, MPIRUN_MISSING } from "./mpirun.ts";
import { assertLossesClose, decode, losses, TRAIN, weightDistance } from "./train_compare.ts";

const ARGS = [
  "--config",
  "tiny",
  "--limit",
  "160",
  "--epochs",
  "1",
  "--batch-size",
  "8",
  "--specaugment",
  // The tutorial's learning rate. At the sample recipe's 3e-3 the plain process's weights end 4e-5 from the
  // ranks' (its losses within 1e-5 still): AdamW's sign-like steps grow the round-off of the two summation
  // orders; the --grad-shards 2 reference stays bit-identical at any rate.
  "--lr",
  "5e-4",
  "--log-every",
  "1",
  "--eval-limit",
  "8",
  "--workers",
  "0",
];
const STEPS = 20;
const FINAL = `checkpoints/step-0000${STEPS}.safetensors`;

async function train(out: string, extra: string[] = []): Promise<void> {
  const r = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", TRAIN, ...ARGS, ...extra, "--out", out],
    stdout: "piped",
    stderr: "piped",
  }).output();
  equal(r.code, 0, decode(r.stderr));
}

Deno.test({
  name: "2 ranks x global batch 8 train the tiny model as one process of batch 8",
  ignore: MPIRUN_MISSING !== null,
  fn: async () => {
    const root = await Deno.makeTempDir();
    const two = await mpirun(2, TRAIN, [...ARGS, "--out", `${root}/two`]).output();
    const log = decode(two.stdout);
    equal(two.code, 0, decode(two.stderr));
    ok(log.includes("data-parallel over 2 ranks"), log);
    equal(log.match(/^done: /gm)?.length, 1, "rank 0 alone reports");
    // One run folder: one "run" record, each step logged once, no other folder beside it.
    const records = (await Deno.readTextFile(`${root}/two/metrics.jsonl`)).trim().split("\n");
    equal(records.filter((l) => l.includes('"type":"run"')).length, 1);
    equal([...Deno.readDirSync(root)].length, 1);
    const got = await losses(`${root}/two`);
    equal(got.length, STEPS);

    await train(`${root}/sharded`, ["--grad-shards", "2"]);
    const sharded = await losses(`${root}/sharded`);
    equal(got.join(), sharded.join(), "the 2-rank losses are not those of one process with --grad-shards 2");
    const exact = await weightDistance(`${root}/two/${FINAL}`, `${root}/sharded/${FINAL}`, false);
    console.log(`2 ranks vs one process with --grad-shards 2: weights differ by ${exact} (relative norm)`);
    equal(exact, 0, "the 2-rank weights are not those of one process with --grad-shards 2");

    await train(`${root}/plain`);
    assertLossesClose(got, await losses(`${root}/plain`), "2 ranks vs one plain process");
    const distance = await weightDistance(`${root}/two/${FINAL}`, `${root}/plain/${FINAL}`);
    console.log(
      `2 ranks vs one plain process: weights differ by ${distance.toExponential(2)} (relative norm)`,
    );
    // Measured 1.04e-5 here (4e-5 at lr 3e-3): round-off of two summation orders, not a difference in what is
    // computed, which the bit-identical --grad-shards 2 run above rules out.
    ok(distance <= 3e-5, `final weights differ by ${distance} (relative norm)`);
    await Deno.remove(root, { recursive: true });
  },
});
