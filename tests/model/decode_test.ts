import assert from "node:assert/strict";
import { BLANK, N_CLASS, textToInts } from "../../data/text.ts";
import { ctcBeamSearch } from "../../model/beam_search.ts";
import { decodeBatch, decodeUtterance, greedyDecode } from "../../model/decode.ts";
import {
  FRAME_HOP_SECONDS,
  frameToSeconds,
  wordTimesInSeconds,
  wordTimings,
} from "../../model/word_timestamps.ts";

/** Log-probabilities whose argmax at frame t is `path[t]` (others share the rest of the mass). */
function peaky(path: number[], p = 0.9): Float32Array {
  const lp = new Float32Array(path.length * N_CLASS).fill(Math.log((1 - p) / (N_CLASS - 1)));
  path.forEach((c, t) => lp[t * N_CLASS + c] = Math.log(p));
  return lp;
}

const ids = (s: string) => textToInts(s);
const [H, I, SPACE] = [ids("h")[0], ids("i")[0], 1];

Deno.test("greedy: argmax, collapse repeats, drop blanks, keep repeats separated by a blank", () => {
  // h h _ i i _ i ␣ ␣ h i
  const path = [H, H, BLANK, I, I, BLANK, I, SPACE, SPACE, H, I];
  const d = greedyDecode(peaky(path), path.length);
  assert.equal(d.text, "hii hi");
  assert.deepEqual(Array.from(d.labels), [H, I, I, SPACE, H, I]);
  assert.deepEqual(Array.from(d.startFrames), [0, 3, 6, 7, 9, 10]);
  assert.deepEqual(Array.from(d.endFrames), [1, 4, 6, 8, 9, 10]);
  // Every character peaks at 0.9 (in float32), so each word's raw confidence is 0.9.
  const p = Math.exp(Math.fround(Math.log(0.9)));
  assert.deepEqual(d.words.map(({ probability: _, ...w }) => w), [
    { word: "hii", startFrame: 0, endFrame: 6 },
    { word: "hi", startFrame: 9, endFrame: 10 },
  ]);
  for (const w of d.words) assert.ok(Math.abs(w.probability! - p) < 1e-12, `${w.probability} vs ${p}`);
});

Deno.test("greedy: decodes only the valid length; ties go to the first class like torch.argmax", () => {
  const path = [H, I, BLANK, H, H];
  assert.equal(greedyDecode(peaky(path), 5, 2).text, "hi");
  assert.equal(greedyDecode(peaky(path), 5, 0).text, "");
  const tie = new Float32Array(N_CLASS).fill(-5);
  tie[I] = -1;
  tie[H] = -1;
  assert.equal(greedyDecode(tie, 1).text, H < I ? "h" : "i");
  assert.throws(() => greedyDecode(peaky(path), 5, 6), /valid length 6 is outside 0..5/);
  assert.throws(() => greedyDecode(new Float32Array(10), 1), /cannot hold 1 frames/);
});

Deno.test("greedy agrees with a plain reference on random log-probabilities", () => {
  let s = 99;
  const random = () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 4294967296;
  for (let trial = 0; trial < 50; trial++) {
    const T = 1 + Math.floor(random() * 30);
    const lp = new Float32Array(T * N_CLASS);
    // Few classes dominate so that repeats and blanks are common.
    for (let i = 0; i < lp.length; i++) lp[i] = -10 * random();
    for (let t = 0; t < T; t++) {
      lp[t * N_CLASS + BLANK] += 4 * random();
      lp[t * N_CLASS + H] += 4 * random();
    }
    const argmax: number[] = [];
    for (let t = 0; t < T; t++) {
      const row = Array.from(lp.subarray(t * N_CLASS, (t + 1) * N_CLASS));
      argmax.push(row.indexOf(Math.max(...row)));
    }
    const expected = argmax.filter((c, t) => c !== BLANK && (t === 0 || c !== argmax[t - 1]));
    assert.deepEqual(Array.from(greedyDecode(lp, T).labels), expected);
  }
});

Deno.test("decodeBatch: (batch x time x classes) layout with per-utterance valid lengths", () => {
  const a = peaky([H, BLANK, I, SPACE]);
  const b = peaky([I, I, H, H]);
  const batch = new Float32Array(a.length + b.length);
  batch.set(a);
  batch.set(b, a.length);
  const out = decodeBatch(batch, 2, 4, [3, 4]);
  assert.deepEqual(out.map((d) => d.text), ["hi", "ih"]);
  const beam = decodeBatch(batch, 2, 4, [4, 2], { method: "beam", beamWidth: 8 });
  assert.deepEqual(beam.map((d) => d.text), ["hi ", "i"]);
  assert.throws(() => decodeBatch(batch, 2, 4, [1]), /1 valid lengths for a batch of 2/);
  assert.throws(() => decodeBatch(batch, 3, 4, [1, 1, 1]), /expected 3 x 4 x 29/);
  const one = decodeUtterance(a, 4, 4, { method: "beam", beamWidth: 4 });
  assert.equal(one.text, ctcBeamSearch(a, 4, 4, { beamWidth: 4 })[0].text);
});

Deno.test("word timestamps: frames to seconds at 25 ms per output frame", () => {
  assert.equal(FRAME_HOP_SECONDS, 0.025);
  assert.equal(frameToSeconds(40), 1);
  const words = wordTimings([H, I, SPACE, SPACE, I], [2, 3, 5, 6, 9], [2, 4, 5, 6, 12]);
  assert.deepEqual(words, [{ word: "hi", startFrame: 2, endFrame: 4 }, {
    word: "i",
    startFrame: 9,
    endFrame: 12,
  }]);
  assert.deepEqual(wordTimesInSeconds(words), [{ word: "hi", start: 0.05, end: 0.125 }, {
    word: "i",
    start: 0.225,
    end: 0.325,
  }]);
  assert.deepEqual(wordTimesInSeconds(words, 0.01).map((w) => w.end), [0.05, 0.13]);
  assert.throws(() => wordTimings([H], []), /1 labels but 0 start/);
});
