/**
 * A LibriSpeech corpus reader: one subset folder laid out as `<speaker>/<chapter>/<speaker>-<chapter>-<utt>.flac`
 * with `<speaker>-<chapter>.trans.txt`, listed as torchaudio's LIBRISPEECH lists it (file ids sorted) and giving
 * the same fields (waveform, sample rate, transcript, speaker, chapter and utterance ids). Listing reads only
 * transcripts and, for durations, a manifest.tsv or the first bytes of each FLAC file; waveforms are decoded
 * when asked for.
 */

import { basename, dirname, join, resolve } from "node:path";
import { AudioFormatError } from "./audio_error.ts";
import { type HeaderSource, readStreamInfoFrom } from "./flac/header.ts";
import { CharacterMapError, textToInts } from "./text.ts";
import { type Corpus, CorpusError, type RowProblem, type UtteranceInfo } from "./corpus.ts";

export { CorpusError, type UtteranceInfo };

/** A LibriSpeech utterance: the common fields and the ids its file name carries. */
export interface LibriSpeechUtteranceInfo extends UtteranceInfo {
  speakerId: number;
  chapterId: number;
  utteranceId: number;
}

/** One utterance with its waveform, resampled to `sampleRate`. */
export interface Utterance extends UtteranceInfo {
  waveform: Float32Array;
  sampleRate: number;
}

export interface CorpusOptions {
  /** Subset name, e.g. "dev-clean", looked for as `<root>/LibriSpeech/<subset>` or `<root>/<subset>`. */
  subset?: string;
  /** Read durations from a manifest.tsv or the FLAC headers (default true). */
  durations?: boolean;
  /** Check that every transcript maps to the character set (default true). */
  checkCharacters?: boolean;
  /** Called with each warning (default: console.warn). Warnings are also kept in `corpus.warnings`. */
  onWarning?: (message: string) => void;
}

const AUDIO_EXT = ".flac";
const TRANSCRIPT_EXT = ".trans.txt";
const FILE_ID = /^(\d+)-(\d+)-(\d+)$/;
const MANIFEST = "manifest.tsv";

export class LibriSpeechCorpus implements Corpus {
  readonly format = "librispeech";
  /** A folder's problems stop the listing (CorpusError), so none are left to report row by row. */
  readonly problems: readonly RowProblem[] = [];

  private constructor(
    /** The subset folder whose speaker folders were listed. */
    readonly dir: string,
    readonly utterances: readonly LibriSpeechUtteranceInfo[],
    readonly warnings: readonly string[],
  ) {}

  get source(): string {
    return this.dir;
  }

  /** Lists the corpus at `root` (see resolveCorpusDir for the layouts accepted). */
  static async open(root: string, options: CorpusOptions = {}): Promise<LibriSpeechCorpus> {
    const dir = await resolveCorpusDir(root, options.subset);
    const warnings: string[] = [];
    const warn = (message: string) => {
      warnings.push(message);
      (options.onWarning ?? console.warn)(message);
    };
    const utterances = await listUtterances(dir, options.checkCharacters ?? true, warn);
    if (options.durations ?? true) await addDurations(dir, utterances);
    return new LibriSpeechCorpus(dir, utterances, warnings);
  }

  get length(): number {
    return this.utterances.length;
  }

  /** Total duration in seconds of the utterances whose duration is known. */
  get seconds(): number {
    return this.utterances.reduce((sum, u) => sum + (u.seconds ?? 0), 0);
  }

  /** The n-th utterance (in sorted file-id order) with its waveform at `targetRate` Hz. */
  async load(n: number, targetRate = 16000): Promise<Utterance & LibriSpeechUtteranceInfo> {
    const info = this.utterances[n];
    if (!info) throw new RangeError(`utterance index ${n} is outside 0..${this.length - 1} of ${this.dir}`);
    return await loadUtterance(info, targetRate);
  }

  /** All utterances in order, one waveform in memory at a time. */
  async *[Symbol.asyncIterator](): AsyncGenerator<Utterance & LibriSpeechUtteranceInfo> {
    for (let n = 0; n < this.length; n++) yield await this.load(n);
  }
}

/** Decodes the waveform of a listed utterance. */
export async function loadUtterance<T extends UtteranceInfo>(
  info: T,
  targetRate = 16000,
): Promise<T & Utterance> {
  // Imported here so that listing works without the audio decoder loaded.
  const { loadAudio } = await import("./audio.ts");
  const { waveform, sampleRate } = await loadAudio(info.audioPath, targetRate);
  return { ...info, waveform, sampleRate };
}

async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isDirectory;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound || error instanceof Deno.errors.NotADirectory) return false;
    throw error;
  }
}

