import assert from "node:assert/strict";
import { join } from "node:path";
import { loadAudio } from "../../data/audio.ts";
import { type AudioDecoder, AudioPool, type DecodeResult } from "../../data/audio_pool.ts";
import {
  type Batch,
  BatchLoader,
  inputLength,
  labelLength,
  padBatch,
  selectBatches,
  spectrogramFrames,
  utteranceLabels,
} from "../../data/batching.ts";
import { CorpusError, LibriSpeechCorpus, type UtteranceInfo } from "../../data/librispeech.ts";
import { epochBatches } from "../../data/sampler.ts";
import { textToInts } from "../../data/text.ts";

const SAMPLE_DEV = new URL("../../data/sample/dev/", import.meta.url).pathname;
const SPEECH = new URL("../../../shared/speech/", import.meta.url).pathname;
const hasShared = await Deno.stat(SPEECH + "fsdd").then(() => true, () => false);

const dev = await LibriSpeechCorpus.open(SAMPLE_DEV, { onWarning: () => {} });

async function collect(loader: AsyncIterable<Batch>): Promise<Batch[]> {
  const out: Batch[] = [];
  for await (const batch of loader) out.push(batch);
  return out;
}

/** Wraps a decoder, recording the requests. */
class RecordingDecoder implements AudioDecoder {
  readonly requested: string[] = [];
  constructor(private inner: AudioDecoder) {}
  decode(file: string, signal?: AbortSignal): Promise<DecodeResult> {
    this.requested.push(file);
    return this.inner.decode(file, signal);
  }
}

Deno.test("the tutorial's length rules", () => {
  // torchaudio MelSpectrogram(hop_length=200, center=True): 1 + samples // 200 frames.
  assert.equal(spectrogramFrames(0), 1);
  assert.equal(spectrogramFrames(199), 1);
  assert.equal(spectrogramFrames(200), 2);
  assert.equal(spectrogramFrames(16000), 81);
  assert.equal(spectrogramFrames(16000, 160), 101);
  assert.equal(inputLength(16000), 40);
  assert.equal(inputLength(16199), 40);
  assert.equal(inputLength(16200), 41);
  assert.equal(inputLength(34567), 86);
  assert.equal(labelLength("HE SAW JEANNE"), 13);
  assert.equal(labelLength(""), 0);
  assert.throws(() => spectrogramFrames(-1), /samples must be an integer >= 0, got -1/);
});

Deno.test("padBatch: row-major labels padded with 0 (or the value given)", () => {
  const { labels, lengths, maxLength } = padBatch([[5, 6, 7], [8], [], Int32Array.of(9, 10)]);
  assert.equal(maxLength, 3);
  assert.deepEqual(lengths, [3, 1, 0, 2]);
  assert.deepEqual([...labels], [5, 6, 7, 8, 0, 0, 0, 0, 0, 9, 10, 0]);
  assert.deepEqual([...padBatch([[1], [2, 3]], -1).labels], [1, -1, 2, 3]);
  assert.deepEqual(padBatch([]), { labels: new Int32Array(0), lengths: [], maxLength: 0 });
});

Deno.test("a transcript outside the character map is an error naming its file and line", () => {
  const good = dev.utterances[0];
  assert.deepEqual([...utteranceLabels(good)], textToInts(good.transcript));
  const bad: UtteranceInfo = { ...good, transcript: "HE SAW 3 MEN", transcriptLine: 7 };
  const message = `${good.transcriptPath}:7: ${good.fileId}: character '3'`;
  assert.throws(
    () => utteranceLabels(bad),
    (e: Error) => e instanceof CorpusError && e.message.startsWith(message),
  );
  const pool = new AudioPool({ workers: 0 });
  assert.throws(
    () => new BatchLoader([[good], [bad]], { decoder: pool }),
    (e: Error) => e.message.startsWith(message),
  );
});

