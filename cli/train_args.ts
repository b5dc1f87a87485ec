/** The flags of `deno task train`, their defaults (the tutorial's), and validation with clear messages. */
import { parseArgs } from "node:util";
import {
  type FeatureKind,
  type GruLayout,
  type ModelConfig,
  PRESETS,
  validateConfig,
} from "../model/config.ts";
import { parseBytes, UsageError } from "./common.ts";

export const TRAIN_HELP = `usage: deno task train [options]

Trains the DeepSpeech2-style recognizer (ResCNN + BiGRU + CTC). With no --data and no ./data folder it trains a
small model on the bundled sample corpus (data/sample, CC0 speech) so you can see it learn in minutes.

data:
  --data DIR             a LibriSpeech root (DIR/LibriSpeech/<subset>), a subset folder, or a folder of
                         ../shared/speech (fsdd and rhasspy-cathy are split into train/test by their own rules)
  --train-subset NAME    training subset under DIR (default train-clean-100 for a LibriSpeech root)
  --test-subset NAME     evaluation subset under DIR (default test-clean for a LibriSpeech root)
  --download             fetch the train and test subsets from openslr into DIR (default ./data) first
  --limit N              use only the first N training utterances (quick experiments)
model:
  --config NAME          tiny | small | tutorial (default tutorial; for the bundled sample: tiny, with
                         20 epochs, batch 5, lr 3e-3, clip 400 and no SpecAugment unless given)
  --n-cnn-layers N --n-rnn-layers N --rnn-dim N --n-feats N --dropout P   override the preset
  --gru-layout L         default (every BiGRU over time, packed lengths) | tutorial (the tutorial's bug)
  --features F           mel (the tutorial's raw power) | logmel (log(mel + 1e-6), trains better)
training:
  --epochs N             default 10
  --batch-size N         default 20
  --lr X                 peak learning rate of OneCycleLR (default 5e-4)
  --anneal linear|cos    OneCycleLR annealing (default linear)
  --clip-grad-norm X     clip gradients to this global norm (default: off)
  --no-specaugment       turn SpecAugment (FrequencyMasking 15, TimeMasking 35) off (--specaugment: on)
  --bucketed             length-bucketed batches (less padding)
  --seed N               default 7
  --workers N            audio decoding workers (default 1; 0 decodes on the main thread)
output:
  --out DIR              run folder (default runs/<date-time>): metrics.jsonl, report.html, checkpoints/
  --resume               continue the run in --out from its newest checkpoint, exactly where it stopped
  --log-every N          read the loss back from the GPU every N steps (default 10)
  --checkpoint-every N   also checkpoint every N steps (default 0: at epoch ends only)
  --keep N               keep the newest N checkpoints (default 3) besides the best by dev CER
  --eval-limit N         evaluate on at most N utterances (default all)
  --profile              print where the time went at the end (stderr): wall time per phase (decode audio,
                         features, forward, backward, optimizer, readback, eval, checkpoint) and GPU time
                         and launches per kernel family; also after the first epoch of a longer run
  --memory               print the peak GPU memory and the peak resident memory at the end (stderr)
  --memory-limit SIZE    keep the engine's GPU memory under SIZE (e.g. 8GB); over it, a clear error
  -h, --help             this text`;

export interface TrainArgs {
  data?: string;
  trainSubset?: string;
  testSubset?: string;
  download: boolean;
  limit?: number;
  config: ModelConfig;
  configName: string;
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

function int(v: string | undefined, name: string, min: number): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) {
    throw new UsageError(`--${name} must be an integer >= ${min}, got "${v}"`);
  }
  return n;
}

function num(
  v: string | undefined,
  name: string,
  ok: (n: number) => boolean,
  what: string,
): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n) || !ok(n)) throw new UsageError(`--${name} must be ${what}, got "${v}"`);
  return n;
}

/** Defaults that depend on the data (the bundled sample trains a tiny model faster with its own recipe). */
export interface TrainDefaults {
  config: string;
  epochs: number;
  batchSize: number;
  lr: number;
  clipGradNorm?: number;
  specAugment?: boolean;
}

/** The tutorial's recipe, used for a user's data. */
export const TUTORIAL_DEFAULTS: TrainDefaults = { config: "tutorial", epochs: 10, batchSize: 20, lr: 5e-4 };

