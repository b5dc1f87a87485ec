/**
 * The bundled sample corpus (data/sample) and the joined-digit word-timing fixtures (tests/fixtures/fsdd_joined):
 * what they hold, that no clip is on two sides (test recordings never bundled, dev never in train), that the
 * word times in the manifests agree with the audio, and, with ../shared, that each word's stretch of a recording
 * is its source clip.
 */
import assert from "node:assert/strict";
import { loadAudio } from "../../data/audio.ts";
import { LibriSpeechCorpus, readFlacStreamInfo } from "../../data/librispeech.ts";
import { MANIFEST_HEADER } from "../../data/sample/write_subset.ts";

const SAMPLE = new URL("../../data/sample/", import.meta.url).pathname;
const JOINED = new URL("../fixtures/fsdd_joined/", import.meta.url).pathname;
const FSDD = new URL("../../../shared/speech/fsdd/", import.meta.url).pathname;
const hasShared = await Deno.stat(FSDD).then(() => true, () => false);
const DIGITS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"];

interface Row {
  file: string;
  seconds: number;
  sampleRate: number;
  transcript: string;
  uttId: string;
  clips: string[];
  words: { start: number; end: number }[];
}

async function manifest(dir: string): Promise<Row[]> {
  const [header, ...lines] = (await Deno.readTextFile(dir + "manifest.tsv")).trimEnd().split("\n");
  assert.equal(header, MANIFEST_HEADER);
  return lines.map((l) => {
    const [file, seconds, rate, transcript, uttId, clips, times] = l.split("\t");
    return {
      file,
      seconds: Number(seconds),
      sampleRate: Number(rate),
      transcript,
      uttId,
      clips: clips.split(","),
      words: times.split(",").map((t) => {
        const [start, end] = t.split("-").map(Number);
        return { start, end };
      }),
    };
  });
}

/** The recording index (take number, 0-49) of a source clip id such as "90001-1-0057". */
function takeOf(clipId: string): number {
  return Number(clipId.split("-")[2]) % 50;
}

/**
 * Checks the rows against their audio files and each other; returns every clip id used. `minEdge` is the
 * silence before the first and after the last word (joined recordings have some; isolated clips none).
 */
async function checkRows(dir: string, rows: Row[], minEdge = 0.05): Promise<string[]> {
  const used: string[] = [];
  for (const r of rows) {
    const words = r.transcript.split(" ");
    assert.ok(words.every((w) => DIGITS.includes(w)), r.transcript);
    assert.equal(words.length, r.clips.length, r.uttId);
    assert.equal(r.words.length, r.clips.length, r.uttId);
    // The word's digit is its source clip's (digit = utterance number / 50 in the source layout).
    r.clips.forEach((c, i) =>
      assert.equal(DIGITS[Math.floor(Number(c.split("-")[2]) / 50)], words[i], r.uttId)
    );
    assert.ok(r.clips.every((c) => c.startsWith(r.uttId.split("-")[0] + "-")), `one speaker: ${r.uttId}`);
    // Silence before, between (at least 0.1 s) and after the words; each word one whole clip.
    assert.ok(r.words[0].start >= minEdge - 1e-3, r.uttId);
    r.words.forEach((w, i) => {
      assert.ok(w.end - w.start > 0.1 && w.end - w.start < 2.5, `${r.uttId} word ${i}`);
      if (i > 0) assert.ok(w.start - r.words[i - 1].end >= 0.1 - 1e-3, `${r.uttId} gap ${i}`);
    });
    assert.ok(r.seconds - r.words.at(-1)!.end >= minEdge - 1e-3, r.uttId);
    const info = await readFlacStreamInfo(dir + r.file);
    assert.deepEqual(
      [info!.sampleRate, info!.channels, info!.totalSamples],
      [8000, 1, Math.round(r.seconds * 8000)],
      r.file,
    );
    used.push(...r.clips);
  }
  assert.equal(new Set(used).size, used.length, "no clip used twice");
  return used;
}

