import assert from "node:assert/strict";
import { BLANK, CHARACTERS, N_CLASS } from "../../data/text.ts";
import { type NgramLm, parseArpa } from "../../model/arpa.ts";
import { ctcBeamSearch, WordPrefixIndex } from "../../model/beam_search.ts";
import { decodeLogProbs } from "../../model/inference.ts";
import { alphabetOf } from "../../data/alphabet.ts";

const SPACE = 1, A = 2, B = 3, APOS = 0;

function rng(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 4294967296;
  };
}

/** T x 29 log-probabilities, -Infinity outside `allowed`, log-softmax of random logits inside. */
function randomLogProbs(T: number, allowed: number[], random: () => number, sharp = 3): Float32Array {
  const lp = new Float32Array(T * N_CLASS).fill(-Infinity);
  for (let t = 0; t < T; t++) {
    const logits = allowed.map(() => (random() - 0.5) * sharp);
    const m = Math.max(...logits);
    const z = Math.log(logits.reduce((s, x) => s + Math.exp(x - m), 0)) + m;
    allowed.forEach((c, i) => lp[t * N_CLASS + c] = logits[i] - z);
  }
  return lp;
}

/** Sum of path probabilities per label sequence (keys: labels joined by ","), by enumerating every alignment. */
function bruteForce(lp: Float32Array, T: number, allowed: number[]): Map<string, number> {
  const out = new Map<string, number>();
  const path = new Array<number>(T);
  const go = (t: number, logp: number) => {
    if (t === T) {
      const labels: number[] = [];
      let prev = -1;
      for (const c of path) {
        if (c !== BLANK && c !== prev) labels.push(c);
        prev = c;
      }
      const key = labels.join(",");
      out.set(key, (out.get(key) ?? 0) + Math.exp(logp));
      return;
    }
    for (const c of allowed) {
      path[t] = c;
      go(t + 1, logp + lp[t * N_CLASS + c]);
    }
  };
  go(0, 0);
  return out;
}

const textOf = (key: string) => key === "" ? "" : key.split(",").map((c) => CHARACTERS[Number(c)]).join("");

const EXHAUSTIVE = { beamWidth: 100000, tokenMinLogProb: -Infinity };

Deno.test("beam search without LM and without pruning equals the exhaustive sum over alignments", () => {
  const random = rng(11);
  const sets = [[A, B, BLANK], [A, SPACE, BLANK], [APOS, A, B, SPACE, BLANK]];
  for (let trial = 0; trial < 24; trial++) {
    const allowed = sets[trial % sets.length];
    const T = 3 + (trial % 4);
    const lp = randomLogProbs(T, allowed, random);
    const exact = bruteForce(lp, T, allowed);
    const hyps = ctcBeamSearch(lp, T, T, EXHAUSTIVE);
    assert.equal(hyps.length, exact.size, `trial ${trial}: number of label sequences`);
    for (const h of hyps) {
      const p = exact.get(Array.from(h.labels).join(","));
      assert.ok(p !== undefined, `trial ${trial}: ${h.text} is not a label sequence`);
      assert.ok(
        Math.abs(h.ctcScore - Math.log(p)) < 1e-9,
        `trial ${trial} ${h.text}: ${h.ctcScore} vs ${Math.log(p)}`,
      );
      assert.equal(h.score, h.ctcScore);
      assert.equal(h.lmScore, 0);
    }
    let sum = 0;
    for (const h of hyps) sum += Math.exp(h.ctcScore);
    assert.ok(Math.abs(sum - 1) < 1e-6, "probabilities of all labelings sum to 1 (float32 inputs)");
  }
});