/** Parses the command line; returns null after printing --help. */
export function parseTrainArgs(
  args: string[],
  defaults: TrainDefaults = TUTORIAL_DEFAULTS,
): TrainArgs | null {
  let values;
  try {
    values = parseArgs({
      args,
      options: {
        data: { type: "string" },
        "train-subset": { type: "string" },
        "test-subset": { type: "string" },
        download: { type: "boolean", default: false },
        limit: { type: "string" },
        config: { type: "string" },
        "n-cnn-layers": { type: "string" },
        "n-rnn-layers": { type: "string" },
        "rnn-dim": { type: "string" },
        "n-feats": { type: "string" },
        dropout: { type: "string" },
        "gru-layout": { type: "string" },
        features: { type: "string" },
        epochs: { type: "string", default: String(defaults.epochs) },
        "batch-size": { type: "string", default: String(defaults.batchSize) },
        lr: { type: "string", default: String(defaults.lr) },
        anneal: { type: "string", default: "linear" },
        "clip-grad-norm": { type: "string" },
        "no-specaugment": { type: "boolean", default: false },
        specaugment: { type: "boolean", default: false },
        bucketed: { type: "boolean", default: false },
        seed: { type: "string", default: "7" },
        workers: { type: "string", default: "1" },
        out: { type: "string" },
        resume: { type: "boolean", default: false },
        "log-every": { type: "string", default: "10" },
        "checkpoint-every": { type: "string", default: "0" },
        keep: { type: "string", default: "3" },
        "eval-limit": { type: "string" },
        profile: { type: "boolean", default: false },
        memory: { type: "boolean", default: false },
        "memory-limit": { type: "string" },
        help: { type: "boolean", short: "h", default: false },
      },
    }).values;
  } catch (e) {
    throw new UsageError(`${(e as Error).message} (see --help)`);
  }
  if (values.help) {
    console.log(TRAIN_HELP);
    return null;
  }
  const configName = values.config ?? defaults.config;
  if (!(configName in PRESETS)) {
    throw new UsageError(`--config must be tiny, small or tutorial, got "${configName}"`);
  }
  const config: ModelConfig = { ...PRESETS[configName as keyof typeof PRESETS] };
  config.nCnnLayers = int(values["n-cnn-layers"], "n-cnn-layers", 0) ?? config.nCnnLayers;
  config.nRnnLayers = int(values["n-rnn-layers"], "n-rnn-layers", 1) ?? config.nRnnLayers;
  config.rnnDim = int(values["rnn-dim"], "rnn-dim", 1) ?? config.rnnDim;
  config.nFeats = int(values["n-feats"], "n-feats", 2) ?? config.nFeats;
  config.dropout = num(values.dropout, "dropout", (n) => n >= 0 && n < 1, "in [0, 1)") ?? config.dropout;
  if (values["gru-layout"] !== undefined) {
    if (values["gru-layout"] !== "default" && values["gru-layout"] !== "tutorial") {
      throw new UsageError(`--gru-layout must be default or tutorial, got "${values["gru-layout"]}"`);
    }
    config.gruLayout = values["gru-layout"] as GruLayout;
  }
  if (values.features !== undefined) {
    if (values.features !== "mel" && values.features !== "logmel") {
      throw new UsageError(`--features must be mel or logmel, got "${values.features}"`);
    }
    config.features = values.features as FeatureKind;
  }
  try {
    validateConfig(config, "model");
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  if (values.anneal !== "linear" && values.anneal !== "cos") {
    throw new UsageError("--anneal must be linear or cos");
  }
  if (values.resume && !values.out) {
    throw new UsageError("--resume needs --out DIR (the run folder to continue)");
  }
  return {
    data: values.data,
    trainSubset: values["train-subset"],
    testSubset: values["test-subset"],
    download: values.download,
    limit: int(values.limit, "limit", 1),
    config,
    configName,
    epochs: int(values.epochs, "epochs", 1)!,
    batchSize: int(values["batch-size"], "batch-size", 1)!,
    lr: num(values.lr, "lr", (n) => n > 0, "a positive number")!,
    anneal: values.anneal,
    clipGradNorm: num(values["clip-grad-norm"], "clip-grad-norm", (n) => n > 0, "a positive number") ??
      defaults.clipGradNorm,
    specAugment: values["no-specaugment"] ? false : values.specaugment ? true : defaults.specAugment ?? true,
    bucketed: values.bucketed,
    seed: int(values.seed, "seed", 0)!,
    workers: int(values.workers, "workers", 0)!,
    out: values.out,
    resume: values.resume,
    logEvery: int(values["log-every"], "log-every", 1)!,
    checkpointEvery: int(values["checkpoint-every"], "checkpoint-every", 0)!,
    keep: int(values.keep, "keep", 1)!,
    evalLimit: int(values["eval-limit"], "eval-limit", 1),
    profile: values.profile,
    memory: values.memory,
    memoryLimit: values["memory-limit"] ? parseBytes("--memory-limit", values["memory-limit"]) : null,
  };
}
