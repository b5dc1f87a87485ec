/**
 * Builds the bundled sample corpus data/sample/{train,dev}/ from the Free Spoken Digit Dataset (a LibriSpeech-layout
 * copy given by --source), at 8 kHz, the dataset's native rate. By default each recording is one digit clip as the
 * dataset cut it: isolated digits are what the tiny model learns within the first run's five
 * minutes on 2 CPU cores (dev CER 0.05 after about 560 steps of batch 8), while recordings of several joined
 * digits with digital-zero silences kept it in CTC's blank-only stage for hundreds of steps and at dev CER 0.64
 * after 12 epochs.
 * `--max-digits N` joins 1-N clips of one speaker with silences between them (joined_digits.ts), as the
 * word-timing fixtures in tests/fixtures/fsdd_joined are made.
 *
 * Only the dataset's own training recordings are used (recording index, the utterance number % 50, of 5 or more;
 * 0-4 are its test split): indices 5-9 make dev/, 10-34 make train/, each clip used once; 35-49 are left out to
 * keep the bundle about 10 MB. Everything is drawn from --seed, so the same source and seed give the same files.
 *
 *   deno run -A data/sample/make_sample.ts --source DIR [--seed 12] [--max-digits 1] [--out DIR] [--max-bytes N]
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
  return r < 5 || r > 34 ? null : r < 10 ? "dev" : "train";
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      source: { type: "string" },
      seed: { type: "string", default: "12" },
      "max-bytes": { type: "string", default: "10000000" },
      "max-digits": { type: "string", default: "1" },
      out: { type: "string" },
    },
  });
  if (!values.source) throw new Error("--source DIR (the digit corpus in LibriSpeech layout) is required");
  const seed = Number(values.seed);
  const here = values.out ?? dirname(new URL(import.meta.url).pathname);
  const maxDigits = Number(values["max-digits"]);
  if (!Number.isInteger(maxDigits) || maxDigits < 1 || maxDigits > DEFAULT_JOIN.maxDigits) {
    throw new Error(`--max-digits must be 1-${DEFAULT_JOIN.maxDigits}, got ${values["max-digits"]}`);
  }
  // Isolated clips are bundled as FSDD cut them, with no silence added: stretches of digital zero (log-mel
  // log(1e-6), far below any speech) kept the tiny model at dev CER 0.55 after 940 steps, against 0.05 without.
  const join1 = maxDigits === 1
    ? { ...DEFAULT_JOIN, maxDigits: 1, lengthWeights: [1], edge: [0, 0] as [number, number] }
    : { ...DEFAULT_JOIN, maxDigits, lengthWeights: DEFAULT_JOIN.lengthWeights!.slice(0, maxDigits) };
  const clips = await listDigitClips(values.source);
  const cache = new ClipCache(8000);
  let bytes = 0;
  for (const [k, name] of (["train", "dev"] as const).entries()) {
    const chosen = clips.filter((c) => sampleSubsetOf(c) === name);
    const plans = planJoined(chosen, { ...join1, seed: seed + 1000 * k });
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
