import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { join } from "node:path";
import {
  CorpusError,
  LibriSpeechCorpus,
  readFlacStreamInfo,
  resolveCorpusDir,
} from "../../data/librispeech.ts";

const SPEECH = new URL("../../../shared/speech/", import.meta.url).pathname;
const hasShared = await Deno.stat(SPEECH).then(() => true, () => false);
const SAMPLE = SPEECH + "librispeech-test-clean-sample/librispeech/1089/";

function md5(text: string): string {
  return createHash("md5").update(text).digest("hex");
}

/** A temporary corpus: `files` maps relative paths to text, or to a shared FLAC file to copy. */
async function makeCorpus(files: Record<string, string | { copy: string }>): Promise<string> {
  const root = await Deno.makeTempDir({ prefix: "librispeech_test_" });
  for (const [path, content] of Object.entries(files)) {
    const full = join(root, path);
    await Deno.mkdir(join(full, ".."), { recursive: true });
    if (typeof content === "string") await Deno.writeTextFile(full, content);
    else await Deno.copyFile(content.copy, full);
  }
  return root;
}

async function expectCorpusError(root: string, message: string | RegExp): Promise<void> {
  await assert.rejects(LibriSpeechCorpus.open(root, { onWarning: () => {} }), (error: Error) => {
    assert.ok(error instanceof CorpusError, `expected CorpusError, got ${error}`);
    if (typeof message === "string") assert.equal(error.message, message);
    else assert.match(error.message, message);
    return true;
  });
}

const TRANS_686 = "1089-134686-0000 HE HOPED THERE WOULD BE STEW\n1089-134686-0001 STUFF IT INTO YOU\n";

Deno.test({
  name: "listing matches torchaudio's LIBRISPEECH walker and metadata",
  ignore: !hasShared,
  fn: async () => {
    // Reference: torchaudio 0.13 LIBRISPEECH on the same folders; md5 of "\n".join(dataset._walker).
    const fsdd = await LibriSpeechCorpus.open(SPEECH + "fsdd");
    assert.equal(fsdd.length, 3000);
    assert.equal(md5(fsdd.utterances.map((u) => u.fileId).join("\n")), "74e1b1a801ec9a496160550c72cd074b");
    assert.equal(fsdd.utterances[1500].fileId, "90004-1-0000");
    const last = fsdd.utterances[2999];
    assert.deepEqual(
      [last.transcript, last.speakerId, last.chapterId, last.utteranceId],
      ["NINE", 90006, 1, 499],
    );

    const cathy = await LibriSpeechCorpus.open(SPEECH + "rhasspy-cathy");
    assert.equal(cathy.length, 1620);
    assert.equal(md5(cathy.utterances.map((u) => u.fileId).join("\n")), "f8d02d5463ccab0be56af0ce0b5ec6e8");
    const mid = cathy.utterances[810];
    assert.deepEqual(
      [mid.fileId, mid.transcript, mid.speakerId, mid.chapterId, mid.utteranceId],
      [
        "90101-1-5250",
        "THE OLIGARCHY WANTED VIOLENCE AND IT SET ITS AGENTS PROVOCATEURS TO WORK",
        90101,
        1,
        5250,
      ],
    );

    const speechbrain = await LibriSpeechCorpus.open(SPEECH + "speechbrain-samples");
    assert.equal(
      md5(speechbrain.utterances.map((u) => u.fileId).join("\n")),
      "505286ada8e9787e1f096a1c91537174",
    );
    const lj = speechbrain.utterances[11];
    assert.equal(lj.fileId, "90301-50-0131");
    assert.equal(
      lj.transcriptPath,
      join(SPEECH, "speechbrain-samples/librispeech/90301/50/90301-50.trans.txt"),
    );
    assert.equal(lj.transcriptLine, 1);
    assert.equal(
      lj.transcript,
      "UNLESS A SYSTEM IS ESTABLISHED FOR THE FREQUENT FORMAL REVIEW OF ACTIVITIES THEREUNDER IN THIS REGARD",
    );
  },
});

