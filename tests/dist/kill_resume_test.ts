/**
 * A rank killed with SIGKILL mid-epoch under `mpirun -np 2`: the job ends within 30 s with a failure and leaves
 * no process behind, and `--resume` under mpirun then finishes with the losses of an uninterrupted run. A micro
 * model (BiGRUs of 16 on 32 mel bands, dropout and SpecAugment on) keeps the three runs short.
 */
import { equal, ok } from "node:assert/strict";
import { mpirun, MPIRUN_MISSING, processesOf } from "./mpirun.ts";
import { assertLossesClose, decode, exists, losses, microArgs, TRAIN } from "./train_compare.ts";

const ARGS = [...microArgs(2), "--specaugment", "--lr", "5e-4"];
const STEPS = 20;

Deno.test({
  name: "SIGKILL of a rank ends the job; --resume under mpirun finishes as an uninterrupted run",
  ignore: MPIRUN_MISSING !== null,
  fn: async () => {
    const root = await Deno.makeTempDir();
    const single = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", TRAIN, ...ARGS, "--out", `${root}/single`],
      stdout: "piped",
      stderr: "piped",
    }).output();
    equal(single.code, 0, decode(single.stderr));
    const expected = await losses(`${root}/single`);
    equal(expected.length, STEPS);

    // SIGKILL rank 1 once the step-12 checkpoint (epoch 2, batch 2 of 10) is on disk.
    const out = `${root}/killed`;
    const job = mpirun(2, TRAIN, [...ARGS, "--out", out]).spawn();
    const target = `${out}/checkpoints/step-000012.safetensors`;
    for (let i = 0; i < 6000 && !await exists(target); i++) await new Promise((r) => setTimeout(r, 20));
    ok(await exists(target), "the run never wrote its step-12 checkpoint");
    const victim = (await processesOf(out)).find((p) => p.rank === "1");
    ok(victim, "rank 1's process not found");
    Deno.kill(victim.pid, "SIGKILL");
    const ended = await Promise.race([
      job.output(),
      new Promise<null>((r) => setTimeout(() => r(null), 30_000)),
    ]);
    ok(ended, "the job was still running 30 s after a rank was killed");
    ok(!ended.success, "the job should fail when a rank dies");
    equal((await processesOf(out)).length, 0, "a process of the killed job is left behind");

    const resumed = await mpirun(2, TRAIN, [...ARGS, "--out", out, "--resume"]).output();
    const resumedLog = decode(resumed.stdout);
    equal(resumed.code, 0, decode(resumed.stderr));
    ok(/resuming at step 1[2-9] \(epoch 2, batch \d\)/.test(resumedLog), resumedLog);
    assertLossesClose(await losses(out), expected, "killed and resumed");
    await Deno.remove(root, { recursive: true });
  },
});
