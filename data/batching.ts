/**
 * Batches for training and evaluation: waveforms decoded by an AudioPool (in Web Workers, so decoding overlaps
 * the training step) and padded label matrices, in the epoch's order. The mel features are computed from the
 * waveforms on the GPU by the caller (data/features.ts).
 *
 * A file that cannot be decoded is skipped and reported (file and reason), the rest of its batch goes on; a batch
 * left with nothing is skipped whole and reported. Nothing is dropped silently: `loader.skipped` and
 * `loader.skippedBatches` hold every skip, for the count printed at the end of a run.
 *
 * Length rules are the PyTorch tutorial's: torchaudio MelSpectrogram(hop_length=200, center=True) gives
 * 1 + floor(samples / 200) frames; the model's stride-2 first convolution halves them, so
 * input_lengths = frames // 2; label_lengths = the transcript's length in characters.
 */
import { type Tensor, tensor } from "../engine/tensor.ts";
import type { AudioDecoder, DecodeResult } from "./audio_pool.ts";
import { CorpusError, type UtteranceInfo } from "./librispeech.ts";
import { type Alphabet, TUTORIAL_ALPHABET } from "./alphabet.ts";
import { CharacterMapError, textToInts } from "./text.ts";
import { HOP_LENGTH, spectrogramFrames } from "./frames.ts";

export { HOP_LENGTH, spectrogramFrames };

/** The value in label rows past each transcript's end (pad_sequence's default). */
export const LABEL_PAD = 0;

/** The tutorial's CTC input length of a clip: spectrogram frames // 2. */
export function inputLength(samples: number, hop = HOP_LENGTH): number {
  return Math.floor(spectrogramFrames(samples, hop) / 2);
}

/** The tutorial's CTC label length: the number of classes the transcript maps to. */
export function labelLength(transcript: string, alphabet: Alphabet = TUTORIAL_ALPHABET): number {
  return textToInts(transcript, alphabet).length;
}

/**
 * An utterance's transcript as class ids. A character outside the map is an error naming the transcript file,
 * line and column (as the corpus reader reports it).
 */
export function utteranceLabels(info: UtteranceInfo, alphabet: Alphabet = TUTORIAL_ALPHABET): Int32Array {
  try {
    return Int32Array.from(textToInts(info.transcript, alphabet));
  } catch (error) {
    if (!(error instanceof CharacterMapError)) throw error;
    throw new CorpusError(`${info.transcriptPath}:${info.transcriptLine}: ${info.fileId}: ${error.message}`);
  }
}

/**
 * Label sequences as one row-major (batch x maxLength) Int32Array, rows padded with `padValue` (default 0, as
 * the tutorial's pad_sequence). 0 is also the apostrophe's class: CTC reads only the first lengths[b] entries
 * of row b, so the padding value never matters to the loss.
 */
export function padBatch(
  sequences: readonly ArrayLike<number>[],
  padValue = LABEL_PAD,
): { labels: Int32Array; lengths: number[]; maxLength: number } {
  const lengths = sequences.map((s) => s.length);
  const maxLength = lengths.reduce((a, b) => Math.max(a, b), 0);
  const labels = new Int32Array(sequences.length * maxLength);
  if (padValue !== 0) labels.fill(padValue);
  sequences.forEach((s, b) => labels.set(s, b * maxLength));
  return { labels, lengths, maxLength };
}

/** The batches of `items` given as index lists (e.g. from epochBatches). */
export function selectBatches<T>(items: readonly T[], indexBatches: readonly (readonly number[])[]): T[][] {
  return indexBatches.map((batch) =>
    batch.map((i) => {
      if (!(i >= 0 && i < items.length)) {
        throw new RangeError(`selectBatches: index ${i} outside 0..${items.length - 1}`);
      }
      return items[i];
    })
  );
}

/** A file left out of a batch. */
export interface SkippedFile {
  file: string;
  reason: string;
  /** The batch's position in the epoch. */
  batch: number;
}

export interface Batch {
  /** Position of the batch in the epoch (batches skipped whole leave gaps). */
  index: number;
  /** The utterances decoded, in batch order; unreadable ones are left out and listed in `skipped`. */
  utterances: UtteranceInfo[];
  /** Mono waveforms at the pool's rate, one per utterance. */
  waveforms: Float32Array[];
  /** (batch x maxLabelLength) class ids, row-major, rows padded with LABEL_PAD (0). */
  labels: Int32Array;
  maxLabelLength: number;
  labelLengths: number[];
  /** The tutorial's CTC input lengths: (1 + floor(samples / 200)) // 2. */
  inputLengths: number[];
  /** Files of this batch that could not be decoded. */
  skipped: SkippedFile[];
}

