import assert from "node:assert/strict";
import { TUTORIAL_ALPHABET } from "../../data/alphabet.ts";
import { CHARACTERS, N_CLASS, textToInts } from "../../data/text.ts";
import { parseArpa } from "../../model/arpa.ts";
import { ctcBeamSearch } from "../../model/beam_search.ts";
import {
  compileHotwords,
  DEFAULT_HOTWORD_BOOST,
  type Hotword,
  HotwordAutomaton,
  hotwordScore,
  parseHotword,
  readHotwordsFile,
} from "../../model/hotwords.ts";

const BLANK = N_CLASS - 1;

function rng(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 4294967296;
  };
}

/** The definition: each occurrence of " phrase " in " text " (overlaps allowed) earns the phrase's boost. */
function referenceScore(hotwords: readonly Hotword[], text: string): number {
  const padded = ` ${text} `;
  let score = 0;
  for (const { phrase, boost } of hotwords) {
    const pattern = ` ${phrase} `;
    for (let i = padded.indexOf(pattern); i >= 0; i = padded.indexOf(pattern, i + 1)) score += boost;
  }
  return score;
}

Deno.test("hotword automaton: the score of a text is the sum of boosts of the whole-word phrases in it", () => {
  const random = rng(5);
  const letters = ["a", "b", " "];
  const pick = (n: number) => Array.from({ length: n }, () => letters[Math.floor(random() * 3)]).join("");
  for (let trial = 0; trial < 300; trial++) {
    const hotwords: Hotword[] = [];
    for (let k = 1 + (trial % 3); k > 0; k--) {
      const phrase = pick(1 + Math.floor(random() * 4)).trim().replace(/ +/g, " ");
      if (phrase !== "") hotwords.push({ phrase, boost: 0.5 + 3 * random() });
    }
    if (hotwords.length === 0) continue;
    const automaton = new HotwordAutomaton(hotwords, TUTORIAL_ALPHABET);
    const text = pick(Math.floor(random() * 12));
    const got = hotwordScore(automaton, Array.from(text, (ch) => CHARACTERS.indexOf(ch)));
    const want = referenceScore(hotwords, text);
    assert.ok(Math.abs(got - want) < 1e-9, `${JSON.stringify(hotwords)} in "${text}": ${got} vs ${want}`);
  }
});

Deno.test("hotword automaton: pending credit grows along a phrase and is taken back when the match fails", () => {
  const a = new HotwordAutomaton([{ phrase: "seven", boost: 6 }], TUTORIAL_ALPHABET);
  let state = a.start, score = 0;
  const steps: number[] = [];
  for (const c of textToInts("sevex")) {
    score = a.step(state, score, c);
    state = a.state;
    steps.push(score);
  }
  // Six credited characters ("seven" and the closing space): 1 nat each.
  assert.deepEqual(steps.map((s) => Math.round(s * 1e9) / 1e9), [1, 2, 3, 4, 0]);
  assert.equal(hotwordScore(a, textToInts("seven")), 6);
  assert.equal(hotwordScore(a, textToInts("sevens")), 0);
  assert.equal(hotwordScore(a, textToInts("seven seven")), 12);
  assert.equal(hotwordScore(a, textToInts("a seven b")), 6);
  assert.equal(hotwordScore(a, textToInts("seve")), 0, "an unfinished match keeps nothing");
});

