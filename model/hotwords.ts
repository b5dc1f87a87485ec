/**
 * Hotwords for the CTC prefix beam search: phrases whose appearance in a hypothesis earns a bonus, so a rare word
 * or a name the acoustic model or the language model doubts can win when the audio supports it.
 *
 * The phrases are compiled into one Aho-Corasick automaton over the alphabet's class ids. Each phrase is matched
 * as whole words: its pattern is " phrase " (the hypothesis is read as if it began and ended with a space). Each
 * beam prefix carries its automaton state and its hotword score, a function of its text alone:
 *   score = sum of BOOST over the complete phrase occurrences + pending credit of the match in progress,
 * where the pending credit gives each character of a phrase BOOST / (characters after the leading space), so the
 * beam is drawn along a phrase while it is being spelled; when the match fails, the automaton falls back and the
 * pending credit of the abandoned part is taken back. At the end of the utterance pending credit is dropped: only
 * phrases actually completed keep their bonus, so a boosted phrase the audio does not support is not forced in.
 * Words of a phrase count as known words for the language model's unknown-word penalties (model/beam_words.ts).
 */

import type { Alphabet } from "../data/alphabet.ts";
import { CharacterMapError, textToInts } from "../data/text.ts";

/** A phrase and its bonus in nats (natural log units) on a hypothesis' score when the phrase is in it. */
export interface Hotword {
  phrase: string;
  boost: number;
}

/**
 * The bonus of a phrase given without one, in nats. Checked on a dev split of spoken digits with the clean digits
 * model (README: hotwords), each digit word boosted with an LM lacking it: 2 to 5 all bring recall from 146 to 178
 * of 180 clips without writing the word into another clip, 6 and more start to.
 */
export const DEFAULT_HOTWORD_BOOST = 4;

/**
 * Parses "PHRASE[:BOOST]" (e.g. "seven", "new york:8"): what follows the last ":" is the boost. Throws an Error
 * saying what is wrong.
 */
export function parseHotword(spec: string): Hotword {
  const colon = spec.lastIndexOf(":");
  let boost = DEFAULT_HOTWORD_BOOST;
  if (colon >= 0) {
    const text = spec.slice(colon + 1).trim();
    boost = /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i.test(text) ? Number(text) : NaN;
    if (!(boost > 0) || !Number.isFinite(boost)) {
      throw new Error(`hotword "${spec}": the boost after ":" must be a positive number, got "${text}"`);
    }
  }
  const phrase = (colon >= 0 ? spec.slice(0, colon) : spec).trim().replace(/\s+/g, " ");
  if (phrase === "") throw new Error(`hotword "${spec}": the phrase is empty`);
  return { phrase, boost };
}

/**
 * Hotwords from a text file: one "PHRASE[:BOOST]" per line; blank lines and lines starting with "#" are skipped.
 * A bad line is an Error naming the file and line.
 */
export async function readHotwordsFile(path: string): Promise<Hotword[]> {
  const text = await Deno.readTextFile(path);
  const out: Hotword[] = [];
  text.split(/\r?\n/).forEach((line, i) => {
    const t = line.trim();
    if (t === "" || t.startsWith("#")) return;
    try {
      out.push(parseHotword(t));
    } catch (e) {
      throw new Error(`${path}:${i + 1}: ${(e as Error).message}`);
    }
  });
  return out;
}

/**
 * The class ids of a phrase, normalised as transcripts are (data/text.ts textToInts: case, NFKC, spaces); a
 * character outside the alphabet is an Error naming it.
 */
function spellPhrase(phrase: string, alphabet: Alphabet): number[] {
  try {
    return textToInts(phrase, alphabet);
  } catch (e) {
    if (!(e instanceof CharacterMapError)) throw e;
    throw new Error(`hotword "${phrase}": ${e.message}`);
  }
}

/** The phrases as a deterministic automaton: a transition table over every class, and per-state scores. */
export class HotwordAutomaton {
  /** The state of an empty hypothesis (after the leading space it is read with). */
  readonly start: number;
  /** next[state * classes + label]: the state after reading `label`. */
  readonly next: Int32Array;
  /** Pending credit of the match in progress in each state (0 where a phrase has just been completed). */
  readonly pending: Float64Array;
  /** Sum of the boosts of the phrases that end in each state (its own and those that are suffixes of it). */
  readonly output: Float64Array;
  /** Characters since the state's last space: the partial word, when it is the start of a phrase's word. */
  readonly wordDepth: Int32Array;
  /** 1 where a phrase's word ends (the state can read a space and stay on a phrase). */
  readonly wordEnd: Uint8Array;
  readonly classes: number;
  /** The alphabet's space class, -1 without one. */
  readonly space: number;

