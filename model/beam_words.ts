/**
 * The word level of the CTC prefix beam search (model/beam_search.ts): the vocabulary's spellings as a sorted
 * index (is the partial word a prefix of some word? which word does it spell?), LM contexts as small integers
 * with cached scores, and the word-level terms of a hypothesis' score.
 */

import { type Alphabet, TUTORIAL_ALPHABET } from "../data/alphabet.ts";
import type { NgramLm } from "./arpa.ts";

/** pyctcdecode's average word length, beyond which the partial-word penalty grows with the length. */
const AVG_WORD_LENGTH = 6;

/**
 * The vocabulary's spellings as class-id strings, sorted, so that the words starting with a prefix form one
 * range [lo, hi) and appending a character narrows it by two binary searches.
 */
export class WordPrefixIndex {
  readonly #chars: Int32Array;
  readonly #start: Int32Array;
  /** LM word id of each sorted spelling. */
  readonly wordIds: Int32Array;
  get size(): number {
    return this.wordIds.length;
  }

  /** Indexes `lm`'s words that are spelled only with the alphabet's characters (the space excepted). */
  constructor(lm: NgramLm, alphabet: Alphabet = TUTORIAL_ALPHABET) {
    const classOf = new Map<string, number>();
    alphabet.characters.forEach((ch, id) => {
      if (id !== alphabet.space) classOf.set(ch, id);
    });
    const spellings: { codes: number[]; id: number }[] = [];
    for (let id = 0; id < lm.words.length; id++) {
      const codes = spell(lm.words[id], classOf);
      if (codes) spellings.push({ codes, id });
    }
    spellings.sort((a, b) => compareCodes(a.codes, b.codes));
    let total = 0;
    for (const s of spellings) total += s.codes.length;
    this.#chars = new Int32Array(total);
    this.#start = new Int32Array(spellings.length + 1);
    this.wordIds = new Int32Array(spellings.length);
    let at = 0;
    spellings.forEach((s, i) => {
      this.#start[i] = at;
      this.#chars.set(s.codes, at);
      at += s.codes.length;
      this.wordIds[i] = s.id;
    });
    this.#start[spellings.length] = at;
  }

  /** Character `depth` of spelling `i`, or -1 past its end. */
  #charAt(i: number, depth: number): number {
    const p = this.#start[i] + depth;
    return p < this.#start[i + 1] ? this.#chars[p] : -1;
  }

  /** First index in [lo, hi) whose character at `depth` is >= c (all share the first `depth` characters). */
  #lowerBound(lo: number, hi: number, depth: number, c: number): number {
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.#charAt(mid, depth) < c) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Narrows the range of spellings sharing a prefix of length `depth` to those continuing with class `c`. */
  narrow(lo: number, hi: number, depth: number, c: number, out: Int32Array): void {
    const a = this.#lowerBound(lo, hi, depth, c);
    out[0] = a;
    out[1] = this.#lowerBound(a, hi, depth, c + 1);
  }

  /** The LM word id spelled exactly by the prefix of range [lo, hi) and length `depth`, or -1. */
  exactWord(lo: number, hi: number, depth: number): number {
    if (lo < hi && this.#start[lo + 1] - this.#start[lo] === depth) return this.wordIds[lo];
    return -1;
  }
}

function spell(word: string, classOf: ReadonlyMap<string, number>): number[] | null {
  if (word.length === 0) return null;
  const codes: number[] = [];
  for (const ch of word) {
    const c = classOf.get(ch);
    if (c === undefined) return null;
    codes.push(c);
  }
  return codes;
}

function compareCodes(a: number[], b: number[]): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return a.length - b.length;
}

const prefixIndexCache = new WeakMap<NgramLm, WeakMap<Alphabet, WordPrefixIndex>>();

/** The (cached) prefix index of an LM's vocabulary spelled in `alphabet`. */
export function wordPrefixIndex(lm: NgramLm, alphabet: Alphabet = TUTORIAL_ALPHABET): WordPrefixIndex {
  let byAlphabet = prefixIndexCache.get(lm);
  if (!byAlphabet) prefixIndexCache.set(lm, byAlphabet = new WeakMap());
  let index = byAlphabet.get(alphabet);
  if (!index) {
    index = new WordPrefixIndex(lm, alphabet);
    byAlphabet.set(alphabet, index);
  }
  return index;
}

/** LM contexts (the last order-1 words) as small integers, with cached transitions and scores. */
export class LmStates {
  readonly #contexts: Int32Array[] = [];
  readonly #byKey = new Map<string, number>();
  readonly #next = new Map<number, number>();
  readonly #score = new Map<number, number>();
  readonly #stride: number;

  constructor(readonly lm: NgramLm) {
    this.#stride = lm.words.length + 1;
    this.#intern(Int32Array.of(lm.bosId));
  }

  #intern(context: Int32Array): number {
    const key = context.join(" ");
    let id = this.#byKey.get(key);
    if (id === undefined) {
      id = this.#contexts.length;
      this.#contexts.push(context);
      this.#byKey.set(key, id);
    }
    return id;
  }

  /** Natural-log P(word | state). */
  lnScore(state: number, word: number): number {
    const key = state * this.#stride + word;
    let s = this.#score.get(key);
    if (s === undefined) {
      s = this.lm.lnScore(this.#contexts[state], word);
      this.#score.set(key, s);
    }
    return s;
  }

  /** The state after `word`. */
  advance(state: number, word: number): number {
    const key = state * this.#stride + word;
    let next = this.#next.get(key);
    if (next === undefined) {
      const ctx = this.#contexts[state];
      const keep = Math.min(ctx.length, this.lm.order - 2);
      const grown = new Int32Array(keep + 1);
      grown.set(ctx.subarray(ctx.length - keep));
      grown[keep] = word;
      next = this.#intern(grown);
      this.#next.set(key, next);
    }
    return next;
  }
}

/** Word-level scoring shared by node creation and the end of the utterance. */
export class WordScorer {
  readonly states: LmStates;
  readonly index: WordPrefixIndex;
  readonly range = new Int32Array(2);
  constructor(
    lm: NgramLm,
    readonly alpha: number,
    readonly beta: number,
    readonly unkOffset: number,
    alphabet: Alphabet = TUTORIAL_ALPHABET,
  ) {
    this.states = new LmStates(lm);
    this.index = wordPrefixIndex(lm, alphabet);
  }

  /**
   * Score of completing the partial word described by (lo, hi, depth) in `state`; sets `nextState`. A word the
   * LM does not know is scored as `<unk>`, with the unknown-word offset unless `known` (a hotword's word) says
   * the user vouches for it.
   */
  complete(state: number, lo: number, hi: number, depth: number, known = false): number {
    const lm = this.states.lm;
    let word = lo >= 0 ? this.index.exactWord(lo, hi, depth) : -1;
    let score = this.beta;
    if (word < 0) {
      word = lm.unkId;
      if (!known) score += this.unkOffset;
    }
    score += this.alpha * this.states.lnScore(state, word);
    this.nextState = this.states.advance(state, word);
    return score;
  }
  nextState = 0;

  partialPenalty(lo: number, depth: number): number {
    if (lo >= 0 || depth === 0) return 0;
    return depth > AVG_WORD_LENGTH ? this.unkOffset * depth / AVG_WORD_LENGTH : this.unkOffset;
  }

  endOfSentence(state: number): number {
    return this.alpha * this.states.lnScore(state, this.states.lm.eosId);
  }
}
