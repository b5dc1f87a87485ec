/**
 * What the data-parallel training tests compare: the per-step losses of a run folder's metrics.jsonl and the
 * distance between two checkpoints' weights.
 */
import { equal, ok } from "node:assert/strict";
import { loadCheckpoint } from "../../model/checkpoint.ts";

export const TRAIN = new URL("../../train.ts", import.meta.url).pathname;

export const decode = (b: Uint8Array) => new TextDecoder().decode(b);

export async function exists(path: string): Promise<boolean> {
  return await Deno.stat(path).then(() => true, () => false);
}

/**
 * The micro model's short runs on the bundled sample (BiGRUs of 16 on 32 mel bands, 10 steps an epoch of 8,
 * a checkpoint every 3 steps, every step logged): what the fault tests kill, stop and resume.
 */
export function microArgs(epochs: number): string[] {
  return [
    ...["--limit", "80", "--epochs", String(epochs), "--batch-size", "8"],
    ...["--rnn-dim", "16", "--n-feats", "32"],
    ...["--log-every", "1", "--checkpoint-every", "3", "--eval-limit", "8", "--workers", "0"],
  ];
}

/** The per-step training losses a run logged, in step order. */
export async function losses(dir: string): Promise<number[]> {
  const lines = (await Deno.readTextFile(`${dir}/metrics.jsonl`)).trim().split("\n");
  return lines.map((l) => JSON.parse(l)).filter((r) => r.type === "train").map((r) => r.loss);
}

/** Asserts every step's loss within `tolerance` relative of `want`'s; returns the largest difference. */
export function assertLossesClose(got: number[], want: number[], what: string, tolerance = 1e-5): number {
  equal(got.length, want.length, `${what}: ${got.length} steps logged, expected ${want.length}`);
  let worst = 0;
  got.forEach((g, i) => {
    const rel = Math.abs(g - want[i]) / Math.abs(want[i]);
    worst = Math.max(worst, rel);
    ok(rel <= tolerance, `${what}: step ${i + 1} loss ${g} vs ${want[i]} (relative ${rel})`);
  });
  console.log(`${what}: largest relative loss difference ${worst.toExponential(2)}`);
  return worst;
}

/**
 * ||a - b|| / ||b|| over the weights of two checkpoints, all of them or (`skipZeroGradient`) without each ResCNN
 * block's cnn1.bias, whose exact gradient is zero (a per-channel constant that the following LayerNorm over
 * features removes), so that Adam turns the round-off of any summation order into moves of up to lr per step
 * (tests/model/model_test.ts leaves it out of the micro-batch comparison for the same reason).
 */
export async function weightDistance(a: string, b: string, skipZeroGradient = true): Promise<number> {
  const [x, y] = [await loadCheckpoint(a), await loadCheckpoint(b)];
  let diff = 0, norm = 0;
  for (const [name, want] of y.weights) {
    if (skipZeroGradient && name.endsWith(".cnn1.bias")) continue;
    const got = x.weights.get(name)!;
    for (let i = 0; i < want.length; i++) {
      diff += (got[i] - want[i]) ** 2;
      norm += want[i] ** 2;
    }
  }
  return Math.sqrt(diff / norm);
}
