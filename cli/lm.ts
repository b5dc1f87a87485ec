/**
 * `deno task lm --text FILE --order 3 --out lm.arpa`: builds an interpolated modified Kneser-Ney language model
 * from text (one sentence per line) and writes it as an ARPA file.
 */

import { UsageError } from "./common.ts";
import { defineCli, helpText, parseFlags } from "./flags.ts";
import { openCorpus } from "../data/manifest.ts";
import { devFraction, hasSplitColumn, rowsOfSplit, splitByTranscript } from "../data/splits.ts";
import { buildKneserNey, tokenizeLine, writeArpaFile } from "../model/kneser_ney.ts";

/** The lm command's flags. */
export const LM_SPEC = defineCli({
  usage: `Usage: deno task lm --text FILE [--text FILE ...] --out lm.arpa [--order 3]
       deno task lm --data DIR [--subset NAME] --out lm.arpa [--order 3]`,
  intro: "Builds an interpolated modified Kneser-Ney n-gram language model and writes it as ARPA.",
  heading: "Options",
  helpFlag: "Show this help.",
  footer:
    `The model has <s>, </s> and <unk>; discounts D1, D2, D3+ per order come from the count-of-counts (Chen & Goodman),
falling back to 0.5, 1, 1.5 where the text is too small to estimate them.`,
  flags: {
    text: {
      type: "path",
      multiple: true,
      help: "Training text, one sentence per line (repeatable). Words are split on whitespace.",
    },
    data: {
      type: "path",
      arg: "DIR",
      help: "Use the transcripts of a corpus instead (a LibriSpeech folder or a .jsonl, .csv or .tsv " +
        "manifest); with a split column only its train rows, so the LM never sees held-out sentences.",
    },
    "dev-fraction": {
      type: "number",
      arg: "F",
      help: "Leave out the rows train --dev-fraction F holds out (for a corpus without a split column).",
    },
    subset: { type: "string", help: "Subset under --data (e.g. train-clean-100)." },
    out: { type: "path", help: "The ARPA file to write (written to a temporary file, then renamed)." },
    order: { type: "integer", min: 1, max: 9, default: 3, help: "The n-gram order, 1 to 9" },
    transcripts: {
      type: "boolean",
      help: "Each line starts with an utterance id to drop (LibriSpeech .trans.txt files).",
    },
    "keep-case": { type: "boolean", help: "Keep the words' case (default: lowercase, as our transcripts)." },
  },
});

/**
 * Parses and checks the command line: the values, or null when --help was given (the caller prints it). A bad
 * value is a UsageError of one line; a missing --text/--data or --out also wants the help text after it.
 */
export function parseLmArgs(args: readonly string[]) {
  const { values, help } = parseFlags(LM_SPEC, args);
  if (help) return null;
  if (values.text.length === 0 && !values.data) {
    throw new UsageError(`--text FILE or --data DIR is required\n\n${helpText(LM_SPEC)}`);
  }
  if (!values.out) throw new UsageError(`--out FILE is required\n\n${helpText(LM_SPEC)}`);
  return { ...values, out: values.out };
}

/** Runs the command; returns the process exit code. */
export async function main(args: string[]): Promise<number> {
  let v;
  try {
    v = parseLmArgs(args);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    console.error(`lm: ${e.message}`);
    return 2;
  }
  if (!v) {
    console.log(helpText(LM_SPEC));
    return 0;
  }
  const order = v.order;
  const sentences: string[][] = [];
  if (v.data) {
    try {
      const corpus = await openCorpus(v.data, { subset: v.subset, durations: false });
      const rows = corpus.utterances;
      const fraction = v["dev-fraction"];
      const train = hasSplitColumn(rows)
        ? rowsOfSplit(rows, "train")
        : fraction === undefined
        ? rows
        : splitByTranscript(rows, devFraction(fraction)).train;
      for (const u of train) {
        sentences.push(tokenizeLine(u.transcript, { lowercase: true, skipFirstField: false }));
      }
      console.log(`lm: ${train.length} training transcripts from ${corpus.source}`);
    } catch (e) {
      console.error(`lm: ${(e as Error).message}`);
      return 1;
    }
  }
  for (const path of v.text) {
    let text: string;
    try {
      text = await Deno.readTextFile(path);
    } catch (e) {
      console.error(`lm: cannot read --text ${path}: ${(e as Error).message}`);
      return 1;
    }
    const lines = text.split(/\r?\n/);
    for (let i = 0; i < lines.length; i++) {
      const words = tokenizeLine(lines[i], { lowercase: !v["keep-case"], skipFirstField: v.transcripts });
      if (words.length === 0) continue;
      const reserved = words.find((w) => w === "<s>" || w === "</s>" || w === "<unk>");
      if (reserved) {
        console.error(`lm: ${path}:${i + 1}: "${reserved}" is reserved and cannot be a word`);
        return 1;
      }
      sentences.push(words);
    }
  }
  if (sentences.length === 0) {
    console.error(`lm: no sentences in ${[...v.text, v.data ?? ""].filter((x) => x).join(", ")}`);
    return 1;
  }
  const started = performance.now();
  const model = buildKneserNey(sentences, order);
  await writeArpaFile(model, v.out);
  const seconds = (performance.now() - started) / 1000;
  console.log(
    `lm: ${sentences.length} sentences, ${model.words.length} words; ` +
      model.tables.map((t) => `${t.n}-grams ${t.count}`).join(", ") +
      `; wrote ${v.out} in ${seconds.toFixed(2)} s`,
  );
  model.discounts.forEach((d, i) => {
    const note = model.usedFallback[i] ? " (fallback: too little text to estimate)" : "";
    console.log(
      `lm: order ${i + 1} discounts D1 ${d[0].toFixed(4)} D2 ${d[1].toFixed(4)} D3+ ${
        d[2].toFixed(4)
      }${note}`,
    );
  });
  return 0;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
