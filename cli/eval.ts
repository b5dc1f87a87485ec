/**
 * `deno task eval --checkpoint CK --data PATH [--subset NAME]`: scores a checkpoint on a corpus (a LibriSpeech
 * folder or a NeMo, DeepSpeech or Common Voice manifest; its held-out rows by default). WER and CER are
 * printed both corpus-level (total edits over total reference words or characters) and as the tutorial reports
 * them (mean of per-utterance rates); predictions go to a TSV (id, reference, hypothesis, cer, wer).
 * With --tune, alpha and beta of the LM beam search are grid-searched on the evaluated set.
 */
import { writeFileAtomic } from "../data/atomic_write.ts";
import { type Alphabet, TUTORIAL_ALPHABET } from "../data/alphabet.ts";
import { normaliseTranscript } from "../data/normalise.ts";
import { loadAudio } from "../data/audio.ts";
import { type Corpus, CorpusError, describeProblem, type UtteranceInfo } from "../data/corpus.ts";
import { openCorpus } from "../data/manifest.ts";
import {
  devFraction,
  hasSplitColumn,
  rowsOfSplit,
  splitByColumn,
  splitByTranscript,
} from "../data/splits.ts";
import { loadArpa } from "../model/arpa.ts";
import {
  decodeLogProbs,
  type DecoderOptions,
  logProbsOf,
  type UtteranceLogProbs,
} from "../model/inference.ts";
import { cer, type ErrorRates, errorRates, wer } from "../model/metrics.ts";
import { profilePhase, ProfileSession } from "../engine/profiler.ts";
import { loadModel, requireGpu, runCli, UsageError } from "./common.ts";
import { memoryReportLine } from "./memory_report.ts";
import { DECODER_FLAGS, decoderFlagOptions, defineCli, helpText, parseFlags } from "./flags.ts";
import { confidenceLine } from "./evaluate.ts";

/** The eval command's flags. */
export const EVAL_SPEC = defineCli({
  usage: "usage: deno task eval --checkpoint CK.safetensors --data PATH [options]",
  intro:
    "Scores a checkpoint: WER and CER, corpus-level and as the tutorial reports them (mean per utterance).",
  flags: {
    checkpoint: { type: "path", required: true, help: "model checkpoint (.safetensors)" },
    data: {
      type: "path",
      arg: "PATH",
      required: "a LibriSpeech folder or a manifest",
      help: "the corpus: a LibriSpeech root or subset folder, or a manifest (NeMo .jsonl, DeepSpeech .csv, " +
        "Common Voice .tsv)",
    },
    subset: { type: "string", help: "subset under a LibriSpeech root (e.g. test-clean)" },
    split: {
      type: "enum",
      choices: ["eval", "all", "train", "dev", "test"],
      default: "eval",
      help: "which rows: eval = the held-out ones (a split column's test rows, else its dev rows; with " +
        "--dev-fraction, that part; otherwise all), all, or the rows of one split column value",
    },
    "dev-fraction": {
      type: "number",
      arg: "F",
      help: "the held-out fraction the model was trained with (train --dev-fraction): with --split eval, " +
        "score only those rows",
    },
    ...DECODER_FLAGS,
    tune: {
      type: "boolean",
      help: "grid-search alpha and beta on this set (needs --lm) and report the best",
    },
    predictions: {
      type: "path",
      help: "predictions TSV",
      defaultText: "predictions.tsv next to the checkpoint",
    },
    "batch-size": { type: "integer", min: 1, default: 16, help: "utterances per model batch" },
    limit: { type: "integer", min: 1, help: "evaluate only the first N utterances" },
    profile: {
      type: "boolean",
      help:
        "print where the time went at the end (stderr): wall time per phase and GPU time and launches per " +
        "kernel family",
    },
    memory: {
      type: "boolean",
      help: "print the peak GPU memory and the peak resident memory at the end (stderr)",
    },
  },
});

/** Parses and checks the command line; null when --help was given (the caller prints it). */
export function parseEvalArgs(args: readonly string[]) {
  const { values, help } = parseFlags(EVAL_SPEC, args);
  if (help) return null;
  if (values.tune && !values.lm) throw new UsageError("--tune needs --lm");
  if (values["dev-fraction"] !== undefined) {
    try {
      devFraction(values["dev-fraction"]);
    } catch (e) {
      throw new UsageError(`--dev-fraction: ${(e as Error).message}`);
    }
  }
  return values;
}

