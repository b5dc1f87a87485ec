/**
 * `deno task transcribe --checkpoint CK [--format F] [--output-dir DIR] INPUT...`: transcribes audio files,
 * folders of them, manifests listing them, or `-` (standard input), with one model load for all of them.
 *
 * Files are read as streams and cut into overlapping windows (model/long_inference.ts), so memory stays the same
 * for a 2-hour recording as for a 1-minute one; the model reads the files longest first, short ones many to a
 * batch. A file that cannot be read is named on stderr and skipped; the exit code says whether all were
 * transcribed (0), some were not (2), or nothing could be (1). From standard input, segments are printed as
 * they become final, while the input is still arriving. At the end, stderr gets the real-time factor.
 */
import { openAudioStream } from "../data/audio_stream.ts";
import { loadArpa } from "../model/arpa.ts";
import type { DecoderOptions } from "../model/inference.ts";
import { type Recording, transcribeRecordings } from "../model/long_inference.ts";
import type { SpeechRecognitionModel } from "../model/recognizer.ts";
import { transcriptDocument } from "../model/segments.ts";
import { loadModel, requireCheckpointFile, requireGpu, runCli, UsageError } from "./common.ts";
import { decoderFlagOptions, helpText } from "./flags.ts";
import {
  batchOptions,
  parseTranscribeArgs,
  TRANSCRIBE_SPEC,
  type TranscribeArgs,
  type TranscribeStats,
} from "./transcribe_args.ts";
import { setMemoryLimit } from "../engine/memory.ts";
import { GpuDeviceLostError, GpuOutOfMemoryError } from "../engine/device.ts";
import { memoryReportLine } from "./memory_report.ts";
import { profileIterable, profilePhase, ProfileSession } from "../engine/profiler.ts";
import { Progress } from "./progress.ts";
import { expandInputs, STDIN_INPUT, type TranscribeInput } from "./transcribe_inputs.ts";
import { DirectorySink, type OutputSink, StdoutSink } from "./transcribe_output.ts";
import { transcribeStdin } from "./transcribe_stdin.ts";

export { parseTranscribeArgs, TRANSCRIBE_SPEC };

function reportSkip(progress: Progress | null, what: string, reason: string): void {
  const line = `transcribe: skipping ${what}: ${reason}`;
  if (progress) progress.message(line);
  else console.error(line);
}

export async function main(args: string[]): Promise<number> {
  const values = parseTranscribeArgs(args);
  if (!values) {
    console.log(helpText(TRANSCRIBE_SPEC));
    return 0;
  }
  await requireCheckpointFile(values.checkpoint);
  const { inputs, problems } = await expandInputs(values.files);
  for (const p of problems) reportSkip(null, p.where, p.reason);
  const outputDir = values["output-dir"];
  if (inputs.length > 1 && !outputDir && !["tsv", "json"].includes(values.format)) {
    throw new UsageError(
      `--format ${values.format} writes one document per input: give --output-dir DIR for ${inputs.length} inputs`,
    );
  }
  if (inputs.length === 0) {
    console.error("transcribe: nothing to transcribe");
    return 1;
  }
  const limit = values["memory-limit"] ?? null;
  await requireGpu();
  if (limit !== null) setMemoryLimit(limit);
  const loadStart = performance.now();
  const model = await loadModel(values.checkpoint).catch((e) => {
    if (!(e instanceof GpuOutOfMemoryError)) throw e;
    throw new UsageError(
      `the model in ${values.checkpoint} alone needs more than --memory-limit. (${e.message})`,
    );
  });
  const loadSeconds = (performance.now() - loadStart) / 1000;
  const decoder: DecoderOptions = {
    decoder: values.decoder,
    beamWidth: values["beam-width"],
    lm: values.lm ? await loadArpa(values.lm) : null,
    alpha: values.alpha,
    beta: values.beta,
    alphabet: model.config.alphabet,
    ...await decoderFlagOptions(values),
  };
  if (decoder.lm && decoder.decoder === "greedy") decoder.decoder = "beam";
  const profile = new ProfileSession(values.profile);
  profile.start();
  const started = performance.now();
  const stats = inputs[0].path === STDIN_INPUT
    ? await guardGpu(values, () => "the input", () => transcribeStdin(model, values, decoder))
    : await transcribeFiles(model, inputs, values, decoder);
  const seconds = (performance.now() - started) / 1000;
  await profile.end();
  if (values.memory) console.error(memoryReportLine());
  const failed = stats.failed + problems.length;
  console.error(speedLine(stats, failed, seconds, loadSeconds));
  if (failed > 0) console.error(`transcribe: ${failed} file(s) could not be read`);
  return failed === 0 ? 0 : stats.done === 0 ? 1 : 2;
}

