/**
 * The training CLI end to end on the bundled sample corpus, with a micro model: a run killed with SIGKILL in
 * the middle of an epoch and resumed with --resume logs exactly the losses of an uninterrupted run.
 */
import { deepEqual, equal, ok } from "node:assert/strict";

const TRAIN = new URL("../../train.ts", import.meta.url).pathname;
const ARGS = [
  "--limit",
  "40",
  "--epochs",
  "2",
  "--batch-size",
  "10",
  "--rnn-dim",
  "16",
  "--n-feats",
  "32",
  "--log-every",
  "1",
  "--checkpoint-every",
  "3",
  "--eval-limit",
  "10",
  "--workers",
  "0",
];

function train(out: string, extra: string[] = []): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", TRAIN, ...ARGS, "--out", out, ...extra],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
}

async function losses(dir: string): Promise<number[]> {
  const lines = (await Deno.readTextFile(`${dir}/metrics.jsonl`)).trim().split("\n");
  return lines.map((l) => JSON.parse(l)).filter((r) => r.type === "train").map((r) => r.loss);
}

async function exists(path: string): Promise<boolean> {
  return await Deno.stat(path).then(() => true, () => false);
}

Deno.test("a run killed mid-epoch and resumed ends with the same losses as an uninterrupted run", async () => {
  const root = await Deno.makeTempDir();
  const straight = await train(`${root}/a`).output();
  equal(straight.code, 0, new TextDecoder().decode(straight.stderr));
  const expected = await losses(`${root}/a`);
  equal(expected.length, 8);

  // Kill the second run with SIGKILL once the mid-epoch checkpoint of step 6 (epoch 2, batch 2 of 4) is on disk.
  const child = train(`${root}/b`);
  const target = `${root}/b/checkpoints/step-000006.safetensors`;
  for (let i = 0; i < 3000 && !await exists(target); i++) await new Promise((r) => setTimeout(r, 20));
  ok(await exists(target), "the run never wrote its step-6 checkpoint");
  child.kill("SIGKILL");
  const killed = await child.output();
  ok(!killed.success, "the first run should have been killed");

  const resumed = await train(`${root}/b`, ["--resume"]).output();
  const log = new TextDecoder().decode(resumed.stdout);
  equal(resumed.code, 0, new TextDecoder().decode(resumed.stderr));
  ok(/resuming at step 6 \(epoch 2, batch 3\)/.test(log), log);
  deepEqual(await losses(`${root}/b`), expected);
  ok(await exists(`${root}/b/report.html`));
  await Deno.remove(root, { recursive: true });
});
