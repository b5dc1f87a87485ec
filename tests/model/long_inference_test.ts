/**
 * Recordings of any length: the window plan tiles the whole-file output, windowed transcripts equal whole-file
 * ones away from seams, streamed input equals whole input, timestamps run on across windows, a bad recording is
 * reported and the rest go on, and memory does not grow with the recording.
 */
import * as assert from "node:assert/strict";
import { initGpu, memoryStats, noGrad, resetPeakMemory, setQuiet, tensor, tidy } from "../../mod.ts";
import { loadAudio } from "../../data/audio.ts";
import { greedyDecode, GreedyDecoder } from "../../model/decode.ts";
import { cer } from "../../model/metrics.ts";
import { RecordingDecoder, transcribeLong, transcribeRecordings } from "../../model/long_inference.ts";
import { BLANK, CHARACTERS, N_CLASS } from "../../data/text.ts";
import type { WordTiming } from "../../model/word_timestamps.ts";
import { PRESETS } from "../../model/config.ts";
import { SpeechRecognitionModel } from "../../model/recognizer.ts";
import { outputFrames, planWindows, SAMPLES_PER_FRAME, windowOptions } from "../../model/windows.ts";
import { loadModel } from "../../cli/common.ts";
import { Random } from "../harness.ts";
import { TORCH_FIXTURES_DIR } from "../torch_fixtures.ts";

setQuiet(true);
await initGpu();

const CHECKPOINT = new URL("pytorch_trained/model.safetensors", TORCH_FIXTURES_DIR).pathname;
// Recordings of several spoken digits with silences between them (fsdd test takes; see its README).
const SAMPLE = new URL("../fixtures/fsdd_joined/", import.meta.url).pathname;

