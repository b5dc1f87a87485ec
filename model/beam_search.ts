/**
 * CTC prefix beam search over an alphabet's classes (data/alphabet.ts; default the tutorial's 29, blank 28,
 * space 1), with an optional word-level n-gram language model applied at word boundaries and optional hotwords.
 *
 * Each hypothesis is a label prefix with two CTC log-probabilities (paths ending in a blank, paths ending in its
 * last label). Its ranking score is
 *   ln P_ctc(prefix) + alpha * ln P_lm(completed words) + beta * (number of completed words)
 *   + unkScoreOffset for each completed word the LM does not know + partial-word penalty,
 * where the partial-word penalty (pyctcdecode's partial scoring) is `unkScoreOffset * max(1, length / 6)` while
 * the word being spelled is not a prefix of any vocabulary word, and 0 otherwise. At the end of the utterance the
 * last word is completed and alpha * ln P_lm(</s> | last words) added. ARPA log10 scores are converted to natural
 * logs. Without an LM the score is ln P_ctc alone. Hotwords (model/hotwords.ts) add their score, a function of
 * the prefix's text carried as an automaton state per prefix, and exempt their words from the unknown-word and
 * partial-word penalties.
 *
 * Prefixes live in a trie (parent pointer + last label, one row of typed arrays per node: model/beam_prefixes.ts),
 * so a prefix is an integer and two paths to the same label sequence merge by finding (parent, label) among the
 * parent's children; text is only built for the final hypotheses. Nodes are created only for the candidates that
 * survive a frame. Each frame runs four phases over a table of candidates (model/beam_candidates.ts): choose the
 * classes to try, expand every beam by them (merging candidates for the same prefix), score the candidates (the
 * word-level terms of model/beam_words.ts), and keep the best as the next beam.
 */

import { type Alphabet, TUTORIAL_ALPHABET } from "../data/alphabet.ts";
import { intsToText } from "../data/text.ts";
import type { NgramLm } from "./arpa.ts";
import { Beam, Candidates, logAdd } from "./beam_candidates.ts";
import { PrefixNodes } from "./beam_prefixes.ts";
import { WordScorer } from "./beam_words.ts";
import { type ConfidenceCalibration, spanLogConfidence } from "./confidence.ts";
import { compileHotwords, type Hotword, HotwordAutomaton } from "./hotwords.ts";
import { type WordTiming, wordTimings } from "./word_timestamps.ts";

export { WordPrefixIndex, wordPrefixIndex } from "./beam_words.ts";

export interface BeamSearchOptions {
  /** The model's classes (default the tutorial's 29). */
  alphabet?: Alphabet;
  /** Hypotheses kept after each frame (default 100). */
  beamWidth?: number;
  /** At most this many classes (the most probable) are tried per frame (default all). */
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
  /** Phrases to favour (model/hotwords.ts), or their compiled automaton (built for the same alphabet). */
  hotwords?: readonly Hotword[] | HotwordAutomaton;
  /** Raw-to-calibrated word confidence map (default the identity). */
  calibration?: ConfidenceCalibration;
}

/** One hypothesis of the final beam. */
export interface BeamHypothesis {
  text: string;
  /** Class ids of `text`. */
  labels: Int32Array;
  /** Frame at which each label was first emitted on this hypothesis' prefix. */
  frames: Int32Array;
  /** Words with their frames and confidence. */
  words: WordTiming[];
  /** Natural-log evidence of each label (model/confidence.ts spanLogConfidence). */
  characterLogConfidence: Float64Array;
  /** Final score: ctcScore + lmScore + hotwordScore. */
  score: number;
  /** ln P_ctc(labels): the sum over all alignments within the valid length. */
  ctcScore: number;
  /** alpha * ln P_lm(words, </s>) + beta * words + unknown-word penalties (0 without an LM). */
  lmScore: number;
  /** The boosts of the hotword phrases it contains (0 without hotwords). */
  hotwordScore: number;
}

/** Checked search settings. */
interface Settings {
  alphabet: Alphabet;
  beamWidth: number;
  topK: number;
  tokenMin: number;
  prune: number;
}

function checkedSettings(
  logProbs: Float32Array,
  time: number,
  validLength: number,
  options: BeamSearchOptions,
): Settings {
  const alphabet = options.alphabet ?? TUTORIAL_ALPHABET;
  const nClass = alphabet.size;
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
  if (options.nBest !== undefined && (!Number.isInteger(options.nBest) || options.nBest < 1)) {
    throw new RangeError(`ctcBeamSearch: nBest ${options.nBest}`);
  }
  return {
    alphabet,
    beamWidth,
    topK,
    tokenMin: options.tokenMinLogProb ?? -5,
    prune: options.beamPruneLogProb ?? Infinity,
  };
}