Deno.test({
  name: "durations come from the manifest or, without one, the FLAC STREAMINFO",
  ignore: !hasShared,
  fn: async () => {
    const cathy = await LibriSpeechCorpus.open(SPEECH + "rhasspy-cathy");
    assert.equal(cathy.utterances[0].seconds, 3.2964); // manifest.tsv, 4 decimals
    assert.equal(cathy.utterances[810].seconds, 4.6581);
    assert.equal(cathy.utterances[810].fileSampleRate, 16000);
    // 74529 samples, the length torchaudio decodes.
    assert.deepEqual(await readFlacStreamInfo(cathy.utterances[810].audioPath), {
      sampleRate: 16000,
      channels: 1,
      bitsPerSample: 16,
      totalSamples: 74529,
    });
    const root = await makeCorpus({
      "90004/1/90004-1-0000.flac": { copy: SPEECH + "fsdd/librispeech/90004/1/90004-1-0000.flac" },
      "90004/1/90004-1.trans.txt": "90004-1-0000 ZERO\n",
    });
    const copied = await LibriSpeechCorpus.open(root);
    assert.equal(copied.utterances[0].seconds, 7000 / 16000);
    const none = await LibriSpeechCorpus.open(root, { durations: false });
    assert.equal(none.utterances[0].seconds, undefined);
    await Deno.remove(root, { recursive: true });
  },
});

