/**
 * What `deno task align` is asked to align: one recording with its text (given inline or as a file), or a
 * list of many: `path<TAB>transcript` lines (or a TSV with a header naming those columns), or any corpus the
 * training tools read (LibriSpeech folder, NeMo, DeepSpeech or Common Voice manifest). Each text is checked against the model's alphabet before
 * any audio is read, and an error names the exact place of the bad character in the user's own terms: the flag,
 * `FILE:LINE:COLUMN` of the transcript file, or of the manifest line.
 */
import { dirname, isAbsolute, join } from "node:path";
import type { Alphabet } from "../data/alphabet.ts";
import { describeProblem } from "../data/corpus.ts";
import { manifestFormatOf, openCorpus } from "../data/manifest.ts";
import { type AlignmentText, alignmentText, AlignmentTextError } from "../model/align_text.ts";

/** One recording and the text to align to it. */
export interface AlignJob {
  audio: string;
  text: AlignmentText;
}

/** A text before it is checked: where it came from, to name the place of a bad character. */
interface RawJob {
  audio: string;
  text: string;
  /** The place of the text's line `line`, column `column` (both 1-based), as the user would find it. */
  place: (line: number, column: number) => string;
}

/** The jobs that can run and, for each one that cannot, a line saying why. */
export interface AlignInputs {
  jobs: AlignJob[];
  problems: string[];
}

const PATH_COLUMNS = ["path", "file", "audio_filepath", "wav_filename"];
const TEXT_COLUMNS = ["transcript", "text", "sentence"];

/** The audio and text columns a header line names, or null when the line is not a header. */
function headerColumns(line: string): { audio: number; text: number; cells: number } | null {
  const cells = line.split("\t").map((c) => c.trim().toLowerCase());
  const audio = cells.findIndex((c) => PATH_COLUMNS.includes(c));
  const text = cells.findIndex((c) => TEXT_COLUMNS.includes(c));
  return audio >= 0 && text >= 0 ? { audio, text, cells: cells.length } : null;
}

/** Columns in code points of the cells before cell `index`, tabs included. */
function columnsBefore(cells: string[], index: number): number {
  return cells.slice(0, index).reduce((n, c) => n + [...c].length + 1, 0);
}

/**
 * The recordings of a tab-separated list: one `path<TAB>transcript` a line, or, after a header naming a path
 * column (path, file, audio_filepath) and a text column (transcript, text, sentence), those columns of each
 * line. Relative paths are from the list's folder.
 */
export function parseAlignManifest(content: string, file: string): { raw: RawJob[]; problems: string[] } {
  const raw: RawJob[] = [];
  const problems: string[] = [];
  const folder = dirname(file);
  const lines = content.split("\n").map((l) => l.endsWith("\r") ? l.slice(0, -1) : l);
  const header = headerColumns(lines[0] ?? "");
  lines.forEach((line, i) => {
    if (line.trim() === "" || (header && i === 0)) return;
    const cells = header ? line.split("\t") : splitOnce(line);
    if (header ? cells.length !== header.cells : cells.length < 2 || cells[0] === "") {
      const expected = header ? `${header.cells} tab-separated cells as the header` : "path<TAB>transcript";
      problems.push(`${file}:${i + 1}: expected ${expected}, got ${JSON.stringify(line.slice(0, 60))}`);
      return;
    }
    const [audio, text] = header ? [header.audio, header.text] : [0, 1];
    const path = cells[audio];
    const before = columnsBefore(cells, text);
    raw.push({
      audio: isAbsolute(path) ? path : join(folder, path),
      text: cells[text],
      place: (_line, column) => `${file}:${i + 1}:${before + column}`,
    });
  });
  return { raw, problems };
}

/** `path<TAB>rest`: the transcript may hold further tabs (they are whitespace). */
function splitOnce(line: string): string[] {
  const tab = line.indexOf("\t");
  return tab < 0 ? [line] : [line.slice(0, tab), line.slice(tab + 1)];
}

/**
 * A corpus the training tools read (a LibriSpeech folder, or a NeMo, DeepSpeech or Common Voice manifest,
 * data/manifest.ts), as recordings to align. Its rows that could not be read are problems.
 */
export async function corpusJobs(path: string): Promise<{ raw: RawJob[]; problems: string[] }> {
  const corpus = await openCorpus(path, { durations: false, onWarning: (m) => console.error(`align: ${m}`) });
  return {
    raw: corpus.utterances.map((u) => ({
      audio: u.audioPath,
      text: u.transcript,
      place: (line, column) =>
        `${u.transcriptPath}:${u.transcriptLine + line - 1}: transcript column ${column}`,
    })),
    problems: corpus.problems.map(describeProblem),
  };
}

/** Whether --manifest PATH is a corpus of data/manifest.ts rather than a tab-separated list of our own. */
export async function isCorpus(path: string, firstLine: () => Promise<string>): Promise<boolean> {
  if (await Deno.stat(path).then((s) => s.isDirectory, () => false)) return true;
  const format = manifestFormatOf(path);
  if (format === null) return false;
  if (format !== "common-voice-tsv") return true;
  // A .tsv is Common Voice's when its header names path and sentence; otherwise it is our list.
  const cells = (await firstLine()).split("\t").map((c) => c.trim());
  return cells.includes("path") && cells.includes("sentence");
}

/** A transcript file's text (one recording's, any number of lines). */
export function transcriptFileJob(audio: string, content: string, file: string): RawJob {
  return { audio, text: content, place: (line, column) => `${file}:${line}:${column}` };
}

/** Text given on the command line. */
export function inlineTextJob(audio: string, text: string): RawJob {
  return {
    audio,
    text,
    place: (line, column) =>
      text.includes("\n") ? `--text, line ${line}, column ${column}` : `--text, column ${column}`,
  };
}

/** Checks each text against the alphabet: the good ones become jobs, each bad one a problem naming its place. */
export function checkTexts(raw: readonly RawJob[], alphabet: Alphabet): AlignInputs {
  const jobs: AlignJob[] = [];
  const problems: string[] = [];
  for (const r of raw) {
    try {
      jobs.push({ audio: r.audio, text: alignmentText(r.text, alphabet) });
    } catch (e) {
      if (!(e instanceof AlignmentTextError)) throw e;
      problems.push(`${r.place(e.line, e.column)}: ${e.detail}`);
    }
  }
  return { jobs, problems };
}