/**
 * Prefix beam search over one utterance: `logProbs` holds `time` rows of the alphabet's log-probabilities
 * (row-major); only the first `validLength` rows are used. Returns the final beam (distinct label sequences),
 * best first, or its first `nBest`.
 */
export function ctcBeamSearch(
  logProbs: Float32Array,
  time: number,
  validLength: number = time,
  options: BeamSearchOptions = {},
): BeamHypothesis[] {
  const settings = checkedSettings(logProbs, time, validLength, options);
  const alphabet = settings.alphabet;
  const scorer = options.lm
    ? new WordScorer(
      options.lm,
      options.alpha ?? 0.5,
      options.beta ?? 1.0,
      options.unkScoreOffset ?? -10,
      alphabet,
    )
    : null;
  const hot = hotwordAutomaton(options.hotwords, alphabet);
  const search = new PrefixBeamSearch(settings, scorer, hot);
  for (let t = 0; t < validLength; t++) search.frame(logProbs, t);
  return search.hypotheses(options.nBest ?? Infinity, logProbs, validLength, options.calibration);
}

function hotwordAutomaton(
  hotwords: BeamSearchOptions["hotwords"],
  alphabet: Alphabet,
): HotwordAutomaton | null {
  if (hotwords === undefined) return null;
  if (hotwords instanceof HotwordAutomaton) {
    if (hotwords.classes !== alphabet.size) {
      throw new RangeError(
        `ctcBeamSearch: the hotword automaton has ${hotwords.classes} classes, the alphabet ${alphabet.size}`,
      );
    }
    return hotwords;
  }
  return hotwords.length > 0 ? compileHotwords(hotwords, alphabet) : null;
}

/** The search state between frames: the trie, the beam, and the tables one frame reuses. */
class PrefixBeamSearch {
  readonly nodes = new PrefixNodes();
  readonly root: number;
  /** The current beam and the next one (swapped after each frame). */
  beam = new Beam();
  next = new Beam();
  readonly cand = new Candidates();
  /** Classes tried this frame, most probable first, and their log-probabilities. */
  readonly classes: Int32Array;
  readonly classLp: Float64Array;
  readonly #indexSize: number;
  readonly nClass: number;
  readonly blank: number;
  readonly space: number;

  constructor(
    readonly settings: Settings,
    readonly scorer: WordScorer | null,
    readonly hot: HotwordAutomaton | null,
  ) {
    const { size, blank, space } = settings.alphabet;
    this.nClass = size;
    this.blank = blank;
    this.space = space;
    this.classes = new Int32Array(size);
    this.classLp = new Float64Array(size);
    this.#indexSize = scorer ? scorer.index.size : 0;
    const root = this.root = this.nodes.add(-1, -1, -1);
    this.nodes.cols.vocabLo[root] = 0;
    this.nodes.cols.vocabHi[root] = this.#indexSize;
    this.nodes.cols.depth[root] = 0;
    this.nodes.cols.lmScore[root] = 0;
    this.nodes.cols.partial[root] = 0;
    this.nodes.cols.hotState[root] = hot ? hot.start : 0;
    this.nodes.cols.hotScore[root] = hot ? hot.pending[hot.start] : 0;
    const r = this.beam.addRow();
    this.beam.cols.node[r] = root;
    this.beam.cols.b[r] = 0;
    this.beam.cols.nb[r] = -Infinity;
  }

  /** Advances the beam by frame `t`. */
  frame(logProbs: Float32Array, t: number): void {
    const nSel = this.selectClasses(logProbs, t);
    const n = this.beam.length * (nSel + 1);
    this.cand.reserve(n, { preserve: false });
    this.next.reserve(Math.min(n, this.settings.beamWidth), { preserve: false });
    this.expand(t, nSel);
    const bestScore = this.score();
    const kept = this.cand.selectBest(this.settings.beamWidth, bestScore, this.settings.prune);
    this.advance(t, kept);
  }