  constructor(hotwords: readonly Hotword[], alphabet: Alphabet) {
    const classes = this.classes = alphabet.size;
    const space = this.space = alphabet.space;
    // The trie: child lists as a map per node while building; edge credit is the largest per-character boost.
    const children: Map<number, number>[] = [new Map()];
    const credit: number[] = [0];
    const depthInWord: number[] = [-1];
    const ownBoost: number[] = [0];
    for (const { phrase, boost } of hotwords) {
      const body = spellPhrase(phrase, alphabet);
      if (body.length === 0) throw new Error(`hotword "${phrase}": nothing left after normalisation`);
      const pattern = space >= 0 ? [space, ...body, space] : body;
      const perChar = boost / (space >= 0 ? pattern.length - 1 : pattern.length);
      let node = 0;
      pattern.forEach((c, i) => {
        let child = children[node].get(c);
        if (child === undefined) {
          child = children.length;
          children.push(new Map());
          credit.push(0);
          ownBoost.push(0);
          depthInWord.push(c === space ? 0 : depthInWord[node] >= 0 ? depthInWord[node] + 1 : -1);
          children[node].set(c, child);
        }
        if (space < 0 || i > 0) credit[child] = Math.max(credit[child], perChar);
        node = child;
      });
      ownBoost[node] += boost;
    }
    const n = children.length;
    const next = this.next = new Int32Array(n * classes);
    const partial = new Float64Array(n);
    const pending = this.pending = new Float64Array(n);
    const output = this.output = new Float64Array(n);
    this.wordDepth = Int32Array.from(depthInWord);
    const wordEnd = this.wordEnd = new Uint8Array(n);
    const fail = new Int32Array(n);
    // Breadth-first: a state's failure target and transitions are complete before its children's.
    const queue = [0];
    for (let qi = 0; qi < queue.length; qi++) {
      const u = queue[qi];
      const terminal = ownBoost[u] > 0;
      pending[u] = terminal ? 0 : partial[u];
      output[u] = ownBoost[u] + (u === 0 ? 0 : output[fail[u]]);
      if (space >= 0 && children[u].has(space)) wordEnd[u] = 1;
      for (let c = 0; c < classes; c++) {
        const v = children[u].get(c);
        if (v !== undefined) {
          fail[v] = u === 0 ? 0 : next[fail[u] * classes + c];
          // Credit since the last completed phrase on this path.
          partial[v] = pending[u] + credit[v];
          next[u * classes + c] = v;
          queue.push(v);
        } else {
          next[u * classes + c] = u === 0 ? 0 : next[fail[u] * classes + c];
        }
      }
    }
    this.start = space >= 0 ? next[space] : 0;
  }

  get states(): number {
    return this.pending.length;
  }

  /** The hotword score after reading `label` in `state` with score `score`; sets `state` to the new state. */
  step(state: number, score: number, label: number): number {
    const to = this.next[state * this.classes + label];
    this.state = to;
    return score - this.pending[state] + this.pending[to] + this.output[to];
  }
  /** The state `step` moved to. */
  state = 0;

  /** The score at the end of the utterance: the trailing space read (unless `lastLabel` was one), pending dropped. */
  finish(state: number, score: number, lastLabel: number): number {
    if (this.space >= 0 && lastLabel !== this.space) score = this.step(state, score, this.space);
    else this.state = state;
    return score - this.pending[this.state];
  }

  /** Whether a partial word of `depth` characters in `state` is the start of a phrase's word. */
  inPhraseWord(state: number, depth: number): boolean {
    return depth > 0 && this.wordDepth[state] === depth;
  }
}

const compiled = new WeakMap<readonly Hotword[], WeakMap<Alphabet, HotwordAutomaton>>();

/** The automaton of a list of hotwords for an alphabet, built once per list (the list must not change). */
export function compileHotwords(hotwords: readonly Hotword[], alphabet: Alphabet): HotwordAutomaton {
  let byAlphabet = compiled.get(hotwords);
  if (!byAlphabet) compiled.set(hotwords, byAlphabet = new WeakMap());
  let automaton = byAlphabet.get(alphabet);
  if (!automaton) byAlphabet.set(alphabet, automaton = new HotwordAutomaton(hotwords, alphabet));
  return automaton;
}

/** The score the automaton gives a whole text of class ids (for checks: the search computes it step by step). */
export function hotwordScore(automaton: HotwordAutomaton, labels: ArrayLike<number>): number {
  let state = automaton.start, score = automaton.pending[state];
  for (let i = 0; i < labels.length; i++) {
    score = automaton.step(state, score, labels[i]);
    state = automaton.state;
  }
  return automaton.finish(state, score, labels.length > 0 ? labels[labels.length - 1] : -1);
}