Deno.test("beam search: hand-made cases (merging beams, repeats, blanks between repeats)", () => {
  const frames = (rows: Record<number, number>[]) => {
    const lp = new Float32Array(rows.length * N_CLASS).fill(-Infinity);
    rows.forEach((r, t) => {
      for (const [c, p] of Object.entries(r)) lp[t * N_CLASS + Number(c)] = Math.log(p);
    });
    return lp;
  };
  // Greedy reads "" (blank, blank: 0.36) but "a" gathers 0.16 + 0.24 + 0.24 = 0.64 over three alignments.
  let hyps = ctcBeamSearch(frames([{ [A]: 0.4, [BLANK]: 0.6 }, { [A]: 0.4, [BLANK]: 0.6 }]), 2);
  assert.equal(hyps[0].text, "a");
  assert.ok(Math.abs(hyps[0].ctcScore - Math.log(0.64)) < 1e-6);
  assert.equal(hyps[1].text, "");
  // "a a" collapses to "a"; "aa" needs a blank between the two a's.
  hyps = ctcBeamSearch(frames([{ [A]: 1 }, { [A]: 1 }]), 2);
  assert.deepEqual(hyps.map((h) => h.text), ["a"]);
  hyps = ctcBeamSearch(frames([{ [A]: 1 }, { [BLANK]: 1 }, { [A]: 1 }]), 3);
  assert.deepEqual(hyps.map((h) => h.text), ["aa"]);
  assert.deepEqual(Array.from(hyps[0].frames), [0, 2]);
  // The valid length cuts the utterance: the padded frames are ignored.
  hyps = ctcBeamSearch(frames([{ [A]: 1 }, { [SPACE]: 1 }, { [B]: 1 }, { [A]: 1 }]), 4, 3);
  assert.equal(hyps[0].text, "a b");
  // Certain frames: the confidence is the clamped log-odds' sigmoid(30).
  const sure = 1 / (1 + Math.exp(-30));
  assert.deepEqual(hyps[0].words, [{ word: "a", startFrame: 0, endFrame: 0, probability: sure }, {
    word: "b",
    startFrame: 2,
    endFrame: 2,
    probability: sure,
  }]);
  // Zero frames: the empty hypothesis.
  assert.deepEqual(ctcBeamSearch(new Float32Array(0), 0).map((h) => h.text), [""]);
  assert.throws(() => ctcBeamSearch(new Float32Array(10), 1), /cannot hold 1 frames/);
  assert.throws(() => ctcBeamSearch(new Float32Array(29), 1, 2), /valid length 2/);
});

Deno.test("beam search: pruning keeps at most beamWidth and topK; narrow beams still find peaky answers", () => {
  const random = rng(5);
  const lp = randomLogProbs(40, [APOS, SPACE, A, B, 4, 5, BLANK], random, 8);
  const full = ctcBeamSearch(lp, 40, 40, { beamWidth: 50 });
  assert.ok(full.length <= 50);
  const narrow = ctcBeamSearch(lp, 40, 40, { beamWidth: 3, topK: 2 });
  assert.ok(narrow.length <= 3);
  for (let i = 1; i < full.length; i++) assert.ok(full[i - 1].score >= full[i].score);
  // With beamWidth 16 on a sharp distribution the best of a 50-wide search is found too.
  const mid = ctcBeamSearch(lp, 40, 40, { beamWidth: 16 });
  assert.equal(mid[0].text, full[0].text);
});

const TOY_ARPA = `
\\data\\
ngram 1=6
ngram 2=6

\\1-grams:
-99\t<s>\t-0.4
-0.9\t</s>
-1.6\t<unk>
-0.5\tA\t-0.2
-0.8\tB\t-0.3
-1.0\tAB\t-0.1

\\2-grams:
-0.3\t<s> A
-0.2\tA B
-0.6\tB </s>
-0.1\tAB </s>
-0.7\t<s> AB
-0.4\tA A

\\end\\
`;

/** The final score of a label sequence, computed independently of the search: the definition in beam_search.ts. */
function referenceScore(lm: NgramLm, text: string, alpha: number, beta: number, unk: number): number {
  const words = text.split(" ").filter((w) => w !== "");
  const ctx = [lm.bosId];
  let s = 0;
  for (const w of words) {
    let id = lm.wordId(w);
    if (!lm.hasWord(w)) {
      id = lm.unkId;
      s += unk;
    }
    s += alpha * lm.score(ctx, id) * Math.LN10 + beta;
    ctx.push(id);
  }
  return s + alpha * lm.score(ctx, lm.eosId) * Math.LN10;
}

