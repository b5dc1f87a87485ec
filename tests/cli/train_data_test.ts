/**
 * What `train` trains and evaluates on: the committed corpus in its four formats gives the same rows and, trained
 * for one epoch from each, the same losses; fsdd and rhasspy-cathy get today's held-out sets through a manifest's
 * split column and --dev-fraction; invalid rows stop the run, or with --skip-invalid are reported and left out.
 */
import assert from "node:assert/strict";
import { crc32 } from "../../data/crc32.ts";
import { LibriSpeechCorpus } from "../../data/librispeech.ts";
import { parseTrainArgs } from "../../cli/train_args.ts";
import { resolveTrainData } from "../../cli/train_data.ts";
import { UsageError } from "../../cli/common.ts";

const FIXTURES = new URL("../fixtures/", import.meta.url).pathname;
const FORMATS = `${FIXTURES}corpus_formats/`;
const SOURCES = [`${FORMATS}clips`, `${FORMATS}corpus.jsonl`, `${FORMATS}corpus.csv`, `${FORMATS}corpus.tsv`];
const SPEECH = new URL("../../../shared/speech/", import.meta.url).pathname;
const hasShared = await Deno.stat(SPEECH).then(() => true, () => false);
const TRAIN = new URL("../../train.ts", import.meta.url).pathname;

async function data(args: string[]) {
  const parsed = parseTrainArgs(args);
  assert.ok(parsed);
  return await resolveTrainData(parsed);
}

Deno.test("the four formats of one corpus give the same training and evaluation rows", async () => {
  const rows = [];
  for (const source of SOURCES) {
    const d = await data(["--train", source, "--dev", source]);
    rows.push({
      train: d.train.map((u) => [u.fileId, u.audioPath, u.transcript]),
      eval: d.eval.map((u) => u.fileId),
    });
  }
  assert.equal(rows[0].train.length, 8);
  for (const r of rows.slice(1)) assert.deepEqual(r, rows[0]);
});

Deno.test("one epoch from each format: the same losses, step by step", async () => {
  const losses: number[][] = [];
  for (const source of SOURCES) {
    const out = await Deno.makeTempDir({ prefix: "train_data_test_" });
    const run = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        TRAIN,
        ...["--train", source, "--dev", source, "--epochs", "1", "--batch-size", "3", "--config", "tiny"],
        ...["--rnn-dim", "16", "--n-feats", "32", "--log-every", "1", "--workers", "0", "--out", out],
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(run.code, 0, new TextDecoder().decode(run.stderr));
    const records = (await Deno.readTextFile(`${out}/metrics.jsonl`)).trim().split("\n").map((l) =>
      JSON.parse(l)
    );
    losses.push(records.filter((r) => r.type === "train").map((r) => r.loss));
    await Deno.remove(out, { recursive: true });
  }
  // 8 clips in batches of 3: 3 steps, each loss finite.
  assert.equal(losses[0].length, 3);
  assert.ok(losses[0].every((l) => Number.isFinite(l) && l > 0), String(losses[0]));
  for (const l of losses.slice(1)) assert.deepEqual(l, losses[0]);
});

Deno.test({
  name:
    "fsdd through its committed manifest and rhasspy-cathy with --dev-fraction 0.1 keep today's held-out sets",
  ignore: !hasShared,
  fn: async () => {
    const fsdd = await data(["--train", `${FIXTURES}manifests/fsdd.csv`]);
    const fsddFolder = await LibriSpeechCorpus.open(`${SPEECH}fsdd`);
    assert.deepEqual(
      fsdd.eval.map((u) => u.audioPath),
      fsddFolder.utterances.filter((u) => u.utteranceId % 50 < 5).map((u) => u.audioPath),
    );
    assert.equal(fsdd.train.length, 2700);
    assert.match(fsdd.description, /by its split column: 2700 train, 300 test held out/);

    const cathy = await data(["--train", `${SPEECH}rhasspy-cathy`, "--dev-fraction", "0.1"]);
    const cathyFolder = await LibriSpeechCorpus.open(`${SPEECH}rhasspy-cathy`);
    const oldRule = (t: string) => crc32(t.toLowerCase()) % 10 === 0;
    assert.deepEqual(
      cathy.eval.map((u) => u.fileId),
      cathyFolder.utterances.filter((u) => oldRule(u.transcript)).map((u) => u.fileId),
    );
    assert.equal(cathy.eval.length, 146);
    assert.equal(cathy.train.length, 1474);
  },
});

Deno.test("invalid rows stop the run with their reasons; --skip-invalid reports them and trains on the rest", async () => {
  const bad = `${FIXTURES}manifests/bad_rows.jsonl`;
  const good = `${FORMATS}corpus.jsonl`;
  await assert.rejects(data(["--train", bad, "--dev", good]), (e: Error) => {
    assert.ok(e instanceof UsageError);
    const lines = e.message.split("\n");
    assert.equal(lines[0], "4 invalid training row(s):");
    assert.deepEqual(lines.slice(1, 5).map((l) => l.trim().replace(/:.*?: /, ": ")), [
      `${bad}: audio file ${FORMATS}clips/90101/1/90101-1-9999.flac does not exist`,
      `${bad}: the transcript is empty`,
      `${bad}: character '2' (U+0032) at column 25 is not in the character map (apostrophe, space, a-z): ` +
      `"does that look good for 2"`,
      `${bad}: the transcript needs 54 CTC frames (53 characters and 1 repeated pair(s)) but its 0.76 s of ` +
      "audio give 30",
    ]);
    assert.match(lines[5], /--skip-invalid to train on the rest/);
    return true;
  });
  const reported: string[] = [];
  const log = console.error;
  console.error = (line: string) => reported.push(line);
  try {
    const d = await data(["--train", bad, "--dev", good, "--skip-invalid"]);
    // The file that is not audio passes the checks that need no decoding: the loader reports it while training.
    assert.deepEqual(d.train.map((u) => u.transcriptLine), [1, 3, 7]);
    assert.equal(d.eval.length, 8);
    assert.match(d.description, /\(4 invalid row\(s\) left out\)$/);
  } finally {
    console.error = log;
  }
  assert.deepEqual(
    reported.map((l) => l.replace(/:\d+: .*/, "")),
    Array(4).fill(`skipped (training): ${bad}`),
  );
});

Deno.test("flag conflicts are one-line usage errors", () => {
  assert.throws(() => parseTrainArgs(["--train", "a.jsonl", "--data", "b"]), {
    message: "--train and --data both name the training corpus: give one",
  });
  assert.throws(() => parseTrainArgs(["--train", "a.jsonl", "--dev", "b", "--test", "c"]), {
    message: "train evaluates one set after each epoch: give --dev or --test, not both",
  });
  assert.throws(() => parseTrainArgs(["--train", "a.jsonl", "--dev", "b", "--dev-fraction", "0.1"]), {
    message: "--dev-fraction holds out part of the training corpus: not with --dev",
  });
  assert.throws(() => parseTrainArgs(["--train", "a.jsonl", "--dev-fraction", "0.00001"]), {
    message: /^--dev-fraction: dev fraction 0.00001 has more than 4 decimal places/,
  });
});
