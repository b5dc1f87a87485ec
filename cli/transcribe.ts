/**
 * `deno task transcribe --checkpoint CK FILE...`: prints FILE<TAB>TRANSCRIPT for each FLAC or WAV file (any
 * sample rate, resampled to 16 kHz; stereo mixed down; any length). With --timestamps, each word's start and
 * end follow. Files are read as streams and cut into overlapping windows (model/long_inference.ts), so memory
 * stays the same for a 2-hour recording as for a 1-minute one.
 */
import { openAudioStream } from "../data/audio_stream.ts";
import { loadArpa } from "../model/arpa.ts";
import type { DecoderOptions } from "../model/inference.ts";
import { type Recording, transcribeRecordings } from "../model/long_inference.ts";
import { windowOptions } from "../model/windows.ts";
import { FRAME_HOP_SECONDS } from "../model/word_timestamps.ts";
import { loadModel, requireGpu, runCli, UsageError } from "./common.ts";
import { DECODER_FLAGS, defineCli, helpText, parseFlags } from "./flags.ts";
import { setMemoryLimit } from "../engine/memory.ts";
import { GpuDeviceLostError, GpuOutOfMemoryError } from "../engine/device.ts";
import { memoryReportLine } from "./memory_report.ts";
import { profileIterable, profilePhase, ProfileSession } from "../engine/profiler.ts";

/** The transcribe command's flags. */
export const TRANSCRIBE_SPEC = defineCli({
  usage: "usage: deno task transcribe --checkpoint CK.safetensors [options] FILE...",
  intro: "Prints FILE<TAB>TRANSCRIPT for each audio file (FLAC or WAV, any sample rate, mono or stereo).",
  positionals: "FILE...",
  flags: {
    checkpoint: {
      type: "path",
      required: true,
      help: "model checkpoint (.safetensors, PyTorch state_dict names)",
    },
    ...DECODER_FLAGS,
    timestamps: { type: "boolean", help: "also print each word with its start and end time in seconds" },
    window: {
      type: "number",
      min: 0,
      minExclusive: true,
      default: 24,
      arg: "SECONDS",
      help: "long recordings are cut into windows of this length, context included",
    },
    "window-context": {
      type: "number",
      min: 0,
      default: 2,
      arg: "S",
      help: "seconds each window overlaps its neighbours by on each side",
    },
    "batch-size": {
      type: "integer",
      min: 1,
      default: 3,
      help: "windows (of one file or several) run through the model together",
    },
    memory: { type: "boolean", help: "print the peak GPU and process memory at the end (stderr)" },
    "memory-limit": {
      type: "size",
      help: "keep the engine's GPU memory under SIZE (e.g. 2GB); over it, a clear error",
    },
    profile: {
      type: "boolean",
      help: "print where the time went at the end (stderr): per phase (decode audio, features, forward, " +
        "readback, decode text) and per kernel family",
    },
  },
});

/** Parses and checks the command line; null when --help was given (the caller prints it). */
export function parseTranscribeArgs(args: readonly string[]) {
  const { values, positionals, help } = parseFlags(TRANSCRIBE_SPEC, args);
  if (help) return null;
  if (positionals.length === 0) throw new UsageError("no audio files given (see --help)");
  let window;
  try {
    window = windowOptions(values.window, values["window-context"]);
  } catch (e) {
    throw new UsageError(`--window / --window-context: ${(e as Error).message}`);
  }
  return { ...values, files: positionals, windowOptions: window };
}

export async function main(args: string[]): Promise<number> {
  const values = parseTranscribeArgs(args);
  if (!values) {
    console.log(helpText(TRANSCRIBE_SPEC));
    return 0;
  }
  const positionals = values.files;
  const batchSize = values["batch-size"];
  const limit = values["memory-limit"] ?? null;
  await requireGpu();
  if (limit !== null) setMemoryLimit(limit);
  const model = await loadModel(values.checkpoint).catch((e) => {
    if (!(e instanceof GpuOutOfMemoryError)) throw e;
    throw new UsageError(
      `the model in ${values.checkpoint} alone needs more than --memory-limit. (${e.message})`,
    );
  });
  const decoder: DecoderOptions = {
    decoder: values.decoder,
    beamWidth: values["beam-width"],
    lm: values.lm ? await loadArpa(values.lm) : null,
    alpha: values.alpha,
    beta: values.beta,
  };
  if (decoder.lm && decoder.decoder === "greedy") decoder.decoder = "beam";
  const window = values.windowOptions;
  // The tutorial layout's later BiGRU layers run across the batch: its windows must run one at a time.
  const windowsPerBatch = model.config.gruLayout === "tutorial" ? 1 : batchSize;
  const profile = new ProfileSession(values.profile);
  profile.start();
  let failed = 0;
  const results = transcribeRecordings(model, recordings(positionals), {
    ...decoder,
    window,
    batchSize: windowsPerBatch,
  });
  let done = 0;
  try {
    for await (const r of results) {
      done++;
      if (!r.transcript) {
        failed++;
        console.error(`transcribe: skipping ${r.name}: ${r.error?.message}`);
        continue;
      }
      console.log(`${r.name}\t${r.transcript.text}`);
      if (values.timestamps) {
        for (const w of r.transcript.words) {
          const start = (w.startFrame * FRAME_HOP_SECONDS).toFixed(3);
          const end = ((w.endFrame + 1) * FRAME_HOP_SECONDS).toFixed(3);
          console.log(`\t${start}\t${end}\t${w.word}`);
        }
      }
    }
  } catch (e) {
    if (!(e instanceof GpuOutOfMemoryError) && !(e instanceof GpuDeviceLostError)) throw e;
    const what = e instanceof GpuOutOfMemoryError ? "out of GPU memory" : "the GPU device was lost";
    throw new UsageError(
      `${what} after ${done} of ${positionals.length} file(s) (${windowsPerBatch} window(s) of ` +
        `${values.window} s a batch): lower --batch-size or --window. (${e.message})`,
    );
  }
  await profile.end();
  if (values.memory) console.error(memoryReportLine());
  if (failed > 0) console.error(`transcribe: ${failed} file(s) could not be read`);
  return failed > 0 && failed === positionals.length ? 1 : 0;
}

/** Each file as a stream of 16 kHz samples, opened only when the transcriber reaches it. */
async function* recordings(files: readonly string[]): AsyncGenerator<Recording> {
  for (const file of files) {
    yield { name: file, audio: streamOf(file) };
  }
}

async function* streamOf(file: string): AsyncGenerator<Float32Array> {
  const stream = await profilePhase("decode audio", () => openAudioStream(file, 16000));
  try {
    for await (const chunk of profileIterable("decode audio", stream)) yield chunk;
  } finally {
    await stream.close();
  }
}

if (import.meta.main) await runCli("transcribe", () => main(Deno.args));
