/**
 * Which utterances `deno task train` trains and evaluates on: the user's corpus (a LibriSpeech folder, downloaded
 * first with --download, or a NeMo, DeepSpeech or Common Voice manifest) and its held-out set (--dev or --test,
 * a manifest's split column, or --dev-fraction by transcript hash), or, with no data at all, the bundled sample
 * corpus. Every row is checked before training (cli/validate_rows.ts): a bad one stops the run, or with
 * --skip-invalid is reported and left out.
 */
import { TUTORIAL_ALPHABET } from "../data/alphabet.ts";
import { type Corpus, CorpusError, type CorpusSplit, type UtteranceInfo } from "../data/corpus.ts";
import { downloadLibriSpeech } from "../data/download.ts";
import { openCorpus } from "../data/manifest.ts";
import {
  devFraction,
  hasSplitColumn,
  rowsOfSplit,
  splitByColumn,
  splitByTranscript,
} from "../data/splits.ts";
import { UsageError } from "./common.ts";
import type { TrainArgs } from "./train_args.ts";
import { DEFAULT_DEV_FRACTION } from "./train_data_flags.ts";
import { screenRows } from "./validate_screen.ts";

export const SAMPLE_DIR = new URL("../data/sample/", import.meta.url).pathname;
const DEFAULT_TRAIN = "train-clean-100";
const DEFAULT_TEST = "test-clean";

export interface TrainData {
  train: readonly UtteranceInfo[];
  eval: readonly UtteranceInfo[];
  /** One line saying what is used. */
  description: string;
  /** True when the bundled sample corpus is used (no data given). */
  bundled: boolean;
}

async function isDirectory(path: string): Promise<boolean> {
  return await Deno.stat(path).then((s) => s.isDirectory, () => false);
}

async function open(path: string, subset?: string): Promise<Corpus> {
  try {
    return await openCorpus(path, { subset, onWarning: (m) => console.error(`warning: ${m}`) });
  } catch (e) {
    if (e instanceof CorpusError) throw new UsageError(e.message);
    throw e;
  }
}

/** Downloads one LibriSpeech subset into root/LibriSpeech with a progress line. */
export async function download(subset: string, root: string, base?: string): Promise<void> {
  let last = 0;
  const isTTY = Deno.stderr.isTerminal();
  const enc = new TextEncoder();
  await downloadLibriSpeech(subset, root, {
    base,
    onNote: (m) => console.error(`download: ${m}`),
    onProgress: (bytes, total) => {
      const now = performance.now();
      if (now - last < (isTTY ? 200 : 10000)) return;
      last = now;
      const pct = total ? ` (${(100 * bytes / total).toFixed(1)}%)` : "";
      const line = `download ${subset}: ${(bytes / 1e6).toFixed(0)} MB${pct}`;
      if (isTTY) Deno.stderr.writeSync(enc.encode(`\r\x1b[2K${line}`));
      else console.error(line);
    },
  });
  if (isTTY) console.error("");
}

/** The training and held-out utterances before the rows are checked, and how they were chosen. */
interface Chosen {
  train: readonly UtteranceInfo[];
  eval: readonly UtteranceInfo[];
  corpora: Corpus[];
  description: string;
}

/** Resolves the training and evaluation utterances for the given flags, every row checked. */
export async function resolveTrainData(args: TrainArgs): Promise<TrainData> {
  if (args.download) {
    const root = args.data ?? "data";
    await download(args.trainSubset ?? DEFAULT_TRAIN, root);
    await download(args.testSubset ?? DEFAULT_TEST, root);
    args = {
      ...args,
      data: root,
      trainSubset: args.trainSubset ?? DEFAULT_TRAIN,
      testSubset: args.testSubset ?? DEFAULT_TEST,
    };
  }
  let path = args.train ?? args.data;
  if (path === undefined && await isDirectory("data/LibriSpeech")) path = "data";
  const bundled = path === undefined;
  const chosen = bundled ? await bundledSample() : await chooseRows(path!, args);
  const alphabet = args.config?.alphabet ?? TUTORIAL_ALPHABET;
  const problems = chosen.corpora.flatMap((c) => c.problems);
  const train = await screenRows(chosen.train, problems, {
    alphabet,
    skipInvalid: args.skipInvalid,
    what: "training",
  });
  const evalRows = await screenRows(chosen.eval, [], {
    alphabet,
    skipInvalid: args.skipInvalid,
    what: "evaluation",
  });
  const left = chosen.train.length - train.length + chosen.eval.length - evalRows.length + problems.length;
  return {
    train: limit(train, args.limit),
    eval: evalRows,
    description: chosen.description + (left > 0 ? ` (${left} invalid row(s) left out)` : ""),
    bundled,
  };
}

