/**
 * CTC prefix beam search over the 29 classes of data/text.ts (blank 28, space 1), with an optional word-level
 * n-gram language model applied at word boundaries.
 *
 * Each hypothesis is a label prefix with two CTC log-probabilities (paths ending in a blank, paths ending in its
 * last label). Its ranking score is
 *   ln P_ctc(prefix) + alpha * ln P_lm(completed words) + beta * (number of completed words)
 *   + unkScoreOffset for each completed word the LM does not know + partial-word penalty,
 * where the partial-word penalty (pyctcdecode's partial scoring) is `unkScoreOffset * max(1, length / 6)` while
 * the word being spelled is not a prefix of any vocabulary word, and 0 otherwise. At the end of the utterance the
 * last word is completed and alpha * ln P_lm(</s> | last words) added. ARPA log10 scores are converted to natural
 * logs. Without an LM the score is ln P_ctc alone.
 *
 * Prefixes live in a trie (parent pointer + last label, one row of typed arrays per node), so a prefix is an
 * integer and two paths to the same label sequence merge by looking up (parent, label) in a hash table; text is
 * only built for the final hypotheses. Nodes are created only for the candidates that survive a frame.
 */

import { BLANK, CHARACTERS, N_CLASS } from "../data/text.ts";
import type { NgramLm } from "./arpa.ts";
import { type WordTiming, wordTimings } from "./word_timestamps.ts";

const SPACE = 1;
/** pyctcdecode's average word length, beyond which the partial-word penalty grows with the length. */
const AVG_WORD_LENGTH = 6;

export interface BeamSearchOptions {
  /** Hypotheses kept after each frame (default 100). */
  beamWidth?: number;
  /** At most this many classes (the most probable) are tried per frame (default all 29). */
  topK?: number;
  /** Classes whose log-probability is below this are not tried, except the frame's best (default -5, as pyctcdecode). */
  tokenMinLogProb?: number;
  /** Hypotheses scoring more than this below the frame's best are dropped (default Infinity: off). */
  beamPruneLogProb?: number;
  /** Word n-gram model; without it the search is pure CTC. */
  lm?: NgramLm;
  /** LM weight (default 0.5, as pyctcdecode). */
  alpha?: number;
  /** Word insertion bonus in nats (default 1.0). */
  beta?: number;
  /** Penalty (nats) for an unknown word and for a partial word that starts no known word (default -10). */
  unkScoreOffset?: number;
  /** How many hypotheses to return, best first (default: every surviving beam). */
  nBest?: number;
}

/** One hypothesis of the final beam. */
export interface BeamHypothesis {
  text: string;
  /** Class ids of `text`. */
  labels: Int32Array;
  /** Frame at which each label was first emitted on this hypothesis' prefix. */
  frames: Int32Array;
  words: WordTiming[];
  /** Final score: ctcScore + lmScore. */
  score: number;
  /** ln P_ctc(labels): the sum over all alignments within the valid length. */
  ctcScore: number;
  /** alpha * ln P_lm(words, </s>) + beta * words + unknown-word penalties (0 without an LM). */
  lmScore: number;
}

function logAdd(a: number, b: number): number {
  if (a < b) {
    const t = a;
    a = b;
    b = t;
  }
  const d = b - a;
  // exp(-40) is below half an ulp of 1, so the sum is a (this also covers b = -Infinity).
  if (d < -40 || d !== d) return a;
  return a + Math.log1p(Math.exp(d));
}

/**
 * The vocabulary's spellings as class-id strings, sorted, so that the words starting with a prefix form one
 * range [lo, hi) and appending a character narrows it by two binary searches.
 */
export class WordPrefixIndex {
  readonly #chars: Uint8Array;
  readonly #start: Int32Array;
  /** LM word id of each sorted spelling. */
  readonly wordIds: Int32Array;
  get size(): number {
    return this.wordIds.length;
  }