/** The real-time factor: seconds of audio transcribed per second of wall time, model loading apart. */
function speedLine(stats: TranscribeStats, failed: number, seconds: number, loadSeconds: number): string {
  const audio = stats.audioSeconds.toFixed(1);
  const rtf = (stats.audioSeconds / seconds).toFixed(1);
  return `transcribe: ${stats.done} of ${stats.done + failed} input(s), ${audio} s of audio in ` +
    `${seconds.toFixed(1)} s: ${rtf}x real time (audio seconds per second; model loaded in ` +
    `${loadSeconds.toFixed(1)} s)`;
}

/** Out of GPU memory (or a lost device) mid-run becomes one line saying how far it got and what to lower. */
export async function guardGpu<T>(
  values: TranscribeArgs,
  where: () => string,
  run: () => Promise<T>,
): Promise<T> {
  try {
    return await run();
  } catch (e) {
    if (!(e instanceof GpuOutOfMemoryError) && !(e instanceof GpuDeviceLostError)) throw e;
    const what = e instanceof GpuOutOfMemoryError ? "out of GPU memory" : "the GPU device was lost";
    throw new UsageError(
      `${what} in ${where()} (batches of ${values["batch-size"]} window(s) of ` +
        `${values.window} s): lower --batch-size or --window. (${e.message})`,
    );
  }
}

async function transcribeFiles(
  model: SpeechRecognitionModel,
  inputs: TranscribeInput[],
  values: TranscribeArgs,
  decoder: DecoderOptions,
): Promise<TranscribeStats> {
  const sink: OutputSink = values["output-dir"]
    ? new DirectorySink(values["output-dir"], inputs, values.format, values.timestamps)
    : new StdoutSink(inputs, values.format, values.timestamps);
  const progress = Deno.stderr.isTerminal() && inputs.length > 1
    ? new Progress({
      totalSteps: inputs.length,
      epoch: 1,
      epochs: 1,
      heading: "transcribe",
      unit: "file",
      out: Deno.stderr,
    })
    : null;
  const stats: TranscribeStats = { done: 0, failed: 0, audioSeconds: 0 };
  const order = await longestFirst(inputs, async (i, reason) => {
    stats.failed++;
    reportSkip(progress, inputs[i].path, reason);
    await sink.skip(i);
  });
  const started = performance.now();
  const recordings = async function* (): AsyncGenerator<Recording> {
    for (const i of order) yield { name: String(i), audio: streamOf(inputs[i].path) };
  };
  const where = () => `${stats.done + stats.failed} of ${inputs.length} file(s)`;
  await guardGpu(values, () => `the batch after ${where()}`, async () => {
    for await (
      const r of transcribeRecordings(model, recordings(), { ...decoder, ...batchOptions(model, values) })
    ) {
      const i = Number(r.name);
      if (!r.transcript) {
        stats.failed++;
        reportSkip(progress, inputs[i].path, r.error?.message ?? "unreadable");
        await sink.skip(i);
      } else {
        stats.done++;
        stats.audioSeconds += r.samples / 16000;
        await sink.add(i, transcriptDocument(r.transcript, r.samples / 16000, values.segments));
      }
      progress?.update(stats.done + stats.failed, {
        rtf: stats.audioSeconds / ((performance.now() - started) / 1000),
      });
    }
  });
  progress?.finish(`transcribe: ${stats.done + stats.failed} file(s) done`);
  return stats;
}

/**
 * The inputs' indices, longest recording first (by the length its header gives; unknown lengths first), so
 * that batches hold recordings of about the same length and the ETA errs on the long side. Inputs whose header
 * cannot be read are reported through `skip` and left out.
 */
async function longestFirst(
  inputs: readonly TranscribeInput[],
  skip: (index: number, reason: string) => Promise<void>,
): Promise<number[]> {
  const lengths: number[] = [];
  for (let i = 0; i < inputs.length; i++) {
    try {
      const stream = await openAudioStream(inputs[i].path, 16000);
      lengths[i] = stream.durationSeconds ?? Infinity;
      await stream.close();
    } catch (e) {
      lengths[i] = NaN;
      await skip(i, (e as Error).message);
    }
  }
  const order = inputs.map((_, i) => i).filter((i) => !Number.isNaN(lengths[i]));
  return order.sort((a, b) => lengths[b] - lengths[a] || a - b);
}

/** One file as a stream of 16 kHz samples, opened only when the transcriber reaches it. */
async function* streamOf(file: string): AsyncGenerator<Float32Array> {
  const stream = await profilePhase("decode audio", () => openAudioStream(file, 16000));
  try {
    for await (const chunk of profileIterable("decode audio", stream)) yield chunk;
  } finally {
    await stream.close();
  }
}

if (import.meta.main) await runCli("transcribe", () => main(Deno.args));
