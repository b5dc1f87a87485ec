/**
 * The check `train` runs on every row before any training time is spent: the validation checks that need no
 * decoding (cli/validate_rows.ts). Bad rows stop the run with one message listing them, or, with --skip-invalid,
 * are each reported and left out; nothing is dropped silently. Undecodable audio is found while training (the
 * batch loader reports and skips it) or up front by `deno task validate`.
 */
import type { Alphabet } from "../data/alphabet.ts";
import { describeProblem, type RowProblem, type UtteranceInfo } from "../data/corpus.ts";
import { UsageError } from "./common.ts";
import { checkListedRow } from "./validate_rows.ts";

/** How many bad rows an error lists before it only counts the rest. */
const SHOWN = 10;
/** Rows checked at once (each check is a stat: the file system, not the CPU, is the limit). */
const CONCURRENCY = 32;

export interface ScreenOptions {
  alphabet: Alphabet;
  /** Leave bad rows out (each reported) instead of stopping. */
  skipInvalid: boolean;
  /** What the rows are for, in messages: "training", "evaluation". */
  what: string;
  /** Where a skipped row is reported (default: stderr). */
  report?: (line: string) => void;
}

/**
 * The rows of `rows` that pass, in order. `unreadable` are rows the corpus reader already could not use (they
 * count as bad as well). Without skipInvalid any bad row is a UsageError naming the first few.
 */
export async function screenRows(
  rows: readonly UtteranceInfo[],
  unreadable: readonly RowProblem[],
  options: ScreenOptions,
): Promise<UtteranceInfo[]> {
  const found: (RowProblem | null)[] = new Array(rows.length).fill(null);
  let next = 0;
  const checker = async () => {
    while (next < rows.length) {
      const i = next++;
      found[i] = await checkListedRow(rows[i], options.alphabet);
    }
  };
  await Promise.all(Array.from({ length: Math.min(CONCURRENCY, rows.length) }, checker));
  const problems = [...unreadable, ...found.filter((p): p is RowProblem => p !== null)];
  if (problems.length === 0) return [...rows];
  if (!options.skipInvalid) {
    const shown = problems.slice(0, SHOWN).map((p) => `  ${describeProblem(p)}`);
    const more = problems.length > SHOWN ? [`  ... and ${problems.length - SHOWN} more`] : [];
    const sources = [...new Set(problems.map((p) => p.file))];
    throw new UsageError(
      [
        `${problems.length} invalid ${options.what} row(s):`,
        ...shown,
        ...more,
        `run \`deno task validate ${
          sources.length === 1 ? sources[0] : "PATH"
        }\` to check every row (audio ` +
        `decoded too), or pass --skip-invalid to train on the rest`,
      ].join("\n"),
    );
  }
  const report = options.report ?? console.error;
  for (const p of problems) report(`skipped (${options.what}): ${describeProblem(p)}`);
  return rows.filter((_, i) => found[i] === null);
}