async function subdirectories(path: string): Promise<string[]> {
  const names: string[] = [];
  for await (const entry of Deno.readDir(path)) {
    // Hidden folders are not corpus data (e.g. the download's staging folder).
    if (entry.name.startsWith(".")) continue;
    if (entry.isDirectory || (entry.isSymlink && await isDirectory(join(path, entry.name)))) {
      names.push(entry.name);
    }
  }
  return names.sort();
}

/** Whether `dir` holds `<speaker>/<chapter>/` folders with audio or transcripts in them. */
async function hasSpeakerChapterLayout(dir: string): Promise<boolean> {
  if (!await isDirectory(dir)) return false;
  for (const speaker of await subdirectories(dir)) {
    for (const chapter of await subdirectories(join(dir, speaker))) {
      for await (const entry of Deno.readDir(join(dir, speaker, chapter))) {
        if (entry.name.endsWith(AUDIO_EXT) || entry.name.endsWith(TRANSCRIPT_EXT)) return true;
      }
    }
  }
  return false;
}

/**
 * The subset folder for `root`, which may be:
 * - the LibriSpeech root as torchaudio lays it out: `<root>/LibriSpeech/<subset>/` (the subset may be left out
 *   when there is only one);
 * - a folder holding the subset: `<root>/<subset>/`;
 * - the subset folder itself (speaker folders directly under it);
 * - a source folder that keeps its corpus in `<root>/librispeech/` (beside a manifest.tsv of durations).
 */
export async function resolveCorpusDir(root: string, subset?: string): Promise<string> {
  if (!await isDirectory(root)) throw new CorpusError(`corpus folder ${root} does not exist`);
  if (subset !== undefined) {
    const candidates = [join(root, "LibriSpeech", subset), join(root, subset)];
    if (basename(resolve(root)) === subset) candidates.push(root);
    for (const candidate of candidates) if (await isDirectory(candidate)) return candidate;
    throw new CorpusError(`subset ${subset} not found: looked for ${candidates.join(", ")}`);
  }
  if (await hasSpeakerChapterLayout(root)) return root;
  const nested = join(root, "librispeech");
  if (await hasSpeakerChapterLayout(nested)) return nested;
  const archiveRoot = join(root, "LibriSpeech");
  if (await isDirectory(archiveRoot)) {
    const subsets: string[] = [];
    for (const name of await subdirectories(archiveRoot)) {
      if (await hasSpeakerChapterLayout(join(archiveRoot, name))) subsets.push(name);
    }
    if (subsets.length === 1) return join(archiveRoot, subsets[0]);
    if (subsets.length > 1) {
      throw new CorpusError(`${archiveRoot} holds several subsets (${subsets.join(", ")}): name one`);
    }
  }
  throw new CorpusError(
    `no LibriSpeech corpus found at ${root}: expected <speaker>/<chapter>/ folders with .flac and ` +
      `.trans.txt files in ${root}, ${nested} or ${archiveRoot}/<subset>`,
  );
}

interface TranscriptLine {
  path: string;
  line: number;
  transcript: string;
}

/** Reads one `<speaker>-<chapter>.trans.txt`, checking each line's id and characters. */
async function readTranscripts(
  path: string,
  speaker: string,
  chapter: string,
  checkCharacters: boolean,
): Promise<Map<string, TranscriptLine>> {
  const lines = new Map<string, TranscriptLine>();
  const text = await Deno.readTextFile(path);
  const rawLines = text.split("\n");
  for (let i = 0; i < rawLines.length; i++) {
    const raw = rawLines[i];
    const line = i + 1;
    const content = raw.trim();
    if (content === "") continue;
    const space = content.indexOf(" ");
    if (space < 0) {
      throw new CorpusError(
        `${path}:${line}: expected "<speaker>-<chapter>-<utterance> TRANSCRIPT", got "${raw}"`,
      );
    }
    const fileId = content.slice(0, space);
    const transcript = content.slice(space + 1);
    const match = FILE_ID.exec(fileId);
    if (!match || match[1] !== speaker || match[2] !== chapter) {
      throw new CorpusError(
        `${path}:${line}: utterance id "${fileId}" does not belong to speaker ${speaker}, chapter ${chapter}`,
      );
    }
    const earlier = lines.get(fileId);
    if (earlier) {
      throw new CorpusError(`${path}:${line}: ${fileId} already has a transcript on line ${earlier.line}`);
    }
    if (checkCharacters) {
      try {
        textToInts(transcript);
      } catch (error) {
        if (!(error instanceof CharacterMapError)) throw error;
        const column = raw.length - raw.trimStart().length + space + 1 + error.column;
        throw new CorpusError(`${path}:${line}:${column}: ${fileId}: ${error.message}`);
      }
    }
    lines.set(fileId, { path, line, transcript });
  }
  return lines;
}

