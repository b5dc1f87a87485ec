/** `deno task align` end to end: outputs, inputs and the errors a user meets, on real spoken digits. */
import * as assert from "node:assert/strict";
import { TORCH_FIXTURES_DIR } from "../torch_fixtures.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const CHECKPOINT = new URL("pytorch_trained/model.safetensors", TORCH_FIXTURES_DIR).pathname;
const SPEECH = new URL("../../../shared/speech/", import.meta.url).pathname;
const hasShared = await Deno.stat(SPEECH).then(() => true, () => false);
const SIX = `${SPEECH}fsdd/librispeech/90001/1/90001-1-0300.flac`;
const TWO = `${SPEECH}fsdd/librispeech/90002/1/90002-1-0100.flac`;

async function align(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `${ROOT}cli/align.ts`, "--checkpoint", CHECKPOINT, ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

interface Word {
  word: string;
  start: number;
  end: number;
  probability: number;
  chars: { char: string; start: number; end: number; probability: number }[];
}

Deno.test({
  name: "align writes the text's words and characters as JSON, inside the recording, characters in order",
  ignore: !hasShared,
  fn: async () => {
    const r = await align([SIX, "--text", "  Six! "]);
    assert.equal(r.code, 0, r.stderr);
    const doc = JSON.parse(r.stdout);
    assert.equal(doc.text, "six");
    assert.equal(doc.duration, 0.519);
    assert.equal(doc.segments.length, 1);
    const [w] = doc.segments[0].words as Word[];
    assert.equal(w.word, "six");
    assert.deepEqual(w.chars.map((c) => c.char), ["s", "i", "x"]);
    assert.equal(w.start, w.chars[0].start);
    assert.equal(w.end, w.chars[2].end);
    assert.ok(w.end <= doc.duration);
    for (let i = 0; i < 3; i++) {
      const c = w.chars[i];
      assert.ok(c.end > c.start && (i === 0 || c.start >= w.chars[i - 1].end), JSON.stringify(w.chars));
      // Times are whole 25 ms frames (the last may stop at the recording's end).
      assert.ok(Math.abs(c.start / 0.025 - Math.round(c.start / 0.025)) < 1e-9);
      assert.ok(c.probability > 0 && c.probability <= 1);
    }
    assert.ok(w.probability > 0 && w.probability <= 1);
  },
});

Deno.test({
  name: "align --format ctm --output writes CTM lines to the file, and SRT per recording into --output-dir",
  ignore: !hasShared,
  fn: async () => {
    const dir = await Deno.makeTempDir();
    const ctm = `${dir}/out.ctm`;
    const r = await align([TWO, "--text", "two", "--format", "ctm", "--output", ctm]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, "");
    const line = (await Deno.readTextFile(ctm)).trimEnd();
    assert.match(line, /^90002-1-0100 1 \d+\.\d{3} \d+\.\d{3} two \d\.\d{3}$/);
    const [, , start, duration] = line.split(" ").map(Number);
    assert.ok(start >= 0 && duration > 0 && start + duration <= 0.8, line);
    // No temporary file is left beside the output.
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["out.ctm"]);

    const manifest = `${dir}/list.tsv`;
    await Deno.writeTextFile(manifest, `${SIX}\tsix\n${TWO}\ttwo\n`);
    const s = await align(["--manifest", manifest, "--format", "srt", "--output-dir", dir]);
    assert.equal(s.code, 0, s.stderr);
    const srt = await Deno.readTextFile(`${dir}/90002-1-0100.srt`);
    assert.match(srt, /^1\n00:00:00,\d{3} --> 00:00:00,\d{3}\ntwo\n/);
    assert.ok((await Deno.readTextFile(`${dir}/90001-1-0300.srt`)).includes("\nsix\n"));
    await Deno.remove(dir, { recursive: true });
  },
});