Deno.test("batches hold the decoded waveforms, padded labels and lengths of their utterances", async () => {
  const utterances = dev.utterances.slice(0, 7);
  const pool = new AudioPool({ workers: 0 });
  try {
    const batches = await collect(
      new BatchLoader([utterances.slice(0, 4), utterances.slice(4)], { decoder: pool }),
    );
    assert.deepEqual(batches.map((b) => b.index), [0, 1]);
    const b = batches[1];
    assert.deepEqual(b.utterances, utterances.slice(4));
    assert.deepEqual(b.skipped, []);
    const ints = b.utterances.map((u) => textToInts(u.transcript));
    assert.deepEqual(b.labelLengths, ints.map((s) => s.length));
    assert.equal(b.maxLabelLength, Math.max(...b.labelLengths));
    assert.deepEqual(b.labels, padBatch(ints).labels);
    for (let i = 0; i < b.utterances.length; i++) {
      const expected: Float32Array = (await loadAudio(b.utterances[i].audioPath, 16000)).waveform;
      assert.deepEqual(b.waveforms[i], expected);
      assert.equal(b.inputLengths[i], Math.floor((1 + Math.floor(expected.length / 200)) / 2));
    }
  } finally {
    await pool.close();
  }
});

Deno.test("worker and main-thread decoding give identical batches", async () => {
  const utterances = dev.utterances;
  const order = selectBatches(utterances, epochBatches(utterances, { batchSize: 5, seed: 1, epoch: 0 }))
    .slice(0, 4);
  const runs: Batch[][] = [];
  for (const workers of [0, 1, 2]) {
    const pool = new AudioPool({ workers });
    try {
      runs.push(await collect(new BatchLoader(order, { decoder: pool, prefetch: 2 })));
    } finally {
      await pool.close();
    }
  }
  assert.equal(runs[0].length, 4);
  assert.deepEqual(runs[1], runs[0]);
  assert.deepEqual(runs[2], runs[0]);
});

Deno.test("an unreadable file is skipped and reported; a batch with nothing left is skipped whole", async () => {
  const dir = await Deno.makeTempDir({ prefix: "batching_test_" });
  const [a, b, c, d] = dev.utterances;
  const bytes = await Deno.readFile(b.audioPath);
  const truncated = { ...b, audioPath: join(dir, "truncated.flac") };
  await Deno.writeFile(truncated.audioPath, bytes.subarray(0, 3000));
  const missing = { ...c, audioPath: join(dir, "missing.flac") };
  const pool = new AudioPool({ workers: 1 });
  const events: string[] = [];
  try {
    const loader = new BatchLoader([[a, truncated, d], [missing, truncated], [c]], {
      decoder: pool,
      onSkippedFile: (s) => events.push(`file ${s.batch} ${s.file}`),
      onSkippedBatch: (index, files) => events.push(`batch ${index} ${files.length}`),
    });
    const batches = await collect(loader);
    assert.deepEqual(batches.map((x) => x.index), [0, 2]);
    assert.deepEqual(batches[0].utterances, [a, d]);
    assert.equal(batches[0].waveforms.length, 2);
    assert.deepEqual(batches[0].labelLengths, [a, d].map((u) => textToInts(u.transcript).length));
    assert.equal(batches[0].labels.length, 2 * batches[0].maxLabelLength);
    assert.equal(batches[0].skipped.length, 1);
    assert.equal(batches[0].skipped[0].file, truncated.audioPath);
    assert.match(batches[0].skipped[0].reason, /at byte \d+/);
    assert.deepEqual(loader.skipped.map((s) => [s.batch, s.file]), [
      [0, truncated.audioPath],
      [1, missing.audioPath],
      [1, truncated.audioPath],
    ]);
    assert.deepEqual(loader.skippedBatches, [1]);
    assert.deepEqual(events, [
      `file 0 ${truncated.audioPath}`,
      `file 1 ${missing.audioPath}`,
      `file 1 ${truncated.audioPath}`,
      "batch 1 2",
    ]);
  } finally {
    await pool.close();
    await Deno.remove(dir, { recursive: true });
  }
});

/** Holds every answer until `count` files are decoded, then gives them back last-requested first. */
class ReversingDecoder implements AudioDecoder {
  readonly answered: string[] = [];
  private held: { file: string; result: DecodeResult; resolve: (r: DecodeResult) => void }[] = [];
  constructor(private inner: AudioDecoder, private count: number) {}
  async decode(file: string, signal?: AbortSignal): Promise<DecodeResult> {
    const result = await this.inner.decode(file, signal);
    return await new Promise((resolve) => {
      this.held.push({ file, result, resolve });
      if (this.held.length < this.count) return;
      this.held.sort((a, b) => (a.file < b.file ? 1 : -1));
      for (const { file, result, resolve } of this.held) {
        this.answered.push(file);
        resolve(result);
      }
    });
  }
}

