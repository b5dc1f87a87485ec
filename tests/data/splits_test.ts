import assert from "node:assert/strict";
import { crc32 } from "../../data/crc32.ts";
import { LibriSpeechCorpus } from "../../data/librispeech.ts";
import { isCathyDev, isFsddTest, parseSplitScheme, schemeForPath, splitCorpus } from "../../data/splits.ts";

const SPEECH = new URL("../../../shared/speech/", import.meta.url).pathname;
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

Deno.test("split rules on single utterances", () => {
  assert.equal(isFsddTest(0), true);
  assert.equal(isFsddTest(4), true);
  assert.equal(isFsddTest(5), false);
  assert.equal(isFsddTest(49), false);
  assert.equal(isFsddTest(450), true);
  assert.equal(isFsddTest(454), true);
  assert.equal(isFsddTest(455), false);
  // crc32("she turned in at the hotel") % 10 == 0; case does not matter.
  assert.equal(isCathyDev("SHE TURNED IN AT THE HOTEL"), true);
  assert.equal(isCathyDev("she turned in at the hotel"), true);
  assert.equal(isCathyDev("AUTHOR OF THE DANGER TRAIL PHILIP STEELS ET CETERA"), false);
  assert.equal(schemeForPath("../shared/speech/fsdd"), "fsdd");
  assert.equal(schemeForPath("/x/shared/speech/rhasspy-cathy/librispeech/"), "rhasspy-cathy");
  assert.equal(schemeForPath("data/LibriSpeech/dev-clean"), "generic");
  assert.equal(parseSplitScheme("fsdd"), "fsdd");
  assert.throws(() => parseSplitScheme("cathy"), {
    message: `unknown split scheme "cathy": expected one of fsdd, rhasspy-cathy, generic`,
  });
});

Deno.test({
  name: "fsdd split: 300 test (index 0-4 of each digit and speaker), 2700 train, as the manifest says",
  ignore: !hasShared,
  fn: async () => {
    const corpus = await LibriSpeechCorpus.open(SPEECH + "fsdd", { onWarning: assert.fail });
    const { train, eval: test } = splitCorpus(corpus.utterances, "fsdd");
    assert.equal(train.length, 2700);
    assert.equal(test.length, 300);
    assert.deepEqual(test.slice(0, 7).map((u) => u.fileId), [
      "90001-1-0000",
      "90001-1-0001",
      "90001-1-0002",
      "90001-1-0003",
      "90001-1-0004",
      "90001-1-0050",
      "90001-1-0051",
    ]);
    // 5 per digit and speaker: 6 speakers x 10 digits.
    const perKey = new Map<string, number>();
    for (const u of test) {
      const key = `${u.speakerId} ${u.transcript}`;
      perKey.set(key, (perKey.get(key) ?? 0) + 1);
    }
    assert.equal(perKey.size, 60);
    assert.ok([...perKey.values()].every((n) => n === 5));
    // The manifest's own split column agrees clip by clip.
    const manifest = await Deno.readTextFile(SPEECH + "fsdd/manifest.tsv");
    const testIds = new Set(
      manifest.trim().split("\n").slice(1).map((l) => l.split("\t")).filter((c) => c[8] === "test").map((c) =>
        c[4]
      ),
    );
    assert.equal(testIds.size, 300);
    assert.deepEqual(new Set(test.map((u) => u.fileId)), testIds);
  },
});

Deno.test({
  name: "rhasspy-cathy split: by prompt, 146 dev clips of 106 prompts, 1474 train",
  ignore: !hasShared,
  fn: async () => {
    const corpus = await LibriSpeechCorpus.open(SPEECH + "rhasspy-cathy", { onWarning: assert.fail });
    const { train, eval: dev } = splitCorpus(corpus.utterances, "rhasspy-cathy");
    // Counts from Python: zlib.crc32(transcript.lower().encode()) % 10 == 0.
    assert.equal(dev.length, 146);
    assert.equal(train.length, 1474);
    assert.deepEqual(dev.slice(0, 3).map((u) => u.fileId), ["90101-1-0360", "90101-1-0361", "90101-1-0660"]);
    const devPrompts = new Set(dev.map((u) => u.transcript));
    assert.equal(devPrompts.size, 106);
    assert.ok(train.every((u) => !devPrompts.has(u.transcript)), "a prompt is on both sides");
  },
});

Deno.test({
  name: "generic split: the whole folder on both sides",
  ignore: !hasShared,
  fn: async () => {
    const corpus = await LibriSpeechCorpus.open(SPEECH + "librispeech-test-clean-sample");
    const { train, eval: all } = splitCorpus(corpus.utterances, "generic");
    assert.equal(all.length, 4);
    assert.equal(train.length, 4);
    assert.deepEqual(all.map((u) => u.fileId), [
      "1089-134686-0000",
      "1089-134686-0001",
      "1089-134691-0000",
      "1089-134691-0001",
    ]);
  },
});