Deno.test("parseHotword and readHotwordsFile: PHRASE[:BOOST], comments, errors naming file and line", async () => {
  assert.deepEqual(parseHotword("seven"), { phrase: "seven", boost: DEFAULT_HOTWORD_BOOST });
  assert.deepEqual(parseHotword("  new   york :2.5"), { phrase: "new york", boost: 2.5 });
  assert.throws(() => parseHotword("x:abc"), /boost after ":" must be a positive number, got "abc"/);
  assert.throws(() => parseHotword("x:-1"), /positive number/);
  assert.throws(() => parseHotword(" :3"), /phrase is empty/);
  assert.throws(
    () => new HotwordAutomaton([{ phrase: "c3po", boost: 1 }], TUTORIAL_ALPHABET),
    /hotword "c3po": character '3' \(U\+0033\) at column 2 is not/,
  );
  // Upper case maps to the alphabet's lower case.
  assert.equal(
    hotwordScore(compileHotwords([{ phrase: "Seven", boost: 2 }], TUTORIAL_ALPHABET), textToInts("seven")),
    2,
  );
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/hot.txt`;
    await Deno.writeTextFile(path, "# names\nseven:4\n\nnew york\n");
    assert.deepEqual(await readHotwordsFile(path), [
      { phrase: "seven", boost: 4 },
      { phrase: "new york", boost: DEFAULT_HOTWORD_BOOST },
    ]);
    await Deno.writeTextFile(path, "seven\nbad:x\n");
    await assert.rejects(() => readHotwordsFile(path), new RegExp(`${path}:2: hotword "bad:x"`));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** Rows of log-probabilities from {class: probability} maps, -Infinity elsewhere. */
function frames(specs: Record<number, number>[]): Float32Array {
  const lp = new Float32Array(specs.length * N_CLASS).fill(-Infinity);
  specs.forEach((r, t) => {
    for (const [c, p] of Object.entries(r)) lp[t * N_CLASS + Number(c)] = Math.log(p);
  });
  return lp;
}

const EXHAUSTIVE = { beamWidth: 100000, tokenMinLogProb: -Infinity };

Deno.test("beam search with hotwords and no pruning: every hypothesis scores ln P_ctc + its hotword score", () => {
  const random = rng(17);
  const [A, B, SPACE] = [2, 3, 1];
  const allowed = [A, B, SPACE, BLANK];
  const hotwords = [{ phrase: "ab", boost: 2 }, { phrase: "b a", boost: 1.5 }, { phrase: "a", boost: 0.7 }];
  const automaton = new HotwordAutomaton(hotwords, TUTORIAL_ALPHABET);
  for (let trial = 0; trial < 10; trial++) {
    const T = 4 + (trial % 3);
    const specs = Array.from({ length: T }, () => {
      const w = allowed.map(() => random() + 0.05);
      const z = w.reduce((s, x) => s + x, 0);
      return Object.fromEntries(allowed.map((c, i) => [c, w[i] / z]));
    });
    const lp = frames(specs);
    const plain = new Map(ctcBeamSearch(lp, T, T, EXHAUSTIVE).map((h) => [h.text, h.ctcScore]));
    const hyps = ctcBeamSearch(lp, T, T, { ...EXHAUSTIVE, hotwords });
    assert.equal(hyps.length, plain.size);
    for (const h of hyps) {
      const want = referenceScore(hotwords, Array.from(h.labels, (c) => CHARACTERS[c]).join(""));
      assert.ok(Math.abs(h.hotwordScore - want) < 1e-9, `${h.text}: ${h.hotwordScore} vs ${want}`);
      assert.ok(Math.abs(h.ctcScore - plain.get(h.text)!) < 1e-9);
      assert.ok(Math.abs(h.score - h.ctcScore - want) < 1e-9);
    }
    for (let i = 1; i < hyps.length; i++) assert.ok(hyps[i - 1].score >= hyps[i].score);
    // A compiled automaton gives the same search.
    const again = ctcBeamSearch(lp, T, T, { ...EXHAUSTIVE, hotwords: automaton });
    assert.deepEqual(again.map((h) => [h.text, h.score]), hyps.map((h) => [h.text, h.score]));
  }
});

/** Frames spelling `text` with the given probability for each character, a blank between characters. */
function spell(text: string, sure: Record<string, Record<string, number>> = {}): Float32Array {
  const specs: Record<number, number>[] = [];
  for (const ch of text) {
    const alt = sure[ch] ?? {};
    const row: Record<number, number> = {};
    let left = 1;
    for (const [o, p] of Object.entries(alt)) {
      row[CHARACTERS.indexOf(o)] = p;
      left -= p;
    }
    row[CHARACTERS.indexOf(ch)] = left * 0.9;
    row[BLANK] = left * 0.1;
    specs.push(row);
    specs.push({ [BLANK]: 0.95, [CHARACTERS.indexOf(ch)]: 0.05 });
  }
  return frames(specs);
}

Deno.test("hotwords restore a word the LM has never seen, and force nothing in when it is not spoken", () => {
  // An LM of digit words without "seven": the unknown word loses to a known one that sounds close.
  const lm = parseArpa(`\\data\\
ngram 1=6

\\1-grams:
-0.5\t<s>
-0.5\t</s>
-3\t<unk>
-0.6\tone
-0.6\tnine
-0.6\televen

\\end\\
`);
  // "seven": the audio says "seven" clearly, but "eleven" is close (s/e, e/l).
  const lp = spell("seven", { s: { e: 0.35 }, e: { l: 0.3 } });
  const T = lp.length / N_CLASS;
  const opts = { beamWidth: 32, lm, alpha: 0.5, beta: 1 };
  assert.equal(ctcBeamSearch(lp, T)[0].text, "seven", "acoustics alone");
  assert.equal(ctcBeamSearch(lp, T, T, opts)[0].text, "eleven", "the LM pulls towards a known word");
  const boosted = ctcBeamSearch(lp, T, T, { ...opts, hotwords: [{ phrase: "seven", boost: 4 }] })[0];
  assert.equal(boosted.text, "seven");
  assert.ok(boosted.hotwordScore === 4);
  // The same boost does not turn a clear "nine" into "seven", with or without the LM.
  const nine = spell("nine");
  const Tn = nine.length / N_CLASS;
  for (const o of [{}, opts]) {
    const h = ctcBeamSearch(nine, Tn, Tn, { ...o, hotwords: [{ phrase: "seven", boost: 4 }] })[0];
    assert.equal(h.text, "nine");
    assert.equal(h.hotwordScore, 0);
  }
});

Deno.test("multi-word hotwords: the phrase wins only as a whole, also without an LM", () => {
  // "new york" against "kew york": 'k' slightly ahead of 'n' at the first frame.
  const lp = spell("new york", { n: { k: 0.5 } });
  const T = lp.length / N_CLASS;
  const plain = ctcBeamSearch(lp, T, T, { beamWidth: 32 })[0].text;
  assert.equal(plain, "kew york");
  const boosted = ctcBeamSearch(lp, T, T, { beamWidth: 32, hotwords: [{ phrase: "new york", boost: 3 }] })[0];
  assert.equal(boosted.text, "new york");
  assert.equal(boosted.hotwordScore, 3);
  // Boosting "new jersey" gives nothing: the partial credit for "new " is taken back.
  const other = ctcBeamSearch(lp, T, T, { beamWidth: 32, hotwords: [{ phrase: "new jersey", boost: 3 }] })[0];
  assert.equal(other.text, "kew york");
  assert.equal(other.hotwordScore, 0);
});
