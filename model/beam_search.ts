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
 * Prefixes live in a trie (parent pointer + last label, one row of typed arrays per node: model/beam_prefixes.ts),
 * so a prefix is an integer and two paths to the same label sequence merge by finding (parent, label) among the
 * parent's children; text is only built for the final hypotheses. Nodes are created only for the candidates that
 * survive a frame. Each frame runs four phases over a table of candidates (model/beam_candidates.ts): choose the
 * classes to try, expand every beam by them (merging candidates for the same prefix), score the candidates (the
 * word-level terms of model/beam_words.ts), and keep the best as the next beam.
 */

import { BLANK, CHARACTERS, N_CLASS } from "../data/text.ts";
import type { NgramLm } from "./arpa.ts";
import { Beam, Candidates, logAdd } from "./beam_candidates.ts";
import { PrefixNodes } from "./beam_prefixes.ts";
import { WordScorer } from "./beam_words.ts";
import { type WordTiming, wordTimings } from "./word_timestamps.ts";

export { WordPrefixIndex, wordPrefixIndex } from "./beam_words.ts";

const SPACE = 1;

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

/** Checked search settings. */
interface Settings {
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
  if (logProbs.length < time * N_CLASS) {
    throw new RangeError(
      `ctcBeamSearch: ${logProbs.length} values cannot hold ${time} frames x ${N_CLASS} classes`,
    );
  }
  if (!Number.isInteger(validLength) || validLength < 0 || validLength > time) {
    throw new RangeError(`ctcBeamSearch: valid length ${validLength} is outside 0..${time}`);
  }
  const beamWidth = options.beamWidth ?? 100;
  if (!Number.isInteger(beamWidth) || beamWidth < 1) {
    throw new RangeError(`ctcBeamSearch: beamWidth ${beamWidth}`);
  }
  const topK = Math.min(options.topK ?? N_CLASS, N_CLASS);
  if (!Number.isInteger(topK) || topK < 1) throw new RangeError(`ctcBeamSearch: topK ${options.topK}`);
  return {
    beamWidth,
    topK,
    tokenMin: options.tokenMinLogProb ?? -5,
    prune: options.beamPruneLogProb ?? Infinity,
  };
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
  const settings = checkedSettings(logProbs, time, validLength, options);
  const scorer = options.lm
    ? new WordScorer(options.lm, options.alpha ?? 0.5, options.beta ?? 1.0, options.unkScoreOffset ?? -10)
    : null;
  const search = new PrefixBeamSearch(settings, scorer);
  for (let t = 0; t < validLength; t++) search.frame(logProbs, t);
  const hyps = search.hypotheses();
  return options.nBest === undefined ? hyps : hyps.slice(0, options.nBest);
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
  readonly classes = new Int32Array(N_CLASS);
  readonly classLp = new Float64Array(N_CLASS);
  readonly #indexSize: number;

  constructor(readonly settings: Settings, readonly scorer: WordScorer | null) {
    this.#indexSize = scorer ? scorer.index.size : 0;
    const root = this.root = this.nodes.add(-1, -1, -1);
    this.nodes.cols.vocabLo[root] = 0;
    this.nodes.cols.vocabHi[root] = this.#indexSize;
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
    const { classes, classLp } = this;
    const row = t * N_CLASS;
    let nSel = 0;
    let best = -1;
    for (let c = 0; c < N_CLASS; c++) {
      const v = logProbs[row + c];
      if (v > -Infinity && (best < 0 || v > logProbs[row + best])) best = c;
    }
    if (best < 0) {
      throw new RangeError(`ctcBeamSearch: frame ${t} has no finite log-probability`);
    }
    const tokenMin = this.settings.tokenMin;
    for (let c = 0; c < N_CLASS; c++) {
      const v = logProbs[row + c];
      if (c === best || (v >= tokenMin && v > -Infinity)) {
        classes[nSel] = c;
        classLp[nSel++] = v;
      }
    }
    // Insertion sort on at most 29 entries.
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
    const { classes, classLp, nodes } = this;
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
    this.cand.length = nCand;
  }

  /** Candidate scores, including the word-level terms of the new prefixes; returns the best. */
  score(): number {
    const nCand = this.cand.length;
    const { node: candNode, b: candB, nb: candNB, score: candScore } = this.cand.cols;
    const { lmScore, partial } = this.nodes.cols;
    const scorer = this.scorer;
    let bestScore = -Infinity;
    for (let k = 0; k < nCand; k++) {
      let extra = 0;
      const node = candNode[k];
      if (scorer) {
        if (node >= 0) extra = lmScore[node] + partial[node];
        else extra = this.extendWords(scorer, k);
      }
      const s = logAdd(candB[k], candNB[k]) + extra;
      candScore[k] = s;
      if (s > bestScore) bestScore = s;
    }
    return bestScore;
  }

  /** Word-level terms of new candidate k (parent + label); fills its word-level columns. */
  extendWords(sc: WordScorer, k: number): number {
    const cand = this.cand.cols;
    const nodes = this.nodes.cols;
    const parent = cand.parent[k], c = cand.label[k];
    let lo = nodes.vocabLo[parent], hi = nodes.vocabHi[parent];
    const depth = nodes.depth[parent];
    let lmScore = nodes.lmScore[parent];
    let state = nodes.lmState[parent];
    if (c === SPACE) {
      if (depth > 0) {
        lmScore += sc.complete(state, lo, hi, depth);
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
      cand.partial[k] = sc.partialPenalty(lo, depth + 1);
    }
    cand.lmState[k] = state;
    cand.lm[k] = lmScore;
    return lmScore + cand.partial[k];
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
    if (this.scorer) {
      const nodes = this.nodes.cols;
      nodes.lmState[node] = cand.lmState[k];
      nodes.vocabLo[node] = cand.lo[k];
      nodes.vocabHi[node] = cand.hi[k];
      nodes.depth[node] = cand.depth[k];
      nodes.lmScore[node] = cand.lm[k];
      nodes.partial[node] = cand.partial[k];
    }
    return node;
  }

  /** The beam as hypotheses, best first: the last word completed and </s> added. */
  hypotheses(): BeamHypothesis[] {
    const hyps: BeamHypothesis[] = [];
    const beam = this.beam.cols;
    for (let i = 0; i < this.beam.length; i++) {
      const node = beam.node[i];
      const ctcScore = logAdd(beam.b[i], beam.nb[i]);
      const lmScore = this.scorer ? this.finalWordScore(this.scorer, node) : 0;
      hyps.push(this.hypothesis(node, ctcScore, lmScore));
    }
    hyps.sort((a, b) => b.score - a.score);
    return hyps;
  }

  /** The word-level score of a prefix at the end of the utterance. */
  finalWordScore(scorer: WordScorer, node: number): number {
    const nodes = this.nodes.cols;
    let lmScore = nodes.lmScore[node];
    let state = nodes.lmState[node];
    const depth = nodes.depth[node];
    if (depth > 0) {
      lmScore += scorer.complete(state, nodes.vocabLo[node], nodes.vocabHi[node], depth);
      state = scorer.nextState;
    }
    return lmScore + scorer.endOfSentence(state);
  }

  /** A prefix's labels, frames, text and words. */
  hypothesis(node: number, ctcScore: number, lmScore: number): BeamHypothesis {
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
    const f = Int32Array.from(frames);
    let text = "";
    for (const c of labels) text += CHARACTERS[c];
    return {
      text,
      labels: l,
      frames: f,
      words: wordTimings(l, f),
      score: ctcScore + lmScore,
      ctcScore,
      lmScore,
    };
  }
}
