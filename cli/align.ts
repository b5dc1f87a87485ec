/**
 * `deno task align --checkpoint CK FILE --text "..."` (or `--transcript FILE`, or `--manifest FILE` for many):
 * forced alignment. The model's log-probabilities for the whole recording (computed window by window) and the
 * given text go through a CTC Viterbi alignment (model/align.ts), which times every word and character of the
 * text; the result is written as Whisper-style JSON (with each word's characters), SRT, WebVTT, TSV or CTM.
 */
import { basename, join } from "node:path";
import type { Alphabet } from "../data/alphabet.ts";
import { CorpusError } from "../data/corpus.ts";
import { openAudioStream } from "../data/audio_stream.ts";
import { type AtomicWriter, writeFileAtomic } from "../data/atomic_write.ts";
import { GpuError } from "../engine/device.ts";
import { AlignmentError, DEFAULT_MAX_ALIGNMENT_BYTES, describeBytes } from "../model/align.ts";
import { recordingLogProbs } from "../model/align_audio.ts";
import { alignText } from "../model/align_words.ts";
import { FrameLevelMeter } from "../model/speech_edges.ts";
import type { SpeechRecognitionModel } from "../model/recognizer.ts";
import { roundSeconds, segmentWords } from "../model/segments.ts";
import type { TranscriptDocument } from "../model/transcript_document.ts";
import { outputFrames, type WindowOptions, windowOptions } from "../model/windows.ts";
import { FRAME_HOP_SECONDS } from "../model/word_timestamps.ts";
import {
  type AlignJob,
  checkTexts,
  corpusJobs,
  inlineTextJob,
  isCorpus,
  parseAlignManifest,
  transcriptFileJob,
} from "./align_inputs.ts";
import { loadModel, requireGpu, runCli, UsageError } from "./common.ts";
import { defineCli, helpText, parseFlags } from "./flags.ts";
import { formatCtm } from "./formats/ctm.ts";
import { formatDocument } from "./formats/mod.ts";

const FORMATS = ["json", "srt", "vtt", "tsv", "ctm"] as const;
type AlignFormat = typeof FORMATS[number];

/** The align command's flags. */
export const ALIGN_SPEC = defineCli({
  usage:
    "usage: deno task align --checkpoint CK.safetensors FILE (--text TEXT | --transcript FILE) [options]\n" +
    "       deno task align --checkpoint CK.safetensors --manifest FILE [options]",
  intro:
    "Times each word and character of a known text in a recording (FLAC or WAV, any sample rate) by CTC\n" +
    "forced alignment. The text is lowercased and whitespace runs are word breaks; the sentence punctuation\n" +
    `. , ! ? ; : and quotes (" \u201C \u201D \u2018 \u2019 \u00AB \u00BB ...) are dropped (\u2019 inside a word is an ` +
    "apostrophe);\nany other character the model's alphabet lacks is an error naming its line and column.",
  positionals: "FILE",
  flags: {
    checkpoint: { type: "path", required: true, help: "model checkpoint (.safetensors)" },
    text: { type: "string", arg: "TEXT", help: "the text spoken in FILE" },
    transcript: { type: "path", help: "a file holding the text spoken in FILE (UTF-8, any number of lines)" },
    manifest: {
      type: "path",
      help:
        "align many recordings: one `path<TAB>transcript` a line, paths relative to the manifest's folder",
    },
    format: {
      type: "enum",
      choices: FORMATS,
      default: "json",
      help: "json (Whisper's verbose_json shape, each word with its `chars`), srt, vtt, tsv, or ctm " +
        "(`<recording> 1 <start> <duration> <word> <confidence>`)",
    },
    output: {
      type: "path",
      help:
        "write to FILE (replaced whole, never half-written) instead of stdout; with --manifest, json is " +
        "written as JSON Lines and ctm as one list",
    },
    "output-dir": {
      type: "path",
      arg: "DIR",
      help:
        "write one file per recording, named after it (e.g. DIR/clip.srt); srt and vtt with --manifest need it",
    },
    "max-alignment-memory": {
      type: "size",
      default: DEFAULT_MAX_ALIGNMENT_BYTES,
      defaultText: "512MiB",
      help: "the alignment keeps frames x (2 x characters + 1) bytes (25 ms frames): a recording and text " +
        "over it is refused (512MiB is e.g. 10 minutes with 11,000 characters); split longer ones",
    },
    window: {
      type: "number",
      min: 0,
      minExclusive: true,
      default: 24,
      arg: "SECONDS",
      help: "the model runs over windows of this length, context included",
    },
    "window-context": {
      type: "number",
      min: 0,
      default: 2,
      arg: "S",
      help: "seconds each window overlaps its neighbours by on each side",
    },
    "batch-size": { type: "integer", min: 1, default: 3, help: "windows run through the model together" },
  },
  footer: "A recording that cannot be read or aligned is reported and skipped; the exit status is then 1.",
});

