/** The flags of `deno task train`, their defaults (the tutorial's), and validation with clear messages. */
import {
  type FeatureKind,
  type GruLayout,
  type ModelConfig,
  PRESETS,
  validateConfig,
} from "../model/config.ts";
import { UsageError } from "./common.ts";
import { defineCli, type Flag, helpText, parseFlags } from "./flags.ts";
import { DISTRIBUTED_FLAGS, type DistributedArgs, distributedArgs } from "./distributed_flags.ts";
import { FINETUNE_FLAGS, type FinetuneArgs, finetuneArgs } from "./finetune_flags.ts";
import { DATA_FLAGS, type TrainDataArgs, trainDataArgs } from "./train_data_flags.ts";

export interface TrainArgs extends FinetuneArgs, TrainDataArgs, DistributedArgs {
  config: ModelConfig;
  configName: string;
  /** The names of the model flags the command line gave ("rnn-dim"): --init-from says which it overrules. */
  modelFlags: string[];
  epochs: number;
  batchSize: number;
  lr: number;
  anneal: "linear" | "cos";
  clipGradNorm?: number;
  specAugment: boolean;
  bucketed: boolean;
  seed: number;
  workers: number;
  out?: string;
  resume: boolean;
  logEvery: number;
  checkpointEvery: number;
  keep: number;
  evalLimit?: number;
  /** Print the profile table (phases, kernel families) at the end. */
  profile: boolean;
  /** Print the memory peaks at the end. */
  memory: boolean;
  /** Cap on the engine's GPU memory in bytes (null: none). */
  memoryLimit: number | null;
}

/** Defaults that depend on the data (the bundled sample trains a tiny model faster with its own recipe). */
export interface TrainDefaults {
  config: string;
  epochs: number;
  batchSize: number;
  lr: number;
  clipGradNorm?: number;
  specAugment?: boolean;
  /** Length-bucketed batches even without --bucketed. */
  bucketed?: boolean;
  /**
   * Model sizes that override the preset when --config is not given; each size flag given on the command line
   * (--n-feats, --n-cnn-layers, --rnn-dim) wins over its entry here.
   */
  model?: { nFeats?: number; nCnnLayers?: number; rnnDim?: number };
}

/** The tutorial's recipe, used for a user's data. */
export const TUTORIAL_DEFAULTS: TrainDefaults = { config: "tutorial", epochs: 10, batchSize: 20, lr: 5e-4 };

/**
 * The bundled sample corpus (1,500 isolated spoken digits, 300 more for dev): the tiny preset cut down to what
 * ten words need, so that a first run ends in minutes on two CPU cores: no ResCNN block (its 32-channel 3x3
 * convolutions were a third of the step), 2 BiGRU layers of 64 (a quarter of the recurrent matmuls of 128) on
 * 32 mel bands (the audio is 8 kHz, so the tutorial's bands above 4 kHz would be empty); batches of 8 in length
 * buckets, a high learning rate and no SpecAugment (its 35-frame time masks cover whole digits).
 * Measured on a quiet 2-core machine whose matmul ran at 2.8 GFLOP/s (a third of this host's usual speed):
 * 940 steps, 3:30 wall for the whole command; dev CER 0.95, 0.68, 0.19, 0.073, 0.062 after epochs 1-5. The
 * full tiny model on 64 bands (the earlier recipe) reaches 0.037 but took 13:56 on the same machine.
 */
export const SAMPLE_DEFAULTS: TrainDefaults = {
  config: "tiny",
  epochs: 5,
  batchSize: 8,
  lr: 3e-3,
  clipGradNorm: 400,
  specAugment: false,
  bucketed: true,
  model: { nFeats: 32, nCnnLayers: 0, rnnDim: 64 },
};

/** The bundled sample's recipe in words, for --help. */
function sampleRecipe(): string {
  const d = SAMPLE_DEFAULTS;
  const m = d.model!;
  return `${d.config} with ${m.nCnnLayers} ResCNN layers and BiGRUs of ${m.rnnDim} on ${m.nFeats} mel bands, ` +
    `with ${d.epochs} epochs, batch ${d.batchSize} in length buckets, ` +
    `lr ${d.lr}, clip ${d.clipGradNorm} and no SpecAugment`;
}

