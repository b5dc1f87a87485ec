/**
 * Recordings made by joining isolated spoken-digit clips with silences between them, with the true start and end
 * of every word: what the bundled sample corpus (make_sample.ts) and the word-timing fixtures
 * (tests/fixtures/fsdd_joined/make_fixtures.ts) are built from. A model trained only on isolated clips cannot
 * transcribe a run of digits, so both the training data and the test recordings are joined the same way.
 *
 * Clips are kept whole: the source clips are already cut close to the speech, so a word's start and end are the
 * edges of its clip inside the recording, exact to the sample. Silences are digital zero, as batch padding is:
 * log-mel frames of exact zeros are a constant floor that the model's per-frame LayerNorm maps to nothing, where
 * faint noise would be blown up to unit variance (and would cost FLAC bytes).
 */
import { writeFileAtomic } from "../atomic_write.ts";
import { loadAudio } from "../audio.ts";
import { LibriSpeechCorpus } from "../librispeech.ts";
import { monoWav } from "../wav_write.ts";
import { Random } from "../../engine/random.ts";

/** One isolated digit clip of the source corpus. */
export interface DigitClip {
  /** The source utterance id, e.g. "90001-1-0057". */
  id: string;
  speakerId: number;
  /** The source utterance number (digit * 50 + recording index in the digit corpus' layout). */
  utteranceId: number;
  /** The word said, lowercase ("seven"). */
  word: string;
  path: string;
}

/** What a joined recording is made of: one speaker's clips and the silences around and between them. */
export interface JoinedPlan {
  speakerId: number;
  clips: DigitClip[];
  /** Seconds of silence: before the first clip, between clips, after the last (clips.length + 1 values). */
  silences: number[];
}

/** A word's place in a joined recording, in seconds from its start. */
export interface WordTime {
  word: string;
  start: number;
  end: number;
}

export interface JoinOptions {
  seed: number;
  minDigits: number;
  maxDigits: number;
  /** Relative weights of minDigits..maxDigits digits a recording (default: all equal). */
  lengthWeights?: number[];
  /** Range of the silence between two clips, in seconds. */
  gap: [number, number];
  /** Range of the silence before the first and after the last clip, in seconds. */
  edge: [number, number];
}

export const DEFAULT_JOIN: Omit<JoinOptions, "seed"> = {
  minDigits: 1,
  maxDigits: 6,
  // Short recordings get the tiny model past CTC's blank-only stage sooner (in about 300 steps of 4 against
  // none in 360 with all lengths equally likely); the longer ones teach it runs of digits.
  lengthWeights: [4, 2, 1, 1, 1, 1],
  gap: [0.1, 0.4],
  edge: [0.05, 0.25],
};

/** The digit clips of a LibriSpeech-layout corpus whose transcripts are single words, in file-id order. */
export async function listDigitClips(source: string): Promise<DigitClip[]> {
  const corpus = await LibriSpeechCorpus.open(source, {
    onWarning: (m) => {
      throw new Error(`${source}: ${m}`);
    },
  });
  return corpus.utterances.map((u) => {
    const word = u.transcript.toLowerCase();
    if (!/^[a-z]+$/.test(word)) {
      throw new Error(`${u.transcriptPath}:${u.transcriptLine}: expected one word, got "${u.transcript}"`);
    }
    return { id: u.fileId, speakerId: u.speakerId, utteranceId: u.utteranceId, word, path: u.audioPath };
  });
}

function between(rng: Random, [lo, hi]: [number, number]): number {
  return lo + (hi - lo) * rng.uniform();
}

/** How many digits the next recording has, drawn from the options' weights. */
export function drawLength(rng: Random, opts: JoinOptions): number {
  const n = opts.maxDigits - opts.minDigits + 1;
  const weights = opts.lengthWeights ?? Array(n).fill(1);
  if (weights.length !== n) throw new RangeError(`lengthWeights: expected ${n} weights, got ${weights.length}`);
  let u = rng.uniform() * weights.reduce((a, b) => a + b, 0);
  for (let i = 0; i < n - 1; i++) {
    u -= weights[i];
    if (u < 0) return opts.minDigits + i;
  }
  return opts.maxDigits;
}

