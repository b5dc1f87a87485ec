/**
 * Builds the bundled sample corpus data/sample/{train,dev}/: spoken-digit clips of the Free Spoken Digit Dataset
 * (a LibriSpeech-layout copy given by --source) joined into recordings of 1-6 digits of one speaker with silences
 * between them (joined_digits.ts), at 8 kHz, the dataset's native rate. Only the dataset's own training
 * recordings are used (recording index, the utterance number % 50, of 5 or more; 0-4 are its test split):
 * indices 5-7 make dev/, 8-34 make train/, each clip used once; 35-49 are left out to keep the bundle about
 * 10 MB and the first run's epochs short. Everything is drawn from --seed, so the same source and seed give the
 * same files.
 *
 *   deno run -A data/sample/make_sample.ts --source DIR [--seed 12] [--max-bytes 10000000]
 */
import { parseArgs } from "node:util";
import { dirname, join, relative } from "node:path";
import { ClipCache, DEFAULT_JOIN, type DigitClip, listDigitClips, planJoined } from "./joined_digits.ts";
import { writeSubset } from "./write_subset.ts";

/** The recording index of a clip: which of its speaker's takes of that digit it is (0-49). */
export function recordingIndex(clip: DigitClip): number {
  return clip.utteranceId % 50;
}

/** Which bundled subset a source clip goes to, or null (the source's test recordings are never bundled). */
export function sampleSubsetOf(clip: DigitClip): "train" | "dev" | null {
  const r = recordingIndex(clip);
  return r < 5 || r > 34 ? null : r < 8 ? "dev" : "train";
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      source: { type: "string" },
      seed: { type: "string", default: "12" },
      "max-bytes": { type: "string", default: "10000000" },
    },
  });
  if (!values.source) throw new Error("--source DIR (the digit corpus in LibriSpeech layout) is required");
  const seed = Number(values.seed);
  const here = dirname(new URL(import.meta.url).pathname);
  const clips = await listDigitClips(values.source);
  const cache = new ClipCache(8000);
  let bytes = 0;
  for (const [k, name] of (["train", "dev"] as const).entries()) {
    const chosen = clips.filter((c) => sampleSubsetOf(c) === name);
    const plans = planJoined(chosen, { ...DEFAULT_JOIN, seed: seed + 1000 * k });
    const out = join(here, name);
    const written = await writeSubset(out, k + 1, plans, cache);
    for (const r of written) bytes += (await Deno.stat(join(out, r.file))).size;
    const seconds = written.reduce((s, r) => s + r.seconds, 0);
    const digits = written.reduce((s, r) => s + r.words.length, 0);
    console.log(
      `${relative(Deno.cwd(), out)}: ${written.length} recordings of ${digits} digits, ${(seconds / 60).toFixed(2)} min`,
    );
  }
  console.log(`FLAC bytes: ${bytes}`);
  if (bytes > Number(values["max-bytes"])) throw new Error(`the sample is ${bytes} bytes, over --max-bytes`);
}

if (import.meta.main) await main();