async function listUtterances(
  dir: string,
  checkCharacters: boolean,
  warn: (message: string) => void,
): Promise<LibriSpeechUtteranceInfo[]> {
  const utterances: LibriSpeechUtteranceInfo[] = [];
  const untranscribed: string[] = [];
  for (const speaker of await subdirectories(dir)) {
    const chapters = await subdirectories(join(dir, speaker));
    const listed = await Promise.all(chapters.map(async (chapter) => {
      const chapterDir = join(dir, speaker, chapter);
      const audio: string[] = [];
      for await (const entry of Deno.readDir(chapterDir)) {
        if (entry.name.endsWith(AUDIO_EXT)) audio.push(entry.name);
      }
      const transcriptPath = join(chapterDir, `${speaker}-${chapter}${TRANSCRIPT_EXT}`);
      let transcripts = new Map<string, TranscriptLine>();
      try {
        transcripts = await readTranscripts(transcriptPath, speaker, chapter, checkCharacters);
      } catch (error) {
        if (!(error instanceof Deno.errors.NotFound)) throw error;
        if (audio.length > 0) {
          throw new CorpusError(
            `${transcriptPath} is missing: ${audio.length} audio files in ${chapterDir} ` +
              `have no transcript`,
          );
        }
      }
      return { chapterDir, audio, transcripts };
    }));
    for (const { chapterDir, audio, transcripts } of listed) {
      const found = new Set<string>();
      for (const name of audio) {
        const fileId = name.slice(0, -AUDIO_EXT.length);
        const audioPath = join(chapterDir, name);
        const match = FILE_ID.exec(fileId);
        const chapter = basename(chapterDir);
        if (!match || match[1] !== speaker || match[2] !== chapter) {
          throw new CorpusError(
            `${audioPath}: audio file name is not <speaker>-<chapter>-<utterance>.flac for speaker ${speaker}, ` +
              `chapter ${chapter}`,
          );
        }
        const text = transcripts.get(fileId);
        if (!text) {
          untranscribed.push(audioPath);
          continue;
        }
        found.add(fileId);
        utterances.push({
          fileId,
          audioPath,
          transcriptPath: text.path,
          transcriptLine: text.line,
          transcript: text.transcript,
          speakerId: Number(match[1]),
          chapterId: Number(match[2]),
          utteranceId: Number(match[3]),
        });
      }
      for (const [fileId, text] of transcripts) {
        if (!found.has(fileId)) {
          warn(
            `${text.path}:${text.line}: transcript of ${fileId} has no audio file ` +
              `${join(chapterDir, fileId + AUDIO_EXT)}`,
          );
        }
      }
    }
  }
  if (untranscribed.length > 0) {
    untranscribed.sort();
    const shown = untranscribed.slice(0, 5).join(", ");
    const more = untranscribed.length > 5 ? ` and ${untranscribed.length - 5} more` : "";
    throw new CorpusError(
      `${untranscribed.length} audio file(s) have no line in their .trans.txt: ${shown}${more}`,
    );
  }
  // torchaudio sorts the file ids (string order); ids are ASCII, so code-unit order is the same.
  utterances.sort((a, b) => (a.fileId < b.fileId ? -1 : a.fileId > b.fileId ? 1 : 0));
  return utterances;
}

/** Fills `seconds` from manifest.tsv files (in `dir` or its parent), then from FLAC headers for the rest. */
async function addDurations(dir: string, utterances: UtteranceInfo[]): Promise<void> {
  const known = new Map<string, { seconds: number; sampleRate?: number }>();
  for (const manifestDir of [dir, dirname(resolve(dir))]) {
    for (const [path, entry] of await readManifest(join(manifestDir, MANIFEST))) {
      if (!known.has(path)) known.set(path, entry);
    }
  }
  const rest: UtteranceInfo[] = [];
  for (const u of utterances) {
    const entry = known.get(resolve(u.audioPath));
    if (entry) {
      u.seconds = entry.seconds;
      if (entry.sampleRate) u.fileSampleRate = entry.sampleRate;
    } else rest.push(u);
  }
  await addHeaderDurations(rest);
}

/**
 * Fills `seconds` and `fileSampleRate` from the FLAC headers of the utterances that lack them. A file that is
 * missing, not FLAC, or has a damaged header keeps an unknown duration: decoding it is what reports the problem.
 */