async function bundledSample(): Promise<Chosen> {
  const train = await open(`${SAMPLE_DIR}train`);
  const dev = await open(`${SAMPLE_DIR}dev`);
  return {
    train: train.utterances,
    eval: dev.utterances,
    corpora: [train, dev],
    description: `no --train given and no ./data folder: training on the bundled sample corpus ` +
      `(data/sample, ${train.utterances.length} + ${dev.utterances.length} clips); pass --train PATH for your own`,
  };
}

/** The rows of `corpus` for a role: with a split column, those of `split`; without, all of them. */
function rowsFor(corpus: Corpus, split: CorpusSplit): readonly UtteranceInfo[] {
  if (!hasSplitColumn(corpus.utterances)) return corpus.utterances;
  const rows = rowsOfSplit(corpus.utterances, split);
  if (rows.length === 0) throw new UsageError(`${corpus.source} has a split column but no ${split} rows`);
  return rows;
}

async function chooseRows(path: string, args: TrainArgs): Promise<Chosen> {
  if (!await Deno.stat(path).then(() => true, () => false)) {
    throw new UsageError(`training corpus ${path} does not exist (pass --train PATH, or --download)`);
  }
  const isLibriRoot = await isDirectory(`${path}/LibriSpeech`);
  const trainCorpus = await open(path, args.trainSubset ?? (isLibriRoot ? DEFAULT_TRAIN : undefined));
  const trainDesc = `training on ${trainCorpus.source}`;
  if (args.dev !== undefined) {
    const role = args.devRole ?? "dev";
    const evalCorpus = await open(args.dev);
    const train = rowsFor(trainCorpus, "train");
    const held = rowsFor(evalCorpus, role);
    return {
      train,
      eval: held,
      corpora: [trainCorpus, evalCorpus],
      description:
        `${trainDesc} (${train.length} utterances), evaluating on ${evalCorpus.source} (${held.length})`,
    };
  }
  if (args.testSubset || isLibriRoot) {
    const testCorpus = await open(path, args.testSubset ?? DEFAULT_TEST);
    return {
      train: trainCorpus.utterances,
      eval: testCorpus.utterances,
      corpora: [trainCorpus, testCorpus],
      description: `${trainDesc} (${trainCorpus.utterances.length} utterances), evaluating on ` +
        `${testCorpus.source} (${testCorpus.utterances.length})`,
    };
  }
  if (hasSplitColumn(trainCorpus.utterances)) {
    if (args.devFraction !== undefined) {
      throw new UsageError(
        `${trainCorpus.source} has a split column: it says what is held out, not --dev-fraction`,
      );
    }
    const split = splitByColumn(trainCorpus.utterances);
    if (split.eval.length === 0) {
      throw new UsageError(`${trainCorpus.source} has a split column but no dev or test rows`);
    }
    return {
      ...split,
      corpora: [trainCorpus],
      description: `${trainDesc} by its split column: ${split.train.length} train, ${split.eval.length} ` +
        `${split.heldOut} held out`,
    };
  }
  const rule = devFraction(args.devFraction ?? DEFAULT_DEV_FRACTION);
  const split = splitByTranscript(trainCorpus.utterances, rule);
  return {
    ...split,
    corpora: [trainCorpus],
    description: `${trainDesc}: ${split.train.length} train, ${split.eval.length} held out by transcript ` +
      `(--dev-fraction ${rule.fraction}: CRC-32 % ${rule.modulus} < ${rule.threshold})`,
  };
}

function limit<T>(items: readonly T[], n: number | undefined): readonly T[] {
  return n === undefined ? items : items.slice(0, n);
}
