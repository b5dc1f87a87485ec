/**
 * What `transcribe` is asked to read, turned into one ordered list of inputs: an audio file as given, a folder
 * searched recursively for audio files (sorted by path, so runs are repeatable), a manifest (one audio path a
 * line, or NeMo JSON Lines with `audio_filepath`; relative paths are relative to the manifest's folder; the
 * corpus manifests DeepSpeech CSV and Common Voice TSV, read by data/manifest.ts), or `-` for standard input. What cannot be listed (a missing path, a bad manifest line) comes back as a problem
 * naming the path and line, beside the inputs that could: the caller reports it and goes on.
 */
import { dirname, extname, isAbsolute, join, resolve } from "node:path";
import { describeProblem } from "../data/corpus.ts";
import { openCorpus } from "../data/manifest.ts";

/** File name extensions (lowercase, no dot) taken as audio when a folder is searched. */
export const AUDIO_EXTENSIONS: readonly string[] = ["flac", "wav", "mp3", "ogg", "opus", "oga"];

/** Extensions of manifests that list audio paths. */
const LIST_EXTENSIONS = ["txt", "lst", "list", "scp"];
const JSONL_EXTENSIONS = ["jsonl", "json"];
/** Corpus manifests (with transcripts, which transcription ignores), read by data/manifest.ts. */
const CORPUS_EXTENSIONS = ["csv", "tsv"];

/** The argument that means standard input. */
export const STDIN_INPUT = "-";

export interface TranscribeInput {
  /** The audio file's path, or `-` for standard input. */
  path: string;
  /** The folder argument it was found under. */
  folder?: string;
  /** The manifest line that listed it (`list.txt:12`). */
  listedAt?: string;
}

export interface InputProblem {
  /** The argument, or `manifest:line`. */
  where: string;
  reason: string;
}

export interface InputList {
  inputs: TranscribeInput[];
  problems: InputProblem[];
}

function extensionOf(path: string): string {
  return extname(path).slice(1).toLowerCase();
}

export function isAudioPath(path: string): boolean {
  return AUDIO_EXTENSIONS.includes(extensionOf(path));
}

/** Whether a path names a manifest (by its extension) rather than an audio file. */
export function isManifestPath(path: string): boolean {
  const ext = extensionOf(path);
  return [...LIST_EXTENSIONS, ...JSONL_EXTENSIONS, ...CORPUS_EXTENSIONS].includes(ext);
}

/** Expands the command line's arguments, in order. */
export async function expandInputs(args: readonly string[]): Promise<InputList> {
  const out: InputList = { inputs: [], problems: [] };
  for (const arg of args) {
    if (arg === STDIN_INPUT) {
      out.inputs.push({ path: STDIN_INPUT });
      continue;
    }
    let info: Deno.FileInfo;
    try {
      info = await Deno.stat(arg);
    } catch (e) {
      out.problems.push({ where: arg, reason: e instanceof Deno.errors.NotFound ? "not found" : String(e) });
      continue;
    }
    if (info.isDirectory) await addFolder(arg, out);
    else if (isManifestPath(arg)) await addManifest(arg, out);
    else out.inputs.push({ path: arg });
  }
  return out;
}

/** Every audio file under `folder`, sorted by path (symbolic links to files are followed, to folders not). */
async function addFolder(folder: string, out: InputList): Promise<void> {
  const found: string[] = [];
  const walk = async (dir: string) => {
    let entries: Deno.DirEntry[];
    try {
      entries = await Array.fromAsync(Deno.readDir(dir));
    } catch (e) {
      out.problems.push({ where: dir, reason: `cannot list the folder: ${(e as Error).message}` });
      return;
    }
    for (const e of entries) {
      const path = join(dir, e.name);
      if (e.isDirectory) await walk(path);
      else if ((e.isFile || e.isSymlink) && isAudioPath(e.name)) found.push(path);
    }
  };
  await walk(folder);
  found.sort();
  if (found.length === 0) {
    out.problems.push({ where: folder, reason: `no audio files (${AUDIO_EXTENSIONS.join(", ")}) in it` });
  }
  for (const path of found) out.inputs.push({ path, folder });
}

/**
 * The audio paths a manifest lists, in its order. Lines that are blank or start with `#` are skipped in a path
 * list. (The corpus manifests of data/manifest.ts -- DeepSpeech CSV, Common Voice TSV -- carry transcripts
 * for training; a transcription manifest needs only the paths, which is what is read here.)
 */
async function addManifest(file: string, out: InputList): Promise<void> {
  if (CORPUS_EXTENSIONS.includes(extensionOf(file))) return await addCorpusManifest(file, out);
  let text: string;
  try {
    text = await Deno.readTextFile(file);
  } catch (e) {
    out.problems.push({ where: file, reason: `cannot read the manifest: ${(e as Error).message}` });
    return;
  }
  const base = dirname(resolve(file));
  const lines = text.replace(/^\uFEFF/, "").split(/\r?\n/);
  const jsonl = JSONL_EXTENSIONS.includes(extensionOf(file));
  lines.forEach((raw, i) => {
    const line = raw.trim();
    const where = `${file}:${i + 1}`;
    if (line === "" || (!jsonl && line.startsWith("#"))) return;
    const path = jsonl ? jsonAudioPath(line) : { path: line };
    if ("reason" in path) out.problems.push({ where, reason: path.reason });
    else {out.inputs.push({
        path: isAbsolute(path.path) ? path.path : join(base, path.path),
        listedAt: where,
      });}
  });
}

/** A DeepSpeech CSV or Common Voice TSV: its rows' audio, and its unusable rows as problems. */
async function addCorpusManifest(file: string, out: InputList): Promise<void> {
  try {
    const corpus = await openCorpus(file, {
      durations: false,
      onWarning: (message) => out.problems.push({ where: file, reason: message }),
    });
    for (const u of corpus.utterances) {
      out.inputs.push({ path: u.audioPath, listedAt: `${file}:${u.transcriptLine}` });
    }
    for (const p of corpus.problems) {
      out.problems.push({
        where: `${p.file}:${p.line}`,
        reason: describeProblem(p).slice(`${p.file}:${p.line}: `.length),
      });
    }
  } catch (e) {
    out.problems.push({ where: file, reason: (e as Error).message });
  }
}

function jsonAudioPath(line: string): { path: string } | { reason: string } {
  let row: unknown;
  try {
    row = JSON.parse(line);
  } catch (e) {
    return { reason: `not JSON: ${(e as Error).message}` };
  }
  const path = (row as { audio_filepath?: unknown })?.audio_filepath;
  if (typeof path !== "string" || path.trim() === "") {
    return { reason: "expected an object with an audio_filepath string" };
  }
  return { path };
}
