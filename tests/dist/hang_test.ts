/**
 * A rank that hangs: `deno task train` under `mpirun -np 2` (the micro model of train_compare.ts, an
 * 8 s --hang-timeout), rank 1's process stopped with SIGSTOP once the step-3 checkpoint is on disk. The other
 * rank's watchdog must end the job with a non-zero exit soon after the deadline, with a line naming rank 1 and
 * the collective and step it waited in; no process of the job may be left; the last checkpoint must load; and
 * `--resume` under mpirun must finish the run.
 */
import { equal, match, ok } from "node:assert/strict";
import { loadCheckpoint, loadTrainingState } from "../../model/checkpoint.ts";
import { mpirun, MPIRUN_MISSING, processesOf } from "./mpirun.ts";
import { decode, exists, microArgs, TRAIN } from "./train_compare.ts";

const HANG_TIMEOUT_S = 8;
const ARGS = [...microArgs(1), "--hang-timeout", String(HANG_TIMEOUT_S)];
const STEPS = 10;

/** The newest step checkpoint of a run folder: its step and its two files. */
async function newestCheckpoint(dir: string): Promise<{ step: number; model: string; state: string }> {
  let step = -1;
  for await (const e of Deno.readDir(`${dir}/checkpoints`)) {
    const m = /^step-(\d+)\.safetensors$/.exec(e.name);
    if (m) step = Math.max(step, Number(m[1]));
  }
  ok(step >= 0, `no step checkpoint in ${dir}/checkpoints`);
  const stem = `${dir}/checkpoints/step-${String(step).padStart(6, "0")}`;
  return { step, model: `${stem}.safetensors`, state: `${stem}.state.safetensors` };
}

Deno.test({
  name:
    "a stopped rank ends the job past the deadline, naming it; the last checkpoint loads; --resume finishes",
  ignore: MPIRUN_MISSING !== null,
  fn: async () => {
    const root = await Deno.makeTempDir();
    const out = `${root}/hung`;
    try {
      const job = mpirun(2, TRAIN, [...ARGS, "--out", out]).spawn();
      const target = `${out}/checkpoints/step-000003.safetensors`;
      for (let i = 0; i < 6000 && !await exists(target); i++) await new Promise((r) => setTimeout(r, 20));
      ok(await exists(target), "the run never wrote its step-3 checkpoint");
      const victim = (await processesOf(out)).find((p) => p.rank === "1");
      ok(victim, "rank 1's process not found");
      Deno.kill(victim.pid, "SIGSTOP");
      const stoppedAt = performance.now();

      // Rank 0 waits at most one step before it blocks, then the deadline: 10 x the median step or the
      // --hang-timeout, whichever is longer (printed in the line); then mpirun ends the job.
      const ended = await Promise.race([
        job.output(),
        new Promise<null>((r) => setTimeout(() => r(null), 120_000)),
      ]);
      ok(ended, "the job was still running 120 s after a rank was stopped");
      const seconds = (performance.now() - stoppedAt) / 1000;
      const stderr = decode(ended.stderr);
      ok(!ended.success, "the job should fail when a rank hangs");
      const line = stderr.split("\n").find((l) => l.startsWith("train: rank 1 "));
      ok(line, `no line naming rank 1 in:\n${stderr}`);
      console.log(line);
      match(
        line,
        /^train: rank 1 \(pid \d+ on .+\) (has not reached this collective|entered this collective but stopped responding)/,
      );
      const waited =
        /rank 0 waited (\d+\.\d) s in the (batch-size exchange|gradient all-reduce|loss readback|checkpoint) (of|after) step \d+ /
          .exec(line);
      ok(waited, `the line should say where rank 0 waited, and for how long: ${line}`);
      const deadline = Number(waited[1]);
      ok(deadline >= HANG_TIMEOUT_S, `the deadline ${deadline} s is below --hang-timeout ${HANG_TIMEOUT_S}`);
      console.log(`the job ended ${seconds.toFixed(1)} s after the stop (deadline ${deadline} s)`);
      ok(
        seconds <= deadline + 10,
        `the job ended ${seconds.toFixed(1)} s after the stop, deadline ${deadline} s`,
      );
      equal((await processesOf(out)).length, 0, "a process of the hung job is left behind");

      const last = await newestCheckpoint(out);
      ok(last.step >= 3, `the newest checkpoint is of step ${last.step}`);
      const model = await loadCheckpoint(last.model);
      equal(model.config.rnnDim, 16);
      const state = await loadTrainingState(last.state);
      equal((state.meta.position as { step: number }).step, last.step);

      const resumed = await mpirun(2, TRAIN, [...ARGS, "--out", out, "--resume"]).output();
      const resumedLog = decode(resumed.stdout);
      equal(resumed.code, 0, decode(resumed.stderr));
      ok(resumedLog.includes(`resuming at step ${last.step} `), resumedLog);
      const records = (await Deno.readTextFile(`${out}/metrics.jsonl`)).trim().split("\n").map((l) =>
        JSON.parse(l)
      );
      const steps = records.filter((r) => r.type === "train").map((r) => r.step);
      equal(
        steps.join(","),
        Array.from({ length: STEPS }, (_, i) => i + 1).join(","),
        "each step logged once",
      );
      ok(
        await exists(`${out}/checkpoints/step-0000${STEPS}.safetensors`),
        "the resumed run's last checkpoint",
      );
      ok(!await exists(`${out}/.heartbeats`), "a finished run removes its heartbeat folder");
    } finally {
      for (const p of await processesOf(out)) {
        try {
          Deno.kill(p.pid, "SIGKILL");
        } catch { /* gone meanwhile */ }
      }
      await Deno.remove(root, { recursive: true });
    }
  },
});