  /** Indexes `lm`'s words that are spelled only with the characters of our classes (a-z, apostrophe). */
  constructor(lm: NgramLm) {
    const spellings: { codes: number[]; id: number }[] = [];
    for (let id = 0; id < lm.words.length; id++) {
      const codes = spell(lm.words[id]);
      if (codes) spellings.push({ codes, id });
    }
    spellings.sort((a, b) => compareCodes(a.codes, b.codes));
    let total = 0;
    for (const s of spellings) total += s.codes.length;
    this.#chars = new Uint8Array(total);
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

function spell(word: string): number[] | null {
  if (word.length === 0) return null;
  const codes: number[] = [];
  for (const ch of word) {
    const c = ch === "'" ? 0 : ch >= "a" && ch <= "z" ? ch.charCodeAt(0) - 95 : -1;
    if (c < 0) return null;
    codes.push(c);
  }
  return codes;
}

function compareCodes(a: number[], b: number[]): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return a.length - b.length;
}

const prefixIndexCache = new WeakMap<NgramLm, WordPrefixIndex>();

/** The (cached) prefix index of an LM's vocabulary. */
export function wordPrefixIndex(lm: NgramLm): WordPrefixIndex {
  let index = prefixIndexCache.get(lm);
  if (!index) {
    index = new WordPrefixIndex(lm);
    prefixIndexCache.set(lm, index);
  }
  return index;
}

/** LM contexts (the last order-1 words) as small integers, with cached transitions and scores. */
class LmStates {
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

/** Prefix trie nodes as columns of typed arrays. */
class PrefixNodes {
  count = 0;
  parent = new Int32Array(1024);
  label = new Int32Array(1024);
  frame = new Int32Array(1024);
  /** LM state after the completed words. */
  lmState = new Int32Array(1024);
  /** Range of vocabulary spellings that start with the partial word; lo = -1 once it starts none. */
  vocabLo = new Int32Array(1024);
  vocabHi = new Int32Array(1024);
  /** Length of the partial word (characters since the last space). */
  depth = new Int32Array(1024);
  /** Score of the completed words (alpha, beta and unknown-word terms). */
  lmScore = new Float64Array(1024);
  /** Partial-word penalty. */
  partial = new Float64Array(1024);
  /** Frame stamp and candidate slot, to merge candidates for the same node within a frame. */
  stamp = new Int32Array(1024);
  slot = new Int32Array(1024);
  /** Children as linked lists: a node has at most 28, and the few that survive are found in a short walk. */
  firstChild = new Int32Array(1024);
  nextSibling = new Int32Array(1024);

  #grow(): void {
    const n = this.parent.length * 2;
    const g = <T extends Int32Array | Float64Array>(a: T): T => {
      const b = new (a.constructor as { new (n: number): T })(n);
      b.set(a);
      return b;
    };
    this.parent = g(this.parent);
    this.label = g(this.label);
    this.frame = g(this.frame);
    this.lmState = g(this.lmState);
    this.vocabLo = g(this.vocabLo);
    this.vocabHi = g(this.vocabHi);
    this.depth = g(this.depth);
    this.lmScore = g(this.lmScore);
    this.partial = g(this.partial);
    this.stamp = g(this.stamp);
    this.slot = g(this.slot);
    this.firstChild = g(this.firstChild);
    this.nextSibling = g(this.nextSibling);
  }

  add(parent: number, label: number, frame: number): number {
    if (this.count === this.parent.length) this.#grow();
    const id = this.count++;
    this.parent[id] = parent;
    this.label[id] = label;
    this.frame[id] = frame;
    this.stamp[id] = -1;
    this.firstChild[id] = -1;
    if (parent >= 0) {
      this.nextSibling[id] = this.firstChild[parent];
      this.firstChild[parent] = id;
    } else {
      this.nextSibling[id] = -1;
    }
    return id;
  }

  child(parent: number, label: number): number {
    const lab = this.label, next = this.nextSibling;
    let c = this.firstChild[parent];
    while (c >= 0 && lab[c] !== label) c = next[c];
    return c;
  }
}

/** Word-level scoring shared by node creation and the end of the utterance. */
class WordScorer {
  readonly states: LmStates;
  readonly index: WordPrefixIndex;
  readonly range = new Int32Array(2);
  constructor(lm: NgramLm, readonly alpha: number, readonly beta: number, readonly unkOffset: number) {
    this.states = new LmStates(lm);
    this.index = wordPrefixIndex(lm);
  }