/**
 * Cuts each speaker's clips (shuffled from the seed) into runs of minDigits..maxDigits clips; every clip is used
 * exactly once. Plans come out speaker by speaker, in speaker order.
 */
export function planJoined(clips: readonly DigitClip[], opts: JoinOptions): JoinedPlan[] {
  const rng = new Random(opts.seed);
  const bySpeaker = new Map<number, DigitClip[]>();
  for (const c of clips) bySpeaker.set(c.speakerId, [...bySpeaker.get(c.speakerId) ?? [], c]);
  const plans: JoinedPlan[] = [];
  for (const speakerId of [...bySpeaker.keys()].sort((a, b) => a - b)) {
    const own = rng.shuffle([...bySpeaker.get(speakerId)!]);
    for (let at = 0; at < own.length;) {
      const n = drawLength(rng, opts);
      plans.push(planOf(speakerId, own.slice(at, at + n), opts, rng));
      at += n;
    }
  }
  return plans;
}

/** One plan of the given clips, with silences drawn from `rng`. */
export function planOf(speakerId: number, clips: DigitClip[], opts: JoinOptions, rng: Random): JoinedPlan {
  const silences = [between(rng, opts.edge)];
  for (let i = 1; i < clips.length; i++) silences.push(between(rng, opts.gap));
  silences.push(between(rng, opts.edge));
  return { speakerId, clips, silences };
}

/** Loads clips at `rate`, each once, however many plans use them. */
export class ClipCache {
  readonly #waveforms = new Map<string, Float32Array>();
  constructor(readonly rate: number) {}

  async get(clip: DigitClip): Promise<Float32Array> {
    let w = this.#waveforms.get(clip.id);
    if (!w) {
      w = (await loadAudio(clip.path, this.rate)).waveform;
      this.#waveforms.set(clip.id, w);
    }
    return w;
  }
}

/**
 * The samples of a plan at `rate`: silences and clips laid end to end, each silence rounded to whole samples;
 * the words' start and end are their clips' edges.
 */
export async function renderJoined(
  plan: JoinedPlan,
  cache: ClipCache,
): Promise<{ samples: Float32Array; words: WordTime[] }> {
  const rate = cache.rate;
  const waves = await Promise.all(plan.clips.map((c) => cache.get(c)));
  const gaps = plan.silences.map((s) => Math.round(s * rate));
  const total = gaps.reduce((a, b) => a + b, 0) + waves.reduce((a, w) => a + w.length, 0);
  const samples = new Float32Array(total);
  const words: WordTime[] = [];
  let at = gaps[0];
  waves.forEach((w, i) => {
    samples.set(w, at);
    words.push({ word: plan.clips[i].word, start: round6(at / rate), end: round6((at + w.length) / rate) });
    at += w.length + gaps[i + 1];
  });
  return { samples, words };
}

function round6(x: number): number {
  return Math.round(x * 1e6) / 1e6;
}

/** Encodes mono samples as 16-bit FLAC with the `flac` command-line encoder (-8) and writes it atomically. */
export async function writeFlac(path: string, samples: Float32Array, rate: number): Promise<void> {
  const child = new Deno.Command("flac", {
    args: ["-8", "--no-padding", "--silent", "--stdout", "-"],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  const writing = writer.write(monoWav(samples, rate)).then(() => writer.close());
  const [out] = await Promise.all([child.output(), writing]);
  if (!out.success) {
    throw new Error(`flac failed encoding ${path}: ${new TextDecoder().decode(out.stderr).trim()}`);
  }
  await writeFileAtomic(path, out.stdout);
}
