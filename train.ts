/**
 * `deno task train`: trains the recognizer, with a progress bar, metrics.jsonl, report.html, checkpoints that
 * survive a kill, and `--resume` that continues exactly where the run stopped (same batches, same dropout and
 * SpecAugment draws: all randomness is derived from the seed and the global step, not from a running stream).
 * The run itself (resume, model setup, the loss ring, the epoch loop, eval, report) is cli/training_run.ts.
 */
import { runCli } from "./cli/common.ts";
import { parseTrainArgs, SAMPLE_DEFAULTS, TUTORIAL_DEFAULTS } from "./cli/train_args.ts";
import { TrainingRun } from "./cli/training_run.ts";

async function main(argv: string[]): Promise<number> {
  const hasData = argv.some((a) => /^--(data|train)(=|$)/.test(a) || a === "--download") ||
    await Deno.stat("data/LibriSpeech").then(() => true, () => false);
  const args = parseTrainArgs(argv, hasData ? TUTORIAL_DEFAULTS : SAMPLE_DEFAULTS);
  if (!args) return 0;
  const outDir = args.out ?? `runs/${new Date().toISOString().replace(/[:.]/g, "-").slice(0, 19)}`;
  const run = await TrainingRun.open(args, outDir);
  await run.train();
  await run.finish();
  return 0;
}

if (import.meta.main) await runCli("train", () => main(Deno.args));
