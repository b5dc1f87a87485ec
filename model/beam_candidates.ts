/**
 * The per-frame tables of the CTC prefix beam search (model/beam_search.ts): the beam (hypotheses kept after a
 * frame) and a frame's candidates, as typed-array columns, and the selection of the best candidates.
 */

import { Columns } from "./columns.ts";

/** ln(e^a + e^b), exact for -Infinity. */
export function logAdd(a: number, b: number): number {
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

const BEAM_COLUMNS = {
  /** Prefix node. */
  node: "i32",
  /** ln P of the paths ending in a blank / in the prefix's last label. */
  b: "f64",
  nb: "f64",
} as const;

/** A beam: one row per hypothesis, best first. Grown on demand: a huge beamWidth costs only what is used. */
export class Beam extends Columns<typeof BEAM_COLUMNS> {
  constructor(capacity = 1) {
    super(BEAM_COLUMNS, capacity);
  }
}

const CANDIDATE_COLUMNS = {
  /** An existing prefix node, or -1 for a new prefix (parent, label) not yet in the trie. */
  node: "i32",
  parent: "i32",
  label: "i32",
  /** Word-level state of a new prefix (see PrefixNodes), computed while scoring. */
  lmState: "i32",
  lo: "i32",
  hi: "i32",
  depth: "i32",
  lm: "f64",
  partial: "f64",
  hotState: "i32",
  hot: "f64",
  /** CTC log-probabilities (as in Beam) and the ranking score. */
  b: "f64",
  nb: "f64",
  score: "f64",
  /** Candidates kept, and the heap of the k-th largest score. */
  keep: "i32",
  scratch: "f64",
} as const;

/** One frame's candidates (at most every beam times every class tried, plus one). */
export class Candidates extends Columns<typeof CANDIDATE_COLUMNS> {
  constructor() {
    super(CANDIDATE_COLUMNS, 0);
  }

  /**
   * Marks the best `beamWidth` candidates (ties broken by candidate order) within `prune` of `bestScore`,
   * skipping -Infinity, and orders them best first in `keep`; returns how many.
   */
  selectBest(beamWidth: number, bestScore: number, prune: number): number {
    const nCand = this.length;
    const { score, keep } = this.cols;
    let threshold = -Infinity;
    if (nCand > beamWidth) threshold = kthLargest(score, nCand, beamWidth, this.cols.scratch);
    const floor = Math.max(threshold, bestScore - prune);
    let above = 0;
    for (let k = 0; k < nCand; k++) if (score[k] > floor) above++;
    let tiesAllowed = beamWidth - above;
    let n = 0;
    for (let k = 0; k < nCand; k++) {
      const s = score[k];
      if (s === -Infinity) continue;
      if (s < floor) continue;
      if (s === floor) {
        if (tiesAllowed <= 0) continue;
        tiesAllowed--;
      }
      keep[n++] = k;
    }
    // Best first: the next frame's candidate loop then meets the best candidates early.
    keep.subarray(0, n).sort((a, b) => (score[b] - score[a]) || (a - b));
    return n;
  }
}

/**
 * The k-th largest of values[0..n) (1-based k, k <= n), with a min-heap of the k largest in `heap`: once the heap
 * is full most candidates are rejected by one comparison with its root.
 */
export function kthLargest(values: Float64Array, n: number, k: number, heap: Float64Array): number {
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