/** Real speech: the first `n` recordings of 2 s or more of the joined-digit fixtures, end to end. */
async function joinedClips(n: number): Promise<Float32Array> {
  const lines = (await Deno.readTextFile(`${SAMPLE}manifest.tsv`)).trim().split("\n").slice(1)
    .filter((l) => Number(l.split("\t")[1]) >= 2).slice(0, n);
  const parts = await Promise.all(
    lines.map(async (l) => (await loadAudio(SAMPLE + l.split("\t")[0])).waveform),
  );
  const out = new Float32Array(parts.reduce((s, p) => s + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

Deno.test("window plans: kept frames tile the whole-file output exactly, for any length", () => {
  const rng = new Random(5);
  const opts = [windowOptions(6, 1), windowOptions(2, 0.2), windowOptions(24, 2), windowOptions(1, 0)];
  for (const o of opts) {
    for (let k = 0; k < 300; k++) {
      const total = k < 20 ? 201 + k * 397 : 201 + rng.int(o.length * 7);
      const ws = planWindows(total, o);
      let next = 0;
      ws.forEach((w, i) => {
        assert.equal(w.start % SAMPLES_PER_FRAME, 0);
        assert.equal(w.keepFrom, next, `window ${i} of ${total} samples starts where the previous ended`);
        assert.ok(w.keepTo > w.keepFrom);
        // Kept frames lie inside the window's own output.
        assert.ok(w.keepTo - w.start / SAMPLES_PER_FRAME <= outputFrames(w.length));
        assert.equal(w.last, i === ws.length - 1);
        next = w.keepTo;
      });
      assert.equal(next, outputFrames(total));
    }
  }
  // A recording no longer than one window is one window.
  assert.equal(planWindows(24 * 16000, windowOptions(24, 2)).length, 1);
  assert.throws(() => windowOptions(2, 1), /longer than twice the context/);
});

Deno.test("GreedyDecoder fed in pieces equals greedy decoding of the whole", () => {
  const rng = new Random(9);
  const T = 500, C = 29;
  const lp = new Float32Array(T * C).map(() => rng.normal());
  // Runs of the same argmax across piece boundaries must collapse as in the whole.
  for (let t = 100; t < 140; t++) lp[t * C + 5] = 10;
  const whole = greedyDecode(lp, T);
  const d = new GreedyDecoder();
  for (const [from, to] of [[0, 1], [1, 120], [120, 121], [121, 377], [377, 500]]) {
    d.push(lp, to - from, from * C);
  }
  assert.deepEqual(d.result(), whole);
});

Deno.test("windowed transcription equals the whole-file one away from seams; streamed equals whole", async () => {
  const model = await loadModel(CHECKPOINT);
  const audio = await joinedClips(12); // about 25 s of speech, words running across the seams
  const whole = await transcribeLong(model, audio, { window: windowOptions(60, 0) });
  assert.equal(whole.windows, 1);
  assert.equal(whole.frames, outputFrames(audio.length));
  const windowed = await transcribeLong(model, audio, { window: windowOptions(6, 1), batchSize: 3 });
  assert.ok(windowed.windows >= 5);
  assert.equal(windowed.frames, whole.frames);
  const rate = cer(whole.transcript!.text, windowed.transcript!.text);
  assert.ok(rate <= 0.005, `CER between windowed and whole ${rate}`);
  // Word times increase and stay within the recording.
  const words = windowed.transcript!.words;
  for (let i = 1; i < words.length; i++) assert.ok(words[i].startFrame > words[i - 1].endFrame);
  assert.ok(words.at(-1)!.endFrame < whole.frames);

  // The same recording as a stream of odd-sized chunks.
  const sizes = [1, 4999, 16000, 333, 80000];
  function* chunks() {
    for (let at = 0, k = 0; at < audio.length; k++) {
      const n = sizes[k % sizes.length];
      yield audio.subarray(at, at + n);
      at += n;
    }
  }
  const streamed = await transcribeLong(model, chunks(), { window: windowOptions(6, 1), batchSize: 2 });
  assert.deepEqual(streamed.transcript, windowed.transcript);
  model.dispose();
});

Deno.test("a recording that fails mid-stream is reported with its error; the others are transcribed", async () => {
  const model = await loadModel(CHECKPOINT);
  const audio = await joinedClips(3);
  async function* broken() {
    yield audio.subarray(0, 50000);
    throw new Error("broken.flac: bad frame at byte 1234");
  }
  const results = [];
  for await (
    const r of transcribeRecordings(model, [
      { name: "a", audio },
      { name: "broken", audio: broken() },
      { name: "short", audio: new Float32Array(100) },
      { name: "b", audio },
    ], { window: windowOptions(2, 0.4), batchSize: 4 })
  ) results.push(r);
  assert.deepEqual(results.map((r) => r.name), ["a", "broken", "short", "b"]);
  assert.match(results[1].error!.message, /bad frame at byte 1234/);
  assert.match(results[2].error!.message, /only 100 samples/);
  assert.equal(results[0].transcript!.text, results[3].transcript!.text);
  assert.ok(results[0].windows > 1);
  model.dispose();
});

Deno.test("memory does not grow with the recording: 3x longer, same peak", async () => {
  const model = await loadModel(CHECKPOINT);
  const clip = await joinedClips(4);
  const longer = new Float32Array(clip.length * 3);
  for (let k = 0; k < 3; k++) longer.set(clip, k * clip.length);
  const o = { window: windowOptions(3, 0.4), batchSize: 2 };
  await transcribeLong(model, clip, o); // warm the pool
  const peakOf = async (audio: Float32Array) => {
    resetPeakMemory();
    const r = await transcribeLong(model, audio, o);
    return { live: memoryStats().peakLiveBytes, total: memoryStats().peakTotalBytes, windows: r.windows };
  };
  const short = await peakOf(clip);
  const long = await peakOf(longer);
  assert.ok(long.windows >= 3 * short.windows - 2);
  assert.equal(long.live, short.live);
  assert.ok(long.total <= short.total * 1.05, `pool ${long.total} vs ${short.total}`);
  model.dispose();
});

Deno.test("inference forward of a deep BiGRU stack holds one layer's activations, not all of them", async () => {
  const rng = new Random(2);
  const peakFor = async (nRnnLayers: number): Promise<{ peak: number; params: number }> => {
    const c = { ...PRESETS.tiny, nCnnLayers: 2, nRnnLayers, rnnDim: 32, nFeats: 16 };
    const model = new SpeechRecognitionModel(c, undefined, 3);
    const params = memoryStats().liveBytes;
    const frames = 301;
    const x = tensor(new Float32Array(2 * c.nFeats * frames).map(() => rng.normal()), [
      2,
      1,
      c.nFeats,
      frames,
    ]);
    await x.data();
    resetPeakMemory();
    // Requested bytes (size classes of the shapes), not the buffers best fit happened to hand out.
    const before = memoryStats().requestedLiveBytes;
    const logits = noGrad(() => tidy(() => model.forward(x, [150, 120])));
    await logits.data();
    const peak = memoryStats().peakRequestedLiveBytes - before;
    logits.dispose();
    x.dispose();
    model.dispose();
    return { peak, params };
  };
  // Layers after the first take 2H inputs: compare two layers with five.
  await peakFor(2); // the first run allocates the pool's buffers
  const two = await peakFor(2);
  const five = await peakFor(5);
  assert.equal(five.peak, two.peak);
  // From the shapes: the largest activation is a ResCNN one, (2, 32, 8, 151) floats; the forward needs a few.
  const largest = 2 * 32 * 8 * 151 * 4;
  assert.ok(five.peak <= 5 * largest, `peak ${five.peak} vs 5 x ${largest}`);
});

Deno.test("short recordings share a batch by length and transcribe as they do alone", async () => {
  const model = await loadModel(CHECKPOINT);
  const lines = (await Deno.readTextFile(`${SAMPLE}manifest.tsv`)).trim().split("\n").slice(1, 13);
  const clips = await Promise.all(
    lines.map(async (l) => (await loadAudio(SAMPLE + l.split("\t")[0])).waveform),
  );
  // Longest first, as the transcribe command orders them, so a batch pads little.
  clips.sort((a, b) => b.length - a.length);
  assert.ok(clips.every((c) => c.length < 6 * 16000));
  const recordings = () => clips.map((audio, i) => ({ name: `${i}`, audio }));
  const o = { window: windowOptions(6, 1) };
  const alone = await Array.fromAsync(
    transcribeRecordings(model, recordings(), { ...o, maxBatchWindows: 1 }),
  );
  // Room for 3 full windows of 6 s: the short clips run many at a time.
  const together = await Array.fromAsync(transcribeRecordings(model, recordings(), { ...o, batchSize: 3 }));
  assert.deepEqual(together.map((r) => r.name), alone.map((r) => r.name));
  assert.deepEqual(together.map((r) => r.samples), clips.map((c) => c.length));
  // Padded frames are masked in inference, so a clip decodes in a batch exactly as alone.
  assert.deepEqual(together.map((r) => r.transcript), alone.map((r) => r.transcript));
  model.dispose();
});

/** Log-probabilities whose argmax spells `text` one character a frame, each followed by a blank frame. */
function spelled(text: string): Float32Array {
  const lp = new Float32Array(2 * text.length * N_CLASS).fill(-10);
  [...text].forEach((ch, i) => {
    lp[2 * i * N_CLASS + CHARACTERS.indexOf(ch)] = 0;
    lp[(2 * i + 1) * N_CLASS + BLANK] = 0;
  });
  return lp;
}

Deno.test("the decoder hands on a word once a space closes it, also across window seams", () => {
  const lp = spelled("one two  three four");
  const frames = lp.length / N_CLASS;
  const got: { words: string[]; frames: number }[] = [];
  const d = new RecordingDecoder(
    {},
    (words: WordTiming[], f: number) => got.push({ words: words.map((w) => w.word), frames: f }),
  );
  // Seams inside "two" (frame 9) and inside "three" (frame 22); the last word has no space after it. The frames
  // handed on stop where the still-open word starts ("two" at 8, "three" at 18): nothing before them can change.
  for (const [from, to] of [[0, 9], [9, 22], [22, 30], [30, frames]]) d.push(lp, from, to - from);
  assert.deepEqual(got, [{ words: ["one"], frames: 8 }, { words: ["two"], frames: 18 }, {
    words: ["three"],
    frames: 30,
  }]);
  const t = d.finish();
  assert.equal(t.text, "one two  three four");
  assert.deepEqual(got.at(-1), { words: ["four"], frames });
  assert.deepEqual(got.flatMap((g) => g.words), t.words.map((w) => w.word));
});

Deno.test("onWords on a streamed recording reports the transcript's words, each once, in order", async () => {
  const model = await loadModel(CHECKPOINT);
  const audio = await joinedClips(12);
  const o = { window: windowOptions(6, 1), batchSize: 1 };
  async function* slowly() {
    for (let at = 0; at < audio.length; at += 16000) yield audio.subarray(at, at + 16000);
  }
  const reported: { words: string[]; frames: number }[] = [];
  const r = await transcribeLong(model, slowly(), {
    ...o,
    onWords: (recording, words, frames) => {
      assert.equal(recording, 0);
      reported.push({ words: words.map((w) => w.word), frames });
    },
  });
  assert.deepEqual(reported.flatMap((x) => x.words), r.transcript!.words.map((w) => w.word));
  // (That words come before the stream ends is the decoder test's above: this fixture model rarely says a space.)
  assert.ok(reported.length >= 1);
  for (let i = 1; i < reported.length; i++) assert.ok(reported[i].frames >= reported[i - 1].frames);
  model.dispose();
});
