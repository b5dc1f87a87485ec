/**
 * Manifests: the same committed corpus as a LibriSpeech folder, NeMo JSONL, DeepSpeech CSV and Common Voice TSV
 * lists the same utterances in the same order; each reader's malformed rows are problems naming file, line
 * and field, and malformed headers are errors.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { CorpusError, describeProblem } from "../../data/corpus.ts";
import { openCorpus } from "../../data/manifest.ts";
import { parseCsvRecords, parseDeepSpeechCsv } from "../../data/manifest_csv.ts";
import { parseNemoJsonl } from "../../data/manifest_jsonl.ts";
import { parseCommonVoiceTsv } from "../../data/manifest_tsv.ts";

const FORMATS = new URL("../fixtures/corpus_formats/", import.meta.url).pathname;
const CLIPS = join(FORMATS, "clips");

const IDS = [
  "90101-1-0981",
  "90101-1-1580",
  "90101-1-1582",
  "90101-1-2070",
  "90101-1-2870",
  "90101-2-2280",
  "90101-2-2281",
  "90101-2-3360",
];

Deno.test("one corpus as a LibriSpeech folder, JSONL, CSV and TSV: the same utterances in the same order", async () => {
  const folder = await openCorpus(CLIPS, { onWarning: assert.fail });
  const listings = [folder];
  for (const name of ["corpus.jsonl", "corpus.csv", "corpus.tsv"]) {
    const corpus = await openCorpus(join(FORMATS, name));
    assert.deepEqual(corpus.problems, [], name);
    listings.push(corpus);
  }
  assert.deepEqual(listings.map((c) => c.format), [
    "librispeech",
    "nemo-jsonl",
    "deepspeech-csv",
    "common-voice-tsv",
  ]);
  assert.deepEqual(folder.utterances.map((u) => u.fileId), IDS);
  assert.equal(folder.utterances[7].transcript, "HOW OLD ARE YOU MOTHER");
  for (const corpus of listings.slice(1)) {
    const same = (c: typeof folder) => c.utterances.map((u) => [u.fileId, u.audioPath, u.transcript]);
    assert.deepEqual(same(corpus), same(folder), corpus.source);
    // Durations: the JSONL's own (4 decimals), the others' from the FLAC headers, as the folder's.
    corpus.utterances.forEach((u, i) => {
      assert.ok(Math.abs(u.seconds! - folder.utterances[i].seconds!) < 1e-4, `${corpus.source} ${u.fileId}`);
    });
  }
  const [, jsonl, csv, tsv] = listings;
  assert.deepEqual(
    [
      jsonl.utterances[3].declaredSeconds,
      jsonl.utterances[3].transcriptLine,
      jsonl.utterances[3].transcriptPath,
    ],
    [0.7579, 4, join(FORMATS, "corpus.jsonl")],
  );
  assert.deepEqual([csv.utterances[0].declaredBytes, csv.utterances[0].transcriptLine], [19885, 2]);
  assert.equal(tsv.utterances[0].audioPath, join(CLIPS, "90101/1/90101-1-0981.flac"));
});

Deno.test("NeMo JSONL: a line that is no JSON object, a missing or mistyped field, a bad split are problems", () => {
  const text = [
    `{"audio_filepath": "a.flac", "duration": 1.5, "text": "one", "split": "Train"}`,
    `{"audio_filepath": "b.flac", "text": 3}`,
    `not json`,
    ``,
    `[1, 2]`,
    `{"text": "no path"}`,
    `{"audio_filepath": "c.flac", "duration": "long", "text": "x"}`,
    `{"audio_filepath": "/abs/d.wav", "duration": 2, "text": "d", "split": "holdout"}`,
  ].join("\n");
  const rows = parseNemoJsonl(text, "/m/x.jsonl");
  assert.equal(rows.utterances.length, 1);
  assert.deepEqual(rows.utterances[0], {
    fileId: "a",
    audioPath: "/m/a.flac",
    transcriptPath: "/m/x.jsonl",
    transcriptLine: 1,
    transcript: "one",
    declaredSeconds: 1.5,
    seconds: 1.5,
    split: "train",
  });
  assert.deepEqual(rows.problems.map(describeProblem), [
    "/m/x.jsonl:2: text: expected text",
    `/m/x.jsonl:3: not valid JSON (${jsonError("not json")})`,
    "/m/x.jsonl:5: expected a JSON object with audio_filepath, text and duration",
    "/m/x.jsonl:6: audio_filepath: missing",
    "/m/x.jsonl:7: duration: expected a duration in seconds",
    `/m/x.jsonl:8: split: expected one of train, dev, test, got "holdout"`,
  ]);
});

function jsonError(text: string): string {
  try {
    JSON.parse(text);
  } catch (e) {
    return (e as Error).message;
  }
  return "";
}

Deno.test("DeepSpeech CSV: RFC 4180 quotes, CRLF, optional wav_filesize, cell-count and size problems", () => {
  const text = "wav_filename,wav_filesize,transcript\r\n" +
    'a.wav,100,"hello, world"\r\n' +
    '"b.wav",,"she said ""hi""\nand left"\r\n' +
    "c.wav,12.5,x\r\n" +
    "d.wav,10\r\n" +
    "\r\n" +
    "sub/e.wav,7,e\r\n";
  const rows = parseDeepSpeechCsv(text, "/m/x.csv");
  assert.deepEqual(
    rows.utterances.map((u) => [u.fileId, u.audioPath, u.transcript, u.declaredBytes, u.transcriptLine]),
    [
      ["a", "/m/a.wav", "hello, world", 100, 2],
      ["b", "/m/b.wav", 'she said "hi"\nand left', undefined, 3],
      ["e", "/m/sub/e.wav", "e", 7, 8],
    ],
  );
  assert.deepEqual(rows.problems.map(describeProblem), [
    "/m/x.csv:5: wav_filesize: expected a file size in bytes",
    "/m/x.csv:6: 2 cells where the header has 3",
  ]);
});

Deno.test("CSV and TSV headers that name no audio or transcript column, and an unclosed quote, are errors", () => {
  assert.throws(() => parseCsvRecords('a,b\n1,"2\n3', "/m/q.csv"), {
    name: "CorpusError",
    message: "/m/q.csv:2: a quoted cell is never closed",
  });
  assert.throws(() => parseDeepSpeechCsv("file,text\na,b\n", "/m/x.csv"), {
    message: "/m/x.csv:1: the header must name wav_filename and transcript (DeepSpeech CSV), got file,text",
  });
  assert.throws(() => parseCommonVoiceTsv("path\ttext\n", "/m/x.tsv", false), {
    message: "/m/x.tsv:1: the header must name path and sentence (Common Voice TSV), got path | text",
  });
});

Deno.test("Common Voice TSV: paths under clips/ when it exists, extra columns ignored, a split column", () => {
  const text =
    "client_id\tpath\tsentence\tsplit\nx\ta.mp3\tHello there\tdev\ny\tb.mp3\tbye\ny\tc.mp3\t\ttest\n";
  const withClips = parseCommonVoiceTsv(text, "/cv/en/dev.tsv", true);
  assert.deepEqual(
    withClips.utterances.map((u) => [u.audioPath, u.transcript, u.split, u.transcriptLine]),
    [["/cv/en/clips/a.mp3", "Hello there", "dev", 2], ["/cv/en/clips/c.mp3", "", "test", 4]],
  );
  assert.deepEqual(withClips.problems.map(describeProblem), [
    "/cv/en/dev.tsv:3: 3 cells where the header has 4",
  ]);
  assert.equal(parseCommonVoiceTsv(text, "/cv/en/dev.tsv", false).utterances[0].audioPath, "/cv/en/a.mp3");
});

Deno.test("openCorpus: unknown extensions, missing paths, subsets of manifests, rows with no split among split rows", async () => {
  const dir = await Deno.makeTempDir({ prefix: "manifest_test_" });
  await assert.rejects(openCorpus(join(dir, "none.jsonl")), {
    name: "CorpusError",
    message: `${join(dir, "none.jsonl")} does not exist`,
  });
  await Deno.writeTextFile(join(dir, "list.txt"), "a.flac\n");
  await assert.rejects(openCorpus(join(dir, "list.txt")), (e: Error) => {
    assert.ok(e instanceof CorpusError);
    assert.match(
      e.message,
      /list\.txt: not a corpus: expected a LibriSpeech folder or a manifest ending in \.jsonl/,
    );
    return true;
  });
  const mixed = join(dir, "mixed.jsonl");
  await Deno.writeTextFile(
    mixed,
    `{"audio_filepath": "a.flac", "text": "a", "split": "train"}\n{"audio_filepath": "b.flac", "text": "b"}\n`,
  );
  await assert.rejects(openCorpus(mixed, { subset: "dev" }), {
    message: /is a manifest: a subset is chosen/,
  });
  const corpus = await openCorpus(mixed);
  assert.deepEqual(corpus.utterances.map((u) => u.fileId), ["a"]);
  assert.deepEqual(corpus.problems.map(describeProblem), [
    `${mixed}:2: split: empty, while other rows name theirs (train, dev or test)`,
  ]);
  // A missing file keeps an unknown duration: the row is still listed, and validation reports it.
  assert.equal(corpus.utterances[0].seconds, undefined);
  await Deno.remove(dir, { recursive: true });
});
