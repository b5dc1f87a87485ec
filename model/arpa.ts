/**
 * A back-off n-gram language model read from an ARPA file (KenLM's lmplz output, SRILM, the LibriSpeech LMs of
 * openslr: 3-gram and 4-gram, pruned or not).
 *
 * Memory layout (no JS object per n-gram): words are interned once (id = position in `words`); order 1 is indexed
 * by word id; each order n >= 2 is one sorted array of entries (parent entry in order n-1, word), stored as an
 * Int32Array of words plus Float32Array log10 probabilities and back-offs, and each order n-1 entry keeps the
 * range of its children in order n (`childStart`), so a lookup is one binary search per order. This is the
 * classic n-gram trie; about 16 bytes per n-gram.
 *
 * Words are lowercased by default (the LibriSpeech LMs are uppercase, our transcripts lowercase). If two words
 * differ only in case, the first one in the file is kept. A word missing from the LM maps to `<unk>`; if the file
 * has no `<unk>` it is added with log10 probability -100, as KenLM does. An n-gram whose context is missing (legal
 * in some pruned files) gets its context inserted with back-off 0 and the backed-off probability, which leaves
 * every score unchanged.
 */

import { Columns } from "./columns.ts";

/** Options of the ARPA reader. */
export interface ArpaReadOptions {
  /** Name used in error messages (a path). */
  name?: string;
  /** Lowercase every word (default true). */
  lowercase?: boolean;
}

const LN10 = Math.LN10;

/** Log10 probability given to `<unk>` when the file lacks it (KenLM's choice). */
export const MISSING_UNK_LOG10 = -100;

/** A back-off n-gram model. All scores are log10 probabilities, as in the file. */
export class NgramLm {
  /** id -> word (lowercased unless read with lowercase: false). */
  readonly words: readonly string[];
  readonly bosId: number;
  readonly eosId: number;
  readonly unkId: number;
  readonly #ids: Map<string, number>;
  readonly #lowercase: boolean;
  /** Per order (index 0 = unigrams): the word of each entry (order 1: implicit, the entry index). */
  readonly #word: Int32Array[];
  readonly #prob: Float32Array[];
  readonly #backoff: Float32Array[];
  /** Per order below the top: childStart[i]..childStart[i+1] are entry i's children in the next order. */
  readonly #childStart: Uint32Array[];

  /** @internal built by the reader or the Kneser-Ney builder. */
  constructor(
    words: string[],
    lowercase: boolean,
    word: Int32Array[],
    prob: Float32Array[],
    backoff: Float32Array[],
    childStart: Uint32Array[],
  ) {
    this.words = words;
    this.#lowercase = lowercase;
    this.#ids = new Map();
    for (let i = 0; i < words.length; i++) this.#ids.set(words[i], i);
    this.#word = word;
    this.#prob = prob;
    this.#backoff = backoff;
    this.#childStart = childStart;
    this.bosId = this.#ids.get("<s>") ?? -1;
    this.eosId = this.#ids.get("</s>") ?? -1;
    this.unkId = this.#ids.get("<unk>") ?? -1;
  }

  /** The model's order (3 for a trigram model). */
  get order(): number {
    return this.#prob.length;
  }

  /** Number of n-grams of each order, as the `\data\` header states them (after inserted contexts). */
  get counts(): number[] {
    return this.#prob.map((p) => p.length);
  }

  /** The id of a word, or `<unk>`'s id if it is not in the model. */
  wordId(word: string): number {
    const id = this.#ids.get(this.#lowercase ? word.toLowerCase() : word);
    return id === undefined ? this.unkId : id;
  }

  /** Whether the model has this word (after lowercasing). */
  hasWord(word: string): boolean {
    return this.#ids.has(this.#lowercase ? word.toLowerCase() : word);
  }