Deno.test("batches come out in order when later files finish first", async () => {
  const utterances = dev.utterances.slice(0, 12);
  const batches = [0, 3, 6, 9].map((k) => utterances.slice(k, k + 3));
  const pool = new AudioPool({ workers: 2 });
  try {
    // The listing is sorted by path, so the reversing decoder completes the last batch first.
    const reversing = new ReversingDecoder(pool, 12);
    const got = await collect(new BatchLoader(batches, { decoder: reversing, prefetch: 3 }));
    assert.deepEqual(got.map((b) => b.index), [0, 1, 2, 3]);
    assert.deepEqual(got.map((x) => x.utterances), batches);
    assert.deepEqual(reversing.answered, utterances.map((u) => u.audioPath).reverse());
  } finally {
    await pool.close();
  }
});

Deno.test("prefetch keeps the next batches decoding while one is consumed; start resumes mid-epoch", async () => {
  const utterances = dev.utterances.slice(0, 10);
  const batches = [0, 2, 4, 6, 8].map((k) => utterances.slice(k, k + 2));
  const pool = new AudioPool({ workers: 0 });
  try {
    for (const prefetch of [0, 2]) {
      const recorder = new RecordingDecoder(pool);
      const seen: number[] = [];
      for await (const batch of new BatchLoader(batches, { decoder: recorder, prefetch })) {
        // Requested so far: everything up to this batch plus `prefetch` more.
        const expected = Math.min(batches.length, batch.index + 1 + prefetch) * 2;
        assert.equal(recorder.requested.length, expected, `prefetch ${prefetch}, batch ${batch.index}`);
        seen.push(batch.index);
      }
      assert.deepEqual(seen, [0, 1, 2, 3, 4]);
    }
    const resumed = await collect(new BatchLoader(batches, { decoder: pool, start: 3 }));
    assert.deepEqual(resumed.map((b) => [b.index, b.utterances]), [[3, batches[3]], [4, batches[4]]]);
    assert.deepEqual(await collect(new BatchLoader(batches, { decoder: pool, start: 5 })), []);
    assert.throws(
      () => new BatchLoader(batches, { decoder: pool, start: 6 }),
      /start must be an integer in 0..5/,
    );
    assert.throws(() => new BatchLoader(batches, { decoder: pool, prefetch: -1 }), /prefetch must be/);
  } finally {
    await pool.close();
  }
});

Deno.test("breaking out of the loop cancels the prefetched work", async () => {
  const utterances = dev.utterances.slice(0, 24);
  const batches = [0, 6, 12, 18].map((k) => utterances.slice(k, k + 6));
  const pool = new AudioPool({ workers: 1 });
  try {
    const loader = new BatchLoader(batches, { decoder: pool, prefetch: 3 });
    for await (const batch of loader) {
      assert.equal(batch.index, 0);
      assert.ok(pool.pending > 0);
      break;
    }
    // Queued files are dropped (a file a worker has already started runs on; its answer is ignored).
    assert.equal(pool.pending, 0);
    await assert.rejects(collect(loader), /already iterated/);
    // The pool still works after a cancelled loader.
    assert.equal((await collect(new BatchLoader([batches[1]], { decoder: pool })))[0].waveforms.length, 6);
  } finally {
    await pool.close();
  }
});

Deno.test({
  name: "real clips of different lengths from ../shared/speech, in order with two workers",
  ignore: !hasShared,
  fn: async () => {
    const jfk = (await LibriSpeechCorpus.open(SPEECH + "jfk")).utterances;
    const fsdd = (await LibriSpeechCorpus.open(SPEECH + "fsdd")).utterances.slice(0, 8);
    // The 11 s, 44.1 kHz stereo clip takes far longer to decode and resample than the digits after it.
    const batches = [jfk, fsdd.slice(0, 4), fsdd.slice(4)];
    const pool = new AudioPool({ workers: 2 });
    try {
      const got = await collect(new BatchLoader(batches, { decoder: pool }));
      assert.deepEqual(got.map((b) => b.index), [0, 1, 2]);
      assert.equal(got[0].waveforms[0].length, Math.round(jfk[0].seconds! * 16000));
      assert.deepEqual(got[0].labelLengths, [labelLength(jfk[0].transcript)]);
      for (const [i, u] of fsdd.slice(4).entries()) {
        assert.deepEqual(got[2].waveforms[i], (await loadAudio(u.audioPath)).waveform);
      }
    } finally {
      await pool.close();
    }
  },
});