  /**
   * Classes tried at frame t: the top-K above the cut-off, and always the best one, most probable first
   * (candidate selection then meets the best candidates early and rejects most of the rest with one comparison).
   * Returns how many.
   */
  selectClasses(logProbs: Float32Array, t: number): number {
    const { classes, classLp, nClass } = this;
    const row = t * nClass;
    let nSel = 0;
    let best = -1;
    for (let c = 0; c < nClass; c++) {
      const v = logProbs[row + c];
      if (v > -Infinity && (best < 0 || v > logProbs[row + best])) best = c;
    }
    if (best < 0) {
      throw new RangeError(`ctcBeamSearch: frame ${t} has no finite log-probability`);
    }
    const tokenMin = this.settings.tokenMin;
    for (let c = 0; c < nClass; c++) {
      const v = logProbs[row + c];
      if (c === best || (v >= tokenMin && v > -Infinity)) {
        classes[nSel] = c;
        classLp[nSel++] = v;
      }
    }
    // Insertion sort on a few dozen entries.
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
    return Math.min(nSel, this.settings.topK);
  }

  /**
   * Every beam extended by every class tried: candidates for existing nodes are merged through the nodes' frame
   * stamps; a new prefix (parent, label) is one candidate (it can only arise from its parent's beam).
   */
  expand(t: number, nSel: number): void {
    const { classes, classLp, nodes, blank } = this;
    const { node: beamNode, b: beamB, nb: beamNB } = this.beam.cols;
    const nBeams = this.beam.length;
    const { node: candNode, parent: candParent, label: candLabel, b: candB, nb: candNB } = this.cand.cols;
    const { stamp, slot, label: labelOf } = nodes.cols;
    let nCand = 0;
    for (let i = 0; i < nBeams; i++) {
      const node = beamNode[i];
      const pb = beamB[i], pnb = beamNB[i];
      const total = logAdd(pb, pnb);
      const last = labelOf[node];
      for (let s = 0; s < nSel; s++) {
        const c = classes[s];
        const lp = classLp[s];
        if (c === blank || c === last) {
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
          if (c === blank) {
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
    this.cand.length = nCand;
  }

  /** Candidate scores, including the word-level and hotword terms of the new prefixes; returns the best. */
  score(): number {
    const nCand = this.cand.length;
    const { node: candNode, b: candB, nb: candNB, score: candScore } = this.cand.cols;
    const { lmScore, partial, hotScore } = this.nodes.cols;
    const scorer = this.scorer, hot = this.hot;
    let bestScore = -Infinity;
    for (let k = 0; k < nCand; k++) {
      let extra = 0;
      const node = candNode[k];
      if (scorer || hot) {
        if (node >= 0) extra = lmScore[node] + partial[node] + hotScore[node];
        else extra = this.extend(scorer, hot, k);
      }
      const s = logAdd(candB[k], candNB[k]) + extra;
      candScore[k] = s;
      if (s > bestScore) bestScore = s;
    }
    return bestScore;
  }

  /** Word-level and hotword terms of new candidate k (parent + label); fills its columns. */
  extend(sc: WordScorer | null, hot: HotwordAutomaton | null, k: number): number {
    const cand = this.cand.cols;
    const nodes = this.nodes.cols;
    const parent = cand.parent[k], c = cand.label[k];
    const depth = nodes.depth[parent];
    const parentHot = nodes.hotState[parent];
    let hotScore = 0;
    if (hot) {
      hotScore = hot.step(parentHot, nodes.hotScore[parent], c);
      cand.hotState[k] = hot.state;
    }
    cand.hot[k] = hotScore;
    if (!sc) {
      cand.depth[k] = c === this.space ? 0 : depth + 1;
      cand.lm[k] = 0;
      cand.partial[k] = 0;
      return hotScore;
    }
    let lo = nodes.vocabLo[parent], hi = nodes.vocabHi[parent];
    let lmScore = nodes.lmScore[parent];
    let state = nodes.lmState[parent];
    if (c === this.space) {
      if (depth > 0) {
        const known = hot !== null && hot.inPhraseWord(parentHot, depth) && hot.wordEnd[parentHot] === 1;
        lmScore += sc.complete(state, lo, hi, depth, known);
        state = sc.nextState;
      }
      cand.lo[k] = 0;
      cand.hi[k] = this.#indexSize;
      cand.depth[k] = 0;
      cand.partial[k] = 0;
    } else {
      if (lo >= 0) {
        sc.index.narrow(lo, hi, depth, c, sc.range);
        lo = sc.range[0];
        hi = sc.range[1];
        if (lo >= hi) lo = hi = -1;
      }
      cand.lo[k] = lo;
      cand.hi[k] = hi;
      cand.depth[k] = depth + 1;
      const inHotword = hot !== null && hot.inPhraseWord(cand.hotState[k], depth + 1);
      cand.partial[k] = inHotword ? 0 : sc.partialPenalty(lo, depth + 1);
    }
    cand.lmState[k] = state;
    cand.lm[k] = lmScore;
    return lmScore + cand.partial[k] + hotScore;
  }

  /** The `n` kept candidates (best first) become the beam; new prefixes become trie nodes. */
  advance(t: number, n: number): void {
    const { node: candNode, b: candB, nb: candNB, keep } = this.cand.cols;
    const next = this.next.cols;
    for (let i = 0; i < n; i++) {
      const k = keep[i];
      let node = candNode[k];
      if (node < 0) node = this.commit(k, t);
      next.node[i] = node;
      next.b[i] = candB[k];
      next.nb[i] = candNB[k];
    }
    this.next.length = n;
    const done = this.beam;
    this.beam = this.next;
    this.next = done;
  }

  /** Adds new candidate k to the trie. */
  commit(k: number, t: number): number {
    const cand = this.cand.cols;
    const node = this.nodes.add(cand.parent[k], cand.label[k], t);
    const nodes = this.nodes.cols;
    if (this.scorer) {
      nodes.lmState[node] = cand.lmState[k];
      nodes.vocabLo[node] = cand.lo[k];
      nodes.vocabHi[node] = cand.hi[k];
    }
    if (this.scorer || this.hot) {
      nodes.depth[node] = cand.depth[k];
      nodes.lmScore[node] = cand.lm[k];
      nodes.partial[node] = cand.partial[k];
      nodes.hotState[node] = cand.hotState[k];
      nodes.hotScore[node] = cand.hot[k];
    }
    return node;
  }

  /**
   * The best `n` of the beam as hypotheses, best first: the last word completed, </s> added, hotword credit of
   * an unfinished match dropped; confidence from the frames of `logProbs` (the search's input).
   */
  hypotheses(
    n: number,
    logProbs: Float32Array,
    validLength: number,
    calibration: ConfidenceCalibration | undefined,
  ): BeamHypothesis[] {
    const beam = this.beam.cols;
    const nodes = this.nodes.cols;
    const finals: { i: number; ctc: number; lm: number; hot: number; score: number }[] = [];
    for (let i = 0; i < this.beam.length; i++) {
      const node = beam.node[i];
      const ctc = logAdd(beam.b[i], beam.nb[i]);
      const lm = this.scorer ? this.finalWordScore(this.scorer, node) : 0;
      const hot = this.hot
        ? this.hot.finish(nodes.hotState[node], nodes.hotScore[node], nodes.label[node])
        : 0;
      finals.push({ i, ctc, lm, hot, score: ctc + lm + hot });
    }
    // Stable: equal scores keep the beam's order.
    finals.sort((a, b) => (b.score - a.score) || (a.i - b.i));
    return finals.slice(0, n).map((f) =>
      this.hypothesis(beam.node[f.i], f, logProbs, validLength, calibration)
    );
  }

  /** The word-level score of a prefix at the end of the utterance. */
  finalWordScore(scorer: WordScorer, node: number): number {
    const nodes = this.nodes.cols;
    let lmScore = nodes.lmScore[node];
    let state = nodes.lmState[node];
    const depth = nodes.depth[node];
    if (depth > 0) {
      const hot = this.hot, hs = nodes.hotState[node];
      const known = hot !== null && hot.inPhraseWord(hs, depth) && hot.wordEnd[hs] === 1;
      lmScore += scorer.complete(state, nodes.vocabLo[node], nodes.vocabHi[node], depth, known);
      state = scorer.nextState;
    }
    return lmScore + scorer.endOfSentence(state);
  }

  /** A prefix's labels, frames, text, words and confidence. */
  hypothesis(
    node: number,
    f: { ctc: number; lm: number; hot: number; score: number },
    logProbs: Float32Array,
    validLength: number,
    calibration: ConfidenceCalibration | undefined,
  ): BeamHypothesis {
    const nodes = this.nodes.cols;
    const labels: number[] = [];
    const frames: number[] = [];
    for (let p = node; p !== this.root; p = nodes.parent[p]) {
      labels.push(nodes.label[p]);
      frames.push(nodes.frame[p]);
    }
    labels.reverse();
    frames.reverse();
    const l = Int32Array.from(labels);
    const fr = Int32Array.from(frames);
    const alphabet = this.settings.alphabet;
    const text = intsToText(l, alphabet);
    const evidence = spanLogConfidence(logProbs, l, fr, validLength, this.nClass);
    return {
      text,
      labels: l,
      frames: fr,
      words: wordTimings(l, fr, fr, { alphabet, characterLogConfidence: evidence, calibration }),
      characterLogConfidence: evidence,
      score: f.score,
      ctcScore: f.ctc,
      lmScore: f.lm,
      hotwordScore: f.hot,
    };
  }
}
