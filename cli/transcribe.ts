/**
 * `deno task transcribe --checkpoint CK FILE...`: prints FILE<TAB>TRANSCRIPT for each FLAC or WAV file (any
 * sample rate, resampled to 16 kHz; stereo mixed down; any length). With --timestamps, each word's start and
 * end follow. Files are read as streams and cut into overlapping windows (model/long_inference.ts), so memory
 * stays the same for a 2-hour recording as for a 1-minute one.
 */
import { parseArgs } from "node:util";
import { openAudioStream } from "../data/audio_stream.ts";
import { loadArpa } from "../model/arpa.ts";
import type { DecoderOptions } from "../model/inference.ts";
import { type Recording, transcribeRecordings } from "../model/long_inference.ts";
import { windowOptions } from "../model/windows.ts";
import { FRAME_HOP_SECONDS } from "../model/word_timestamps.ts";
import { loadModel, parseBytes, requireGpu, runCli, UsageError } from "./common.ts";
import { setMemoryLimit } from "../engine/memory.ts";
import { GpuDeviceLostError, GpuOutOfMemoryError } from "../engine/device.ts";
import { memoryReportLine } from "./memory_report.ts";
import {
  profileIterable,
  profilePhase,
  profileReport,
  startProfile,
  stopProfile,
} from "../engine/profiler.ts";

const HELP = `usage: deno task transcribe --checkpoint CK.safetensors [options] FILE...

Prints FILE<TAB>TRANSCRIPT for each audio file (FLAC or WAV, any sample rate, mono or stereo).

options:
  --checkpoint FILE     model checkpoint (.safetensors, PyTorch state_dict names)
  --decoder greedy|beam greedy CTC decoding (default) or prefix beam search
  --beam-width N        beam width (default 100)
  --lm FILE             ARPA n-gram language model for the beam search (.arpa or .arpa.gz)
  --alpha X --beta X    language model weight and word insertion bonus (default 0.5, 1.0)
  --timestamps          also print each word with its start and end time in seconds
  --window SECONDS      long recordings are cut into windows of this length, context included (default 24)
  --window-context S    seconds each window overlaps its neighbours by on each side (default 2)
  --batch-size N        windows (of one file or several) run through the model together (default 3)
  --memory              print the peak GPU and process memory at the end (stderr)
  --memory-limit SIZE   keep the engine's GPU memory under SIZE (e.g. 2GB); over it, a clear error
  --profile             print where the time went at the end (stderr): per phase (decode audio, features,
                        forward, readback, decode text) and per kernel family
  -h, --help            this text`;

export async function main(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      checkpoint: { type: "string" },
      decoder: { type: "string", default: "greedy" },
      "beam-width": { type: "string", default: "100" },
      lm: { type: "string" },
      alpha: { type: "string" },
      beta: { type: "string" },
      timestamps: { type: "boolean", default: false },
      window: { type: "string", default: "24" },
      "window-context": { type: "string", default: "2" },
      "batch-size": { type: "string", default: "3" },
      memory: { type: "boolean", default: false },
      "memory-limit": { type: "string" },
      profile: { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  if (!values.checkpoint) throw new UsageError("--checkpoint is required (see --help)");
  if (positionals.length === 0) throw new UsageError("no audio files given (see --help)");
  if (values.decoder !== "greedy" && values.decoder !== "beam") {
    throw new UsageError(`--decoder must be greedy or beam, got ${values.decoder}`);
  }
  const batchSize = Number(values["batch-size"]);
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw new UsageError("--batch-size must be a positive integer");
  }
  const limit = values["memory-limit"] ? parseBytes("--memory-limit", values["memory-limit"]) : null;
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
    beamWidth: Number(values["beam-width"]),
    lm: values.lm ? await loadArpa(values.lm) : null,
    alpha: values.alpha !== undefined ? Number(values.alpha) : undefined,
    beta: values.beta !== undefined ? Number(values.beta) : undefined,
  };
  if (decoder.lm && decoder.decoder === "greedy") decoder.decoder = "beam";
  let window;
  try {
    window = windowOptions(Number(values.window), Number(values["window-context"]));
  } catch (e) {
    throw new UsageError(`--window / --window-context: ${(e as Error).message}`);
  }
  // The tutorial layout's later BiGRU layers run across the batch: its windows must run one at a time.
  const windowsPerBatch = model.config.gruLayout === "tutorial" ? 1 : batchSize;
  if (values.profile) startProfile();
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
  if (values.profile) {
    await stopProfile();
    console.error(profileReport());
  }
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
