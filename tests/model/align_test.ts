/** CTC Viterbi alignment against a brute-force reference that enumerates every frame path. */
import * as assert from "node:assert/strict";
import { AlignmentError, ctcViterbi, minimumFrames } from "../../model/align.ts";

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
    /1000 frames needs 1000 x 7 = .* MiB of back-pointers, over the limit/,
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