Deno.test({
  name: "a manifest's bad rows are reported by file:line:column and skipped; the others are aligned",
  ignore: !hasShared,
  fn: async () => {
    const dir = await Deno.makeTempDir();
    const manifest = `${dir}/list.tsv`;
    await Deno.writeTextFile(
      manifest,
      [`${SIX}\tsix`, `${TWO}\tt#o`, "no tab here", `${dir}/missing.flac\tone`, `${TWO}\t"Two."`, ""].join(
        "\n",
      ),
    );
    const r = await align(["--manifest", manifest, "--format", "ctm"]);
    assert.equal(r.code, 1);
    const column = [...TWO].length + 3;
    assert.match(
      r.stderr,
      new RegExp(`skipping ${manifest}:2:${column}: character '#' \\(U\\+0023\\) is not`),
    );
    assert.match(r.stderr, new RegExp(`skipping ${manifest}:3: expected path<TAB>transcript`));
    assert.match(r.stderr, /skipping .*missing\.flac: /);
    assert.match(r.stderr, /3 recording\(s\) could not be aligned/);
    const words = r.stdout.trimEnd().split("\n").map((l) => l.split(" ")[4]);
    assert.deepEqual(words, ["six", "two"]);
    // JSON for many recordings is JSON Lines, each with its file.
    const j = await align(["--manifest", manifest]);
    const docs = j.stdout.trimEnd().split("\n").map((l) => JSON.parse(l));
    assert.deepEqual(docs.map((d) => [d.file, d.text]), [[SIX, "six"], [TWO, "two"]]);
    await Deno.remove(dir, { recursive: true });
  },
});

Deno.test({
  name:
    "a character outside the alphabet, a text too long for the audio, and the memory limit are clear errors",
  ignore: !hasShared,
  fn: async () => {
    const bad = await align([SIX, "--text", "six 6"]);
    assert.equal(bad.code, 1);
    assert.match(
      bad.stderr,
      /--text, column 5: character '6' \(U\+0036\) is not in the model's alphabet \(' space a-z\)/,
    );

    const dir = await Deno.makeTempDir();
    const transcript = `${dir}/six.txt`;
    await Deno.writeTextFile(transcript, "six\nsix-six\n");
    const t = await align([SIX, "--transcript", transcript]);
    assert.match(t.stderr, new RegExp(`${transcript}:2:4: character '-'`));

    // 0.52 s is 21 frames; "aabb cc" needs 7 + 3 repeats.
    const long = await align([SIX, "--text", "aa bb cc dd ee ff"]);
    assert.equal(long.code, 1);
    assert.match(
      long.stderr,
      /needs at least 23 frames \(17 characters \+ 6 blanks between repeated ones\) but the audio has only 21/,
    );

    const limit = await align([SIX, "--text", "six", "--max-alignment-memory", "100"]);
    assert.equal(limit.code, 1);
    assert.match(
      limit.stderr,
      /has at least 21 frames .* more than the 14 .* that 3 characters can be aligned to within --max-alignment-memory/,
    );
    await Deno.remove(dir, { recursive: true });
  },
});

Deno.test("align's usage errors name what is missing or in conflict", async () => {
  const none = await align(["x.flac"]);
  assert.equal(none.code, 1);
  assert.match(none.stderr, /give the text to align: --text TEXT, --transcript FILE or --manifest FILE/);
  const both = await align(["x.flac", "--text", "a", "--transcript", "t.txt"]);
  assert.match(both.stderr, /--text and --transcript cannot be combined/);
  const srt = await align(["--manifest", "list.tsv", "--format", "srt"]);
  assert.match(srt.stderr, /--format srt writes one file per recording: give --output-dir/);
  const two = await align(["x.flac", "y.flac", "--text", "a"]);
  assert.match(two.stderr, /one audio file with --text, got 2 \(use --manifest for many\)/);
  const help = await align(["--help"]);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /are dropped/);
  assert.match(help.stdout, /--format json\|srt\|vtt\|tsv\|ctm/);
});

