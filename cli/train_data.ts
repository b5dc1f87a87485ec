/**
 * Which utterances `deno task train` trains and evaluates on: the user's LibriSpeech folders (downloaded first
 * with --download), a ../shared/speech source split by its own rule, or, with no data at all, the bundled sample
 * corpus.
 */
import { downloadLibriSpeech } from "../data/download.ts";
import { LibriSpeechCorpus, type UtteranceInfo } from "../data/librispeech.ts";
import { schemeForPath, splitCorpus } from "../data/splits.ts";
import { crc32 } from "../data/crc32.ts";
import { UsageError } from "./common.ts";
import type { TrainArgs } from "./train_args.ts";

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

async function exists(path: string): Promise<boolean> {
  return await Deno.stat(path).then(() => true, () => false);
}

async function open(root: string, subset?: string): Promise<LibriSpeechCorpus> {
  try {
    return await LibriSpeechCorpus.open(root, { subset, onWarning: (m) => console.error(`warning: ${m}`) });
  } catch (e) {
    throw new UsageError((e as Error).message);
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

/** Resolves the training and evaluation utterances for the given flags. */
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
  let root = args.data;
  if (root === undefined && await exists("data/LibriSpeech")) root = "data";
  if (root === undefined) {
    const train = await open(`${SAMPLE_DIR}train`);
    const dev = await open(`${SAMPLE_DIR}dev`);
    return {
      train: limit(train.utterances, args.limit),
      eval: dev.utterances,
      description: `no --data given and no ./data folder: training on the bundled sample corpus ` +
        `(data/sample, ${train.length} + ${dev.length} CC0 clips of one speaker); pass --data DIR for your own`,
      bundled: true,
    };
  }
  if (!await exists(root)) {
    throw new UsageError(`data folder ${root} does not exist (pass --data DIR, or --download)`);
  }
  const isLibriRoot = await exists(`${root}/LibriSpeech`);
  const trainSubset = args.trainSubset ?? (isLibriRoot ? DEFAULT_TRAIN : undefined);
  const trainCorpus = await open(root, trainSubset);
  if (args.testSubset || isLibriRoot) {
    const testCorpus = await open(root, args.testSubset ?? DEFAULT_TEST);
    return {
      train: limit(trainCorpus.utterances, args.limit),
      eval: testCorpus.utterances,
      description: `training on ${trainCorpus.dir} (${trainCorpus.length} utterances), evaluating on ` +
        `${testCorpus.dir} (${testCorpus.length})`,
      bundled: false,
    };
  }
  const scheme = schemeForPath(trainCorpus.dir);
  if (scheme !== "generic") {
    const split = splitCorpus(trainCorpus.utterances, scheme);
    return {
      train: limit(split.train, args.limit),
      eval: split.eval,
      description: `training on ${trainCorpus.dir} with the ${scheme} split: ${split.train.length} train, ` +
        `${split.eval.length} held out`,
      bundled: false,
    };
  }
  // One folder and no test subset: hold out about 5% by transcript (never the same sentence on both sides).
  const held = (u: UtteranceInfo) => crc32(u.transcript.toLowerCase()) % 20 === 0;
  const train = trainCorpus.utterances.filter((u) => !held(u));
  const evalSet = trainCorpus.utterances.filter(held);
  return {
    train: limit(train, args.limit),
    eval: evalSet,
    description: `training on ${trainCorpus.dir}: no --test-subset, so ${evalSet.length} utterances ` +
      `(transcript CRC-32 % 20 == 0) are held out for evaluation`,
    bundled: false,
  };
}

function limit<T>(items: readonly T[], n: number | undefined): readonly T[] {
  return n === undefined ? items : items.slice(0, n);
}