/** The model: a preset and the sizes and variants that override it; the preset's default from `d`. */
function modelFlags(d: TrainDefaults) {
  return {
    config: {
      type: "enum",
      choices: ["tiny", "small", "tutorial"],
      default: d.config,
      arg: "NAME",
      group: "model",
      help: "tiny | small | tutorial",
      defaultText: `${d.config}; for the bundled sample: ${sampleRecipe()} unless given`,
    },
    "n-cnn-layers": {
      type: "integer",
      min: 0,
      group: "model",
      help: "ResCNN layers (overrides the preset)",
    },
    "n-rnn-layers": {
      type: "integer",
      min: 1,
      group: "model",
      help: "BiGRU layers (overrides the preset)",
    },
    "rnn-dim": {
      type: "integer",
      min: 1,
      group: "model",
      help: "BiGRU hidden size (overrides the preset)",
    },
    "n-feats": { type: "integer", min: 2, group: "model", help: "mel bands (overrides the preset)" },
    dropout: {
      type: "number",
      min: 0,
      max: 1,
      maxExclusive: true,
      arg: "P",
      group: "model",
      help: "dropout probability (overrides the preset)",
    },
    "gru-layout": {
      type: "enum",
      choices: ["default", "tutorial"],
      arg: "L",
      group: "model",
      help: "default (every BiGRU over time, packed lengths) | tutorial (the tutorial's bug)",
    },
    features: {
      type: "enum",
      choices: ["mel", "logmel"],
      arg: "F",
      group: "model",
      help: "mel (the tutorial's raw power) | logmel (log(mel + 1e-6), trains better)",
    },
  } as const satisfies Record<string, Flag>;
}

/** The training recipe: schedule, batches, regularization; the data-dependent defaults from `d`. */
function trainingFlags(d: TrainDefaults) {
  return {
    epochs: { type: "integer", min: 1, default: d.epochs, group: "training", help: "" },
    "batch-size": { type: "integer", min: 1, default: d.batchSize, group: "training", help: "" },
    lr: {
      type: "number",
      min: 0,
      minExclusive: true,
      default: d.lr,
      group: "training",
      help: "peak learning rate of OneCycleLR",
    },
    anneal: {
      type: "enum",
      choices: ["linear", "cos"],
      default: "linear",
      group: "training",
      help: "OneCycleLR annealing",
    },
    "clip-grad-norm": {
      type: "number",
      min: 0,
      minExclusive: true,
      group: "training",
      help: "clip gradients to this global norm",
      defaultText: d.clipGradNorm === undefined ? "off" : String(d.clipGradNorm),
    },
    "no-specaugment": {
      type: "boolean",
      group: "training",
      help: "turn SpecAugment (FrequencyMasking 15, TimeMasking 35) off",
    },
    specaugment: {
      type: "boolean",
      group: "training",
      help: "turn SpecAugment on (the default except for the bundled sample)",
    },
    bucketed: {
      type: "boolean",
      group: "training",
      help: "length-bucketed batches (less padding; always on for the bundled sample)",
    },
    seed: { type: "integer", min: 0, default: 7, group: "training", help: "" },
    workers: {
      type: "integer",
      min: 0,
      default: 1,
      group: "training",
      help: "audio decoding workers; 0 decodes on the main thread",
    },
  } as const satisfies Record<string, Flag>;
}

/** The run folder and what goes into it (logs, checkpoints, evaluation), and what is printed at the end. */
const OUTPUT_FLAGS = {
  out: {
    type: "path",
    arg: "DIR",
    group: "output",
    help: "run folder: metrics.jsonl, report.html, checkpoints/",
    defaultText: "runs/<date-time>",
  },
  resume: {
    type: "boolean",
    group: "output",
    help: "continue the run in --out from its newest checkpoint, exactly where it stopped",
  },
  "log-every": {
    type: "integer",
    min: 1,
    default: 10,
    group: "output",
    help: "read the loss back from the GPU every N steps",
  },
  "checkpoint-every": {
    type: "integer",
    min: 0,
    default: 0,
    group: "output",
    help: "also checkpoint every N steps",
    defaultText: "0: at epoch ends only",
  },
  keep: {
    type: "integer",
    min: 1,
    default: 3,
    group: "output",
    help: "keep the newest N checkpoints besides the best by dev CER",
  },
  "eval-limit": {
    type: "integer",
    min: 1,
    group: "output",
    help: "evaluate on at most N utterances",
    defaultText: "all",
  },
  profile: {
    type: "boolean",
    group: "output",
    help: "print where the time went at the end (stderr): wall time per phase (decode audio, features, " +
      "forward, backward, optimizer, readback, eval, checkpoint) and GPU time and launches per kernel " +
      "family; also after the first epoch of a longer run",
  },
  memory: {
    type: "boolean",
    group: "output",
    help: "print the peak GPU memory and the peak resident memory at the end (stderr)",
  },
  "memory-limit": {
    type: "size",
    group: "output",
    help: "keep the engine's GPU memory under SIZE (e.g. 8GB); over it, a clear error",
  },
} as const satisfies Record<string, Flag>;

