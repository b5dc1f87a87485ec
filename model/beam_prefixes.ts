/**
 * The prefix trie of the CTC prefix beam search (model/beam_search.ts): a prefix is a node id (parent pointer +
 * last label), so two paths to the same label sequence merge by finding (parent, label) among the parent's
 * children, and text is only built for the final hypotheses. One row of typed-array columns per node.
 */

import { Columns } from "./columns.ts";

const NODE_COLUMNS = {
  parent: "i32",
  label: "i32",
  /** Frame at which the label was first emitted on this prefix. */
  frame: "i32",
  /** LM state after the completed words. */
  lmState: "i32",
  /** Range of vocabulary spellings that start with the partial word; lo = -1 once it starts none. */
  vocabLo: "i32",
  vocabHi: "i32",
  /** Length of the partial word (characters since the last space). */
  depth: "i32",
  /** Score of the completed words (alpha, beta and unknown-word terms). */
  lmScore: "f64",
  /** Partial-word penalty. */
  partial: "f64",
  /** Hotword automaton state and hotword score (model/hotwords.ts). */
  hotState: "i32",
  hotScore: "f64",
  /** Frame stamp and candidate slot, to merge candidates for the same node within a frame. */
  stamp: "i32",
  slot: "i32",
  /** Children as linked lists: a node has at most 28, and the few that survive are found in a short walk. */
  firstChild: "i32",
  nextSibling: "i32",
} as const;

/** Prefix trie nodes as columns of typed arrays (`cols.parent[id]`, ...). */
export class PrefixNodes {
  readonly #table = new Columns(NODE_COLUMNS, 1024);
  /** The node columns (the same object for good; its arrays are replaced when `add` grows the table). */
  readonly cols = this.#table.cols;

  get count(): number {
    return this.#table.length;
  }

  add(parent: number, label: number, frame: number): number {
    const id = this.#table.addRow();
    const c = this.cols;
    c.parent[id] = parent;
    c.label[id] = label;
    c.frame[id] = frame;
    c.stamp[id] = -1;
    c.firstChild[id] = -1;
    if (parent >= 0) {
      c.nextSibling[id] = c.firstChild[parent];
      c.firstChild[parent] = id;
    } else {
      c.nextSibling[id] = -1;
    }
    return id;
  }

  child(parent: number, label: number): number {
    const c = this.cols;
    const lab = c.label, next = c.nextSibling;
    let k = c.firstChild[parent];
    while (k >= 0 && lab[k] !== label) k = next[k];
    return k;
  }
}