type AlignValues = ReturnType<typeof parseFlags<typeof ALIGN_SPEC.flags>>["values"];

/** Parses and checks the command line; null when --help was given (the caller prints it). */
export function parseAlignArgs(args: readonly string[]) {
  const { values, positionals, help } = parseFlags(ALIGN_SPEC, args);
  if (help) return null;
  const given = ["text", "transcript", "manifest"].filter((k) => values[k as "text"] !== undefined);
  if (given.length !== 1) {
    throw new UsageError(
      given.length === 0
        ? "give the text to align: --text TEXT, --transcript FILE or --manifest FILE (see --help)"
        : `--${given.join(" and --")} cannot be combined: give one`,
    );
  }
  if (values.manifest !== undefined && positionals.length > 0) {
    throw new UsageError(`--manifest names the recordings; remove ${positionals.join(" ")}`);
  }
  if (values.manifest === undefined && positionals.length !== 1) {
    throw new UsageError(
      positionals.length === 0
        ? "no audio file given (see --help)"
        : `one audio file with --${given[0]}, got ${positionals.length} (use --manifest for many)`,
    );
  }
  if (values.output !== undefined && values["output-dir"] !== undefined) {
    throw new UsageError("--output and --output-dir cannot be combined: give one");
  }
  let window: WindowOptions;
  try {
    window = windowOptions(values.window, values["window-context"]);
  } catch (e) {
    throw new UsageError(`--window / --window-context: ${(e as Error).message}`);
  }
  return { ...values, file: positionals[0] as string | undefined, windowOptions: window };
}

/** Reads the texts to align (not the audio) and checks them against the alphabet. */
async function readInputs(values: AlignValues & { file?: string }, alphabet: Alphabet) {
  const read = (path: string, what: string) =>
    Deno.readTextFile(path).catch((e) => {
      throw new UsageError(`cannot read the ${what} ${path}: ${(e as Error).message}`);
    });
  if (values.manifest !== undefined) {
    const manifest = values.manifest;
    const corpus = await isCorpus(manifest, async () => (await read(manifest, "manifest")).split("\n")[0]);
    const { raw, problems } = corpus
      ? await corpusJobs(manifest).catch((e: unknown) => {
        throw e instanceof CorpusError ? new UsageError(e.message) : e;
      })
      : parseAlignManifest(await read(manifest, "manifest"), manifest);
    const checked = checkTexts(raw, alphabet);
    return { jobs: checked.jobs, problems: [...problems, ...checked.problems] };
  }
  const raw = values.transcript !== undefined
    ? transcriptFileJob(values.file!, await read(values.transcript, "transcript"), values.transcript)
    : inlineTextJob(values.file!, values.text!);
  return checkTexts([raw], alphabet);
}

/** The file name a recording's output gets in --output-dir: its own name with the format's extension. */
function outputName(audio: string, format: AlignFormat): string {
  const base = basename(audio);
  const dot = base.lastIndexOf(".");
  return `${dot > 0 ? base.slice(0, dot) : base}.${format}`;
}

interface AlignSettings {
  window: WindowOptions;
  batchSize: number;
  maxBytes: number;
}

/** The most frames `job`'s text can be aligned to within the memory limit. */
function frameLimit(job: AlignJob, maxBytes: number): number {
  return Math.floor(maxBytes / (2 * job.text.labels.length + 1));
}

function seconds(frames: number): string {
  return String(roundSeconds(frames * FRAME_HOP_SECONDS));
}