  /** Entry index of an n-gram (oldest word first) in its order's table, or -1. */
  #find(ids: ArrayLike<number>, from: number, to: number): number {
    let idx = ids[from];
    if (idx < 0 || idx >= this.words.length) return -1;
    for (let k = from + 1; k < to; k++) {
      idx = this.#child(k - from - 1, idx, ids[k]);
      if (idx < 0) return -1;
    }
    return idx;
  }

  /** Child of entry `idx` of order index `o` (0 = unigrams) with word `w`, or -1. */
  #child(o: number, idx: number, w: number): number {
    if (o + 1 >= this.#prob.length) return -1;
    return findChild(this.#childStart[o], this.#word[o + 1], idx, w);
  }

  /**
   * log10 P(word | context) with back-off. `context` holds word ids, oldest first; only its last order-1 ids are
   * used.
   */
  score(context: ArrayLike<number>, word: number): number {
    if (word < 0 || word >= this.words.length) word = this.unkId;
    const n = this.#prob.length;
    const end = context.length;
    const longest = Math.min(end, n - 1);
    let acc = 0;
    for (let k = longest; k >= 1; k--) {
      const ctx = this.#find(context, end - k, end);
      if (ctx < 0) continue;
      const entry = this.#child(k - 1, ctx, word);
      if (entry >= 0) return acc + this.#prob[k][entry];
      acc += this.#backoff[k - 1][ctx];
    }
    return acc + this.#prob[0][word];
  }

  /** Natural-log P(word | context), the unit beam search adds. */
  lnScore(context: ArrayLike<number>, word: number): number {
    return this.score(context, word) * LN10;
  }

  /**
   * log10 probability of a sentence of words (strings are looked up with `wordId`), with `<s>` as the first
   * context and `</s>` scored at the end unless turned off.
   */
  sentenceScore(
    sentence: readonly (string | number)[],
    options: { bos?: boolean; eos?: boolean } = {},
  ): number {
    const ids: number[] = [];
    if (options.bos ?? true) ids.push(this.bosId);
    let total = 0;
    for (const w of sentence) {
      const id = typeof w === "number" ? w : this.wordId(w);
      total += this.score(ids, id);
      ids.push(id);
    }
    if (options.eos ?? true) total += this.score(ids, this.eosId);
    return total;
  }

  /** The stored log10 probability and back-off of one n-gram, or undefined if the file has no such n-gram. */
  entry(ngram: readonly (string | number)[]): { prob: number; backoff: number } | undefined {
    const ids = ngram.map((w) =>
      typeof w === "number" ? w : (this.#ids.get(this.#lowercase ? w.toLowerCase() : w) ?? -1)
    );
    if (ids.length < 1 || ids.length > this.order || ids.some((i) => i < 0)) return undefined;
    const idx = this.#find(ids, 0, ids.length);
    if (idx < 0) return undefined;
    const o = ids.length - 1;
    return { prob: this.#prob[o][idx], backoff: o < this.order - 1 ? this.#backoff[o][idx] : 0 };
  }

  /** Calls `visit` for every stored n-gram (ids oldest first) in table order. */
  forEachNgram(visit: (ids: readonly number[], prob: number, backoff: number) => void): void {
    const n = this.order;
    const path: number[] = [];
    const walk = (o: number, idx: number) => {
      path.push(o === 0 ? idx : this.#word[o][idx]);
      visit(path, this.#prob[o][idx], o < n - 1 ? this.#backoff[o][idx] : 0);
      if (o < n - 1) {
        for (let c = this.#childStart[o][idx]; c < this.#childStart[o][idx + 1]; c++) walk(o + 1, c);
      }
      path.pop();
    };
    for (let w = 0; w < this.words.length; w++) walk(0, w);
  }
}

/** An ARPA file that cannot be read; the message names the source and line. */
export class ArpaError extends Error {
  constructor(source: string, line: number, message: string) {
    super(`${source}:${line}: ${message}`);
    this.name = "ArpaError";
  }
}

function rawSpec(n: number) {
  return { words: { type: "i32", width: n }, prob: "f32", backoff: "f32" } as const;
}

/** Accumulates raw n-gram rows of one order while reading: n words, a probability and a back-off per row. */
class RawOrder extends Columns<ReturnType<typeof rawSpec>> {
  constructor(readonly n: number) {
    super(rawSpec(n));
  }
  get rows(): number {
    return this.length;
  }
  /** Appends a row: the n words at `ids[0..n)`. */
  push(ids: ArrayLike<number>, prob: number, backoff: number): void {
    const r = this.addRow();
    const { words } = this.cols;
    const n = this.n;
    for (let k = 0; k < n; k++) words[r * n + k] = ids[k];
    this.cols.prob[r] = prob;
    this.cols.backoff[r] = backoff;
  }
}

/** Line-by-line ARPA parser; `finish()` builds the model. */
export class ArpaParser {
  readonly #name: string;
  readonly #lowercase: boolean;
  #line = 0;
  #state: "preamble" | "data" | "ngrams" | "end" = "preamble";
  #declared: number[] = [];
  #current = 0;
  #raw: RawOrder[] = [];
  readonly #ids = new Map<string, number>();
  readonly #words: string[] = [];
  #duplicateUnigrams = 0;
  /** The word ids of the row being read. */
  #rowIds = new Int32Array(0);

  constructor(options: ArpaReadOptions = {}) {
    this.#name = options.name ?? "<arpa>";
    this.#lowercase = options.lowercase ?? true;
  }

  #fail(message: string): never {
    throw new ArpaError(this.#name, this.#line, message);
  }

  /** Feeds one line (without its line break). */
  pushLine(raw: string): void {
    this.#line++;
    const line = raw.trim();
    if (this.#state === "preamble") {
      if (line === "\\data\\") this.#state = "data";
      return;
    }
    if (line === "") return;
    if (this.#state === "end") return;
    if (line === "\\end\\") {
      this.#closeSection();
      this.#state = "end";
      return;
    }
    if (line.startsWith("\\")) {
      const m = /^\\(\d+)-grams:$/.exec(line);
      if (!m) this.#fail(`unknown section header ${JSON.stringify(line)}`);
      const n = Number(m[1]);
      if (this.#state === "ngrams") this.#closeSection();
      if (n !== this.#current + 1) this.#fail(`section \\${n}-grams: follows order ${this.#current}`);
      if (n > this.#declared.length) this.#fail(`section \\${n}-grams: is not declared in \\data\\`);
      this.#current = n;
      this.#raw.push(new RawOrder(n));
      this.#state = "ngrams";
      return;
    }
    if (this.#state === "data") {
      const m = /^ngram\s+(\d+)\s*=\s*(\d+)$/.exec(line);
      if (!m) this.#fail(`expected "ngram N=count" in \\data\\, got ${JSON.stringify(line)}`);
      const n = Number(m[1]);
      if (n !== this.#declared.length + 1) this.#fail(`ngram ${n}= out of order`);
      this.#declared.push(Number(m[2]));
      return;
    }
    this.#pushEntry(line);
  }

  #pushEntry(line: string): void {
    const fields = line.split(/\s+/);
    const n = this.#current;
    if (fields.length !== n + 1 && fields.length !== n + 2) {
      this.#fail(`a ${n}-gram line needs ${n + 1} or ${n + 2} fields, got ${fields.length}`);
    }
    const prob = Number(fields[0]);
    if (!Number.isFinite(prob)) this.#fail(`bad probability ${JSON.stringify(fields[0])}`);
    let backoff = 0;
    if (fields.length === n + 2) {
      backoff = Number(fields[n + 1]);
      if (!Number.isFinite(backoff)) this.#fail(`bad back-off ${JSON.stringify(fields[n + 1])}`);
    }
    const ids = this.#rowIds.length === n ? this.#rowIds : (this.#rowIds = new Int32Array(n));
    if (n === 1) {
      const word = this.#lowercase ? fields[1].toLowerCase() : fields[1];
      if (this.#ids.has(word)) {
        this.#duplicateUnigrams++;
        return;
      }
      this.#ids.set(word, this.#words.length);
      this.#words.push(word);
      ids[0] = this.#words.length - 1;
    } else {
      for (let k = 1; k <= n; k++) {
        const word = this.#lowercase ? fields[k].toLowerCase() : fields[k];
        const id = this.#ids.get(word);
        if (id === undefined) this.#fail(`word ${JSON.stringify(fields[k])} is not among the unigrams`);
        ids[k - 1] = id;
      }
    }
    this.#raw[n - 1].push(ids, prob, backoff);
  }

  #closeSection(): void {
    const n = this.#current;
    const raw = this.#raw[n - 1];
    const got = raw.rows + (n === 1 ? this.#duplicateUnigrams : 0);
    if (got !== this.#declared[n - 1]) {
      this.#fail(`\\data\\ declares ${this.#declared[n - 1]} ${n}-grams but the section has ${got}`);
    }
  }

  /** Builds the model once every line was pushed. */
  finish(): NgramLm {
    if (this.#state !== "end") {
      if (this.#state === "preamble") this.#fail("no \\data\\ section: not an ARPA file");
      this.#fail("the file ends before \\end\\");
    }
    if (this.#raw.length !== this.#declared.length) {
      this.#fail(
        `\\data\\ declares ${this.#declared.length} orders but ${this.#raw.length} sections were found`,
      );
    }
    return buildTrie(this.#words, this.#ids, this.#raw, this.#lowercase);
  }
}

function ensureWord(words: string[], ids: Map<string, number>, raw: RawOrder[], word: string, prob: number) {
  if (ids.has(word)) return;
  ids.set(word, words.length);
  words.push(word);
  raw[0].push([words.length - 1], prob, 0);
}

/** Open-addressing set of n-gram rows (word tuples) of one raw order. */
function rowHash(words: Int32Array, n: number, row: number): number {
  let h = 0x811c9dc5;
  for (let k = 0; k < n; k++) h = Math.imul(h ^ words[row * n + k], 0x01000193);
  return (h ^ (h >>> 15)) >>> 0;
}

/** Inserts the contexts missing from order n-1 for the n-grams of order n, top order first. */
function insertMissingContexts(raw: RawOrder[]): void {
  for (let n = raw.length; n >= 3; n--) {
    const lower = raw[n - 2];
    const m = n - 1;
    let size = 1;
    while (size < lower.rows * 2 + 16) size *= 2;
    let table = new Int32Array(size).fill(-1);
    const insert = (words: Int32Array, row: number) => {
      let slot = rowHash(words, m, row) & (size - 1);
      while (table[slot] >= 0) slot = (slot + 1) & (size - 1);
      table[slot] = row;
    };
    let lw = lower.view("words");
    for (let r = 0; r < lower.rows; r++) insert(lw, r);
    const upper = raw[n - 1];
    const uw = upper.view("words");
    const key = new Int32Array(m);
    for (let r = 0; r < upper.rows; r++) {
      for (let k = 0; k < m; k++) key[k] = uw[r * n + k];
      let slot = rowHash(key, m, 0) & (size - 1);
      let found = false;
      while (table[slot] >= 0) {
        const row = table[slot];
        let same = true;
        for (let k = 0; k < m; k++) {
          if (lw[row * m + k] !== key[k]) {
            same = false;
            break;
          }
        }
        if (same) {
          found = true;
          break;
        }
        slot = (slot + 1) & (size - 1);
      }
      if (found) continue;
      lower.push(key, NaN, 0);
      lw = lower.view("words");
      if (lower.rows * 2 > size) {
        size *= 2;
        table = new Int32Array(size).fill(-1);
        for (let q = 0; q < lower.rows; q++) insert(lw, q);
      } else {
        table[slot] = lower.rows - 1;
      }
    }
  }
}

function buildTrie(words: string[], ids: Map<string, number>, raw: RawOrder[], lowercase: boolean): NgramLm {
  if (raw.length === 0) throw new Error("ARPA model has no n-grams");
  ensureWord(words, ids, raw, "<unk>", MISSING_UNK_LOG10);
  insertMissingContexts(raw);
  const order = raw.length;
  const V = words.length;
  const wordCols: Int32Array[] = [Int32Array.from({ length: V }, (_, i) => i)];
  const probs: Float32Array[] = [new Float32Array(V)];
  const backoffs: Float32Array[] = [];
  const childStart: Uint32Array[] = [];
  const u = raw[0];
  const uw = u.view("words"), up = u.view("prob"), ub = u.view("backoff");
  const b0 = new Float32Array(V);
  for (let r = 0; r < u.rows; r++) {
    probs[0][uw[r]] = up[r];
    b0[uw[r]] = ub[r];
  }
  backoffs.push(b0);
  const inserted: { n: number; entry: number }[] = [];
  for (let n = 2; n <= order; n++) {
    const rawN = raw[n - 1];
    const rows = rawN.rows;
    const rw = rawN.view("words"), rp = rawN.view("prob"), rb = rawN.view("backoff");
    // Parent entry of each row in order n-1, found by walking the finished lower orders.
    const parent = new Int32Array(rows);
    for (let r = 0; r < rows; r++) {
      let idx = rw[r * n];
      for (let k = 1; k < n - 1; k++) {
        idx = childOf(childStart[k - 1], wordCols[k], idx, rw[r * n + k]);
      }
      parent[r] = idx;
    }
    const index = new Uint32Array(rows);
    for (let r = 0; r < rows; r++) index[r] = r;
    index.sort((a, b) => (parent[a] - parent[b]) || (rw[a * n + n - 1] - rw[b * n + n - 1]) || (a - b));
    const out = new Columns({ word: "i32", prob: "f32", backoff: "f32" });
    const starts = new Uint32Array(probs[n - 2].length + 1);
    let lastParent = -1, lastWord = -1;
    for (let i = 0; i < rows; i++) {
      const r = index[i];
      const p = parent[r], w = rw[r * n + n - 1];
      if (p === lastParent && w === lastWord) continue; // duplicate after case folding: the first is kept
      while (lastParent < p) starts[++lastParent] = out.length;
      lastWord = w;
      if (Number.isNaN(rp[r])) inserted.push({ n, entry: out.length });
      const e = out.addRow();
      out.cols.word[e] = w;
      out.cols.prob[e] = rp[r];
      out.cols.backoff[e] = rb[r];
    }
    while (lastParent < probs[n - 2].length) starts[++lastParent] = out.length;
    childStart.push(starts);
    wordCols.push(out.toArray("word"));
    probs.push(out.toArray("prob"));
    if (n < order) backoffs.push(out.toArray("backoff"));
  }
  const lm = new NgramLm(words, lowercase, wordCols, probs, backoffs, childStart);
  if (inserted.length > 0) fillInsertedProbabilities(lm, inserted, wordCols, probs, childStart);
  return lm;
}

/**
 * The child of entry `idx` with word `w`, or -1: a binary search of `words` (the next order's word column, sorted
 * within each parent) between `start[idx]` and `start[idx + 1]` (the parent order's child offsets).
 */
function findChild(start: Uint32Array, words: Int32Array, idx: number, w: number): number {
  let lo = start[idx], hi = start[idx + 1];
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const v = words[mid];
    if (v < w) lo = mid + 1;
    else if (v > w) hi = mid;
    else return mid;
  }
  return -1;
}

/** {@link findChild} for a context that must exist (the lower orders are complete by then). */
function childOf(start: Uint32Array, words: Int32Array, idx: number, w: number): number {
  const c = findChild(start, words, idx, w);
  if (c < 0) throw new Error("internal: n-gram context missing after insertion");
  return c;
}

/** Gives each inserted context the probability back-off would give it, lowest order first. */
function fillInsertedProbabilities(
  lm: NgramLm,
  inserted: { n: number; entry: number }[],
  wordCols: Int32Array[],
  probs: Float32Array[],
  childStart: Uint32Array[],
): void {
  // Recover each inserted entry's word tuple by locating its parent chain.
  const parentOf = (o: number, entry: number): number => {
    const s = childStart[o - 1];
    let lo = 0, hi = s.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if (s[mid] <= entry) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  };
  inserted.sort((a, b) => a.n - b.n);
  for (const { n, entry } of inserted) {
    const ids = new Array<number>(n);
    let e = entry;
    for (let o = n - 1; o >= 1; o--) {
      ids[o] = wordCols[o][e];
      e = parentOf(o, e);
    }
    ids[0] = e;
    const context = ids.slice(0, n - 1);
    const ctxEntry = lm.entry(context);
    // The entry's own NaN is not read: the shorter context ids[1..] resolves it from lower orders.
    probs[n - 1][entry] = (ctxEntry ? ctxEntry.backoff : 0) + lm.score(context.slice(1), ids[n - 1]);
  }
}

/** Splits a stream of text chunks into lines (handles \n and \r\n). */
export async function* linesOf(chunks: AsyncIterable<string>): AsyncGenerator<string> {
  let rest = "";
  for await (const chunk of chunks) {
    const text = rest + chunk;
    let start = 0;
    for (;;) {
      const nl = text.indexOf("\n", start);
      if (nl < 0) break;
      yield text.charCodeAt(nl - 1) === 13 ? text.slice(start, nl - 1) : text.slice(start, nl);
      start = nl + 1;
    }
    rest = text.slice(start);
  }
  if (rest !== "") yield rest;
}

/** Reads an ARPA model from a stream of bytes (UTF-8), line by line. */
export async function readArpa(
  bytes: ReadableStream<Uint8Array>,
  options: ArpaReadOptions = {},
): Promise<NgramLm> {
  const parser = new ArpaParser(options);
  // (The cast: TypeScript's DOM lib, which web/ type-checks with, types the decoder's input as BufferSource.)
  const text = (bytes as ReadableStream<BufferSource>).pipeThrough(new TextDecoderStream());
  for await (const line of linesOf(text)) parser.pushLine(line);
  return parser.finish();
}

/** Parses an ARPA model held in a string. */
export function parseArpa(text: string, options: ArpaReadOptions = {}): NgramLm {
  const parser = new ArpaParser(options);
  let start = 0;
  for (;;) {
    const nl = text.indexOf("\n", start);
    if (nl < 0) {
      if (start < text.length) parser.pushLine(text.slice(start));
      break;
    }
    parser.pushLine(text.slice(start, nl));
    start = nl + 1;
  }
  return parser.finish();
}

/** Loads an ARPA file, decompressing it on the fly if its name ends in .gz. */
export async function loadArpa(path: string, options: ArpaReadOptions = {}): Promise<NgramLm> {
  const file = await Deno.open(path, { read: true });
  let stream: ReadableStream<Uint8Array> = file.readable;
  if (path.endsWith(".gz")) {
    stream = stream.pipeThrough(
      new DecompressionStream("gzip") as unknown as TransformStream<Uint8Array, Uint8Array>,
    );
  }
  return await readArpa(stream, { name: path, ...options });
}
