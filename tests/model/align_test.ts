/** CTC Viterbi alignment against a brute-force reference that enumerates every frame path. */
import * as assert from "node:assert/strict";
import { AlignmentError, ctcViterbi, minimumFrames } from "../../model/align.ts";
import { alignmentText, AlignmentTextError } from "../../model/align_text.ts";
import { alignText } from "../../model/align_words.ts";
import { alphabetOf, TUTORIAL_ALPHABET } from "../../data/alphabet.ts";
import { textToInts } from "../../data/text.ts";
import { loadAudio } from "../../data/audio.ts";
import { initGpu, setQuiet } from "../../mod.ts";
import { loadModel } from "../../cli/common.ts";
import { recordingLogProbs } from "../../model/align_audio.ts";
import { logProbsOf } from "../../model/inference.ts";
import { outputFrames, planWindows, SAMPLES_PER_FRAME, windowOptions } from "../../model/windows.ts";
import { TORCH_FIXTURES_DIR } from "../torch_fixtures.ts";

/** A seeded generator (mulberry32), so a failing case can be rerun. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Random log-softmax rows, float32 as the model's. */
function logSoftmaxRows(rand: () => number, frames: number, nClass: number): Float32Array {
  const out = new Float32Array(frames * nClass);
  for (let t = 0; t < frames; t++) {
    const z = Array.from({ length: nClass }, () => 4 * rand() - 2);
    const m = Math.max(...z);
    const lse = m + Math.log(z.reduce((s, v) => s + Math.exp(v - m), 0));
    for (let c = 0; c < nClass; c++) out[t * nClass + c] = z[c] - lse;
  }
  return out;
}

function collapse(path: readonly number[], blank: number): number[] {
  const out: number[] = [];
  for (let t = 0; t < path.length; t++) {
    if (path[t] !== blank && (t === 0 || path[t] !== path[t - 1])) out.push(path[t]);
  }
  return out;
}

/** Every path of `frames` classes that collapses to `labels`: the best one and its float64 log-probability. */
function bruteForce(lp: Float32Array, frames: number, nClass: number, labels: number[], blank: number) {
  let best = -Infinity;
  let bestPath: number[] | null = null;
  const path = new Array<number>(frames).fill(0);
  for (let n = 0; n < nClass ** frames; n++) {
    let rest = n;
    let score = 0;
    for (let t = 0; t < frames; t++) {
      path[t] = rest % nClass;
      rest = Math.floor(rest / nClass);
      score += lp[t * nClass + path[t]];
    }
    const c = collapse(path, blank);
    if (c.length === labels.length && c.every((v, i) => v === labels[i]) && score > best) {
      best = score;
      bestPath = [...path];
    }
  }
  return { best, bestPath };
}

Deno.test("ctcViterbi finds the best path of every enumerated one, repeats and blanks included", () => {
  const rand = random(11);
  const cases: { nClass: number; frames: number; labels: number[] }[] = [
    { nClass: 3, frames: 1, labels: [0] },
    { nClass: 3, frames: 2, labels: [0, 1] },
    { nClass: 3, frames: 3, labels: [1, 1] },
    { nClass: 3, frames: 6, labels: [0, 0, 0] },
    { nClass: 4, frames: 6, labels: [0, 1, 0] },
    { nClass: 4, frames: 7, labels: [2, 2, 1] },
    { nClass: 4, frames: 5, labels: [1] },
    { nClass: 5, frames: 6, labels: [3, 0, 0, 2] },
    { nClass: 4, frames: 8, labels: [0, 1, 1, 2] },
  ];
  for (const { nClass, frames, labels } of cases) {
    const blank = nClass - 1;
    for (let trial = 0; trial < 6; trial++) {
      const lp = logSoftmaxRows(rand, frames, nClass);
      const ref = bruteForce(lp, frames, nClass, labels, blank);
      const got = ctcViterbi(lp, frames, nClass, labels, blank);
      const what = `labels [${labels}] over ${frames} frames, trial ${trial}`;
      assert.ok(Math.abs(got.logProb - ref.best) < 1e-12, `${what}: ${got.logProb} vs ${ref.best}`);
      assert.deepEqual([...got.path], ref.bestPath, what);
      let sum = 0;
      for (let t = 0; t < frames; t++) sum += lp[t * nClass + got.path[t]];
      assert.equal(got.logProb, sum, `${what}: the score is the path's float64 sum`);
      // Each label's span is where the path is in its state.
      for (let k = 0; k < labels.length; k++) {
        const inState = [...got.states].flatMap((s, t) => s === 2 * k + 1 ? [t] : []);
        assert.equal(got.starts[k], inState[0], what);
        assert.equal(got.ends[k], inState[inState.length - 1] + 1, what);
        for (let t = got.starts[k]; t < got.ends[k]; t++) assert.equal(got.path[t], labels[k], what);
      }
    }
  }
});