interface Scored {
  rates: ErrorRates;
  hypotheses: string[];
}

/** A reference as the model's alphabet writes it: the rule training applies to its labels (data/normalise.ts). */
function reference(u: UtteranceInfo, alphabet: Alphabet): string {
  return normaliseTranscript(u.transcript, alphabet);
}

function score(items: UtteranceInfo[], outputs: UtteranceLogProbs[], opts: DecoderOptions): Scored {
  const alphabet = opts.alphabet ?? TUTORIAL_ALPHABET;
  const hypotheses = outputs.map((u) => decodeLogProbs(u, opts).text);
  const references = items.map((u) => reference(u, alphabet));
  return { rates: errorRates(references, hypotheses), hypotheses };
}

function describe(r: ErrorRates): string {
  return `WER ${r.corpusWer.toFixed(4)} CER ${r.corpusCer.toFixed(4)} (corpus-level) | ` +
    `WER ${r.meanWer.toFixed(4)} CER ${r.meanCer.toFixed(4)} (tutorial: mean per utterance) | ` +
    `${r.utterances} utterances`;
}

type EvalValues = NonNullable<ReturnType<typeof parseEvalArgs>>;

export async function main(args: string[]): Promise<number> {
  const values = parseEvalArgs(args);
  if (!values) {
    console.log(helpText(EVAL_SPEC));
    return 0;
  }
  const { corpus, chosen, items } = await evalItems(values);
  await requireGpu();
  const model = await loadModel(values.checkpoint);
  console.error(`eval: ${items.length} utterances from ${corpus.source} (${chosen})`);
  const profile = new ProfileSession(values.profile);
  profile.start();
  const { kept, outputs, skipped } = await modelOutputs(model, items, values["batch-size"]);
  for (const s of skipped) console.error(`eval: skipped ${s}`);
  const alphabet = model.config.alphabet;
  const best = await decodeAndScore(values, kept, outputs, alphabet);
  const tsvPath = values.predictions ?? values.checkpoint.replace(/\.safetensors$/, "") + ".predictions.tsv";
  await writePredictions(tsvPath, kept, best.hypotheses, alphabet);
  console.error(`eval: predictions written to ${tsvPath}`);
  if (skipped.length > 0) console.error(`eval: ${skipped.length} unreadable file(s) skipped`);
  model.dispose();
  await profile.end();
  if (values.memory) console.error(memoryReportLine());
  return 0;
}

/** The utterances to evaluate: the corpus, the rows --split picks, the first --limit. */
async function evalItems(values: EvalValues) {
  let corpus: Corpus;
  try {
    corpus = await openCorpus(values.data, { subset: values.subset });
  } catch (e) {
    if (e instanceof CorpusError) throw new UsageError(e.message);
    throw e;
  }
  for (const p of corpus.problems) console.error(`eval: skipped ${describeProblem(p)}`);
  let { rows, chosen } = pickRows(corpus, values.split, values["dev-fraction"]);
  if (values.limit !== undefined) rows = rows.slice(0, values.limit);
  if (rows.length === 0) throw new UsageError(`no utterances to evaluate in ${corpus.source} (${chosen})`);
  return { corpus, chosen, items: rows };
}

/** The rows `split` names, and a few words saying which they are. */
function pickRows(corpus: Corpus, split: EvalValues["split"], fraction: number | undefined) {
  const all = corpus.utterances;
  const column = hasSplitColumn(all);
  if (split === "all") return { rows: all, chosen: "all rows" };
  if (split !== "eval") {
    if (!column) throw new UsageError(`--split ${split}: ${corpus.source} has no split column`);
    return { rows: rowsOfSplit(all, split), chosen: `its ${split} rows` };
  }
  if (column) {
    if (fraction !== undefined) {
      throw new UsageError(
        `${corpus.source} has a split column: it says what is held out, not --dev-fraction`,
      );
    }
    const test = rowsOfSplit(all, "test");
    if (test.length > 0) return { rows: test, chosen: "its test rows" };
    const { eval: held, heldOut } = splitByColumn(all);
    return { rows: held, chosen: `its ${heldOut} rows` };
  }
  if (fraction !== undefined) {
    const rule = devFraction(fraction);
    return {
      rows: splitByTranscript(all, rule).eval,
      chosen: `held out by --dev-fraction ${fraction}: CRC-32 % ${rule.modulus} < ${rule.threshold}`,
    };
  }
  return { rows: all, chosen: "all rows: no split column or --dev-fraction" };
}

