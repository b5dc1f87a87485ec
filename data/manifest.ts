/**
 * One entry point for every corpus format: a folder is a LibriSpeech corpus, a file is a manifest chosen by
 * its extension (.jsonl or .json: NeMo; .csv: DeepSpeech; .tsv: Common Voice). Manifest rows keep the file's
 * order; durations the manifest does not give are read from the FLAC headers (for length-bucketed batches).
 */
import { dirname, extname, join, resolve } from "node:path";
import {
  type Corpus,
  CorpusError,
  type CorpusFormat,
  type RowProblem,
  type UtteranceInfo,
} from "./corpus.ts";
import { addHeaderDurations, LibriSpeechCorpus } from "./librispeech.ts";
import { parseDeepSpeechCsv } from "./manifest_csv.ts";
import { parseNemoJsonl } from "./manifest_jsonl.ts";
import type { ManifestRows } from "./manifest_rows.ts";
import { parseCommonVoiceTsv } from "./manifest_tsv.ts";

export interface OpenCorpusOptions {
  /** For a LibriSpeech root: the subset folder to list (e.g. "dev-clean"). Not allowed with a manifest. */
  subset?: string;
  /** Read durations from the FLAC headers where the source does not give them (default true). */
  durations?: boolean;
  /** Called with each warning (default: console.warn). */
  onWarning?: (message: string) => void;
}

/** The manifest format of a file name, or null when its extension names none. */
export function manifestFormatOf(path: string): Exclude<CorpusFormat, "librispeech"> | null {
  switch (extname(path).toLowerCase()) {
    case ".jsonl":
    case ".json":
      return "nemo-jsonl";
    case ".csv":
      return "deepspeech-csv";
    case ".tsv":
      return "common-voice-tsv";
    default:
      return null;
  }
}

/**
 * Lists the corpus at `path`: a LibriSpeech folder (root, subset folder or a folder holding `librispeech/`) or
 * a manifest file. Transcript characters are not checked here: that is validation's job (cli/validate_rows.ts),
 * so a bad row can be reported with the others and skipped.
 */
export async function openCorpus(path: string, options: OpenCorpusOptions = {}): Promise<Corpus> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) throw new CorpusError(`${path} does not exist`);
    throw error;
  }
  if (info.isDirectory) {
    return await LibriSpeechCorpus.open(path, {
      subset: options.subset,
      durations: options.durations,
      checkCharacters: false,
      onWarning: options.onWarning,
    });
  }
  const format = manifestFormatOf(path);
  if (format === null) {
    throw new CorpusError(
      `${path}: not a corpus: expected a LibriSpeech folder or a manifest ending in .jsonl or .json (NeMo), ` +
        `.csv (DeepSpeech) or .tsv (Common Voice)`,
    );
  }
  if (options.subset !== undefined) {
    throw new CorpusError(
      `${path} is a manifest: a subset is chosen with its split column, not a subset name`,
    );
  }
  const rows = await readManifestRows(path, format);
  const unsplit = mixedSplitProblems(path, rows.utterances);
  const unsplitLines = new Set(unsplit.map((p) => p.line));
  const listed = rows.utterances.filter((u) => !unsplitLines.has(u.transcriptLine));
  const problems = [...rows.problems, ...unsplit];
  if (options.durations ?? true) await addHeaderDurations(listed);
  problems.sort((a, b) => a.line - b.line);
  return { source: path, format, utterances: listed, problems, warnings: [] };
}

async function readManifestRows(
  path: string,
  format: Exclude<CorpusFormat, "librispeech">,
): Promise<ManifestRows> {
  const text = await Deno.readTextFile(path);
  switch (format) {
    case "nemo-jsonl":
      return parseNemoJsonl(text, path);
    case "deepspeech-csv":
      return parseDeepSpeechCsv(text, path);
    case "common-voice-tsv":
      return parseCommonVoiceTsv(text, path, await isDirectory(join(dirname(resolve(path)), "clips")));
  }
}

async function isDirectory(path: string): Promise<boolean> {
  return await Deno.stat(path).then((s) => s.isDirectory, () => false);
}

/** Once some rows name their split, a row that names none is on no side: a problem, not a silent choice. */
function mixedSplitProblems(file: string, utterances: readonly UtteranceInfo[]): RowProblem[] {
  if (!utterances.some((u) => u.split !== undefined)) return [];
  return utterances.filter((u) => u.split === undefined).map((u) => ({
    file,
    line: u.transcriptLine,
    field: "split",
    audio: u.audioPath,
    reason: "empty, while other rows name theirs (train, dev or test)",
  }));
}
