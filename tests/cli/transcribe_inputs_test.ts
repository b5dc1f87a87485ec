/**
 * Expanding transcribe's arguments: folders searched recursively (audio extensions only, sorted), manifests (a
 * path a line, NeMo JSON Lines) resolved against their folder, `-` kept, and every problem named, never dropped.
 */
import * as assert from "node:assert/strict";
import { join } from "node:path";
import { AUDIO_EXTENSIONS, expandInputs } from "../../cli/transcribe_inputs.ts";
import { outputNames } from "../../cli/transcribe_output.ts";

async function tree(files: Record<string, string>): Promise<string> {
  const dir = await Deno.makeTempDir();
  for (const [path, text] of Object.entries(files)) {
    await Deno.mkdir(join(dir, path, ".."), { recursive: true });
    await Deno.writeTextFile(join(dir, path), text);
  }
  return dir;
}

Deno.test("folders are searched recursively for audio files, sorted by path", async () => {
  const dir = await tree({
    "b/2.flac": "",
    "b/1.WAV": "",
    "a/deep/er/x.opus": "",
    "a/notes.txt": "",
    "a/y.mp3": "",
    "c.ogg": "",
    "d.oga": "",
    "e.json": "{}",
  });
  const empty = await Deno.makeTempDir();
  const r = await expandInputs([dir, empty]);
  assert.deepEqual(
    r.inputs.map((i) => i.path.slice(dir.length + 1)),
    ["a/deep/er/x.opus", "a/y.mp3", "b/1.WAV", "b/2.flac", "c.ogg", "d.oga"],
  );
  assert.ok(r.inputs.every((i) => i.folder === dir));
  assert.deepEqual(r.problems, [{
    where: empty,
    reason: `no audio files (${AUDIO_EXTENSIONS.join(", ")}) in it`,
  }]);
  await Deno.remove(dir, { recursive: true });
  await Deno.remove(empty);
});

Deno.test("manifests: a path a line or NeMo JSON Lines, relative to the manifest; bad lines named", async () => {
  const dir = await tree({
    "lists/paths.txt": "# a comment\n\none.flac\n  sub/two.wav  \r\n/abs/three.flac\n",
    "lists/nemo.jsonl":
      '{"audio_filepath": "x.flac", "duration": 1.5, "text": "hi"}\nnot json\n{"text": "no path"}\n' +
      '{"audio_filepath": "/abs/y.wav"}\n',
  });
  const r = await expandInputs([
    join(dir, "lists/paths.txt"),
    "-",
    join(dir, "lists/nemo.jsonl"),
    join(dir, "nope.wav"),
  ]);
  const lists = join(dir, "lists");
  assert.deepEqual(r.inputs, [
    { path: join(lists, "one.flac"), listedAt: `${lists}/paths.txt:3` },
    { path: join(lists, "sub/two.wav"), listedAt: `${lists}/paths.txt:4` },
    { path: "/abs/three.flac", listedAt: `${lists}/paths.txt:5` },
    { path: "-" },
    { path: join(lists, "x.flac"), listedAt: `${lists}/nemo.jsonl:1` },
    { path: "/abs/y.wav", listedAt: `${lists}/nemo.jsonl:4` },
  ]);
  assert.equal(r.problems.length, 3);
  assert.equal(r.problems[0].where, `${lists}/nemo.jsonl:2`);
  assert.match(r.problems[0].reason, /^not JSON: /);
  assert.deepEqual(r.problems[1], {
    where: `${lists}/nemo.jsonl:3`,
    reason: "expected an object with an audio_filepath string",
  });
  assert.deepEqual(r.problems[2], { where: join(dir, "nope.wav"), reason: "not found" });
  await Deno.remove(dir, { recursive: true });
});

Deno.test("output names: the path under its folder argument or the file name, made unique", () => {
  const names = outputNames([
    { path: "/data/corpus/a/1.flac", folder: "/data/corpus" },
    { path: "/data/corpus/b/1.flac", folder: "/data/corpus" },
    { path: "/elsewhere/1.flac" },
    { path: "/other/1.wav", listedAt: "l.txt:3" },
    { path: "-" },
  ], "srt");
  assert.deepEqual(names, ["a/1.srt", "b/1.srt", "1.srt", "1-2.srt", "stdin.srt"]);
});

Deno.test("DeepSpeech CSV and Common Voice TSV manifests are read through data/manifest.ts", async () => {
  const fixtures = new URL("../fixtures/corpus_formats/", import.meta.url).pathname;
  const r = await expandInputs([`${fixtures}corpus.csv`, `${fixtures}corpus.tsv`]);
  const csv = r.inputs.filter((i) => i.listedAt?.includes("corpus.csv"));
  const tsv = r.inputs.filter((i) => i.listedAt?.includes("corpus.tsv"));
  assert.ok(csv.length >= 2 && csv.length === tsv.length, JSON.stringify(r));
  assert.deepEqual(csv[0], {
    path: `${fixtures}clips/90101/1/90101-1-0981.flac`,
    listedAt: `${fixtures}corpus.csv:2`,
  });
  // Common Voice paths are relative to the clips/ folder beside the TSV: the same files.
  assert.deepEqual(tsv.map((i) => i.path), csv.map((i) => i.path));
  for (const i of csv) await Deno.stat(i.path);
  const bad = await Deno.makeTempFile({ suffix: ".csv" });
  await Deno.writeTextFile(bad, 'wav_filename,transcript\n"a.wav,hi\n');
  const b = await expandInputs([bad]);
  assert.equal(b.inputs.length, 0);
  assert.match(b.problems[0].where, /\.csv$/);
  assert.match(b.problems[0].reason, /:2: a quoted cell is never closed/);
  await Deno.remove(bad);
});