export async function addHeaderDurations(utterances: readonly UtteranceInfo[]): Promise<void> {
  const rest = utterances.filter((u) => u.seconds === undefined);
  const concurrency = 32;
  let next = 0;
  const worker = async () => {
    while (next < rest.length) {
      const u = rest[next++];
      const info = await readFlacStreamInfo(u.audioPath).catch((error) => {
        if (error instanceof AudioFormatError || error instanceof Deno.errors.NotFound) return null;
        throw error;
      });
      if (info && info.totalSamples > 0) {
        u.seconds = info.totalSamples / info.sampleRate;
        u.fileSampleRate = info.sampleRate;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, rest.length) }, worker));
}

/**
 * Durations from a manifest.tsv (header with `file` and `seconds` columns, `sample_rate` optional; `file`
 * relative to the manifest's folder), keyed by absolute audio path. A missing manifest gives an empty map.
 */
export async function readManifest(
  path: string,
): Promise<Map<string, { seconds: number; sampleRate?: number }>> {
  const entries = new Map<string, { seconds: number; sampleRate?: number }>();
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return entries;
    throw error;
  }
  const lines = text.split("\n");
  const header = lines[0].replace(/\r$/, "").split("\t");
  const fileColumn = header.indexOf("file");
  const secondsColumn = header.indexOf("seconds");
  const rateColumn = header.indexOf("sample_rate");
  if (fileColumn < 0 || secondsColumn < 0) return entries;
  const base = dirname(resolve(path));
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i].replace(/\r$/, "");
    if (line === "") continue;
    const cells = line.split("\t");
    const seconds = Number(cells[secondsColumn]);
    if (!cells[fileColumn] || !Number.isFinite(seconds) || seconds < 0) {
      throw new CorpusError(`${path}:${i + 1}: expected a file name and a duration in seconds`);
    }
    const rate = rateColumn >= 0 ? Number(cells[rateColumn]) : NaN;
    entries.set(resolve(base, cells[fileColumn]), {
      seconds,
      sampleRate: Number.isFinite(rate) && rate > 0 ? rate : undefined,
    });
  }
  return entries;
}

export interface FlacStreamInfo {
  sampleRate: number;
  channels: number;
  bitsPerSample: number;
  /** Samples per channel; 0 when the encoder did not know it. */
  totalSamples: number;
}

/**
 * The STREAMINFO block of a FLAC file, read from its first bytes only (after an ID3v2 tag, if any, its footer
 * too) by the same header reader the decoder uses. Returns null for a file that does not start like FLAC:
 * decoding it is what reports the problem. A file that starts like FLAC (or with an ID3v2 tag) but whose tag
 * or STREAMINFO is truncated or malformed is an AudioFormatError naming the file and byte offset.
 */
export async function readFlacStreamInfo(path: string): Promise<FlacStreamInfo | null> {
  const file = await Deno.open(path, { read: true });
  try {
    const info = await readStreamInfoFrom(new FileHeaderSource(file));
    if (info === null) return null;
    const { sampleRate, channels, bitsPerSample, totalSamples } = info;
    return { sampleRate, channels, bitsPerSample, totalSamples };
  } catch (error) {
    throw error instanceof AudioFormatError && error.file === undefined ? error.withFile(path) : error;
  } finally {
    file.close();
  }
}

/** A file's first bytes as the FLAC header reader wants them: read in small chunks, seeking over skips. */
class FileHeaderSource implements HeaderSource {
  private pos = 0;
  private chunk: Uint8Array = new Uint8Array(0);
  private chunkStart = 0;
  private size = -1;

  constructor(private readonly file: Deno.FsFile) {}

  offset(): number {
    return this.pos;
  }

  async peek(n: number): Promise<Uint8Array> {
    const from = this.pos - this.chunkStart;
    if (from < 0 || from + n > this.chunk.length) {
      this.chunk = await readAt(this.file, this.pos, Math.max(n, 4096));
      this.chunkStart = this.pos;
      return this.chunk.subarray(0, n);
    }
    return this.chunk.subarray(from, from + n);
  }

  async skip(n: number): Promise<number> {
    if (this.size < 0) this.size = (await this.file.stat()).size;
    const k = Math.max(0, Math.min(n, this.size - this.pos));
    this.pos += k;
    return k;
  }
}

async function readAt(file: Deno.FsFile, offset: number, length: number): Promise<Uint8Array> {
  await file.seek(offset, Deno.SeekMode.Start);
  const buffer = new Uint8Array(length);
  let filled = 0;
  while (filled < length) {
    const n = await file.read(buffer.subarray(filled));
    if (n === null) break;
    filled += n;
  }
  return buffer.subarray(0, filled);
}
