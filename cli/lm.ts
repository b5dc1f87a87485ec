/**
 * `deno task lm --text FILE --order 3 --out lm.arpa`: builds an interpolated modified Kneser-Ney language model
 * from text (one sentence per line) and writes it as an ARPA file.
 */

import { parseArgs } from "node:util";
import { LibriSpeechCorpus } from "../data/librispeech.ts";
import { schemeForPath, splitCorpus } from "../data/splits.ts";
import { buildKneserNey, tokenizeLine, writeArpaFile } from "../model/kneser_ney.ts";

const HELP = `Builds an interpolated modified Kneser-Ney n-gram language model and writes it as ARPA.

Usage: deno task lm --text FILE [--text FILE ...] --out lm.arpa [--order 3]
       deno task lm --data DIR [--subset NAME] --out lm.arpa [--order 3]

Options:
  --text FILE       Training text, one sentence per line (repeatable). Words are split on whitespace.
  --data DIR        Use the transcripts of a corpus folder instead (LibriSpeech layout). For the fsdd and
                    rhasspy-cathy folders only their training side, so the LM never sees held-out sentences.
  --subset NAME     Subset under --data (e.g. train-clean-100).
  --out FILE        The ARPA file to write (written to a temporary file, then renamed).
  --order N         The n-gram order, 1 to 9 (default 3).
  --transcripts     Each line starts with an utterance id to drop (LibriSpeech .trans.txt files).
  --keep-case       Keep the words' case (default: lowercase, as our transcripts).
  -h, --help        Show this help.

The model has <s>, </s> and <unk>; discounts D1, D2, D3+ per order come from the count-of-counts (Chen & Goodman),
falling back to 0.5, 1, 1.5 where the text is too small to estimate them.`;

/** Runs the command; returns the process exit code. */
export async function main(args: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      options: {
        text: { type: "string", multiple: true },
        data: { type: "string" },
        subset: { type: "string" },
        out: { type: "string" },
        order: { type: "string", default: "3" },
        transcripts: { type: "boolean", default: false },
        "keep-case": { type: "boolean", default: false },
        help: { type: "boolean", short: "h", default: false },
      },
      allowPositionals: false,
    });
  } catch (e) {
    console.error(`lm: ${(e as Error).message}\n\n${HELP}`);
    return 2;
  }
  const v = parsed.values;
  if (v.help) {
    console.log(HELP);
    return 0;
  }
  const order = Number(v.order);
  if (!Number.isInteger(order) || order < 1 || order > 9) {
    console.error(`lm: --order ${v.order} is not a whole number from 1 to 9`);
    return 2;
  }
  if ((!v.text || v.text.length === 0) && !v.data) {
    console.error(`lm: --text FILE or --data DIR is required\n\n${HELP}`);
    return 2;
  }
  if (!v.out) {
    console.error(`lm: --out FILE is required\n\n${HELP}`);
    return 2;
  }
  const sentences: string[][] = [];
  if (v.data) {
    try {
      const corpus = await LibriSpeechCorpus.open(v.data, { subset: v.subset });
      const { train } = splitCorpus(corpus.utterances, schemeForPath(corpus.dir));
      for (const u of train) {
        sentences.push(tokenizeLine(u.transcript, { lowercase: true, skipFirstField: false }));
      }
      console.log(`lm: ${train.length} training transcripts from ${corpus.dir}`);
    } catch (e) {
      console.error(`lm: ${(e as Error).message}`);
      return 1;
    }
  }
  for (const path of v.text ?? []) {
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
    console.error(`lm: no sentences in ${[...(v.text ?? []), v.data ?? ""].filter((x) => x).join(", ")}`);
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