Deno.test("ctcViterbi aligns an empty text to all blanks, and nothing to no frames", () => {
  const rand = random(3);
  const lp = logSoftmaxRows(rand, 4, 3);
  const got = ctcViterbi(lp, 4, 3, [], 2);
  assert.deepEqual([...got.path], [2, 2, 2, 2]);
  assert.equal(got.starts.length, 0);
  const sum = [0, 1, 2, 3].reduce((s, t) => s + lp[t * 3 + 2], 0);
  assert.equal(got.logProb, sum);
  const none = ctcViterbi(new Float32Array(0), 0, 3, [], 2);
  assert.equal(none.path.length, 0);
  assert.equal(none.logProb, 0);
});

Deno.test("ctcViterbi takes the exact frames when the text just fits (repeats need their blank)", () => {
  const rand = random(5);
  const lp = logSoftmaxRows(rand, 5, 4);
  const got = ctcViterbi(lp, 5, 4, [0, 1, 1, 2], 3);
  assert.deepEqual([...got.path], [0, 1, 3, 1, 2]);
  assert.deepEqual([...got.starts], [0, 1, 3, 4]);
  assert.deepEqual([...got.ends], [1, 2, 4, 5]);
});

Deno.test("a text that cannot fit the frames is an AlignmentError naming the numbers", () => {
  assert.equal(minimumFrames([0, 1, 1, 2, 2, 2]), 9);
  const lp = logSoftmaxRows(random(1), 8, 4);
  assert.throws(
    () => ctcViterbi(lp, 8, 4, [0, 1, 1, 2, 2, 2], 3),
    (e: Error) => {
      assert.ok(e instanceof AlignmentError);
      assert.match(e.message, /needs at least 9 frames \(6 characters \+ 3 blanks between repeated ones\)/);
      assert.match(e.message, /has only 8/);
      return true;
    },
  );
  assert.throws(() => ctcViterbi(lp, 0, 4, [0], 3), /needs at least 1 frames .* has only 0/);
});

Deno.test("the back-pointer limit is checked before any work, with the sizes", () => {
  const lp = new Float32Array(1000 * 4);
  assert.throws(
    () => ctcViterbi(lp, 1000, 4, [0, 1, 2], 3, { maxBytes: 6999 }),
    /1000 frames needs 1000 x 7 = 7000 bytes of back-pointers, over the limit of 6999 bytes/,
  );
  assert.doesNotThrow(() => ctcViterbi(lp, 1000, 4, [0, 1, 2], 3, { maxBytes: 7000 }));
});

Deno.test("bad inputs name what is wrong", () => {
  const lp = new Float32Array(12);
  assert.throws(() => ctcViterbi(lp, 3, 4, [3], 3), /label 3 at index 0 is not a non-blank class/);
  assert.throws(() => ctcViterbi(lp, 4, 4, [0], 3), /12 values cannot hold 4 frames x 4 classes/);
  const impossible = new Float32Array([-Infinity, 0, 0, -Infinity, 0, 0]);
  assert.throws(() => ctcViterbi(impossible, 2, 3, [0], 2), /no alignment .* finite probability/);
});

Deno.test("alignmentText lowercases, breaks words at whitespace runs and drops sentence punctuation", () => {
  const t = alignmentText('  "Hello,  World!"\n\tIt\u2019s  me; \u201Cok\u201D.  ', TUTORIAL_ALPHABET);
  assert.equal(t.text, "hello world it's me ok");
  assert.deepEqual(t.words.map((w) => w.word), ["hello", "world", "it's", "me", "ok"]);
  assert.deepEqual([...t.labels], textToInts("hello world it's me ok"));
  assert.deepEqual([...t.wordOf.slice(0, 7)], [0, 0, 0, 0, 0, -1, 1]);
  assert.deepEqual([...t.charOf.slice(0, 7)], [0, 1, 2, 3, 4, -1, 0]);
  assert.equal(alignmentText(" \n ", TUTORIAL_ALPHABET).labels.length, 0);
  // Full-width letters are their NFKC forms.
  assert.equal(alignmentText("\uFF21b", TUTORIAL_ALPHABET).text, "ab");
});

Deno.test("a character outside the alphabet is an error naming it, its line and its 1-based column", () => {
  assert.throws(
    () => alignmentText("one two\nthree-four", TUTORIAL_ALPHABET),
    (e: Error) => {
      assert.ok(e instanceof AlignmentTextError);
      assert.equal(e.character, "-");
      assert.equal(e.line, 2);
      assert.equal(e.column, 6);
      assert.equal(
        e.message,
        "line 2, column 6: character '-' (U+002D) is not in the model's alphabet (' space a-z)",
      );
      return true;
    },
  );
  assert.throws(
    () => alignmentText("a 7", TUTORIAL_ALPHABET),
    /: line 1, column 3: character '7' \(U\+0037\)/,
  );
  // A quote that is the typographic apostrophe only inside a word; at a word's edge it is dropped.
  assert.equal(alignmentText("\u2019tis", TUTORIAL_ALPHABET).text, "tis");
  // An alphabet with the symbol keeps it, and one without a space has no separators.
  const digits = alphabetOf([..."0123456789."]);
  const d = alignmentText("3.5 7", digits);
  assert.deepEqual([...d.labels], [3, 10, 5, 7]);
  assert.deepEqual(d.words.map((w) => w.word), ["3.5", "7"]);
});