Deno.test("beam search with an LM and no pruning equals brute-force rescoring of every labeling", () => {
  const lm = parseArpa(TOY_ARPA);
  const random = rng(3);
  const settings = [
    { alpha: 0.5, beta: 1.0, unkScoreOffset: -10 },
    { alpha: 2.0, beta: -0.5, unkScoreOffset: -3 },
    { alpha: 1.0, beta: 0, unkScoreOffset: 0 },
  ];
  for (let trial = 0; trial < 18; trial++) {
    const T = 4 + (trial % 3);
    const allowed = [A, B, SPACE, BLANK];
    const lp = randomLogProbs(T, allowed, random, 2);
    const { alpha, beta, unkScoreOffset } = settings[trial % settings.length];
    const exact = bruteForce(lp, T, allowed);
    let bestText = "", bestScore = -Infinity;
    const expected = new Map<string, number>();
    for (const [key, p] of exact) {
      const text = textOf(key);
      const s = Math.log(p) + referenceScore(lm, text, alpha, beta, unkScoreOffset);
      expected.set(text, s);
      if (s > bestScore) {
        bestScore = s;
        bestText = text;
      }
    }
    const hyps = ctcBeamSearch(lp, T, T, { ...EXHAUSTIVE, lm, alpha, beta, unkScoreOffset });
    assert.equal(hyps.length, exact.size);
    assert.equal(hyps[0].text, bestText, `trial ${trial}`);
    assert.ok(Math.abs(hyps[0].score - bestScore) < 1e-6, `trial ${trial}: ${hyps[0].score} vs ${bestScore}`);
    for (const h of hyps) {
      assert.ok(Math.abs(h.score - expected.get(h.text)!) < 1e-6, `trial ${trial} "${h.text}"`);
    }
  }
});

Deno.test("beam search: the LM changes the answer towards known words", () => {
  // Acoustically "ba" (0.2704) beats "a" and "b" (0.2496 each) and "ab" (0.2304), but only "ab" is a word.
  const rows = [{ [B]: 0.52, [A]: 0.48 }, { [A]: 0.52, [B]: 0.48 }];
  const lp = new Float32Array(2 * N_CLASS).fill(-Infinity);
  rows.forEach((r, t) => {
    for (const [c, p] of Object.entries(r)) lp[t * N_CLASS + Number(c)] = Math.log(p);
  });
  assert.equal(ctcBeamSearch(lp, 2)[0].text, "ba");
  const lm = parseArpa(TOY_ARPA);
  assert.equal(ctcBeamSearch(lp, 2, 2, { lm })[0].text, "ab");
});

Deno.test("WordPrefixIndex: narrows ranges of spellings and finds exact words", () => {
  const lm = parseArpa(TOY_ARPA);
  const index = new WordPrefixIndex(lm);
  assert.equal(index.size, 3); // a, ab, b (no <s>, </s>, <unk>)
  const r = new Int32Array(2);
  index.narrow(0, index.size, 0, A, r);
  assert.deepEqual(Array.from(r), [0, 2]);
  assert.equal(lm.words[index.exactWord(r[0], r[1], 1)], "a");
  index.narrow(r[0], r[1], 1, B, r);
  assert.deepEqual(Array.from(r), [1, 2]);
  assert.equal(lm.words[index.exactWord(r[0], r[1], 2)], "ab");
  index.narrow(r[0], r[1], 2, A, r);
  assert.equal(r[0], r[1]);
  index.narrow(0, index.size, 0, 4, r);
  assert.equal(r[0], r[1]);
});

Deno.test("beam search: beamPruneLogProb drops hypotheses far below the best", () => {
  const random = rng(8);
  const lp = randomLogProbs(12, [A, B, SPACE, BLANK], random, 12);
  const all = ctcBeamSearch(lp, 12, 12, { beamWidth: 64, tokenMinLogProb: -Infinity });
  const pruned = ctcBeamSearch(lp, 12, 12, {
    beamWidth: 64,
    tokenMinLogProb: -Infinity,
    beamPruneLogProb: 3,
  });
  assert.ok(pruned.length < all.length, `${pruned.length} < ${all.length}`);
  assert.equal(pruned[0].text, all[0].text);
});

Deno.test("beam search with a Kneser-Ney LM from real transcripts repairs an ambiguous spelling", async () => {
  const { buildKneserNey, formatArpa, tokenizeLine } = await import("../../model/kneser_ney.ts");
  const sentences = ["the danger trail", "the danger is near", "a dancer in the trail", "the trail is long"]
    .map((s) => tokenizeLine(s));
  const lm = parseArpa(formatArpa(buildKneserNey(sentences, 3)));
  // "the danger trail" where the acoustics favour "g" -> "c" slightly ("the dancer trail").
  const text = "the danger trail";
  const C = 4, G = 8;
  const frames: Record<number, number>[] = [];
  for (const ch of text) {
    const cls = ch === " " ? SPACE : ch.charCodeAt(0) - 95;
    frames.push(cls === G ? { [C]: 0.5, [G]: 0.45, [BLANK]: 0.05 } : { [cls]: 0.9, [BLANK]: 0.1 });
    frames.push({ [BLANK]: 0.95, [cls]: 0.05 });
  }
  const T = frames.length;
  const lp = new Float32Array(T * N_CLASS).fill(-Infinity);
  frames.forEach((r, t) => {
    for (const [c, p] of Object.entries(r)) lp[t * N_CLASS + Number(c)] = Math.log(p);
  });
  assert.equal(ctcBeamSearch(lp, T)[0].text, "the dancer trail");
  const best = ctcBeamSearch(lp, T, T, { lm, alpha: 0.5, beta: 1 })[0];
  assert.equal(best.text, "the danger trail");
  assert.deepEqual(best.words.map((w) => [w.word, w.startFrame, w.endFrame]), [
    ["the", 0, 4],
    ["danger", 8, 18],
    ["trail", 22, 30],
  ]);
});