Deno.test("the bundled sample: isolated digits of the source's training takes, dev (takes 5-9) apart from train (10-34)", async () => {
  const train = await manifest(SAMPLE + "train/");
  const dev = await manifest(SAMPLE + "dev/");
  assert.equal(train.length, 1500);
  assert.equal(dev.length, 300);
  const trainClips = await checkRows(SAMPLE + "train/", train, 0);
  const devClips = await checkRows(SAMPLE + "dev/", dev, 0);
  assert.equal(trainClips.length, 1500);
  assert.equal(devClips.length, 300);
  assert.ok(trainClips.every((c) => takeOf(c) >= 10 && takeOf(c) <= 34));
  assert.ok(devClips.every((c) => takeOf(c) >= 5 && takeOf(c) <= 9));
  // One clip a recording, as the dataset cut it: no digital-zero silence added (it stalls CTC training).
  assert.ok(
    train.every((r) => r.clips.length === 1 && r.words[0].start === 0 && r.words[0].end === r.seconds),
  );
  // The corpus reader lists the same recordings, transcripts and durations.
  const corpus = await LibriSpeechCorpus.open(SAMPLE + "dev", { onWarning: assert.fail });
  assert.deepEqual(corpus.utterances.map((u) => u.fileId), dev.map((r) => r.uttId));
  assert.deepEqual(corpus.utterances.map((u) => u.transcript.toLowerCase()), dev.map((r) => r.transcript));
  assert.ok(corpus.utterances.every((u, i) => u.seconds === dev[i].seconds && u.fileSampleRate === 8000));
  let bytes = 0;
  for (const r of [...train, ...dev]) {
    bytes += (await Deno.stat(SAMPLE + (train.includes(r) ? "train/" : "dev/") + r.file)).size;
  }
  assert.ok(bytes < 10e6, `${bytes} bytes`);
  for (const f of ["LICENSE", "README.md"]) assert.ok((await Deno.stat(SAMPLE + f)).size > 0, f);
});

Deno.test("the joined-digit fixtures: the source's test takes only, one 12-digit recording, words.json = manifest", async () => {
  const rows = await manifest(JOINED);
  const clips = await checkRows(JOINED, rows);
  assert.equal(rows.length, 37);
  assert.ok(clips.every((c) => takeOf(c) < 5));
  assert.deepEqual(rows.filter((r) => r.clips.length === 12).map((r) => r.uttId), ["90002-3-0006"]);
  const words = JSON.parse(await Deno.readTextFile(JOINED + "words.json"));
  assert.deepEqual(words.map((w: { file: string }) => w.file), rows.map((r) => r.file));
  words.forEach(
    (w: { transcript: string; words: { word: string; start: number; end: number }[] }, i: number) => {
      assert.equal(w.words.map((x) => x.word).join(" "), rows[i].transcript);
      assert.deepEqual(w.words.map((x) => [x.start, x.end]), rows[i].words.map((x) => [x.start, x.end]));
    },
  );
});

Deno.test({
  name: "each word of a joined recording is its source clip at 8 kHz, to the 16-bit step",
  ignore: !hasShared,
  fn: async () => {
    const fsdd = await LibriSpeechCorpus.open(FSDD, { durations: false });
    const byId = new Map(fsdd.utterances.map((u) => [u.fileId, u.audioPath]));
    const checked = [
      { dir: SAMPLE + "train/", row: (await manifest(SAMPLE + "train/"))[0] },
      { dir: JOINED, row: (await manifest(JOINED)).find((r) => r.clips.length === 12)! },
    ];
    for (const { dir, row } of checked) {
      const joined = (await loadAudio(dir + row.file, 8000)).waveform;
      for (const [i, id] of row.clips.entries()) {
        const clip = (await loadAudio(byId.get(id)!, 8000)).waveform;
        const from = Math.round(row.words[i].start * 8000);
        assert.equal(Math.round(row.words[i].end * 8000) - from, clip.length, `${row.uttId} ${id}`);
        let worst = 0;
        for (let t = 0; t < clip.length; t++) worst = Math.max(worst, Math.abs(joined[from + t] - clip[t]));
        assert.ok(worst <= 0.5 / 32768 + 1e-7, `${row.uttId} ${id}: ${worst * 32768} steps`);
      }
    }
  },
});
