/**
 * Writes joined-digit recordings (joined_digits.ts) as one LibriSpeech subset folder, so every tool that reads a
 * corpus (train, eval, LibriSpeechCorpus) reads them: `<speaker>/<chapter>/<speaker>-<chapter>-<utt>.flac`,
 * `<speaker>-<chapter>.trans.txt`, and a manifest.tsv whose extra columns say which source clips each recording
 * joins and where each word starts and ends.
 */
import { join } from "node:path";
import { writeFileAtomic } from "../atomic_write.ts";
import { type ClipCache, type JoinedPlan, renderJoined, type WordTime, writeFlac } from "./joined_digits.ts";

/** One written recording. */
export interface WrittenRecording {
  /** Path relative to the subset folder. */
  file: string;
  uttId: string;
  seconds: number;
  transcript: string;
  clips: string[];
  words: WordTime[];
}

export const MANIFEST_HEADER = "file\tseconds\tsample_rate\ttranscript\tutt_id\tclips\tword_times";

/** `start-end` of each word, comma-separated, as the manifest's word_times column holds them. */
export function formatWordTimes(words: readonly WordTime[]): string {
  return words.map((w) => `${w.start.toFixed(6)}-${w.end.toFixed(6)}`).join(",");
}

/** Removes what a previous writeSubset wrote into `dir` (its speaker folders and manifest), nothing else. */
async function clearSubset(dir: string): Promise<void> {
  await Deno.mkdir(dir, { recursive: true });
  for await (const e of Deno.readDir(dir)) {
    if ((e.isDirectory && /^\d+$/.test(e.name)) || e.name === "manifest.tsv") {
      await Deno.remove(join(dir, e.name), { recursive: true });
    }
  }
}

/**
 * Writes `plans` into `dir` (its earlier recordings removed first) under chapter `chapter`, numbering each
 * speaker's recordings from 0.
 */
export async function writeSubset(
  dir: string,
  chapter: number,
  plans: readonly JoinedPlan[],
  cache: ClipCache,
): Promise<WrittenRecording[]> {
  await clearSubset(dir);
  const written: WrittenRecording[] = [];
  const transcripts = new Map<string, string[]>();
  const counts = new Map<number, number>();
  for (const plan of plans) {
    const n = counts.get(plan.speakerId) ?? 0;
    counts.set(plan.speakerId, n + 1);
    const uttId = `${plan.speakerId}-${chapter}-${String(n).padStart(4, "0")}`;
    const folder = join(String(plan.speakerId), String(chapter));
    await Deno.mkdir(join(dir, folder), { recursive: true });
    const file = join(folder, `${uttId}.flac`);
    const { samples, words } = await renderJoined(plan, cache);
    await writeFlac(join(dir, file), samples, cache.rate);
    const transcript = words.map((w) => w.word).join(" ");
    const trans = join(folder, `${plan.speakerId}-${chapter}.trans.txt`);
    transcripts.set(trans, [...transcripts.get(trans) ?? [], `${uttId} ${transcript.toUpperCase()}`]);
    written.push({
      file,
      uttId,
      seconds: samples.length / cache.rate,
      transcript,
      clips: plan.clips.map((c) => c.id),
      words,
    });
  }
  for (const [trans, lines] of transcripts) await writeFileAtomic(join(dir, trans), lines.join("\n") + "\n");
  const rows = written.map((r) =>
    [r.file, r.seconds.toFixed(6), cache.rate, r.transcript, r.uttId, r.clips.join(","), formatWordTimes(r.words)]
      .join("\t")
  );
  await writeFileAtomic(join(dir, "manifest.tsv"), [MANIFEST_HEADER, ...rows].join("\n") + "\n");
  return written;
}
