/**
 * `deno task train`: trains the recognizer, with a progress bar, metrics.jsonl, report.html, checkpoints that
 * survive a kill, and `--resume` that continues exactly where the run stopped (same batches, same dropout and
 * SpecAugment draws: all randomness is derived from the seed and the global step, not from a running stream).
 * The run itself (resume, model setup, the loss ring, the epoch loop, eval, report) is cli/training_run.ts.
 * It ends with the command that tries the best model on a held-out clip, run once so its answer shows.
 */
import { relative } from "node:path";
import { runCli } from "./cli/common.ts";
import { parseTrainArgs, SAMPLE_DEFAULTS, TUTORIAL_DEFAULTS } from "./cli/train_args.ts";
import { TrainingRun } from "./cli/training_run.ts";
import { main as transcribe } from "./cli/transcribe.ts";

/** A path relative to the working folder when inside it. */
function shown(path: string): string {
  const rel = relative(Deno.cwd(), path);
  return rel.startsWith("..") ? path : rel;
}

/** A path as one shell word, quoted when it needs quoting. */
function shellWord(path: string): string {
  return /^[\w./+-]+$/.test(path) ? path : `'${path.replaceAll("'", `'\\''`)}'`;
}

/** Prints `deno task transcribe` on the first held-out clip with the best checkpoint, and runs it. */
async function tryTheModel(run: TrainingRun): Promise<void> {
  const clip = run.data.eval[0];
  if (!clip || !await Deno.stat(run.manager.bestPath).then(() => true, () => false)) return;
  const [best, file] = [shown(run.manager.bestPath), shown(clip.audioPath)];
  console.log(
    `\nTry the model on a held-out clip (it says "${clip.transcript.toLowerCase()}"):\n` +
      `  deno task transcribe --checkpoint ${shellWord(best)} ${shellWord(file)}`,
  );
  await transcribe(["--checkpoint", best, file]);
}

async function main(argv: string[]): Promise<number> {
  const hasData = argv.some((a) => /^--(data|train)(=|$)/.test(a) || a === "--download") ||
    await Deno.stat("data/LibriSpeech").then(() => true, () => false);
  const args = parseTrainArgs(argv, hasData ? TUTORIAL_DEFAULTS : SAMPLE_DEFAULTS);
  if (!args) return 0;
  const outDir = args.out ?? `runs/${new Date().toISOString().replace(/[:.]/g, "-").slice(0, 19)}`;
  const run = await TrainingRun.open(args, outDir);
  await run.train();
  await run.finish();
  await tryTheModel(run);
  return 0;
}

if (import.meta.main) await runCli("train", () => main(Deno.args));
