import assert from "node:assert/strict";
import {
  cer,
  charErrors,
  editDistance,
  errorRates,
  normaliseSpaces,
  wer,
  wordErrors,
} from "../../model/metrics.ts";

Deno.test("editDistance: classic cases", () => {
  assert.equal(editDistance("kitten", "sitting"), 3);
  assert.equal(editDistance("", "abc"), 3);
  assert.equal(editDistance("abc", ""), 3);
  assert.equal(editDistance("abc", "abc"), 0);
  assert.equal(editDistance("flaw", "lawn"), 2);
  assert.equal(editDistance(["the", "cat", "sat"], ["the", "sat"]), 1);
  assert.equal(editDistance([1, 2, 3, 4], [4, 3, 2, 1]), 4);
});

Deno.test("editDistance: agrees with a recursive reference on random strings", () => {
  let seed = 7;
  const rnd = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
  const ref = (a: string, b: string): number => {
    const memo = new Map<string, number>();
    const go = (i: number, j: number): number => {
      if (i === a.length) return b.length - j;
      if (j === b.length) return a.length - i;
      const k = `${i},${j}`;
      const hit = memo.get(k);
      if (hit !== undefined) return hit;
      const v = Math.min(go(i + 1, j) + 1, go(i, j + 1) + 1, go(i + 1, j + 1) + (a[i] === b[j] ? 0 : 1));
      memo.set(k, v);
      return v;
    };
    return go(0, 0);
  };
  for (let trial = 0; trial < 200; trial++) {
    const mk = () =>
      Array.from({ length: Math.floor(rnd() * 9) }, () => "abc"[Math.floor(rnd() * 3)]).join("");
    const a = mk(), b = mk();
    assert.equal(editDistance(a, b), ref(a, b), `${a} vs ${b}`);
  }
});

Deno.test("wer/cer follow the tutorial's definitions", () => {
  // One substitution out of four words.
  assert.equal(wer("the cat sat down", "the cat sit down"), 0.25);
  // Python's 'a  b'.split(' ') is ['a', '', 'b']: the empty word counts.
  assert.deepEqual(wordErrors("a  b", "a b"), { edits: 1, referenceLength: 3 });
  // An empty hypothesis is one empty word: substitutions plus deletions, never more than the reference length.
  assert.deepEqual(wordErrors("a b c", ""), { edits: 3, referenceLength: 3 });
  // cer keeps single spaces between words, collapses runs and trims the ends.
  assert.equal(normaliseSpaces("  a   b c "), "a b c");
  assert.deepEqual(charErrors("ab cd", "abcd"), { edits: 1, referenceLength: 5 });
  assert.deepEqual(charErrors(" ab  cd ", "ab cd"), { edits: 0, referenceLength: 5 });
  assert.equal(cer("hello", "hallo"), 0.2);
  assert.throws(() => cer("   ", "x"), /no characters/);
});

Deno.test("errorRates: tutorial means and corpus-level totals differ as expected", () => {
  const refs = ["a b", "c d e f"];
  const hyps = ["a x", "c d e f"];
  const r = errorRates(refs, hyps);
  assert.equal(r.meanWer, (0.5 + 0) / 2);
  assert.equal(r.corpusWer, 1 / 6);
  assert.equal(r.wordEdits, 1);
  assert.equal(r.referenceWords, 6);
  assert.equal(r.charEdits, 1);
  assert.equal(r.referenceChars, 3 + 7);
  assert.equal(r.meanCer, (1 / 3 + 0) / 2);
  assert.equal(r.corpusCer, 1 / 10);
  assert.throws(() => errorRates(["a"], []), /1 references but 0 hypotheses/);
});
