/**
 * Builds the bundled sample corpus data/sample/{train,dev}/ from ../shared/speech/rhasspy-cathy: every clip of
 * at most --max-seconds (default 2.25 s), FLAC bytes copied unchanged, with their .trans.txt lines and a
 * manifest.tsv per subset, split into train and dev by prompt (data/splits.ts: CRC-32 of the lowercase
 * transcript % 10 == 0 is dev), so no prompt is on both sides.
 *
 *   deno run -A data/sample/make_sample.ts [--source ../shared/speech/rhasspy-cathy] [--max-seconds 2.25]
 */

import { parseArgs } from "node:util";
import { dirname, join, relative } from "node:path";
import { LibriSpeechCorpus, type UtteranceInfo } from "../librispeech.ts";
import { isCathyDev } from "../splits.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    source: { type: "string", default: "../shared/speech/rhasspy-cathy" },
    "max-seconds": { type: "string", default: "2.25" },
    "max-bytes": { type: "string", default: "15000000" },
  },
});
const maxSeconds = Number(values["max-seconds"]);
const maxBytes = Number(values["max-bytes"]);
const here = dirname(new URL(import.meta.url).pathname);

const corpus = await LibriSpeechCorpus.open(values.source!, { onWarning: (m) => console.warn(m) });
const chosen = corpus.utterances.filter((u) => u.seconds !== undefined && u.seconds <= maxSeconds);
const subsets: Record<string, UtteranceInfo[]> = {
  train: chosen.filter((u) => !isCathyDev(u.transcript)),
  dev: chosen.filter((u) => isCathyDev(u.transcript)),
};

let totalBytes = 0;
for (const [name, utterances] of Object.entries(subsets)) {
  const out = join(here, name);
  await Deno.remove(out, { recursive: true }).catch(() => {});
  const transcripts = new Map<string, string[]>();
  const manifest = ["file\tseconds\tsample_rate\ttranscript\tutt_id"];
  for (const u of utterances) {
    const chapterDir = join(String(u.speakerId), String(u.chapterId));
    await Deno.mkdir(join(out, chapterDir), { recursive: true });
    const file = join(chapterDir, `${u.fileId}.flac`);
    await Deno.copyFile(u.audioPath, join(out, file));
    totalBytes += (await Deno.stat(u.audioPath)).size;
    const trans = join(chapterDir, `${u.speakerId}-${u.chapterId}.trans.txt`);
    transcripts.set(trans, [...transcripts.get(trans) ?? [], `${u.fileId} ${u.transcript}`]);
    manifest.push(
      [file, u.seconds!.toFixed(4), u.fileSampleRate ?? 16000, u.transcript.toLowerCase(), u.fileId].join("\t"),
    );
  }
  for (const [trans, lines] of transcripts) await Deno.writeTextFile(join(out, trans), lines.join("\n") + "\n");
  await Deno.writeTextFile(join(out, "manifest.tsv"), manifest.join("\n") + "\n");
  const seconds = utterances.reduce((sum, u) => sum + u.seconds!, 0);
  const prompts = new Set(utterances.map((u) => u.transcript)).size;
  console.log(
    `${relative(Deno.cwd(), out)}: ${utterances.length} clips, ${prompts} prompts, ${(seconds / 60).toFixed(2)} min`,
  );
}
console.log(`FLAC bytes: ${totalBytes}`);
if (totalBytes > maxBytes) throw new Error(`the sample is ${totalBytes} bytes, over the ${maxBytes} limit`);
