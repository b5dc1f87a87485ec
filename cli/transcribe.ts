/**
 * `deno task transcribe --checkpoint CK FILE...`: prints FILE<TAB>TRANSCRIPT for each FLAC or WAV file (any
 * sample rate, resampled to 16 kHz; stereo mixed down). With --timestamps, each word's start and end follow.
 */
import { parseArgs } from "node:util";
import { loadAudio } from "../data/audio.ts";
import { loadArpa } from "../model/arpa.ts";
import { decodeLogProbs, type DecoderOptions, logProbsOf } from "../model/inference.ts";
import { FRAME_HOP_SECONDS } from "../model/word_timestamps.ts";
import { loadModel, requireGpu, runCli, UsageError } from "./common.ts";

const HELP = `usage: deno task transcribe --checkpoint CK.safetensors [options] FILE...

Prints FILE<TAB>TRANSCRIPT for each audio file (FLAC or WAV, any sample rate, mono or stereo).

options:
  --checkpoint FILE     model checkpoint (.safetensors, PyTorch state_dict names)
  --decoder greedy|beam greedy CTC decoding (default) or prefix beam search
  --beam-width N        beam width (default 100)
  --lm FILE             ARPA n-gram language model for the beam search (.arpa or .arpa.gz)
  --alpha X --beta X    language model weight and word insertion bonus (default 0.5, 1.0)
  --timestamps          also print each word with its start and end time in seconds
  --batch-size N        files run through the model together (default 8)
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
      "batch-size": { type: "string", default: "8" },
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
  await requireGpu();
  const model = await loadModel(values.checkpoint);
  const decoder: DecoderOptions = {
    decoder: values.decoder,
    beamWidth: Number(values["beam-width"]),
    lm: values.lm ? await loadArpa(values.lm) : null,
    alpha: values.alpha !== undefined ? Number(values.alpha) : undefined,
    beta: values.beta !== undefined ? Number(values.beta) : undefined,
  };
  if (decoder.lm && decoder.decoder === "greedy") decoder.decoder = "beam";
  let failed = 0;
  for (let i = 0; i < positionals.length; i += batchSize) {
    const files = positionals.slice(i, i + batchSize);
    const loaded: { file: string; waveform: Float32Array }[] = [];
    for (const file of files) {
      try {
        loaded.push({ file, waveform: (await loadAudio(file, 16000)).waveform });
      } catch (e) {
        failed++;
        console.error(`transcribe: skipping ${file}: ${(e as Error).message}`);
      }
    }
    if (loaded.length === 0) continue;
    const outputs = await logProbsOf(model, loaded.map((l) => l.waveform));
    outputs.forEach((u, k) => {
      const t = decodeLogProbs(u, decoder);
      console.log(`${loaded[k].file}\t${t.text}`);
      if (values.timestamps) {
        for (const w of t.words) {
          const start = (w.startFrame * FRAME_HOP_SECONDS).toFixed(3);
          const end = ((w.endFrame + 1) * FRAME_HOP_SECONDS).toFixed(3);
          console.log(`\t${start}\t${end}\t${w.word}`);
        }
      }
    });
  }
  if (failed > 0) console.error(`transcribe: ${failed} file(s) could not be read`);
  return failed > 0 && failed === positionals.length ? 1 : 0;
}

if (import.meta.main) await runCli("transcribe", () => main(Deno.args));
