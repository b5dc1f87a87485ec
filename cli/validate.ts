/**
 * `deno task validate PATH...`: checks every row of a corpus (a LibriSpeech folder or a NeMo, DeepSpeech or
 * Common Voice manifest) before any training time is spent on it. Each bad row is printed as `file:line: reason`
 * (stdout), then a summary per corpus; the exit status is 1 when any row is bad. `train --skip-invalid` trains on
 * the rows that pass.
 */
import { type Alphabet, AlphabetError, readAlphabetFile, TUTORIAL_ALPHABET } from "../data/alphabet.ts";
import { AudioPool, defaultWorkerCount } from "../data/audio_pool.ts";
import { type Corpus, CorpusError, describeProblem, type RowProblem } from "../data/corpus.ts";
import { openCorpus } from "../data/manifest.ts";
import { runCli, UsageError } from "./common.ts";
import { defineCli, helpText, parseFlags } from "./flags.ts";
import { checkRow } from "./validate_rows.ts";

export const VALIDATE_SPEC = defineCli({
  usage: "usage: deno task validate [options] PATH...",
  intro:
    "Checks every row of each corpus (a LibriSpeech folder, or a .jsonl, .csv or .tsv manifest): the audio " +
    "file exists, decodes, has a usable sample rate and the manifest's duration; the transcript is not empty, " +
    "maps to the model's characters and fits the audio's CTC frames. Bad rows are listed with their reason; " +
    "the exit status is 1 if there are any.",
  positionals: "PATH...",
  flags: {
    subset: { type: "string", help: "subset under a LibriSpeech root (e.g. dev-clean)" },
    alphabet: {
      type: "path",
      help: "the model's alphabet file (one symbol a line); transcripts are checked against it",
      defaultText: "the tutorial's: apostrophe, space, a-z",
    },
    workers: {
      type: "integer",
      min: 0,
      help: "audio decoding workers; 0 decodes on the main thread",
      defaultText: "one per spare core, at most 2",
    },
  },
});

/** Every problem of `corpus`: the rows its reader could not read, then each listed row's check, in row order. */
export async function validateCorpus(
  corpus: Corpus,
  pool: AudioPool,
  alphabet: Alphabet = TUTORIAL_ALPHABET,
): Promise<RowProblem[]> {
  const problems: RowProblem[] = [...corpus.problems];
  const rows = corpus.utterances;
  // A few rows in flight per worker keep the pool busy while headers are read on this thread.
  const inFlight = Math.max(2, 2 * pool.workers);
  let next = 0;
  const checker = async () => {
    while (next < rows.length) {
      const problem = await checkRow(rows[next++], pool, alphabet);
      if (problem) problems.push(problem);
    }
  };
  await Promise.all(Array.from({ length: Math.min(inFlight, rows.length) }, checker));
  return problems.sort((a, b) => a.file < b.file ? -1 : a.file > b.file ? 1 : a.line - b.line);
}

/** One line: rows checked, how many are bad, the good rows' audio. */
export function summaryLine(corpus: Corpus, problems: readonly RowProblem[]): string {
  const rows = corpus.utterances.length + corpus.problems.length;
  const bad = new Set(problems.map((p) => `${p.file}:${p.line}`));
  const good = corpus.utterances.filter((u) => !bad.has(`${u.transcriptPath}:${u.transcriptLine}`));
  const seconds = good.reduce((sum, u) => sum + (u.seconds ?? 0), 0);
  const audio = seconds < 120 ? `${seconds.toFixed(1)} s` : `${(seconds / 60).toFixed(1)} min`;
  return `${corpus.source}: ${rows} rows, ${good.length} good (${audio} of audio), ${bad.size} bad`;
}

export async function main(args: string[]): Promise<number> {
  const { values, positionals, help } = parseFlags(VALIDATE_SPEC, args);
  if (help) {
    console.log(helpText(VALIDATE_SPEC));
    return 0;
  }
  if (positionals.length === 0) throw new UsageError("no corpus given (a folder or a manifest; see --help)");
  let alphabet = TUTORIAL_ALPHABET;
  if (values.alphabet !== undefined) {
    try {
      alphabet = await readAlphabetFile(values.alphabet);
    } catch (e) {
      if (e instanceof AlphabetError) throw new UsageError(e.message);
      throw e;
    }
  }
  const pool = new AudioPool({ workers: values.workers ?? defaultWorkerCount() });
  let anyBad = false;
  try {
    for (const path of positionals) {
      let corpus: Corpus;
      try {
        corpus = await openCorpus(path, {
          subset: values.subset,
          onWarning: (m) => console.log(`warning: ${m}`),
        });
      } catch (e) {
        if (e instanceof CorpusError) throw new UsageError(e.message);
        throw e;
      }
      const problems = await validateCorpus(corpus, pool, alphabet);
      for (const p of problems) console.log(describeProblem(p));
      console.log(summaryLine(corpus, problems));
      anyBad ||= problems.length > 0;
    }
  } finally {
    await pool.close();
  }
  return anyBad ? 1 : 0;
}

if (import.meta.main) await runCli("validate", () => main(Deno.args));