/** Log-probabilities that put almost all mass on the given class of each frame. */
function peaked(classes: number[], nClass: number): Float32Array {
  const lp = new Float32Array(classes.length * nClass).fill(Math.log(0.01 / (nClass - 1)));
  classes.forEach((c, t) => lp[t * nClass + c] = Math.log(0.99));
  return lp;
}

Deno.test("alignText times words from their first character's start to their last character's end", () => {
  const alphabet = alphabetOf(["a", "b", " "]);
  const text = alignmentText("ab  bb", alphabet);
  const B = 3;
  // Frames: blank blank a a blank b space space b blank b blank
  const classes = [B, B, 0, 0, B, 1, 2, 2, 1, B, 1, B];
  const lp = { logProbs: peaked(classes, 4), frames: classes.length, nClass: 4 };
  const words = alignText(text, lp, { hop: 0.5 });
  assert.deepEqual(words.map((w) => [w.word, w.start, w.end]), [["ab", 1, 3], ["bb", 4, 5.5]]);
  assert.deepEqual(words[0].chars.map((c) => [c.char, c.start, c.end]), [["a", 1, 2], ["b", 2.5, 3]]);
  assert.deepEqual(words[1].chars.map((c) => [c.char, c.start, c.end]), [["b", 4, 4.5], ["b", 5, 5.5]]);
  for (const w of words) assert.ok(Math.abs(w.probability - 0.99) < 1e-6, `${w.word}: ${w.probability}`);
  // A frame on the path the model gives little to lowers the word's score: the word's mean, not its maximum.
  const doubtful = peaked(classes, 4);
  doubtful.set([Math.log(0.4), Math.log(0.1), Math.log(0.1), Math.log(0.4)], 3 * 4);
  const lower = alignText(text, { ...lp, logProbs: doubtful }, { hop: 0.5 });
  assert.equal(lower[0].start, 1);
  assert.ok(Math.abs(lower[0].probability - (0.99 * 3 + 0.4) / 4) < 1e-6, `${lower[0].probability}`);
});

const SPEECH = new URL("../../../shared/speech/fsdd/librispeech/", import.meta.url).pathname;
const hasShared = await Deno.stat(SPEECH).then(() => true, () => false);

Deno.test({
  name: "recordingLogProbs stitches each window's kept frames into the whole recording's, in order",
  ignore: !hasShared,
  fn: async () => {
    setQuiet(true);
    await initGpu();
    const model = await loadModel(new URL("pytorch_trained/model.safetensors", TORCH_FIXTURES_DIR).pathname);
    const clips = ["90001/1/90001-1-0300", "90002/1/90002-1-0100", "90003/1/90003-1-0050"];
    const parts = await Promise.all(clips.map(async (c) => (await loadAudio(`${SPEECH}${c}.flac`)).waveform));
    const audio = new Float32Array(parts.reduce((s, p) => s + p.length, 0));
    parts.reduce((at, p) => (audio.set(p, at), at + p.length), 0);
    const nClass = model.config.nClass;

    // One window: exactly the whole-file output.
    const [whole] = await logProbsOf(model, [audio]);
    const one = await recordingLogProbs(model, audio, { window: windowOptions(60, 2) });
    assert.equal(one.frames, outputFrames(audio.length));
    assert.deepEqual(one.logProbs, whole.logProbs.subarray(0, whole.length * nClass));

    // Small windows, streamed in odd chunks: each window's kept rows, where the plan puts them.
    const o = windowOptions(0.8, 0.2);
    const chunks = function* () {
      for (let at = 0; at < audio.length; at += 3001) yield audio.subarray(at, at + 3001);
    };
    const got = await recordingLogProbs(model, chunks(), { window: o, batchSize: 2 });
    assert.equal(got.frames, outputFrames(audio.length));
    const windows = planWindows(audio.length, o);
    assert.ok(windows.length >= 3, `${windows.length} windows`);
    for (const w of windows) {
      const [own] = await logProbsOf(model, [audio.slice(w.start, w.start + w.length)]);
      const first = w.keepFrom - w.start / SAMPLES_PER_FRAME;
      const count = w.keepTo - w.keepFrom;
      assert.deepEqual(
        got.logProbs.subarray(w.keepFrom * nClass, w.keepTo * nClass),
        own.logProbs.subarray(first * nClass, (first + count) * nClass),
        `window ${w.index}`,
      );
    }

    // The caller's frame limit stops the run with its error.
    await assert.rejects(
      () =>
        recordingLogProbs(model, audio, {
          window: o,
          maxFrames: { frames: 30, error: (f) => new Error(`at least ${f} frames`) },
        }),
      /at least \d+ frames/,
    );
  },
});
