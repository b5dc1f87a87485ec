import assert from "node:assert/strict";
import { alphabetOf } from "../../data/alphabet.ts";
import { N_CLASS, textToInts } from "../../data/text.ts";
import { ctcBeamSearch } from "../../model/beam_search.ts";
import {
  calibrate,
  formatCalibration,
  logitOfLog,
  parseCalibration,
  spanLogConfidence,
  wordLogit,
} from "../../model/confidence.ts";
import { greedyDecode } from "../../model/decode.ts";

const BLANK = N_CLASS - 1;

/** Rows of log-probabilities from {class: probability} maps; unlisted classes share what is left. */
function rows(specs: Record<number, number>[], nClass = N_CLASS): Float32Array {
  const lp = new Float32Array(specs.length * nClass);
  specs.forEach((r, t) => {
    const given = Object.values(r).reduce((a, b) => a + b, 0);
    const rest = Math.max(1 - given, 1e-9) / (nClass - Object.keys(r).length);
    for (let c = 0; c < nClass; c++) lp[t * nClass + c] = Math.log(r[c] ?? rest);
  });
  return lp;
}

Deno.test("logitOfLog: log-odds from a log-probability, exact near 0 and 1, clamped to +-30", () => {
  for (const p of [1e-300, 1e-9, 0.001, 0.25, 0.5, 0.75, 0.999, 1 - 1e-12]) {
    const reference = Math.log(p) - Math.log1p(-p);
    const got = logitOfLog(Math.log(p));
    assert.ok(
      Math.abs(got - Math.max(-30, Math.min(30, reference))) < 1e-9 * Math.max(1, Math.abs(reference)),
    );
  }
  assert.equal(logitOfLog(0), 30);
  assert.equal(logitOfLog(-Infinity), -30);
  assert.equal(logitOfLog(NaN), -30);
  // The identity map gives back the probability; slope and offset act on the log-odds.
  assert.ok(Math.abs(calibrate(logitOfLog(Math.log(0.8))) - 0.8) < 1e-15);
  const z = logitOfLog(Math.log(0.8));
  assert.ok(Math.abs(calibrate(z, { slope: 2, offset: -1 }) - 1 / (1 + Math.exp(-(2 * z - 1)))) < 1e-15);
  assert.equal(calibrate(-800), 0);
  assert.equal(calibrate(800), 1);
});

Deno.test("wordLogit: geometric mean of the characters' evidence", () => {
  const ev = [Math.log(0.9), Math.log(0.4), Math.log(0.1)];
  const mean = Math.exp((ev[0] + ev[1]) / 2);
  assert.ok(Math.abs(calibrate(wordLogit(ev, 0, 2)) - mean) < 1e-12);
  assert.ok(Math.abs(calibrate(wordLogit(ev, 2, 3)) - 0.1) < 1e-12);
});

Deno.test("parseCalibration / formatCalibration: SLOPE,OFFSET round trip and clear errors", () => {
  assert.deepEqual(parseCalibration("1.5, -0.25"), { slope: 1.5, offset: -0.25 });
  assert.deepEqual(parseCalibration(formatCalibration({ slope: 0.7312345678, offset: 2 })), {
    slope: 0.731235,
    offset: 2,
  });
  for (const bad of ["1", "1,2,3", "a,1", "1,", ",1", "1,Infinity"]) {
    assert.throws(() => parseCalibration(bad), /expected SLOPE,OFFSET/, bad);
  }
});

Deno.test("greedy confidence: a word's probability is the geometric mean of its characters' peaks", () => {
  const [h, i] = textToInts("hi");
  const space = 1;
  // h peaks at 0.9 over its run (0.6, 0.9), i at 0.5; "i" alone at 0.3.
  const lp = rows([{ [h]: 0.6 }, { [h]: 0.9 }, { [BLANK]: 0.9 }, { [i]: 0.5 }, { [space]: 0.8 }, {
    [i]: 0.3,
  }]);
  const d = greedyDecode(lp, 6);
  assert.equal(d.text, "hi i");
  const f = (p: number) => Math.fround(Math.log(p));
  assert.deepEqual(Array.from(d.characterLogConfidence), [f(0.9), f(0.5), f(0.8), f(0.3)]);
  const expected = [Math.exp((f(0.9) + f(0.5)) / 2), Math.exp(f(0.3))];
  d.words.forEach((w, k) => assert.ok(Math.abs(w.probability! - expected[k]) < 1e-12, `${w.word}`));
  // A calibration passed to the decoder is applied to every word.
  const c = { slope: 0.5, offset: 1 };
  const dc = greedyDecode(lp, 6, 6, 0, { calibration: c });
  dc.words.forEach((w, k) => {
    const z = Math.log(expected[k]) - Math.log1p(-expected[k]);
    assert.ok(Math.abs(w.probability! - 1 / (1 + Math.exp(-(0.5 * z + 1)))) < 1e-12);
  });
});

Deno.test("beam confidence: peak of each label between its first frame and the next label's", () => {
  const [a, b] = textToInts("ab");
  const lp = rows([{ [a]: 0.3 }, { [a]: 0.7 }, { [BLANK]: 0.9 }, { [b]: 0.6 }, { [BLANK]: 0.9 }]);
  const span = spanLogConfidence(lp, [a, b], [0, 3], 5, N_CLASS);
  assert.deepEqual(Array.from(span), [Math.fround(Math.log(0.7)), Math.fround(Math.log(0.6))]);
  const best = ctcBeamSearch(lp, 5, 5, { beamWidth: 16 })[0];
  assert.equal(best.text, "ab");
  const expected = spanLogConfidence(lp, best.labels, best.frames, 5, N_CLASS);
  assert.deepEqual(best.characterLogConfidence, expected);
  const p = Math.exp((expected[0] + expected[1]) / 2);
  assert.ok(Math.abs(best.words[0].probability! - p) < 1e-12);
});

Deno.test("confidence with another alphabet: digits words over a 5-class alphabet", () => {
  const alphabet = alphabetOf(["o", "n", "e", " "]);
  const [o, n, e, sp] = [0, 1, 2, 3];
  const lp = rows([{ [o]: 0.8 }, { [n]: 0.7 }, { [e]: 0.9 }, { [sp]: 0.9 }, { [o]: 0.6 }, { [n]: 0.6 }], 5);
  const d = greedyDecode(lp, 6, 6, 0, { alphabet });
  assert.equal(d.text, "one on");
  assert.equal(d.words.length, 2);
  const beam = ctcBeamSearch(lp, 6, 6, { alphabet, beamWidth: 8 })[0];
  assert.equal(beam.text, "one on");
  for (const w of [...d.words, ...beam.words]) assert.ok(w.probability! > 0 && w.probability! < 1);
});
