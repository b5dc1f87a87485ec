/**
 * Where a training run's model comes from, decided on the CPU before any GPU work: a resumed run's own checkpoint,
 * another checkpoint to fine-tune (`--init-from`: its architecture, with the `--alphabet` classes when given), or
 * a fresh model of the flags' config. The data is read after it, so that its transcripts are checked against the
 * model's alphabet (cli/train_data.ts).
 */
import { type Alphabet, AlphabetError, readAlphabetFile } from "../data/alphabet.ts";
import { checkWeights, loadCheckpoint } from "../model/checkpoint.ts";
import { type ModelConfig, withAlphabet } from "../model/config.ts";
import { describeInit, matchWeights } from "../model/init_from.ts";
import { parameterSpecs } from "../model/recognizer.ts";
import { UsageError } from "./common.ts";
import type { TrainArgs } from "./train_args.ts";

export interface ModelSource {
  config: ModelConfig;
  /** The weights to start from (all of them when resuming, the matched ones when fine-tuning), or none. */
  weights?: Map<string, Float32Array>;
  /** What to print about it (the init-from report). */
  notes: string[];
}

async function readAlphabet(path: string): Promise<Alphabet> {
  try {
    return await readAlphabetFile(path);
  } catch (e) {
    if (e instanceof AlphabetError) throw new UsageError(`--alphabet: ${e.message}`);
    throw e;
  }
}

async function loadOrExplain(path: string, flag: string) {
  try {
    await Deno.stat(path);
  } catch {
    throw new UsageError(`${flag}: checkpoint not found: ${path}`);
  }
  try {
    return await loadCheckpoint(path);
  } catch (e) {
    throw new UsageError(`${flag}: ${(e as Error).message}`);
  }
}

/** The model field each model flag sets. */
const MODEL_FLAG_FIELDS = {
  "n-cnn-layers": "nCnnLayers",
  "n-rnn-layers": "nRnnLayers",
  "rnn-dim": "rnnDim",
  "n-feats": "nFeats",
  dropout: "dropout",
  "gru-layout": "gruLayout",
  features: "features",
} as const satisfies Record<string, keyof ModelConfig>;

/**
 * The model flags given ("--rnn-dim 32") that ask for something other than the checkpoint's model; --config
 * counts where a size it sets (and no flag of its own) differs.
 */
function overruledModelFlags(args: TrainArgs, checkpoint: ModelConfig): string[] {
  const fields = MODEL_FLAG_FIELDS as Record<string, keyof ModelConfig>;
  const differs = (field: keyof ModelConfig) => args.config[field] !== checkpoint[field];
  return args.modelFlags.filter((name) =>
    name === "config"
      ? Object.entries(fields).some(([flag, field]) => !args.modelFlags.includes(flag) && differs(field))
      : fields[name] !== undefined && differs(fields[name])
  ).map((name) => `--${name} ${name === "config" ? args.configName : args.config[fields[name]]}`);
}

/**
 * The model a run starts from. `resumeModel` is the run's own latest checkpoint when resuming: it wins over
 * everything (the run's alphabet and weights are in it).
 */
export async function modelSource(args: TrainArgs, resumeModel: string | null): Promise<ModelSource> {
  if (resumeModel) {
    const ck = await loadOrExplain(resumeModel, "--resume");
    try {
      checkWeights(ck.weights, parameterSpecs(ck.config), resumeModel, ck.shapes);
    } catch (e) {
      throw new UsageError((e as Error).message);
    }
    return { config: ck.config, weights: ck.weights, notes: [] };
  }
  const alphabet = args.alphabetFile ? await readAlphabet(args.alphabetFile) : undefined;
  if (!args.initFrom) {
    return { config: alphabet ? withAlphabet(args.config, alphabet) : args.config, notes: [] };
  }
  const ck = await loadOrExplain(args.initFrom, "--init-from");
  const config = alphabet ? withAlphabet(ck.config, alphabet) : ck.config;
  const { weights, report } = matchWeights(parameterSpecs(config), ck.weights, ck.shapes);
  const notes = describeInit(report, args.initFrom);
  const overruled = overruledModelFlags(args, ck.config);
  if (overruled.length > 0) {
    notes.push(
      `--init-from: the model is the checkpoint's, so ${overruled.join(", ")} ` +
        `${overruled.length === 1 ? "is" : "are"} not used (only --alphabet changes it: the output layer)`,
    );
  }
  return { config, weights, notes };
}
