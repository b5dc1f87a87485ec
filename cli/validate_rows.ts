/**
 * The checks a corpus row must pass to be trained on, shared by `deno task validate` (every check, audio
 * decoded) and `train` (the checks that need no decoding, run on every row before training starts): the audio
 * file exists and has the size the manifest says, it decodes, its sample rate is usable, its duration is the
 * manifest's, the transcript is not empty and maps to the model's characters, and the audio is long enough for
 * CTC to emit the transcript. Each failure is a RowProblem naming the transcript's file and line.
 */
import type { AudioDecoder } from "../data/audio_pool.ts";
import { openAudioStream } from "../data/audio_stream.ts";
import { inputLength } from "../data/batching.ts";
import type { RowProblem, UtteranceInfo } from "../data/corpus.ts";
import { type Alphabet, TUTORIAL_ALPHABET } from "../data/alphabet.ts";
import { CharacterMapError, textToInts } from "../data/text.ts";

/** The rate every waveform is decoded to for the model. */
const MODEL_RATE = 16000;
/** Below this the mel features' upper bands (to 8 kHz) would be empty: the rate a clip must have at least. */
export const MIN_SAMPLE_RATE = 8000;
/** How far the decoded duration may be from the manifest's (manifests round durations). */
export const DURATION_TOLERANCE_SECONDS = 0.1;

/** The model's class ids of a transcript (normalised), or why it has none. */
export function transcriptLabels(
  transcript: string,
  alphabet: Alphabet = TUTORIAL_ALPHABET,
): { labels: number[] } | { reason: string } {
  if (transcript.trim() === "") return { reason: "the transcript is empty" };
  let labels: number[];
  try {
    labels = textToInts(transcript, alphabet);
  } catch (error) {
    if (!(error instanceof CharacterMapError)) throw error;
    return { reason: error.message };
  }
  if (labels.length === 0) return { reason: `the transcript "${transcript}" is empty once normalised` };
  return { labels };
}

/**
 * Output frames CTC needs for `labels`: one per label, and one blank between each pair of equal neighbours
 * (CTC must separate "ll" by a blank).
 */
export function ctcFramesNeeded(labels: readonly number[]): number {
  let repeats = 0;
  for (let i = 1; i < labels.length; i++) if (labels[i] === labels[i - 1]) repeats++;
  return labels.length + repeats;
}

/** Why `labels` cannot be emitted in the CTC frames of `samples` samples at 16 kHz, or null when they fit. */
export function ctcLengthProblem(labels: readonly number[], samples: number): string | null {
  const needed = ctcFramesNeeded(labels);
  const frames = inputLength(samples);
  if (needed <= frames) return null;
  return `the transcript needs ${needed} CTC frames (${labels.length} characters and ` +
    `${needed - labels.length} repeated pair(s)) but its ${
      (samples / MODEL_RATE).toFixed(2)
    } s of audio give ` +
    `${frames}`;
}

function problemOf(u: UtteranceInfo, reason: string): RowProblem {
  return { file: u.transcriptPath, line: u.transcriptLine, audio: u.audioPath, reason };
}

/**
 * The checks that read no audio: the file exists (with the manifest's size), the transcript maps, and, when the
 * duration is known from the manifest or the FLAC header, the transcript fits its CTC frames.
 */
export async function checkListedRow(
  u: UtteranceInfo,
  alphabet: Alphabet = TUTORIAL_ALPHABET,
): Promise<RowProblem | null> {
  let size: number;
  try {
    const info = await Deno.stat(u.audioPath);
    if (!info.isFile) return problemOf(u, `audio ${u.audioPath} is not a file`);
    size = info.size;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      return problemOf(u, `audio file ${u.audioPath} does not exist`);
    }
    throw error;
  }
  if (u.declaredBytes !== undefined && u.declaredBytes !== size) {
    return problemOf(u, `the manifest gives ${u.declaredBytes} bytes but ${u.audioPath} has ${size}`);
  }
  const text = transcriptLabels(u.transcript, alphabet);
  if ("reason" in text) return problemOf(u, text.reason);
  if (u.seconds !== undefined) {
    const tooLong = ctcLengthProblem(text.labels, Math.round(u.seconds * MODEL_RATE));
    if (tooLong) return problemOf(u, tooLong);
  }
  return null;
}

/**
 * Every check: those of checkListedRow, then the audio decoded by `decoder` (at 16 kHz): it decodes, its own
 * rate is at least 8 kHz, its duration matches the manifest's, and the transcript fits the decoded length.
 */
export async function checkRow(
  u: UtteranceInfo,
  decoder: AudioDecoder,
  alphabet: Alphabet = TUTORIAL_ALPHABET,
): Promise<RowProblem | null> {
  const listed = await checkListedRow(u, alphabet);
  if (listed) return listed;
  const decoded = await decoder.decode(u.audioPath);
  if (!decoded.ok) return problemOf(u, `audio ${u.audioPath} does not decode: ${decoded.reason}`);
  const rate = await sourceRate(u);
  if (rate < MIN_SAMPLE_RATE) {
    return problemOf(
      u,
      `audio ${u.audioPath} is sampled at ${rate} Hz, under the ${MIN_SAMPLE_RATE} Hz needed`,
    );
  }
  const seconds = decoded.waveform.length / decoded.sampleRate;
  if (u.declaredSeconds !== undefined && Math.abs(seconds - u.declaredSeconds) > DURATION_TOLERANCE_SECONDS) {
    return problemOf(
      u,
      `the manifest gives ${u.declaredSeconds} s but ${u.audioPath} lasts ${seconds.toFixed(3)} s`,
    );
  }
  const text = transcriptLabels(u.transcript, alphabet) as { labels: number[] };
  const tooLong = ctcLengthProblem(text.labels, Math.round(seconds * MODEL_RATE));
  return tooLong ? problemOf(u, tooLong) : null;
}

/** The file's own sample rate: from the listing (FLAC header) or the stream header. */
async function sourceRate(u: UtteranceInfo): Promise<number> {
  if (u.fileSampleRate !== undefined) return u.fileSampleRate;
  const stream = await openAudioStream(u.audioPath, MODEL_RATE);
  await stream.close();
  return stream.sourceRate;
}