export interface BatchLoaderOptions {
  /** Decodes the audio, e.g. an AudioPool (which the loader does not close). */
  decoder: AudioDecoder;
  /** Batches decoded ahead of the one being consumed (default 2). */
  prefetch?: number;
  /** Position to start at, for a resumed epoch (default 0). */
  start?: number;
  /** Called for each file skipped, as it happens. */
  onSkippedFile?: (skip: SkippedFile) => void;
  /** Called for each batch skipped whole because none of its files could be decoded. */
  onSkippedBatch?: (index: number, files: SkippedFile[]) => void;
  /** The classes the labels are written in (default: the tutorial's). */
  alphabet?: Alphabet;
}

/**
 * Iterates over an epoch's batches in order, keeping `prefetch` batches decoding ahead of the consumer. Breaking
 * out of the loop cancels what is still queued. Iterate once per loader.
 */
export class BatchLoader implements AsyncIterable<Batch> {
  /** Every file skipped so far. */
  readonly skipped: SkippedFile[] = [];
  /** Positions of the batches skipped whole. */
  readonly skippedBatches: number[] = [];
  private readonly batches: readonly (readonly UtteranceInfo[])[];
  private readonly labels: Int32Array[][];
  private readonly prefetch: number;
  private readonly start: number;
  private iterated = false;

  constructor(batches: readonly (readonly UtteranceInfo[])[], private readonly options: BatchLoaderOptions) {
    const prefetch = options.prefetch ?? 2;
    if (!Number.isInteger(prefetch) || prefetch < 0) {
      throw new RangeError(`BatchLoader: prefetch must be an integer >= 0, got ${prefetch}`);
    }
    const start = options.start ?? 0;
    if (!Number.isInteger(start) || start < 0 || start > batches.length) {
      throw new RangeError(`BatchLoader: start must be an integer in 0..${batches.length}, got ${start}`);
    }
    this.batches = batches;
    this.prefetch = prefetch;
    this.start = start;
    // All transcripts are checked up front, so a bad one stops the run before any training time is spent.
    const alphabet = options.alphabet ?? TUTORIAL_ALPHABET;
    this.labels = batches.map((batch) => batch.map((u) => utteranceLabels(u, alphabet)));
  }

  /** Number of batches in the epoch (including any before `start`). */
  get length(): number {
    return this.batches.length;
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<Batch> {
    if (this.iterated) throw new Error("BatchLoader: already iterated; make a new loader for each epoch");
    this.iterated = true;
    const abort = new AbortController();
    const decoding = new Map<number, Promise<DecodeResult[]>>();
    const request = (k: number) => {
      const results = Promise.all(
        this.batches[k].map((u) => this.options.decoder.decode(u.audioPath, abort.signal)),
      );
      // A prefetched batch may fail (pool closed) before it is awaited; its error surfaces when it is.
      results.catch(() => {});
      decoding.set(k, results);
    };
    try {
      for (let k = this.start; k < this.batches.length; k++) {
        const last = Math.min(this.batches.length - 1, k + this.prefetch);
        for (let j = k; j <= last; j++) if (!decoding.has(j)) request(j);
        const results = await decoding.get(k)!;
        decoding.delete(k);
        const batch = this.assemble(k, results);
        if (batch) yield batch;
      }
    } finally {
      abort.abort();
      await Promise.allSettled(decoding.values());
    }
  }

  private assemble(index: number, results: DecodeResult[]): Batch | null {
    const utterances: UtteranceInfo[] = [];
    const waveforms: Float32Array[] = [];
    const labelRows: Int32Array[] = [];
    const skipped: SkippedFile[] = [];
    results.forEach((result, i) => {
      if (result.ok) {
        utterances.push(this.batches[index][i]);
        waveforms.push(result.waveform);
        labelRows.push(this.labels[index][i]);
      } else {
        const skip = { file: result.file, reason: result.reason, batch: index };
        skipped.push(skip);
        this.skipped.push(skip);
        this.options.onSkippedFile?.(skip);
      }
    });
    if (utterances.length === 0) {
      this.skippedBatches.push(index);
      this.options.onSkippedBatch?.(index, skipped);
      return null;
    }
    const { labels, lengths, maxLength } = padBatch(labelRows);
    return {
      index,
      utterances,
      waveforms,
      labels,
      maxLabelLength: maxLength,
      labelLengths: lengths,
      inputLengths: waveforms.map((w) => inputLength(w.length)),
      skipped,
    };
  }
}

/**
 * A batch's labels as an i32 (batch, maxLabel) tensor for the CTC loss; a batch whose transcripts are all empty
 * gets one padding column (CTC reads only `labelLengths[b]` entries of each row).
 */
export function labelTensor(b: Pick<Batch, "labels" | "maxLabelLength" | "utterances">): Tensor {
  const n = b.utterances.length;
  if (b.maxLabelLength === 0) return tensor(new Int32Array(n), [n, 1], "i32");
  return tensor(b.labels, [n, b.maxLabelLength], "i32");
}