function tooLong(job: AlignJob, frames: number, maxBytes: number): AlignmentError {
  const limit = frameLimit(job, maxBytes);
  return new AlignmentError(
    `the recording has at least ${frames} frames (${seconds(frames)} s), more than the ${limit} ` +
      `(${seconds(limit)} s) that ${job.text.labels.length} characters can be aligned to within ` +
      `--max-alignment-memory (${describeBytes(maxBytes)}): split the recording and its text`,
  );
}

/** Aligns one recording's text; errors concern this recording only, except the GPU's. */
async function alignJob(
  model: SpeechRecognitionModel,
  job: AlignJob,
  s: AlignSettings,
): Promise<TranscriptDocument> {
  const stream = await openAudioStream(job.audio, 16000);
  let samples = 0;
  try {
    if (stream.durationSeconds !== null) {
      const frames = outputFrames(Math.round(stream.durationSeconds * 16000));
      if (frames > frameLimit(job, s.maxBytes)) throw tooLong(job, frames, s.maxBytes);
    }
    const meter = new FrameLevelMeter();
    const counted = (async function* () {
      for await (const chunk of stream) {
        samples += chunk.length;
        meter.add(chunk);
        yield chunk;
      }
    })();
    const lp = await recordingLogProbs(model, counted, {
      window: s.window,
      batchSize: s.batchSize,
      maxFrames: { frames: frameLimit(job, s.maxBytes), error: (f) => tooLong(job, f, s.maxBytes) },
    });
    const duration = samples / 16000;
    const words = alignText(job.text, lp, { maxBytes: s.maxBytes, duration, levels: meter.result() });
    return { text: job.text.text, duration: roundSeconds(duration), segments: segmentWords(words) };
  } finally {
    await stream.close();
  }
}

/** Standard output as a writer, so the results stream there as they would into --output. */
function stdoutWriter(): AtomicWriter {
  const encoder = new TextEncoder();
  return {
    write: async (chunk) => {
      const bytes = typeof chunk === "string" ? encoder.encode(chunk) : chunk;
      for (let at = 0; at < bytes.length;) at += await Deno.stdout.write(bytes.subarray(at));
    },
  };
}

export async function main(args: string[]): Promise<number> {
  const values = parseAlignArgs(args);
  if (!values) {
    console.log(helpText(ALIGN_SPEC));
    return 0;
  }
  const format = values.format;
  const many = values.manifest !== undefined;
  const dir = values["output-dir"];
  if (many && dir === undefined && (format === "srt" || format === "vtt")) {
    throw new UsageError(`--format ${format} writes one file per recording: give --output-dir`);
  }
  await requireGpu();
  const model = await loadModel(values.checkpoint);
  const { jobs, problems } = await readInputs(values, model.config.alphabet);
  for (const p of problems) console.error(`align: skipping ${p}`);
  if (dir !== undefined) {
    const seen = new Map<string, string>();
    for (const j of jobs) {
      const name = outputName(j.audio, format);
      if (seen.has(name)) {
        throw new UsageError(`${j.audio} and ${seen.get(name)} would both write ${dir}/${name}`);
      }
      seen.set(name, j.audio);
    }
  }
  const settings: AlignSettings = {
    window: values.windowOptions,
    batchSize: values["batch-size"],
    maxBytes: values["max-alignment-memory"],
  };
  let failed = problems.length;
  const run = async (sink: AtomicWriter) => {
    for (const job of jobs) {
      let doc: TranscriptDocument;
      try {
        doc = await alignJob(model, job, settings);
      } catch (e) {
        if (e instanceof GpuError) throw e;
        failed++;
        console.error(`align: skipping ${job.audio}: ${(e as Error).message}`);
        continue;
      }
      const text = format === "ctm" ? formatCtm(doc, { name: job.audio }) : formatDocument(doc, format, {
        name: job.audio,
        jsonLine: many && dir === undefined,
        timestamps: true,
      });
      if (dir !== undefined) await writeFileAtomic(join(dir, outputName(job.audio, format)), text);
      else await sink.write(text);
    }
  };
  if (values.output !== undefined) await writeFileAtomic(values.output, (w) => run(w));
  else await run(stdoutWriter());
  if (failed > 0) console.error(`align: ${failed} recording(s) could not be aligned`);
  return failed > 0 ? 1 : 0;
}

if (import.meta.main) await runCli("align", () => main(Deno.args));