/** The model's log-probabilities for every readable utterance, in batches; unreadable files are listed. */
async function modelOutputs(
  model: Awaited<ReturnType<typeof loadModel>>,
  items: readonly UtteranceInfo[],
  batchSize: number,
) {
  const kept: UtteranceInfo[] = [];
  const outputs: UtteranceLogProbs[] = [];
  const skipped: string[] = [];
  for (let i = 0; i < items.length; i += batchSize) {
    const batch = items.slice(i, i + batchSize);
    const waves: Float32Array[] = [];
    const ok: UtteranceInfo[] = [];
    for (const u of batch) {
      try {
        waves.push((await profilePhase("decode audio", () => loadAudio(u.audioPath, 16000))).waveform);
        ok.push(u);
      } catch (e) {
        skipped.push(`${u.audioPath}: ${(e as Error).message}`);
      }
    }
    if (ok.length === 0) continue;
    // Features, forward and the log-probabilities' readback: one call (model/inference.ts).
    outputs.push(
      ...await profilePhase("model (features, forward, readback)", () => logProbsOf(model, waves)),
    );
    kept.push(...ok);
    if (Deno.stderr.isTerminal()) {
      await Deno.stderr.write(new TextEncoder().encode(`\reval: ${kept.length}/${items.length}`));
    }
  }
  if (Deno.stderr.isTerminal()) console.error("");
  return { kept, outputs, skipped };
}

/**
 * Decodes and prints the rates: greedy first when the beam search is used, then the chosen decoder, then (with
 * --tune) the best alpha and beta of the grid. Returns the best result.
 */
async function decodeAndScore(
  values: EvalValues,
  kept: UtteranceInfo[],
  outputs: UtteranceLogProbs[],
  alphabet: Alphabet,
): Promise<Scored> {
  const lm = values.lm ? await profilePhase("load LM", () => loadArpa(values.lm!)) : null;
  const base: DecoderOptions = {
    decoder: lm ? "beam" : values.decoder,
    beamWidth: values["beam-width"],
    lm,
    alpha: values.alpha,
    beta: values.beta,
    ...await decoderFlagOptions(values),
    alphabet,
  };
  if (lm || values.decoder === "beam") {
    const greedy = profilePhase("CTC decoding", () => score(kept, outputs, { decoder: "greedy", alphabet }));
    console.log(`greedy:      ${describe(greedy.rates)}`);
  }
  const best = profilePhase("CTC decoding", () => score(kept, outputs, base));
  console.log(
    `${(base.decoder === "beam" ? (lm ? "beam + LM:" : "beam:") : "greedy:").padEnd(12)} ${
      describe(best.rates)
    }`,
  );
  console.log(confidenceLine(kept.map((u) => reference(u, alphabet)), outputs, base));
  return values.tune && lm ? tune(kept, outputs, base, best) : best;
}

/** Grid search of alpha and beta (corpus WER); prints and returns the best, `best` if nothing beats it. */
function tune(
  kept: UtteranceInfo[],
  outputs: UtteranceLogProbs[],
  base: DecoderOptions,
  best: Scored,
): Scored {
  let bestAB = [base.alpha ?? 0.5, base.beta ?? 1.0];
  for (const alpha of [0, 0.25, 0.5, 0.75, 1.0, 1.5]) {
    for (const beta of [-1, 0, 0.5, 1, 2, 3]) {
      const s = profilePhase("CTC decoding", () => score(kept, outputs, { ...base, alpha, beta }));
      if (s.rates.corpusWer < best.rates.corpusWer) {
        best = s;
        bestAB = [alpha, beta];
      }
    }
  }
  console.log(`tuned (alpha ${bestAB[0]}, beta ${bestAB[1]}): ${describe(best.rates)}`);
  return best;
}

/** The predictions TSV: id, reference, hypothesis, cer, wer. */
async function writePredictions(
  path: string,
  kept: UtteranceInfo[],
  hypotheses: string[],
  alphabet: Alphabet,
): Promise<void> {
  const lines = ["id\treference\thypothesis\tcer\twer"];
  kept.forEach((u, i) => {
    const ref = reference(u, alphabet);
    const hyp = hypotheses[i];
    lines.push(`${u.fileId}\t${ref}\t${hyp}\t${cer(ref, hyp).toFixed(4)}\t${wer(ref, hyp).toFixed(4)}`);
  });
  await writeFileAtomic(path, lines.join("\n") + "\n");
}

if (import.meta.main) await runCli("eval", () => main(Deno.args));