  /** Score of completing the partial word described by (lo, hi, depth) in `state`; sets `nextState`. */
  complete(state: number, lo: number, hi: number, depth: number): number {
    const lm = this.states.lm;
    let word = lo >= 0 ? this.index.exactWord(lo, hi, depth) : -1;
    let score = this.beta;
    if (word < 0) {
      word = lm.unkId;
      score += this.unkOffset;
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

/**
 * Prefix beam search over one utterance: `logProbs` holds `time` rows of 29 log-probabilities (row-major); only
 * the first `validLength` rows are used. Returns the final beam, best first.
 */
export function ctcBeamSearch(
  logProbs: Float32Array,
  time: number,
  validLength: number = time,
  options: BeamSearchOptions = {},
): BeamHypothesis[] {
  const nClass = N_CLASS;
  if (logProbs.length < time * nClass) {
    throw new RangeError(
      `ctcBeamSearch: ${logProbs.length} values cannot hold ${time} frames x ${nClass} classes`,
    );
  }
  if (!Number.isInteger(validLength) || validLength < 0 || validLength > time) {
    throw new RangeError(`ctcBeamSearch: valid length ${validLength} is outside 0..${time}`);
  }
  const beamWidth = options.beamWidth ?? 100;
  if (!Number.isInteger(beamWidth) || beamWidth < 1) {
    throw new RangeError(`ctcBeamSearch: beamWidth ${beamWidth}`);
  }
  const topK = Math.min(options.topK ?? nClass, nClass);
  if (!Number.isInteger(topK) || topK < 1) throw new RangeError(`ctcBeamSearch: topK ${options.topK}`);
  const tokenMin = options.tokenMinLogProb ?? -5;
  const prune = options.beamPruneLogProb ?? Infinity;
  const scorer = options.lm
    ? new WordScorer(options.lm, options.alpha ?? 0.5, options.beta ?? 1.0, options.unkScoreOffset ?? -10)
    : null;
  const indexSize = scorer ? scorer.index.size : 0;

  const nodes = new PrefixNodes();
  const root = nodes.add(-1, -1, -1);
  nodes.vocabLo[root] = 0;
  nodes.vocabHi[root] = indexSize;

  // Current beam and the next one (grown on demand: a huge beamWidth costs only what is used).
  let beamNode = new Int32Array(1);
  let beamB = new Float64Array(1);
  let beamNB = new Float64Array(1);
  let nextNode = new Int32Array(1);
  let nextB = new Float64Array(1);
  let nextNB = new Float64Array(1);
  let nBeams = 1;
  beamNode[0] = root;
  beamB[0] = 0;
  beamNB[0] = -Infinity;

  // Candidates of one frame: existing nodes (candNode >= 0) or new prefixes (parent, label) not yet in the trie.
  let capacity = 0;
  let candNode = new Int32Array(0);
  let candParent = candNode, candLabel = candNode, candLmState = candNode;
  let candLo = candNode, candHi = candNode, candDepth = candNode;
  let keep = new Int32Array(0);
  let candB = new Float64Array(0);
  let candNB = candB, candScore = candB, candLm = candB, candPartial = candB, scratch = candB;
  const ensureCandidates = (n: number) => {
    const kept = Math.min(n, beamWidth);
    if (nextNode.length < kept) {
      nextNode = new Int32Array(kept);
      nextB = new Float64Array(kept);
      nextNB = new Float64Array(kept);
    }
    if (n <= capacity) return;
    capacity = Math.max(n, capacity * 2);
    candNode = new Int32Array(capacity);
    keep = new Int32Array(capacity);
    candParent = new Int32Array(capacity);
    candLabel = new Int32Array(capacity);
    candLmState = new Int32Array(capacity);
    candLo = new Int32Array(capacity);
    candHi = new Int32Array(capacity);
    candDepth = new Int32Array(capacity);
    candB = new Float64Array(capacity);
    candNB = new Float64Array(capacity);
    candScore = new Float64Array(capacity);
    candLm = new Float64Array(capacity);
    candPartial = new Float64Array(capacity);
    scratch = new Float64Array(capacity);
  };
  const classes = new Int32Array(nClass);
  const classLp = new Float64Array(nClass);

  for (let t = 0; t < validLength; t++) {
    const row = t * nClass;
    // Classes tried this frame: the top-K above the cut-off, and always the best one.
    let nSel = 0;
    let best = -1;
    for (let c = 0; c < nClass; c++) {
      const v = logProbs[row + c];
      if (v > -Infinity && (best < 0 || v > logProbs[row + best])) best = c;
    }
    if (best < 0) {
      throw new RangeError(`ctcBeamSearch: frame ${t} has no finite log-probability`);
    }
    for (let c = 0; c < nClass; c++) {
      const v = logProbs[row + c];
      if (c === best || (v >= tokenMin && v > -Infinity)) {
        classes[nSel] = c;
        classLp[nSel++] = v;
      }
    }
    // Most probable first (insertion sort on at most 29 entries): the beam selection below then meets the best
    // candidates early and rejects most of the rest with one comparison.
    {
      for (let i = 1; i < nSel; i++) {
        const c = classes[i], v = classLp[i];
        let j = i - 1;
        while (j >= 0 && classLp[j] < v) {
          classes[j + 1] = classes[j];
          classLp[j + 1] = classLp[j];
          j--;
        }
        classes[j + 1] = c;
        classLp[j + 1] = v;
      }
      if (nSel > topK) nSel = topK;
    }

    ensureCandidates(nBeams * (nSel + 1));
    let nCand = 0;
    const stamp = nodes.stamp, slot = nodes.slot, labelOf = nodes.label;
    for (let i = 0; i < nBeams; i++) {
      const node = beamNode[i];
      const pb = beamB[i], pnb = beamNB[i];
      const total = logAdd(pb, pnb);
      const last = labelOf[node];
      for (let s = 0; s < nSel; s++) {
        const c = classes[s];
        const lp = classLp[s];
        if (c === BLANK || c === last) {
          // Stays on this prefix: a blank, or the last label repeated without a blank between.
          let k: number;
          if (stamp[node] === t) k = slot[node];
          else {
            stamp[node] = t;
            slot[node] = k = nCand++;
            candNode[k] = node;
            candB[k] = -Infinity;
            candNB[k] = -Infinity;
          }
          if (c === BLANK) {
            candB[k] = logAdd(candB[k], total + lp);
            continue;
          }
          candNB[k] = logAdd(candNB[k], pnb + lp);
          if (pb === -Infinity) continue;
        }
        // Extends the prefix by c (a repeat only from paths ending in a blank).
        const into = (c === last ? pb : total) + lp;
        const child = nodes.child(node, c);
        if (child >= 0) {
          let k: number;
          if (stamp[child] === t) k = slot[child];
          else {
            stamp[child] = t;
            slot[child] = k = nCand++;
            candNode[k] = child;
            candB[k] = -Infinity;
            candNB[k] = -Infinity;
          }
          candNB[k] = logAdd(candNB[k], into);
        } else {
          candNode[nCand] = -1;
          candParent[nCand] = node;
          candLabel[nCand] = c;
          candB[nCand] = -Infinity;
          candNB[nCand] = into;
          nCand++;
        }
      }
    }

    // Scores, including the word-level terms of the new prefixes.
    let bestScore = -Infinity;
    for (let k = 0; k < nCand; k++) {
      let extra = 0;
      const node = candNode[k];
      if (scorer) {
        if (node >= 0) extra = nodes.lmScore[node] + nodes.partial[node];
        else extra = extendWords(k);
      }
      const s = logAdd(candB[k], candNB[k]) + extra;
      candScore[k] = s;
      if (s > bestScore) bestScore = s;
    }

    // Keep the best beamWidth (ties broken by candidate order) within the prune margin.
    let threshold = -Infinity;
    if (nCand > beamWidth) {
      threshold = kthLargest(candScore, nCand, beamWidth, scratch);
    }
    const floor = Math.max(threshold, bestScore - prune);
    let above = 0;
    for (let k = 0; k < nCand; k++) if (candScore[k] > floor) above++;
    let tiesAllowed = beamWidth - above;
    let n = 0;
    for (let k = 0; k < nCand; k++) {
      const s = candScore[k];
      if (s === -Infinity) continue;
      if (s < floor) continue;
      if (s === floor) {
        if (tiesAllowed <= 0) continue;
        tiesAllowed--;
      }
      keep[n++] = k;
    }
    // The next beam best first (see the class order above).
    keep.subarray(0, n).sort((a, b) => (candScore[b] - candScore[a]) || (a - b));
    for (let i = 0; i < n; i++) {
      const k = keep[i];
      let node = candNode[k];
      if (node < 0) node = commit(k, t);
      nextNode[i] = node;
      nextB[i] = candB[k];
      nextNB[i] = candNB[k];
    }
    const tn = beamNode, tb = beamB, tnb = beamNB;
    beamNode = nextNode;
    beamB = nextB;
    beamNB = nextNB;
    nextNode = tn;
    nextB = tb;
    nextNB = tnb;
    nBeams = n;
  }

  /** Word-level terms of new candidate k (parent + label); fills its cand* columns. */
  function extendWords(k: number): number {
    const sc = scorer!;
    const parent = candParent[k], c = candLabel[k];
    let lo = nodes.vocabLo[parent], hi = nodes.vocabHi[parent];
    const depth = nodes.depth[parent];
    let lmScore = nodes.lmScore[parent];
    let state = nodes.lmState[parent];
    if (c === SPACE) {
      if (depth > 0) {
        lmScore += sc.complete(state, lo, hi, depth);
        state = sc.nextState;
      }
      candLo[k] = 0;
      candHi[k] = indexSize;
      candDepth[k] = 0;
      candPartial[k] = 0;
    } else {
      if (lo >= 0) {
        sc.index.narrow(lo, hi, depth, c, sc.range);
        lo = sc.range[0];
        hi = sc.range[1];
        if (lo >= hi) lo = hi = -1;
      }
      candLo[k] = lo;
      candHi[k] = hi;
      candDepth[k] = depth + 1;
      candPartial[k] = sc.partialPenalty(lo, depth + 1);
    }
    candLmState[k] = state;
    candLm[k] = lmScore;
    return lmScore + candPartial[k];
  }

  function commit(k: number, t: number): number {
    const node = nodes.add(candParent[k], candLabel[k], t);
    if (scorer) {
      nodes.lmState[node] = candLmState[k];
      nodes.vocabLo[node] = candLo[k];
      nodes.vocabHi[node] = candHi[k];
      nodes.depth[node] = candDepth[k];
      nodes.lmScore[node] = candLm[k];
      nodes.partial[node] = candPartial[k];
    }
    return node;
  }

  // Final scores: complete the last word and add </s>.
  const hyps: BeamHypothesis[] = [];
  for (let i = 0; i < nBeams; i++) {
    const node = beamNode[i];
    const ctcScore = logAdd(beamB[i], beamNB[i]);
    let lmScore = 0;
    if (scorer) {
      lmScore = nodes.lmScore[node];
      let state = nodes.lmState[node];
      const depth = nodes.depth[node];
      if (depth > 0) {
        lmScore += scorer.complete(state, nodes.vocabLo[node], nodes.vocabHi[node], depth);
        state = scorer.nextState;
      }
      lmScore += scorer.endOfSentence(state);
    }
    const labels: number[] = [];
    const frames: number[] = [];
    for (let p = node; p !== root; p = nodes.parent[p]) {
      labels.push(nodes.label[p]);
      frames.push(nodes.frame[p]);
    }
    labels.reverse();
    frames.reverse();
    const l = Int32Array.from(labels);
    const f = Int32Array.from(frames);
    let text = "";
    for (const c of labels) text += CHARACTERS[c];
    hyps.push({
      text,
      labels: l,
      frames: f,
      words: wordTimings(l, f),
      score: ctcScore + lmScore,
      ctcScore,
      lmScore,
    });
  }
  hyps.sort((a, b) => b.score - a.score);
  return options.nBest === undefined ? hyps : hyps.slice(0, options.nBest);
}

/**
 * The k-th largest of values[0..n) (1-based k, k <= n), with a min-heap of the k largest in `heap`: once the heap
 * is full most candidates are rejected by one comparison with its root.
 */
function kthLargest(values: Float64Array, n: number, k: number, heap: Float64Array): number {
  let size = 0;
  for (let i = 0; i < n; i++) {
    const v = values[i];
    if (size < k) {
      let j = size++;
      while (j > 0) {
        const p = (j - 1) >> 1;
        if (heap[p] <= v) break;
        heap[j] = heap[p];
        j = p;
      }
      heap[j] = v;
    } else if (v > heap[0]) {
      let j = 0;
      for (;;) {
        const l = 2 * j + 1;
        if (l >= k) break;
        const r = l + 1;
        const m = r < k && heap[r] < heap[l] ? r : l;
        if (heap[m] >= v) break;
        heap[j] = heap[m];
        j = m;
      }
      heap[j] = v;
    }
  }
  return heap[0];
}
