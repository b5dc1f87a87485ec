/**
 * Word edges moved off silence (model/speech_edges.ts): frame levels from whole windows and from a stream in
 * chunks agree, a span loses its silent edge frames only, and the transcriber's decoder applies it when given
 * levels.
 */
import * as assert from "node:assert/strict";
import { TUTORIAL_ALPHABET } from "../../data/alphabet.ts";
import { RecordingDecoder } from "../../model/long_inference.ts";
import { FrameLevelMeter, frameLevels, SILENCE_FLOOR, trimSilentEdges } from "../../model/speech_edges.ts";

/** 0.1 s of silence, 0.1 s of a 0.1-amplitude tone, 0.1 s of silence and 100 samples of the tone, at 16 kHz. */
function recording(): Float32Array {
  const x = new Float32Array(4900);
  for (let i = 1600; i < 3200; i++) x[i] = 0.1 * Math.sin(i / 5);
  for (let i = 4800; i < 4900; i++) x[i] = 0.1;
  return x;
}

Deno.test("frame levels: mean square per 400 samples, the same from a window and from chunks of any size", () => {
  const x = recording();
  const whole = frameLevels(x, 0, 0, 13);
  assert.deepEqual([...whole.slice(0, 4)], [0, 0, 0, 0]);
  assert.ok(Math.abs(whole[5] - 0.005) < 2e-4, `${whole[5]}`);
  assert.ok(Math.abs(whole[12] - 0.01) < 1e-8, `${whole[12]}`); // the last frame, cut short, over its 100 samples
  // A window starting at sample 2000 that keeps frames 6..9.
  assert.deepEqual([...frameLevels(x.subarray(2000), 2000, 6, 4)], [...whole.slice(6, 10)]);
  const meter = new FrameLevelMeter();
  for (let at = 0; at < x.length; at += 333) meter.add(x.subarray(at, at + 333));
  const streamed = meter.result();
  assert.equal(streamed.length, 13);
  streamed.forEach((v, t) => assert.ok(Math.abs(v - whole[t]) < 1e-9, `frame ${t}: ${v} vs ${whole[t]}`));
});

Deno.test("a span's silent edge frames are trimmed; a silent span, and sound inside it, are kept", () => {
  const levels = [0, 0, 1e-3, 0, 2e-3, 1e-7, 0];
  assert.deepEqual(trimSilentEdges(0, 6, levels), { start: 2, end: 4 });
  assert.deepEqual(trimSilentEdges(2, 4, levels), { start: 2, end: 4 });
  assert.deepEqual(trimSilentEdges(5, 6, levels), { start: 5, end: 6 });
  assert.deepEqual(trimSilentEdges(3, 9, levels), { start: 4, end: 4 }); // frames past the end are silent
  assert.equal(SILENCE_FLOOR, 1e-6);
  assert.deepEqual(trimSilentEdges(0, 6, levels, 0), { start: 0, end: 6 });
});

Deno.test("transcribing: a word's frames lose the silent frames at its edges when the decoder has levels", () => {
  const nClass = TUTORIAL_ALPHABET.size;
  const a = TUTORIAL_ALPHABET.characters.indexOf("a");
  const b = TUTORIAL_ALPHABET.characters.indexOf("b");
  // "ab": a at frame 0 (in the silence before the word), b at frame 8 (in the silence after it).
  const logProbs = new Float32Array(10 * nClass).fill(-20);
  for (let t = 0; t < 10; t++) {
    logProbs[t * nClass + (t === 0 ? a : t === 8 ? b : TUTORIAL_ALPHABET.blank)] = 0;
  }
  const levels = [0, 0, 0, 1e-3, 1e-3, 1e-3, 1e-3, 1e-3, 0, 0];
  const withLevels = new RecordingDecoder({});
  withLevels.push(logProbs, 0, 6, levels.slice(0, 6));
  withLevels.push(logProbs, 6, 4, levels.slice(6));
  const w = withLevels.finish().words[0];
  assert.deepEqual([w.word, w.startFrame, w.endFrame], ["ab", 3, 7]);
  const without = new RecordingDecoder({});
  without.push(logProbs, 0, 10);
  const v = without.finish().words[0];
  assert.deepEqual([v.word, v.startFrame, v.endFrame], ["ab", 0, 8]);
});