Deno.test({
  name:
    "--manifest also takes a TSV with a header naming its columns, and the training tools' NeMo manifests",
  ignore: !hasShared,
  fn: async () => {
    const dir = await Deno.makeTempDir();
    const tsv = `${dir}/list.tsv`;
    await Deno.writeTextFile(tsv, `file\tseconds\ttranscript\n${SIX}\t0.52\tsix\n${TWO}\t0.7\ttwo 2\n`);
    const t = await align(["--manifest", tsv, "--format", "ctm"]);
    assert.equal(t.code, 1);
    assert.deepEqual(t.stdout.trimEnd().split("\n").map((l) => l.split(" ")[4]), ["six"]);
    const column = [...TWO].length + 1 + "0.7".length + 1 + 5;
    assert.match(t.stderr, new RegExp(`skipping ${tsv}:3:${column}: character '2'`));

    const jsonl = `${dir}/list.jsonl`;
    const rows = [{ audio_filepath: TWO, text: "Two.", duration: 0.7 }, { audio_filepath: SIX, text: "s1x" }];
    await Deno.writeTextFile(jsonl, rows.map((r) => JSON.stringify(r)).join("\n") + "\n");
    const j = await align(["--manifest", jsonl, "--format", "ctm"]);
    assert.equal(j.code, 1);
    assert.deepEqual(j.stdout.trimEnd().split("\n").map((l) => l.split(" ")[4]), ["two"]);
    assert.match(j.stderr, new RegExp(`skipping ${jsonl}:2: transcript column 2: character '1'`));
    await Deno.remove(dir, { recursive: true });
  },
});

const JOINED = new URL("../fixtures/fsdd_joined/", import.meta.url).pathname;
/** The spoken-digits model that writes words (tests/fixtures/fsdd_digits), else the bundled sample's. */
const DIGITS_CHECKPOINT = (await Promise.all(
  ["fsdd_digits", "fsdd_tiny"].map(async (d) => {
    const p = new URL(`../fixtures/${d}/model.safetensors`, import.meta.url).pathname;
    return await Deno.stat(p).then(() => p, () => "");
  }),
)).find((p) => p !== "") ?? "";
const hasDigitsModel = DIGITS_CHECKPOINT !== "";

interface TrueTimes {
  file: string;
  transcript: string;
  words: { word: string; start: number; end: number }[];
}

Deno.test({
  name:
    "on digits joined with silences, 95% of aligned words start and end within 0.2 s of their true clip edges",
  ignore: !hasDigitsModel,
  fn: async () => {
    const truth: TrueTimes[] = JSON.parse(await Deno.readTextFile(`${JOINED}words.json`));
    const out = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        `${ROOT}cli/align.ts`,
        "--checkpoint",
        DIGITS_CHECKPOINT,
        "--manifest",
        `${JOINED}manifest.tsv`,
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stderr = new TextDecoder().decode(out.stderr);
    assert.equal(out.code, 0, stderr);
    const docs = new TextDecoder().decode(out.stdout).trimEnd().split("\n").map((l) => JSON.parse(l));
    assert.equal(docs.length, truth.length);
    let within = 0;
    let words = 0;
    docs.forEach((doc, i) => {
      assert.equal(doc.file, `${JOINED}${truth[i].file}`);
      const aligned: Word[] = doc.segments.flatMap((s: { words: Word[] }) => s.words);
      assert.deepEqual(aligned.map((w) => w.word), truth[i].words.map((w) => w.word));
      truth[i].words.forEach((t, k) => {
        words++;
        if (Math.abs(aligned[k].start - t.start) <= 0.2 && Math.abs(aligned[k].end - t.end) <= 0.2) within++;
      });
    });
    assert.ok(words >= 100, `${words} words`);
    assert.ok(within / words >= 0.95, `${within} of ${words} words within 0.2 s`);
  },
});
