/**
 * The recognizer for a web page: what a page imports (bundled into web/dist/speech.js by `deno task build:web`).
 * The same engine, kernels and checkpoints as the command line, on the browser's WebGPU, with no server doing the
 * work: a checkpoint and audio come in as bytes (fetched, chosen or dropped), the transcript comes out. Nothing
 * reachable from here may use Deno or node: APIs (tests/web/static_test.ts checks).
 *
 * @module
 */
import { gpu, GpuError, initGpu, setQuiet } from "../engine/device.ts";
import { parameterSpecs, SpeechRecognitionModel } from "../model/recognizer.ts";
import { checkWeights, readCheckpoint } from "../model/checkpoint_bytes.ts";
import { logProbsOf, type UtteranceLogProbs } from "../model/inference.ts";
import { type LongAudioOptions, type RecordingResult, transcribeLong } from "../model/long_inference.ts";

export { GpuError, initGpu };
export { decodeAudioBytes, isFlacOrWav, toSampleRate } from "../data/audio_bytes.ts";
export { FRAME_HOP_SECONDS, type WordTiming } from "../model/word_timestamps.ts";
export type { LongAudioOptions, RecordingResult, UtteranceLogProbs };
export { SpeechRecognitionModel };

/** The sample rate the recognizer takes. */
export const SAMPLE_RATE = 16000;

/** What WebGPU adapter the engine runs on. */
export interface AdapterSummary {
  /** The adapter's own words (vendor, architecture, description), e.g. "google swiftshader ...". */
  name: string;
  /** True for a software (CPU) adapter. */
  cpu: boolean;
  /** The device's maxStorageBufferBindingSize, which bounds how much audio one batch can hold. */
  maxStorageBufferBindingSize: number;
}

/**
 * Starts WebGPU (once) and says which adapter it got. Throws a {@link GpuError} when the browser has no WebGPU
 * adapter; {@link webGpuHelp} has the words for a page to show then.
 */
export async function startGpu(): Promise<AdapterSummary> {
  setQuiet(true);
  const g = await initGpu();
  const i = g.adapterInfo;
  const name = [i.vendor, i.architecture, i.description].filter((s) => s).join(" ") || "unknown adapter";
  return { name, cpu: g.isCpuAdapter, maxStorageBufferBindingSize: gpu().limits.maxStorageBufferBindingSize };
}

/** Whether this browser exposes WebGPU at all (`navigator.gpu`). */
export function hasWebGpu(): boolean {
  return typeof navigator !== "undefined" && "gpu" in navigator && !!navigator.gpu;
}

/** How to get WebGPU in a browser that lacks it: one paragraph for a page to show. */
export function webGpuHelp(): string {
  return "This page runs the recognizer on WebGPU, which this browser does not offer. Chrome and Edge 113+ have " +
    "it on Windows, macOS and ChromeOS; on Linux start Chrome or Chromium with --enable-unsafe-webgpu (and " +
    "--enable-features=Vulkan), or enable chrome://flags/#enable-unsafe-webgpu. Firefox 141+ has it on Windows " +
    "(elsewhere: dom.webgpu.enabled in about:config); Safari 26+ has it on macOS and iOS.";
}

/**
 * A recognizer from the bytes of a `.safetensors` checkpoint (PyTorch `state_dict` names, config in the
 * metadata). `name` (file name or URL) is what errors call it. The weights are checked against the config
 * before anything goes to the GPU.
 */
export function modelFromBytes(bytes: Uint8Array, name: string): SpeechRecognitionModel {
  const { config, weights, shapes } = readCheckpoint(bytes, name);
  checkWeights(weights, parameterSpecs(config), name, shapes);
  return new SpeechRecognitionModel(config, weights);
}

/**
 * Transcribes 16 kHz mono samples of any length as `deno task transcribe` does (overlapping windows, greedy or
 * beam decoding).
 */
export function transcribe(
  model: SpeechRecognitionModel,
  waveform: Float32Array,
  opts: LongAudioOptions = {},
): Promise<RecordingResult> {
  return transcribeLong(model, waveform, opts);
}

/** The model's log-probabilities of one whole clip (one batch, no windows): for checks and displays. */
export async function clipLogProbs(
  model: SpeechRecognitionModel,
  waveform: Float32Array,
): Promise<UtteranceLogProbs> {
  return (await logProbsOf(model, [waveform]))[0];
}