Deno.test("n-best: K distinct hypotheses, best first, the first equal to the 1-best, with and without an LM", () => {
  const random = rng(21);
  const lm = parseArpa(`\\data\\
ngram 1=5

\\1-grams:
-0.5\t<s>
-0.5\t</s>
-2\t<unk>
-0.4\tab
-0.6\tba

\\end\\
`);
  for (let trial = 0; trial < 6; trial++) {
    const T = 20;
    const lp = randomLogProbs(T, [A, B, SPACE, BLANK], random, 6);
    for (const extra of [{}, { lm }]) {
      const one = ctcBeamSearch(lp, T, T, { beamWidth: 32, ...extra, nBest: 1 });
      const five = ctcBeamSearch(lp, T, T, { beamWidth: 32, ...extra, nBest: 5 });
      const whole = ctcBeamSearch(lp, T, T, { beamWidth: 32, ...extra });
      assert.equal(one.length, 1);
      assert.equal(five.length, 5);
      assert.equal(new Set(five.map((h) => h.text)).size, 5, "distinct texts");
      assert.equal(five[0].text, one[0].text);
      assert.equal(five[0].score, one[0].score);
      assert.deepEqual(five.map((h) => [h.text, h.score]), whole.slice(0, 5).map((h) => [h.text, h.score]));
      for (let i = 1; i < 5; i++) assert.ok(five[i - 1].score >= five[i].score);
      const t = decodeLogProbs({ logProbs: lp, time: T, length: T }, {
        decoder: "beam",
        beamWidth: 32,
        nBest: 5,
        lm: (extra as { lm?: NgramLm }).lm,
      });
      assert.equal(t.text, one[0].text);
      assert.deepEqual(t.alternatives, five.map((h) => ({ text: h.text, score: h.score })));
    }
  }
  assert.throws(() => ctcBeamSearch(new Float32Array(29), 1, 1, { nBest: 0 }), /nBest 0/);
});

Deno.test("beam search over another alphabet (digits words, 4 classes + blank) with an LM in that alphabet", () => {
  const alphabet = alphabetOf(["o", "n", "e", " "]);
  const nClass = alphabet.size;
  // "one one" spelled with a blank between characters; "on" is the LM's favourite word.
  const lm = parseArpa(
    "\\data\\\nngram 1=5\n\n\\1-grams:\n-0.5\t<s>\n-0.5\t</s>\n-2\t<unk>\n-0.3\tone\n-0.3\ton\n\n\\end\\\n",
  );
  const path = [0, 4, 1, 4, 2, 4, 3, 0, 4, 1, 4, 2];
  const lp = new Float32Array(path.length * nClass).fill(Math.log(0.02));
  path.forEach((c, t) => lp[t * nClass + c] = Math.log(0.92));
  const hyps = ctcBeamSearch(lp, path.length, path.length, { alphabet, beamWidth: 16, lm });
  assert.equal(hyps[0].text, "one one");
  assert.deepEqual(hyps[0].words.map((w) => w.word), ["one", "one"]);
  // Both words are the LM's (spelled in this alphabet): no unknown-word penalty.
  const expected = 0.5 * Math.LN10 * (-0.3 - 0.3 - 0.5) + 2 * 1.0;
  // (The LM stores log10 probabilities as float32.)
  assert.ok(Math.abs(hyps[0].lmScore - expected) < 1e-6, `${hyps[0].lmScore} vs ${expected}`);
  assert.throws(
    () => ctcBeamSearch(lp, path.length + 1, path.length, { alphabet }),
    /cannot hold 13 frames x 5/,
  );
});
