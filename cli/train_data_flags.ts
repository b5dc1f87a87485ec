/**
 * The train command's data flags (declared here, spread into cli/train_args.ts's spec) and what they parse to:
 * where the training and evaluation utterances come from (a LibriSpeech folder or a NeMo, DeepSpeech or Common
 * Voice manifest), how the held-out set is chosen when none is given, and what to do with invalid rows.
 */
import { devFraction } from "../data/splits.ts";
import { UsageError } from "./common.ts";
import type { Flag, FlagValues } from "./flags.ts";

/** The held-out fraction when a corpus has neither an evaluation set nor a split column. */
export const DEFAULT_DEV_FRACTION = 0.05;

export const DATA_FLAGS = {
  train: {
    type: "path",
    arg: "PATH",
    group: "data",
    help:
      "the training corpus: a LibriSpeech folder, or a manifest: NeMo .jsonl (audio_filepath, duration, " +
      "text), DeepSpeech .csv (wav_filename, wav_filesize, transcript) or Common Voice .tsv (path, sentence; " +
      "clips/ beside it); relative paths resolve against the manifest's folder. A split column (train, dev, " +
      "test) picks the train rows",
  },
  dev: {
    type: "path",
    arg: "PATH",
    group: "data",
    help: "the corpus evaluated after each epoch (folder or manifest; with a split column, its dev rows)",
    defaultText: "the training manifest's dev (else test) rows, else --dev-fraction of the training corpus",
  },
  test: {
    type: "path",
    arg: "PATH",
    group: "data",
    help:
      "evaluate on this corpus instead of a dev set (folder or manifest; with a split column, its test rows)",
  },
  "dev-fraction": {
    type: "number",
    arg: "F",
    group: "data",
    help:
      "with no --dev, --test or split column: hold out this fraction of the training corpus, chosen by a " +
      "hash of the transcript (CRC-32 of the lowercase text mod 10^d below F*10^d, d = F's decimal places, at " +
      "most 4), so every take of a sentence is on the same side and file order does not matter",
    defaultText: String(DEFAULT_DEV_FRACTION),
  },
  "skip-invalid": {
    type: "boolean",
    group: "data",
    help:
      "leave out rows that fail the checks of `deno task validate` that need no decoding (missing file, " +
      "empty or unmappable transcript, too long for its audio), each reported; without it they stop the run",
  },
  data: {
    type: "path",
    arg: "DIR",
    group: "data",
    help: "a LibriSpeech root (DIR/LibriSpeech/<subset>) with --train-subset and --test-subset; any other " +
      "folder or a manifest is taken as --train",
  },
  "train-subset": {
    type: "string",
    group: "data",
    help: "training subset under DIR",
    defaultText: "train-clean-100 for a LibriSpeech root",
  },
  "test-subset": {
    type: "string",
    group: "data",
    help: "evaluation subset under DIR",
    defaultText: "test-clean for a LibriSpeech root",
  },
  download: {
    type: "boolean",
    group: "data",
    help: "fetch the train and test subsets from openslr into DIR (default ./data) first",
  },
  limit: {
    type: "integer",
    min: 1,
    group: "data",
    help: "use only the first N training utterances (quick experiments)",
  },
} as const satisfies Record<string, Flag>;

/** What the data flags parse to (part of TrainArgs). */
export interface TrainDataArgs {
  data?: string;
  trainSubset?: string;
  testSubset?: string;
  download: boolean;
  limit?: number;
  /** The training corpus (folder or manifest), when given as --train. */
  train?: string;
  /** The corpus evaluated after each epoch: --dev or --test. */
  dev?: string;
  /** Which flag named `dev`, for messages and for which split rows of a manifest to take. */
  devRole?: "dev" | "test";
  devFraction?: number;
  skipInvalid: boolean;
}

/** The data flags' values, checked: one training corpus, one evaluation set, a usable fraction. */
export function trainDataArgs(values: FlagValues<typeof DATA_FLAGS>): TrainDataArgs {
  if (values.train !== undefined && values.data !== undefined) {
    throw new UsageError("--train and --data both name the training corpus: give one");
  }
  if (values.dev !== undefined && values.test !== undefined) {
    throw new UsageError("train evaluates one set after each epoch: give --dev or --test, not both");
  }
  const evalSet = values.dev ?? values.test;
  if (evalSet !== undefined && values["dev-fraction"] !== undefined) {
    throw new UsageError(
      `--dev-fraction holds out part of the training corpus: not with --${values.dev ? "dev" : "test"}`,
    );
  }
  if (values["dev-fraction"] !== undefined) {
    try {
      devFraction(values["dev-fraction"]);
    } catch (e) {
      throw new UsageError(`--dev-fraction: ${(e as Error).message}`);
    }
  }
  return {
    data: values.data,
    trainSubset: values["train-subset"],
    testSubset: values["test-subset"],
    download: values.download,
    limit: values.limit,
    train: values.train,
    dev: evalSet,
    devRole: evalSet === undefined ? undefined : values.dev !== undefined ? "dev" : "test",
    devFraction: values["dev-fraction"],
    skipInvalid: values["skip-invalid"],
  };
}