Deno.test("readFlacStreamInfo reads a hand-made header, after an ID3v2 tag too", async () => {
  // STREAMINFO: 44100 Hz, 2 channels, 24 bits, 0x1_2345_6789 samples.
  const streamInfo = new Uint8Array(34);
  const rate = 44100;
  streamInfo[10] = rate >> 12;
  streamInfo[11] = (rate >> 4) & 0xff;
  streamInfo[12] = ((rate & 0x0f) << 4) | ((2 - 1) << 1) | ((24 - 1) >> 4);
  streamInfo[13] = (((24 - 1) & 0x0f) << 4) | 0x1;
  streamInfo.set([0x23, 0x45, 0x67, 0x89], 14);
  const flac = new Uint8Array([0x66, 0x4c, 0x61, 0x43, 0x80, 0, 0, 34, ...streamInfo]);
  const id3 = new Uint8Array([0x49, 0x44, 0x33, 4, 0, 0, 0, 0, 1, 3, ...new Uint8Array(131)]);
  const dir = await Deno.makeTempDir();
  await Deno.writeFile(join(dir, "a.flac"), flac);
  await Deno.writeFile(join(dir, "b.flac"), new Uint8Array([...id3, ...flac]));
  await Deno.writeFile(
    join(dir, "c.flac"),
    new TextEncoder().encode("RIFF not a flac file at all, long enough..."),
  );
  const expected = { sampleRate: 44100, channels: 2, bitsPerSample: 24, totalSamples: 0x123456789 };
  assert.deepEqual(await readFlacStreamInfo(join(dir, "a.flac")), expected);
  assert.deepEqual(await readFlacStreamInfo(join(dir, "b.flac")), expected);
  assert.equal(await readFlacStreamInfo(join(dir, "c.flac")), null);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("a FLAC with a damaged ID3v2 tag: readFlacStreamInfo names the file and offset, listing leaves the duration unknown", async () => {
  const root = await makeCorpus({
    // A tag header declaring 300 bytes, then the file ends.
    "90004/1/90004-1-0000.flac": "ID3\x04\x00\x00\x00\x00\x02\x2c",
    "90004/1/90004-1-0001.flac": {
      copy: new URL("../../data/sample/dev/90001/2/90001-2-0000.flac", import.meta.url).pathname,
    },
    "90004/1/90004-1.trans.txt": "90004-1-0000 ZERO\n90004-1-0001 ONE\n",
  });
  try {
    await assert.rejects(
      readFlacStreamInfo(join(root, "90004/1/90004-1-0000.flac")),
      /90004-1-0000\.flac at byte 10: stream ends inside the ID3v2 tag at byte 0 \(310 bytes\)/,
    );
    const corpus = await LibriSpeechCorpus.open(root);
    assert.equal(corpus.utterances[0].seconds, undefined);
    assert.ok(corpus.utterances[1].seconds! > 0);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test({
  name: "a root may be the LibriSpeech root, the subset folder, or a shared source",
  ignore: !hasShared,
  fn: async () => {
    const files = {
      "LibriSpeech/test-clean/1089/134686/1089-134686-0000.flac": {
        copy: SAMPLE + "134686/1089-134686-0000.flac",
      },
      "LibriSpeech/test-clean/1089/134686/1089-134686-0001.flac": {
        copy: SAMPLE + "134686/1089-134686-0001.flac",
      },
      "LibriSpeech/test-clean/1089/134686/1089-134686.trans.txt": TRANS_686,
    };
    const root = await makeCorpus(files);
    const subsetDir = join(root, "LibriSpeech", "test-clean");
    assert.equal(await resolveCorpusDir(root, "test-clean"), subsetDir);
    assert.equal(await resolveCorpusDir(root), subsetDir); // the only subset
    assert.equal(await resolveCorpusDir(join(root, "LibriSpeech"), "test-clean"), subsetDir);
    assert.equal(await resolveCorpusDir(subsetDir), subsetDir);
    assert.equal(await resolveCorpusDir(subsetDir, "test-clean"), subsetDir);
    assert.equal(
      await resolveCorpusDir(SPEECH + "librispeech-test-clean-sample"),
      join(SPEECH, "librispeech-test-clean-sample", "librispeech"),
    );
    const corpus = await LibriSpeechCorpus.open(root, { subset: "test-clean" });
    assert.deepEqual(corpus.utterances.map((u) => [u.fileId, u.transcript, u.transcriptLine, u.seconds]), [
      ["1089-134686-0000", "HE HOPED THERE WOULD BE STEW", 1, 166960 / 16000],
      ["1089-134686-0001", "STUFF IT INTO YOU", 2, 52400 / 16000],
    ]);

    await assert.rejects(resolveCorpusDir(root, "dev-clean"), {
      name: "CorpusError",
      message: `subset dev-clean not found: looked for ${join(root, "LibriSpeech", "dev-clean")}, ` +
        `${join(root, "dev-clean")}`,
    });
    await Deno.mkdir(join(root, "LibriSpeech", "dev-clean", "1", "2"), { recursive: true });
    await Deno.writeTextFile(join(root, "LibriSpeech", "dev-clean", "1", "2", "1-2.trans.txt"), "");
    await assert.rejects(resolveCorpusDir(root), {
      message: `${join(root, "LibriSpeech")} holds several subsets (dev-clean, test-clean): name one`,
    });
    const empty = await Deno.makeTempDir();
    await assert.rejects(resolveCorpusDir(empty), {
      message:
        `no LibriSpeech corpus found at ${empty}: expected <speaker>/<chapter>/ folders with .flac and ` +
        `.trans.txt files in ${empty}, ${join(empty, "librispeech")} or ${
          join(empty, "LibriSpeech")
        }/<subset>`,
    });
    await assert.rejects(resolveCorpusDir(join(empty, "nope")), {
      message: `corpus folder ${join(empty, "nope")} does not exist`,
    });
    await Deno.remove(empty, { recursive: true });
    await Deno.remove(root, { recursive: true });
  },
});

Deno.test({
  name: "transcript problems are reported with file, line and column",
  ignore: !hasShared,
  fn: async () => {
    const flac = { copy: SAMPLE + "134686/1089-134686-0001.flac" };
    const trans = "1089/134686/1089-134686.trans.txt";

    let root = await makeCorpus({
      "1089/134686/1089-134686-0000.flac": flac,
      "1089/134686/1089-134686-0001.flac": flac,
      [trans]: "1089-134686-0000 HE HOPED\n1089-134686-0001 IT COST 5 SHILLINGS\n",
    });
    await expectCorpusError(
      root,
      `${join(root, trans)}:2:26: 1089-134686-0001: character '5' (U+0035) at column 9 is not in the ` +
        `character map (apostrophe, space, a-z): "IT COST 5 SHILLINGS"`,
    );
    // The check can be left to the caller.
    assert.equal((await LibriSpeechCorpus.open(root, { checkCharacters: false })).length, 2);

    await Deno.writeTextFile(join(root, trans), "1089-134686-0000 HE HOPED\n");
    await expectCorpusError(
      root,
      `1 audio file(s) have no line in their .trans.txt: ${join(root, "1089/134686/1089-134686-0001.flac")}`,
    );

    await Deno.writeTextFile(join(root, trans), "1089-134686-0000 HE HOPED\n1089-134686-0001\n");
    await expectCorpusError(
      root,
      `${join(root, trans)}:2: expected "<speaker>-<chapter>-<utterance> TRANSCRIPT", got "1089-134686-0001"`,
    );

    await Deno.writeTextFile(join(root, trans), "1089-134686-0000 HE HOPED\n1089-134691-0001 NO\n");
    await expectCorpusError(
      root,
      `${
        join(root, trans)
      }:2: utterance id "1089-134691-0001" does not belong to speaker 1089, chapter 134686`,
    );

    await Deno.writeTextFile(
      join(root, trans),
      "1089-134686-0000 A\n1089-134686-0001 B\n\n1089-134686-0000 C\n",
    );
    await expectCorpusError(
      root,
      `${join(root, trans)}:4: 1089-134686-0000 already has a transcript on line 1`,
    );

    await Deno.remove(join(root, trans));
    await expectCorpusError(
      root,
      `${join(root, trans)} is missing: 2 audio files in ${join(root, "1089/134686")} have no transcript`,
    );
    await Deno.remove(root, { recursive: true });

    root = await makeCorpus({ "1089/134686/1089-134686-0000.flac": flac, "1089/134686/notes.flac": flac });
    await Deno.writeTextFile(join(root, trans), "1089-134686-0000 HE HOPED\n");
    await expectCorpusError(
      root,
      `${
        join(root, "1089/134686/notes.flac")
      }: audio file name is not <speaker>-<chapter>-<utterance>.flac ` +
        `for speaker 1089, chapter 134686`,
    );
    await Deno.remove(root, { recursive: true });
  },
});

Deno.test({
  name: "a transcript line without audio is a warning naming it, and the rest is listed",
  ignore: !hasShared,
  fn: async () => {
    const root = await makeCorpus({
      "1089/134686/1089-134686-0001.flac": { copy: SAMPLE + "134686/1089-134686-0001.flac" },
      "1089/134686/1089-134686.trans.txt": TRANS_686,
    });
    const warnings: string[] = [];
    const corpus = await LibriSpeechCorpus.open(root, { onWarning: (m) => warnings.push(m) });
    const expected =
      `${join(root, "1089/134686/1089-134686.trans.txt")}:1: transcript of 1089-134686-0000 has ` +
      `no audio file ${join(root, "1089/134686/1089-134686-0000.flac")}`;
    assert.deepEqual(warnings, [expected]);
    assert.deepEqual(corpus.warnings, [expected]);
    assert.deepEqual(corpus.utterances.map((u) => [u.fileId, u.transcriptLine]), [["1089-134686-0001", 2]]);
    await assert.rejects(corpus.load(1), {
      name: "RangeError",
      message: `utterance index 1 is outside 0..0 of ${root}`,
    });
    await Deno.remove(root, { recursive: true });
  },
});

const hasAudio = await Deno.stat(new URL("../../data/audio.ts", import.meta.url)).then(
  () => true,
  () => false,
);

Deno.test({
  name: "load gives torchaudio's waveform and fields; a corrupt file is an error naming it",
  ignore: !hasShared || !hasAudio,
  fn: async () => {
    // Reference: torchaudio 0.13 LIBRISPEECH(fsdd)[1500].
    const fsdd = await LibriSpeechCorpus.open(SPEECH + "fsdd");
    const u = await fsdd.load(1500);
    assert.deepEqual(
      [u.fileId, u.sampleRate, u.transcript, u.speakerId, u.chapterId, u.utteranceId],
      ["90004-1-0000", 16000, "ZERO", 90004, 1, 0],
    );
    assert.equal(u.waveform.length, 7000);
    assert.deepEqual(Array.from(u.waveform.subarray(0, 6), (x) => x * 32768), [
      -6,
      -200,
      -251,
      -91,
      -4,
      -215,
    ]);
    let sum = 0;
    let peak = 0;
    for (const x of u.waveform) {
      sum += x;
      peak = Math.max(peak, Math.abs(x));
    }
    assert.ok(Math.abs(sum - -53.877716064453125) < 1e-9, `sum ${sum}`);
    assert.equal(peak, 0.236053466796875);

    const root = await makeCorpus({
      "90004/1/90004-1-0000.flac": { copy: SPEECH + "fsdd/librispeech/90004/1/90004-1-0000.flac" },
      "90004/1/90004-1-0001.flac": "this is not audio at all",
      "90004/1/90004-1.trans.txt": "90004-1-0000 ZERO\n90004-1-0001 ZERO\n",
    });
    const corpus = await LibriSpeechCorpus.open(root);
    assert.equal(corpus.utterances[1].seconds, undefined);
    const loaded: string[] = [];
    for await (const utterance of corpus) {
      loaded.push(utterance.fileId);
      if (loaded.length === 1) break;
    }
    assert.deepEqual(loaded, ["90004-1-0000"]);
    await assert.rejects(corpus.load(1), (error: Error) => {
      assert.equal(error.name, "AudioFormatError");
      assert.ok(error.message.includes(join(root, "90004/1/90004-1-0001.flac")), error.message);
      return true;
    });
    await Deno.remove(root, { recursive: true });

    // Every clip of the bundled sample's dev set decodes to its STREAMINFO length (resampled to 16 kHz).
    const dev = await LibriSpeechCorpus.open(new URL("../../data/sample/dev", import.meta.url).pathname);
    for await (const clip of dev) {
      const info = await readFlacStreamInfo(clip.audioPath);
      assert.equal(
        clip.waveform.length,
        Math.ceil(info!.totalSamples * 16000 / info!.sampleRate),
        clip.fileId,
      );
    }
  },
});
