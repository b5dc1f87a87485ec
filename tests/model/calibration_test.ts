import assert from "node:assert/strict";
import {
  confidenceSummary,
  expectedCalibrationError,
  fitCalibration,
  logit,
  wordCorrectness,
} from "../../model/calibration.ts";
import { calibrate } from "../../model/confidence.ts";

function rng(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return (s + 0.5) / 4294967296;
  };
}

Deno.test("wordCorrectness: a hypothesis word is right when the alignment matches it to an equal word", () => {
  const w = (s: string) => s.split(" ").filter((x) => x !== "");
  assert.deepEqual(wordCorrectness(w("one two three"), w("one two three")), [true, true, true]);
  assert.deepEqual(wordCorrectness(w("one two three"), w("one too three")), [true, false, true]);
  // Insertion and deletion: the shifted words still match.
  assert.deepEqual(wordCorrectness(w("one two three"), w("one one two three")), [false, true, true, true]);
  assert.deepEqual(wordCorrectness(w("one two three"), w("one three")), [true, true]);
  assert.deepEqual(wordCorrectness([], w("nine")), [false]);
  assert.deepEqual(wordCorrectness(w("nine"), []), []);
});

Deno.test("expectedCalibrationError: by hand over 10 bins", () => {
  // Bin 9: 0.95, 0.95 (1 right): |0.5 - 0.95| * 2/4; bin 2: 0.2, 0.3 -> bins 2 and 3, one right each.
  const conf = [0.95, 0.95, 0.2, 0.3];
  const right = [true, false, true, false];
  const expected = (Math.abs(1 - 1.9) + Math.abs(1 - 0.2) + Math.abs(0 - 0.3)) / 4;
  assert.ok(Math.abs(expectedCalibrationError(conf, right) - expected) < 1e-15);
  // Confidence 1 falls in the last bin.
  assert.equal(expectedCalibrationError([1, 1], [true, true]), 0);
  assert.ok(Number.isNaN(expectedCalibrationError([], [])));
  assert.throws(() => expectedCalibrationError([1.5], [true]), /outside \[0, 1\]/);
  assert.throws(() => expectedCalibrationError([0.5], []), /1 confidences but 0/);
});

Deno.test("fitCalibration: recovers a logistic map and brings held-out ECE down", () => {
  // Raw confidences that are overconfident: the truth is sigmoid(0.5 * z - 0.5).
  const random = rng(3);
  const sample = (n: number) => {
    const z: number[] = [], right: boolean[] = [];
    for (let k = 0; k < n; k++) {
      const x = 8 * random() - 2;
      z.push(x);
      right.push(random() < 1 / (1 + Math.exp(-(0.5 * x - 0.5))));
    }
    return { z, right };
  };
  const dev = sample(20000), test = sample(20000);
  const fitted = fitCalibration(dev.z, dev.right);
  assert.ok(Math.abs(fitted.slope - 0.5) < 0.05, `slope ${fitted.slope}`);
  assert.ok(Math.abs(fitted.offset + 0.5) < 0.08, `offset ${fitted.offset}`);
  const raw = expectedCalibrationError(test.z.map((x) => calibrate(x)), test.right);
  const cal = expectedCalibrationError(test.z.map((x) => calibrate(x, fitted)), test.right);
  assert.ok(raw > 0.1 && cal < 0.02, `raw ECE ${raw}, calibrated ${cal}`);
  // Fitting again on calibrated values composes: the map from the raw values stays the same.
  const again = fitCalibration(dev.z.map((x) => fitted.slope * x + fitted.offset), dev.right, fitted);
  assert.ok(Math.abs(again.slope - fitted.slope) < 1e-6 && Math.abs(again.offset - fitted.offset) < 1e-6);
  // No errors at all still gives a finite map (Platt's smoothed targets).
  const allRight = fitCalibration([1, 2, 3], [true, true, true]);
  assert.ok(Number.isFinite(allRight.slope) && Number.isFinite(allRight.offset));
});

Deno.test("confidenceSummary: words against references, ECE, accuracy and the fitted map", () => {
  const s = confidenceSummary(["one two", "three"], [
    { words: [{ word: "one", probability: 0.9 }, { word: "too", probability: 0.2 }] },
    { words: [{ word: "three", probability: 0.8 }] },
  ]);
  assert.equal(s.words, 3);
  assert.ok(Math.abs(s.accuracy - 2 / 3) < 1e-15);
  assert.ok(Math.abs(s.meanConfidence - 1.9 / 3) < 1e-15);
  assert.ok(Math.abs(s.ece - (0.1 + 0.2 + 0.2) / 3) < 1e-15);
  assert.ok(Number.isFinite(s.fitted.slope));
  assert.equal(logit(1), 30);
  assert.throws(() => confidenceSummary(["a"], [{ words: [{ word: "a" }] }]), /utterance 0: word 0 has no/);
});
