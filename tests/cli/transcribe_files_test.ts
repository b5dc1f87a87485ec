/**
 * transcribe on many files in one command: a folder (with an unreadable file among real spoken-digit clips), a
 * manifest, every output format, --output-dir, stdout in input order, the exit code and the real-time factor.
 */
import * as assert from "node:assert/strict";
import { join } from "node:path";
import { parseJson, parseSrt, parseVtt } from "../../cli/formats/mod.ts";
import { TORCH_FIXTURES_DIR } from "../torch_fixtures.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const CHECKPOINT = new URL("pytorch_trained/model.safetensors", TORCH_FIXTURES_DIR).pathname;
const FSDD = new URL("../../../shared/speech/fsdd/librispeech/", import.meta.url).pathname;
const hasShared = await Deno.stat(FSDD).then(() => true, () => false);

async function transcribe(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `${ROOT}cli/transcribe.ts`, "--checkpoint", CHECKPOINT, ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

/** A folder of real clips in two speaker folders, a file that is not audio, and an unreadable "audio" file. */
async function clipFolder(): Promise<{ dir: string; clips: string[] }> {
  const dir = await Deno.makeTempDir();
  const clips: string[] = [];
  for (const speaker of ["90001", "90004"]) {
    await Deno.mkdir(join(dir, speaker));
    for (const n of ["0000", "0051", "0102", "0153", "0204", "0255"]) {
      const name = `${speaker}-1-${n}.flac`;
      await Deno.copyFile(join(FSDD, speaker, "1", name), join(dir, speaker, name));
      clips.push(join(dir, speaker, name));
    }
  }
  await Deno.writeTextFile(join(dir, "notes.txt"), "not audio, not listed");
  await Deno.writeFile(join(dir, "90004", "broken.flac"), new Uint8Array(1000).fill(7));
  return { dir, clips: clips.sort() };
}

Deno.test({
  name:
    "a folder: one command, one file per input in --output-dir, the broken one named, exit 2, RTF printed",
  ignore: !hasShared,
  fn: async () => {
    const { dir, clips } = await clipFolder();
    const out = await Deno.makeTempDir();
    const r = await transcribe(["--format", "json", "--output-dir", out, dir]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, new RegExp(`^transcribe: skipping ${join(dir, "90004", "broken.flac")}: `, "m"));
    assert.match(
      r.stderr,
      /^transcribe: 12 of 13 input\(s\), [\d.]+ s of audio in [\d.]+ s: [\d.]+x real time/m,
    );
    assert.match(r.stderr, /^transcribe: 1 file\(s\) could not be read$/m);
    const written = clips.map((c) => join(out, c.slice(dir.length + 1).replace(/\.flac$/, ".json")));
    const docs = await Promise.all(written.map(async (f) => parseJson(await Deno.readTextFile(f), f)));
    for (const [i, d] of docs.entries()) {
      assert.ok(d.duration > 0.1 && d.duration < 2, `${clips[i]}: ${d.duration} s`);
      assert.equal(d.segments.map((s) => s.text).join(" "), d.text.trim().split(/\s+/).join(" "));
    }
    // Only the documents: no temporary files left, nothing for the broken input.
    const all = [...Deno.readDirSync(join(out, "90004"))].map((e) => e.name).sort();
    assert.deepEqual(
      all,
      written.filter((w) => w.includes("/90004/")).map((w) => w.split("/").at(-1)).sort(),
    );

    // The same folder as tsv on stdout: in input (path) order, the same texts.
    const tsv = await transcribe([dir]);
    assert.equal(tsv.code, 2);
    const lines = tsv.stdout.trimEnd().split("\n");
    assert.deepEqual(lines.map((l) => l.split("\t")[0]), clips);
    assert.deepEqual(lines.map((l) => l.split("\t")[1]), docs.map((d) => d.text));
    // JSON Lines for many inputs on stdout.
    const jsonl = await transcribe(["--format", "json", ...clips.slice(0, 3)]);
    assert.equal(jsonl.code, 0, jsonl.stderr);
    const rows = jsonl.stdout.trimEnd().split("\n").map((l) => JSON.parse(l));
    assert.deepEqual(rows.map((x) => x.file), clips.slice(0, 3));
    assert.deepEqual(rows.map((x) => x.text), docs.slice(0, 3).map((d) => d.text));
    await Deno.remove(dir, { recursive: true });
    await Deno.remove(out, { recursive: true });
  },
});

Deno.test({
  name:
    "subtitles of one file on stdout parse back; a manifest lists inputs; format and flag misuse are one line",
  ignore: !hasShared,
  fn: async () => {
    const { dir, clips } = await clipFolder();
    const vtt = await transcribe(["--format", "vtt", clips[0]]);
    assert.equal(vtt.code, 0, vtt.stderr);
    assert.ok(vtt.stdout.startsWith("WEBVTT\n\n"));
    const json = parseJson((await transcribe(["--format", "json", clips[0]])).stdout);
    const cues = parseVtt(vtt.stdout);
    assert.deepEqual(
      cues.map((c) => [c.start, c.end, c.text]),
      json.segments.map((s) => [s.start, s.end, s.text]),
    );
    const srt = await transcribe(["--format", "srt", clips[0]]);
    assert.deepEqual(parseSrt(srt.stdout), cues);

    const list = join(dir, "list.txt");
    await Deno.writeTextFile(
      list,
      `# two clips and a missing one\n${clips[1].slice(dir.length + 1)}\n${clips[7]}\nmissing.wav\n`,
    );
    const m = await transcribe([list]);
    assert.equal(m.code, 2);
    assert.deepEqual(m.stdout.trimEnd().split("\n").map((l) => l.split("\t")[0]), [clips[1], clips[7]]);
    assert.match(m.stderr, new RegExp(`skipping ${join(dir, "missing.wav")}: `));

    const many = await transcribe(["--format", "srt", clips[0], clips[1]]);
    assert.equal(many.code, 1);
    assert.match(
      many.stderr,
      /^transcribe: --format srt writes one document per input: give --output-dir DIR for 2 inputs$/m,
    );
    const ts = await transcribe(["--format", "vtt", "--timestamps", clips[0]]);
    assert.match(
      ts.stderr,
      /^transcribe: --timestamps adds word lines to tsv; --format vtt has its own times$/m,
    );
    const mixed = await transcribe(["-", clips[0]]);
    assert.match(
      mixed.stderr,
      /^transcribe: - \(audio on standard input\) cannot be combined with other inputs$/m,
    );
    const none = await transcribe([join(dir, "nothing-here.flac")]);
    assert.equal(none.code, 1);
    assert.match(none.stderr, /^transcribe: nothing to transcribe$/m);
    await Deno.remove(dir, { recursive: true });
  },
});
