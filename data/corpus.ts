/**
 * What every source of training data gives the trainer, the evaluator and the validator: a list of utterances
 * (audio file, transcript, and where the transcript was written, for error messages), whether it came from a
 * LibriSpeech folder or from a NeMo, DeepSpeech or Common Voice manifest. Rows a reader could not turn into an
 * utterance are kept as problems, so they are reported and never silently dropped.
 */

/** One utterance as listed: everything but the waveform. */
export interface UtteranceInfo {
  /** A short name: LibriSpeech's `<speaker>-<chapter>-<utterance>`, or a manifest row's file name without extension. */
  fileId: string;
  audioPath: string;
  /** The file the transcript was read from: a `.trans.txt`, or the manifest. */
  transcriptPath: string;
  /** 1-based line of the transcript in `transcriptPath`. */
  transcriptLine: number;
  /** The transcript as written (LibriSpeech's is uppercase). */
  transcript: string;
  /** Duration in seconds, when a manifest or the FLAC header gives it. */
  seconds?: number;
  /** The file's own sample rate, when the FLAC header or manifest gives it. */
  fileSampleRate?: number;
  /** The duration the manifest states (NeMo's `duration`), which validation checks against the audio. */
  declaredSeconds?: number;
  /** The file size the manifest states (DeepSpeech's `wav_filesize`), checked by validation. */
  declaredBytes?: number;
  /** The manifest's split column: which side of the corpus the row is on. */
  split?: CorpusSplit;
}

/** The values a manifest's split column may take. */
export type CorpusSplit = "train" | "dev" | "test";
export const CORPUS_SPLITS: readonly CorpusSplit[] = ["train", "dev", "test"];

/** The formats a corpus can be given in. */
export type CorpusFormat = "librispeech" | "nemo-jsonl" | "deepspeech-csv" | "common-voice-tsv";

/** A row that is not a usable utterance, and why: `file:line` (and the field) point at it. */
export interface RowProblem {
  file: string;
  line: number;
  /** The field or column at fault, when one is. */
  field?: string;
  /** The row's audio path as written, when it could be read. */
  audio?: string;
  reason: string;
}

/** `file:line: [field: ]reason`, the one-line form every report uses. */
export function describeProblem(p: RowProblem): string {
  return `${p.file}:${p.line}: ${p.field ? `${p.field}: ` : ""}${p.reason}`;
}

/** A listed corpus: its utterances in order, the rows that could not be read, and warnings. */
export interface Corpus {
  /** The folder or manifest file that was listed. */
  readonly source: string;
  readonly format: CorpusFormat;
  readonly utterances: readonly UtteranceInfo[];
  readonly problems: readonly RowProblem[];
  readonly warnings: readonly string[];
}

/** A corpus that cannot be listed as asked: the message names the file (and line) at fault. */
export class CorpusError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "CorpusError";
  }
}
