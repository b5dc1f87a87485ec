/**
 * `deno task validate`: on the committed manifest with five bad rows it lists exactly those five with their
 * reasons and exits 1; on the good corpus in every format it exits 0; the checks of sample rate, duration and
 * file size against the manifest, and a LibriSpeech folder's bad transcript line, are reported too.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { AudioPool } from "../../data/audio_pool.ts";
import { describeProblem } from "../../data/corpus.ts";
import { openCorpus } from "../../data/manifest.ts";
import { monoWav } from "../../data/wav_write.ts";
import { validateCorpus } from "../../cli/validate.ts";
import { ctcFramesNeeded } from "../../cli/validate_rows.ts";

const FIXTURES = new URL("../fixtures/", import.meta.url).pathname;
const VALIDATE = new URL("../../cli/validate.ts", import.meta.url).pathname;
const CLIPS = `${FIXTURES}corpus_formats/clips`;

async function validate(...paths: string[]) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", VALIDATE, "--workers", "0", ...paths],
    stdout: "piped",
    stderr: "piped",
  }).output();
  return {
    code: out.code,
    stdout: new TextDecoder().decode(out.stdout).trimEnd().split("\n"),
    stderr: new TextDecoder().decode(out.stderr),
  };
}

Deno.test("a manifest with five bad rows: exactly those five, each with its reason, then a summary; exit 1", async () => {
  const manifest = `${FIXTURES}manifests/bad_rows.jsonl`;
  const { code, stdout, stderr } = await validate(manifest);
  assert.equal(code, 1, stderr);
  assert.deepEqual(stdout, [
    `${manifest}:2: audio file ${CLIPS}/90101/1/90101-1-9999.flac does not exist`,
    `${manifest}:3: audio ${FIXTURES}manifests/not_audio.flac does not decode: at byte 0: not a FLAC, WAV, MP3, ` +
    "Ogg Vorbis or Ogg Opus file (unknown magic bytes)",
    `${manifest}:4: the transcript is empty`,
    `${manifest}:5: character '2' (U+0032) at column 25 is not in the character map (apostrophe, space, a-z): ` +
    `"does that look good for 2"`,
    `${manifest}:6: the transcript needs 54 CTC frames (53 characters and 1 repeated pair(s)) but its 0.76 s of ` +
    "audio give 30",
    `${manifest}: 7 rows, 2 good (2.4 s of audio), 5 bad`,
  ]);
});

Deno.test("the same good corpus as a folder and three manifests: no bad rows, exit 0", async () => {
  const f = `${FIXTURES}corpus_formats/`;
  const { code, stdout, stderr } = await validate(
    CLIPS,
    `${f}corpus.jsonl`,
    `${f}corpus.csv`,
    `${f}corpus.tsv`,
  );
  assert.equal(code, 0, stderr);
  assert.deepEqual(stdout, [
    `${CLIPS}: 8 rows, 8 good (8.6 s of audio), 0 bad`,
    `${f}corpus.jsonl: 8 rows, 8 good (8.6 s of audio), 0 bad`,
    `${f}corpus.csv: 8 rows, 8 good (8.6 s of audio), 0 bad`,
    `${f}corpus.tsv: 8 rows, 8 good (8.6 s of audio), 0 bad`,
  ]);
});

Deno.test("sample rate, duration and file size against the manifest; a folder's bad transcript line", async () => {
  const dir = await Deno.makeTempDir({ prefix: "validate_test_" });
  // One second of a 300 Hz tone: at 16 kHz it is a good clip, at 4 kHz too low a rate.
  const tone = (rate: number) =>
    Float32Array.from({ length: rate }, (_, i) => 0.3 * Math.sin(i * 2 * Math.PI * 300 / rate));
  await Deno.writeFile(join(dir, "good.wav"), monoWav(tone(16000), 16000));
  await Deno.writeFile(join(dir, "low.wav"), monoWav(tone(4000), 4000));
  const size = (await Deno.stat(join(dir, "good.wav"))).size;
  await Deno.writeTextFile(
    join(dir, "m.csv"),
    `wav_filename,wav_filesize,transcript\ngood.wav,${size},a tone\nlow.wav,,a low tone\ngood.wav,${
      size + 1
    },a\n`,
  );
  await Deno.writeTextFile(
    join(dir, "m.jsonl"),
    `{"audio_filepath": "good.wav", "duration": 1.05, "text": "close enough"}\n` +
      `{"audio_filepath": "good.wav", "duration": 1.5, "text": "too long a duration"}\n`,
  );
  const chapter = join(dir, "ls", "1", "2");
  await Deno.mkdir(chapter, { recursive: true });
  await Deno.copyFile(`${CLIPS}/90101/1/90101-1-0981.flac`, join(chapter, "1-2-0000.flac"));
  await Deno.copyFile(`${CLIPS}/90101/1/90101-1-2070.flac`, join(chapter, "1-2-0001.flac"));
  await Deno.writeTextFile(
    join(chapter, "1-2.trans.txt"),
    "1-2-0000 SHALL I CARRY YOU\n1-2-0001 HOW MUCH 4\n",
  );
  const pool = new AudioPool({ workers: 0 });
  try {
    const problems = async (path: string) =>
      (await validateCorpus(await openCorpus(path), pool)).map(describeProblem);
    assert.deepEqual(await problems(join(dir, "m.csv")), [
      `${dir}/m.csv:3: audio ${dir}/low.wav is sampled at 4000 Hz, under the 8000 Hz needed`,
      `${dir}/m.csv:4: the manifest gives ${size + 1} bytes but ${dir}/good.wav has ${size}`,
    ]);
    assert.deepEqual(await problems(join(dir, "m.jsonl")), [
      `${dir}/m.jsonl:2: the manifest gives 1.5 s but ${dir}/good.wav lasts 1.000 s`,
    ]);
    assert.deepEqual(await problems(join(dir, "ls")), [
      `${chapter}/1-2.trans.txt:2: character '4' (U+0034) at column 10 is not in the character map (apostrophe, ` +
      `space, a-z): "HOW MUCH 4"`,
    ]);
  } finally {
    await pool.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("CTC needs a frame per label and a blank between equal neighbours", () => {
  assert.equal(ctcFramesNeeded([]), 0);
  assert.equal(ctcFramesNeeded([2, 3, 4]), 3);
  // "hello": l l is one repeat.
  assert.equal(ctcFramesNeeded([9, 6, 13, 13, 16]), 6);
  assert.equal(ctcFramesNeeded([5, 5, 5]), 5);
});
