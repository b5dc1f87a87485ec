/**
 * What the command-line tools share: turning known failures into one clear line and a non-zero exit, and
 * loading a checkpoint into a model with every mismatch named (its alphabet, from the metadata, is then
 * `model.config.alphabet`, which eval and transcribe decode with).
 */
import { GpuError, initGpu } from "../engine/device.ts";
import { checkWeights, loadCheckpoint } from "../model/checkpoint.ts";
import { parameterSpecs, SpeechRecognitionModel } from "../model/recognizer.ts";

/** A failure the user can act on: printed as one line, exit status 1. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/** Runs a CLI main function, printing known errors as one line instead of a stack trace. */
export async function runCli(name: string, main: () => Promise<number | void>): Promise<never> {
  try {
    const code = await main();
    Deno.exit(code ?? 0);
  } catch (e) {
    const err = e as Error;
    if (err instanceof UsageError || err instanceof GpuError || err instanceof Deno.errors.NotFound) {
      console.error(`${name}: ${err.message}`);
    } else if (err?.name?.endsWith("Error") && err.message && !Deno.env.get("SPEECH_DEBUG")) {
      console.error(`${name}: ${err.name}: ${err.message}\n(set SPEECH_DEBUG=1 for the stack trace)`);
    } else {
      console.error(err);
    }
    Deno.exit(1);
  }
}

/** Initialises WebGPU, or says in one line what to install. */
export async function requireGpu(): Promise<void> {
  try {
    await initGpu();
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

/** A missing checkpoint as one clear line, checked before a command spends time on its inputs. */
export async function requireCheckpointFile(path: string): Promise<void> {
  try {
    await Deno.stat(path);
  } catch {
    throw new UsageError(
      `checkpoint not found: ${path} (train one with \`deno task train\`, or pass --checkpoint)`,
    );
  }
}

/** Loads a checkpoint file into a model; a missing file or mismatched tensors give one clear error. */
export async function loadModel(path: string): Promise<SpeechRecognitionModel> {
  await requireCheckpointFile(path);
  // The config, alphabet included, comes from the file's metadata: a bad value there is named with the file.
  const { config, weights, shapes } = await loadCheckpoint(path).catch((e: Error) => {
    throw e instanceof Deno.errors.NotFound ? e : new UsageError(e.message);
  });
  try {
    checkWeights(weights, parameterSpecs(config), path, shapes);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const model = new SpeechRecognitionModel(config, weights);
  releaseHostCopies(weights);
  return model;
}

/**
 * Frees the host copies of weights now on the GPU (the upload copies them). Without this the file's bytes (95 MB
 * for the tutorial model) stay resident until V8 happens to collect them, which a run with a small JS heap may
 * never do: detaching an ArrayBuffer frees its memory at once.
 */
function releaseHostCopies(weights: Map<string, Float32Array>): void {
  const buffers = new Set<ArrayBuffer>();
  for (const w of weights.values()) buffers.add(w.buffer as ArrayBuffer);
  weights.clear();
  for (const b of buffers) {
    if (typeof b.transfer === "function" && !b.detached) b.transfer(0);
  }
}

const BYTE_UNITS: Record<string, number> = {
  "": 1,
  B: 1,
  KB: 1e3,
  MB: 1e6,
  GB: 1e9,
  KIB: 1024,
  MIB: 2 ** 20,
  GIB: 2 ** 30,
};

/** Parses a size flag ("800MB", "1.5GB", "2GiB", "123456" bytes); errors name the flag. */
export function parseBytes(flag: string, value: string): number {
  const m = /^\s*([\d.]+)\s*([a-zA-Z]*)\s*$/.exec(value);
  const unit = m ? BYTE_UNITS[m[2].toUpperCase()] : undefined;
  const n = m ? Number(m[1]) * (unit ?? NaN) : NaN;
  if (!(n > 0) || !Number.isFinite(n)) {
    throw new UsageError(`${flag} must be a size such as 800MB or 1.5GB, got "${value}"`);
  }
  return Math.floor(n);
}