/** The train command's flags; the defaults of the data-dependent ones (epochs, batch size, lr) from `d`. */
export function trainSpec(d: TrainDefaults = TUTORIAL_DEFAULTS) {
  return defineCli({
    usage: "usage: deno task train [options]",
    intro:
      `Trains the DeepSpeech2-style recognizer (ResCNN + BiGRU + CTC). With no --data and no ./data folder it trains a
small model on the bundled sample corpus (data/sample, spoken digits, CC BY-SA 4.0) in minutes and ends with the
command that tries it on a held-out clip.`,
    // The groups in the order --help lists them.
    flags: {
      ...DATA_FLAGS,
      ...modelFlags(d),
      ...FINETUNE_FLAGS,
      ...trainingFlags(d),
      ...OUTPUT_FLAGS,
      ...DISTRIBUTED_FLAGS,
    },
  });
}

/** The flags with the tutorial's defaults, as `--help` shows them. */
export const TRAIN_SPEC = trainSpec(TUTORIAL_DEFAULTS);

export const TRAIN_HELP = helpText(TRAIN_SPEC);

/** Parses the command line; returns null after printing --help. */
export function parseTrainArgs(
  args: string[],
  defaults: TrainDefaults = TUTORIAL_DEFAULTS,
): TrainArgs | null {
  const { values, help, given } = parseFlags(trainSpec(defaults), args);
  if (help) {
    console.log(TRAIN_HELP);
    return null;
  }
  const configName = values.config;
  const config: ModelConfig = { ...PRESETS[configName] };
  // The recipe's sizes come with its preset, not with a --config the user chose (even the same name).
  const recipe = given.has("config") ? {} : defaults.model ?? {};
  config.nCnnLayers = values["n-cnn-layers"] ?? recipe.nCnnLayers ?? config.nCnnLayers;
  config.nRnnLayers = values["n-rnn-layers"] ?? config.nRnnLayers;
  config.rnnDim = values["rnn-dim"] ?? recipe.rnnDim ?? config.rnnDim;
  config.nFeats = values["n-feats"] ?? recipe.nFeats ?? config.nFeats;
  config.dropout = values.dropout ?? config.dropout;
  if (values["gru-layout"] !== undefined) config.gruLayout = values["gru-layout"] satisfies GruLayout;
  if (values.features !== undefined) config.features = values.features satisfies FeatureKind;
  try {
    validateConfig(config, "model");
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  if (values.resume && !values.out) {
    throw new UsageError("--resume needs --out DIR (the run folder to continue)");
  }
  const givenModelFlags = Object.keys(modelFlags(defaults)).filter((name) => given.has(name));
  return {
    ...trainDataArgs(values),
    config,
    configName,
    modelFlags: givenModelFlags,
    epochs: values.epochs,
    batchSize: values["batch-size"],
    lr: values.lr,
    anneal: values.anneal,
    clipGradNorm: values["clip-grad-norm"] ?? defaults.clipGradNorm,
    specAugment: values["no-specaugment"] ? false : values.specaugment ? true : defaults.specAugment ?? true,
    bucketed: values.bucketed || (defaults.bucketed ?? false),
    seed: values.seed,
    workers: values.workers,
    out: values.out,
    resume: values.resume,
    logEvery: values["log-every"],
    checkpointEvery: values["checkpoint-every"],
    keep: values.keep,
    evalLimit: values["eval-limit"],
    profile: values.profile,
    memory: values.memory,
    memoryLimit: values["memory-limit"] ?? null,
    ...finetuneArgs(values),
    ...distributedArgs(values),
  };
}
