import assert from "node:assert/strict";
import { crc32 } from "../../data/crc32.ts";
import { LibriSpeechCorpus } from "../../data/librispeech.ts";
import { openCorpus } from "../../data/manifest.ts";
import { devFraction, isHeldOutByTranscript, splitByColumn, splitByTranscript } from "../../data/splits.ts";

const SPEECH = new URL("../../../shared/speech/", import.meta.url).pathname;
const FSDD_CSV = new URL("../fixtures/manifests/fsdd.csv", import.meta.url).pathname;
const hasShared = await Deno.stat(SPEECH).then(() => true, () => false);

Deno.test("crc32 matches zlib.crc32", () => {
  // Values from Python's zlib.crc32.
  assert.equal(crc32(""), 0);
  assert.equal(crc32("a"), 3904355907);
  assert.equal(crc32("hello world"), 222957957);
  assert.equal(crc32("author of the danger trail philip steels et cetera"), 2153555549);
  assert.equal(crc32("héllo ✓"), 2199276268);
  assert.equal(crc32(new TextEncoder().encode("hello world")), 222957957);
  // Continuing from a previous value, like zlib.crc32(b"more", previous).
  assert.equal(crc32("more", crc32("hello world")), 941008384);
  assert.equal(crc32("more", 0), crc32("more"));
});

Deno.test("dev fractions: the modulus is 10 to the fraction's decimal places; out of range or too fine is an error", () => {
  assert.deepEqual(devFraction(0.1), { fraction: 0.1, modulus: 10, threshold: 1 });
  assert.deepEqual(devFraction(0.05), { fraction: 0.05, modulus: 100, threshold: 5 });
  assert.deepEqual(devFraction(0.07), { fraction: 0.07, modulus: 100, threshold: 7 });
  assert.deepEqual(devFraction(0.125), { fraction: 0.125, modulus: 1000, threshold: 125 });
  assert.deepEqual(devFraction(0.9999), { fraction: 0.9999, modulus: 10000, threshold: 9999 });
  for (const bad of [0, 1, -0.1, 1.5, NaN]) {
    assert.throws(() => devFraction(bad), {
      message: `dev fraction must be between 0 and 1 (exclusive), got ${bad}`,
    });
  }
  assert.throws(() => devFraction(0.12345), { message: /0\.12345 has more than 4 decimal places/ });
});

Deno.test("the hash rule looks at the lowercase transcript only", () => {
  const tenth = devFraction(0.1);
  // crc32("she turned in at the hotel") % 10 == 0; case does not matter.
  assert.equal(isHeldOutByTranscript("SHE TURNED IN AT THE HOTEL", tenth), true);
  assert.equal(isHeldOutByTranscript("she turned in at the hotel", tenth), true);
  assert.equal(isHeldOutByTranscript("AUTHOR OF THE DANGER TRAIL PHILIP STEELS ET CETERA", tenth), false);
  // CRC-32 2153555549: % 100 = 49, held out at 0.51, not at 0.49; % 10 = 9, not held out at 0.5.
  const author = "author of the danger trail philip steels et cetera";
  assert.equal(isHeldOutByTranscript(author, devFraction(0.51)), true);
  assert.equal(isHeldOutByTranscript(author, devFraction(0.49)), false);
  assert.equal(isHeldOutByTranscript(author, devFraction(0.5)), false);
});

Deno.test({
  name:
    "rhasspy-cathy with --dev-fraction 0.1: today's split (CRC-32 % 10 == 0), by prompt, whatever the order",
  ignore: !hasShared,
  fn: async () => {
    const corpus = await LibriSpeechCorpus.open(SPEECH + "rhasspy-cathy", { onWarning: assert.fail });
    const { train, eval: dev } = splitByTranscript(corpus.utterances, devFraction(0.1));
    // Counts from Python: zlib.crc32(transcript.lower().encode()) % 10 == 0.
    assert.equal(dev.length, 146);
    assert.equal(train.length, 1474);
    assert.deepEqual(dev.slice(0, 3).map((u) => u.fileId), ["90101-1-0360", "90101-1-0361", "90101-1-0660"]);
    const oldRule = corpus.utterances.filter((u) => crc32(u.transcript.toLowerCase()) % 10 === 0);
    assert.deepEqual(dev.map((u) => u.fileId), oldRule.map((u) => u.fileId));
    const devPrompts = new Set(dev.map((u) => u.transcript));
    assert.equal(devPrompts.size, 106);
    assert.ok(train.every((u) => !devPrompts.has(u.transcript)), "a prompt is on both sides");
    const reversed = splitByTranscript([...corpus.utterances].reverse(), devFraction(0.1));
    assert.deepEqual(new Set(reversed.eval.map((u) => u.fileId)), new Set(dev.map((u) => u.fileId)));
  },
});

Deno.test({
  name:
    "fsdd through its committed manifest's split column: today's test split (utterance % 50 < 5), 300 + 2700",
  ignore: !hasShared,
  fn: async () => {
    const folder = await LibriSpeechCorpus.open(SPEECH + "fsdd", { onWarning: assert.fail });
    const manifest = await openCorpus(FSDD_CSV);
    assert.deepEqual(manifest.problems, []);
    const { train, eval: test, heldOut } = splitByColumn(manifest.utterances);
    assert.equal(heldOut, "test");
    assert.equal(train.length, 2700);
    assert.equal(test.length, 300);
    const oldRule = folder.utterances.filter((u) => u.utteranceId % 50 < 5);
    assert.deepEqual(test.map((u) => [u.fileId, u.audioPath]), oldRule.map((u) => [u.fileId, u.audioPath]));
    assert.deepEqual(
      train.map((u) => u.audioPath),
      folder.utterances.filter((u) => u.utteranceId % 50 >= 5).map((u) => u.audioPath),
    );
    // 5 per digit and speaker: 6 speakers x 10 digits.
    const perKey = new Map<string, number>();
    for (const u of test) {
      const key = `${u.fileId.split("-")[0]} ${u.transcript}`;
      perKey.set(key, (perKey.get(key) ?? 0) + 1);
    }
    assert.equal(perKey.size, 60);
    assert.ok([...perKey.values()].every((n) => n === 5));
  },
});
