/**
 * What `deno task align` is asked to align: one recording with its text (given inline or as a file), or a
 * manifest of many, one `path<TAB>transcript` a line. Each text is checked against the model's alphabet before
 * any audio is read, and an error names the exact place of the bad character in the user's own terms: the flag,
 * `FILE:LINE:COLUMN` of the transcript file, or of the manifest line.
 */
import { dirname, isAbsolute, join } from "node:path";
import type { Alphabet } from "../data/alphabet.ts";
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

/** The recordings of a `path<TAB>transcript` manifest; relative paths are from the manifest's folder. */
export function parseAlignManifest(content: string, file: string): { raw: RawJob[]; problems: string[] } {
  const raw: RawJob[] = [];
  const problems: string[] = [];
  const folder = dirname(file);
  content.split("\n").forEach((text, i) => {
    const line = text.endsWith("\r") ? text.slice(0, -1) : text;
    if (line.trim() === "") return;
    const tab = line.indexOf("\t");
    if (tab <= 0) {
      problems.push(
        `${file}:${i + 1}: expected path<TAB>transcript, got ${JSON.stringify(line.slice(0, 60))}`,
      );
      return;
    }
    const path = line.slice(0, tab);
    // Columns count code points of the whole manifest line, the transcript's start after the tab.
    const before = [...path].length + 1;
    raw.push({
      audio: isAbsolute(path) ? path : join(folder, path),
      text: line.slice(tab + 1),
      place: (_line, column) => `${file}:${i + 1}:${before + column}`,
    });
  });
  return { raw, problems };
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
