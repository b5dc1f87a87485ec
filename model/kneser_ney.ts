/**
 * Interpolated modified Kneser-Ney n-gram estimation (Chen & Goodman 1998, as KenLM's lmplz does it) and an ARPA
 * writer.
 *
 * Counting: every sentence is padded as `<s> w1 .. wk </s>` and n-grams never cross sentences. Adjusted counts
 * a(g): the raw count at the top order and for n-grams starting with `<s>` (nothing can precede them), otherwise
 * the number of distinct words seen immediately before g (continuation count).
 * Discounts per order from the count-of-counts t1..t4 of adjusted counts (unigram `<s>` excluded):
 *   Y = t1 / (t1 + 2 t2), D1 = 1 - 2Y t2/t1, D2 = 2 - 3Y t3/t2, D3+ = 3 - 4Y t4/t3;
 * if a count-of-counts is zero or a discount falls outside (0, k], the order uses the fallback 0.5, 1, 1.5 (KenLM's
 * --discount_fallback values).
 * Probabilities, for a context h with S = sum_x a(hx) and N1, N2, N3+ words x with a(hx) = 1, 2, >= 3:
 *   gamma(h) = (D1 N1 + D2 N2 + D3+ N3+) / S
 *   p(w | h) = max(a(hw) - D(a(hw)), 0) / S + gamma(h) p(w | h'),   h' = h without its oldest word,
 * and at the unigram level the lower distribution is uniform over the vocabulary without `<s>` (so `<unk>`, never
 * seen, gets gamma() / |V|). In the ARPA file an n-gram's probability is this interpolated p and a context's
 * back-off is gamma(h), so that back-off reproduces p(w | h) = gamma(h) p(w | h') for unseen w and every context
 * sums to 1. `<s>` is given log10 probability -99 (it is never predicted), as KenLM writes it.
 */

import { writeFileAtomic } from "../data/atomic_write.ts";

/** One order's distinct n-grams, sorted lexicographically by word ids (ids follow the sorted vocabulary). */
export interface NgramTable {
  n: number;
  count: number;
  /** count x n word ids, row-major. */
  ids: Int32Array;
  /** Adjusted (Kneser-Ney) counts. */
  adjusted: Float64Array;
  /** log10 interpolated probability. */
  prob: Float64Array;
  /** log10 back-off (0 where the n-gram is no context of a higher-order n-gram). */
  backoff: Float64Array;
  /** 1 where the n-gram is the context of some (n+1)-gram. */
  isContext: Uint8Array;
}

export interface KneserNeyModel {
  order: number;
  /** Vocabulary sorted by code units; a word's id is its position. */
  words: string[];
  bosId: number;
  eosId: number;
  unkId: number;
  /** tables[n-1] holds the n-grams. */
  tables: NgramTable[];
  /** [D1, D2, D3+] per order. */
  discounts: [number, number, number][];
  /** Whether each order fell back to the default discounts. */
  usedFallback: boolean[];
}

/** Discounts used when count-of-counts cannot give valid ones. */
export const FALLBACK_DISCOUNTS: readonly [number, number, number] = [0.5, 1.0, 1.5];
/** log10 probability written for `<s>`. */
export const BOS_LOG10 = -99;

const SPECIAL = new Set(["<s>", "</s>", "<unk>"]);

/** Compares the n-gram at row a of `x` with the one at row b of `y` (both n wide). */
function compareRows(x: Int32Array, a: number, y: Int32Array, b: number, n: number): number {
  for (let k = 0; k < n; k++) {
    const d = x[a * n + k] - y[b * n + k];
    if (d !== 0) return d;
  }
  return 0;
}

/** Row index of `key` (n ids at `keyRow` of `keys`) in a sorted table, or -1. */
export function findRow(table: NgramTable, keys: Int32Array, keyRow: number): number {
  let lo = 0, hi = table.count;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const c = compareRows(table.ids, mid, keys, keyRow, table.n);
    if (c < 0) lo = mid + 1;
    else if (c > 0) hi = mid;
    else return mid;
  }
  return -1;
}

/**
 * Builds the model from tokenized sentences (words without `<s>`/`</s>`). Throws if a sentence contains
 * `<s>`, `</s>` or `<unk>` as a word.
 */
export function buildKneserNey(sentences: Iterable<readonly string[]>, order: number): KneserNeyModel {
  if (!Number.isInteger(order) || order < 1 || order > 9) throw new RangeError(`order ${order} is not 1..9`);
  const { sentenceList, words, idOf } = vocabularyOf(sentences);
  const bosId = idOf.get("<s>")!, eosId = idOf.get("</s>")!, unkId = idOf.get("<unk>")!;
  const stream = tokenStream(sentenceList, idOf, bosId, eosId);
  const tables: NgramTable[] = [];
  const raw: Float64Array[] = [];
  for (let n = 1; n <= order; n++) {
    const counted = countNgrams(stream, n, words.length);
    tables.push(counted.table);
    raw.push(counted.raw);
  }
  adjustCounts(tables, raw, bosId);
  const discounts: [number, number, number][] = [];
  const usedFallback: boolean[] = [];
  for (const t of tables) {
    const d = discountsOf(t, bosId);
    discounts.push(d ?? [...FALLBACK_DISCOUNTS]);
    usedFallback.push(d === null);
  }
  interpolateUnigrams(tables[0], discounts[0], bosId);
  for (let n = 2; n <= order; n++) interpolateOrder(tables[n - 1], tables[n - 2], discounts[n - 1]);
  return { order, words, bosId, eosId, unkId, tables, discounts, usedFallback };
}

/** The sentences as a list, checked, and the sorted vocabulary (with `<s>`, `</s>`, `<unk>`). */
function vocabularyOf(sentences: Iterable<readonly string[]>) {
  const sentenceList: (readonly string[])[] = [];
  const vocab = new Set<string>(SPECIAL);
  let index = 0;
  for (const s of sentences) {
    for (const w of s) {
      if (SPECIAL.has(w)) throw new Error(`sentence ${index + 1}: "${w}" is reserved and cannot be a word`);
      if (w === "") throw new Error(`sentence ${index + 1}: empty word`);
      vocab.add(w);
    }
    sentenceList.push(s);
    index++;
  }
  const words = [...vocab].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const idOf = new Map(words.map((w, i) => [w, i]));
  return { sentenceList, words, idOf };
}

/** Word ids of all sentences, each as `<s> w.. </s>`, and the exclusive end of the sentence at each position. */
interface TokenStream {
  tokens: Int32Array;
  sentenceEnd: Int32Array;
}

function tokenStream(
  sentenceList: readonly (readonly string[])[],
  idOf: Map<string, number>,
  bosId: number,
  eosId: number,
): TokenStream {
  let total = 0;
  for (const s of sentenceList) total += s.length + 2;
  const tokens = new Int32Array(total);
  const sentenceEnd = new Int32Array(total);
  let at = 0;
  for (const s of sentenceList) {
    const start = at;
    tokens[at++] = bosId;
    for (const w of s) tokens[at++] = idOf.get(w)!;
    tokens[at++] = eosId;
    sentenceEnd.fill(at, start, at);
  }
  return { tokens, sentenceEnd };
}

/**
 * The distinct n-grams of one order (never crossing sentences), sorted, with their raw counts. At order 1 every
 * vocabulary word is a unigram, seen or not (`<unk>` has count 0).
 */
function countNgrams(
  { tokens, sentenceEnd }: TokenStream,
  n: number,
  vocabSize: number,
): { table: NgramTable; raw: Float64Array } {
  const total = tokens.length;
  let m = 0;
  for (let p = 0; p < total; p++) if (p + n <= sentenceEnd[p]) m++;
  const pos = new Int32Array(m);
  m = 0;
  for (let p = 0; p < total; p++) if (p + n <= sentenceEnd[p]) pos[m++] = p;
  pos.sort((a, b) => {
    for (let k = 0; k < n; k++) {
      const d = tokens[a + k] - tokens[b + k];
      if (d !== 0) return d;
    }
    return 0;
  });
  const ids: number[] = [];
  const counts: number[] = [];
  for (let i = 0; i < m; i++) {
    const p = pos[i];
    let same = i > 0;
    if (same) {
      const q = pos[i - 1];
      for (let k = 0; k < n; k++) {
        if (tokens[p + k] !== tokens[q + k]) {
          same = false;
          break;
        }
      }
    }
    if (same) counts[counts.length - 1]++;
    else {
      for (let k = 0; k < n; k++) ids.push(tokens[p + k]);
      counts.push(1);
    }
  }
  if (n > 1) return { table: emptyTable(n, Int32Array.from(ids)), raw: Float64Array.from(counts) };
  const full = new Float64Array(vocabSize);
  for (let i = 0; i < counts.length; i++) full[ids[i]] = counts[i];
  return { table: emptyTable(1, Int32Array.from({ length: vocabSize }, (_, i) => i)), raw: full };
}

/**
 * Adjusted counts: raw at the top order and for n-grams starting with `<s>`, otherwise the number of distinct
 * words seen before the n-gram.
 */
function adjustCounts(tables: NgramTable[], raw: Float64Array[], bosId: number): void {
  const order = tables.length;
  for (let n = 1; n <= order; n++) {
    const t = tables[n - 1];
    if (n === order) {
      t.adjusted.set(raw[n - 1]);
      continue;
    }
    const up = tables[n];
    for (let r = 0; r < up.count; r++) {
      // Suffix of the (n+1)-gram: its last n words.
      const row = findRow(t, up.ids.subarray(r * (n + 1) + 1, (r + 1) * (n + 1)), 0);
      t.adjusted[row]++;
    }
    for (let r = 0; r < t.count; r++) {
      if (t.ids[r * n] === bosId) t.adjusted[r] = raw[n - 1][r];
    }
  }
}

/** An order's discounts [D1, D2, D3+] from its count-of-counts, or null where they are not valid. */
function discountsOf(t: NgramTable, bosId: number): [number, number, number] | null {
  const coc = [0, 0, 0, 0, 0];
  for (let r = 0; r < t.count; r++) {
    if (t.n === 1 && r === bosId) continue;
    const a = t.adjusted[r];
    if (a >= 1 && a <= 4) coc[a]++;
  }
  const [, t1, t2, t3, t4] = coc;
  const y = t1 / (t1 + 2 * t2);
  const d: [number, number, number] = [1 - 2 * y * t2 / t1, 2 - 3 * y * t3 / t2, 3 - 4 * y * t4 / t3];
  const valid = t1 > 0 && t2 > 0 && t3 > 0 && t4 > 0 &&
    d.every((x, k) => Number.isFinite(x) && x > 0 && x <= k + 1);
  return valid ? d : null;
}

function discountOf(d: [number, number, number], a: number): number {
  return a <= 0 ? 0 : a === 1 ? d[0] : a === 2 ? d[1] : d[2];
}

/** Unigrams: interpolated with the uniform distribution over the vocabulary without `<s>`. */
function interpolateUnigrams(t: NgramTable, d: [number, number, number], bosId: number): void {
  let sum = 0, mass = 0;
  for (let w = 0; w < t.count; w++) {
    if (w === bosId) continue;
    sum += t.adjusted[w];
    mass += discountOf(d, t.adjusted[w]);
  }
  const gamma = mass / sum;
  const uniform = 1 / (t.count - 1);
  for (let w = 0; w < t.count; w++) {
    if (w === bosId) {
      t.prob[w] = BOS_LOG10;
      continue;
    }
    const a = t.adjusted[w];
    t.prob[w] = Math.log10(Math.max(a - discountOf(d, a), 0) / sum + gamma * uniform);
  }
}

/**
 * One order above the first: rows grouped by context (contiguous, as rows are sorted), interpolated with the
 * order below; sets the contexts' back-offs there.
 */
function interpolateOrder(t: NgramTable, low: NgramTable, d: [number, number, number]): void {
  const n = t.n;
  let r = 0;
  while (r < t.count) {
    let end = r + 1;
    while (end < t.count && sameContext(t.ids, r, end, n)) end++;
    let sum = 0, mass = 0;
    for (let i = r; i < end; i++) {
      sum += t.adjusted[i];
      mass += discountOf(d, t.adjusted[i]);
    }
    const gamma = mass / sum;
    const ctxRow = findRow(low, t.ids.subarray(r * n, r * n + n - 1), 0);
    low.backoff[ctxRow] = Math.log10(gamma);
    low.isContext[ctxRow] = 1;
    for (let i = r; i < end; i++) {
      // p(w | h') is the stored probability of the (n-1)-gram h'w, which exists because hw was seen.
      const lowRow = findRow(low, t.ids.subarray(i * n + 1, (i + 1) * n), 0);
      const a = t.adjusted[i];
      const lower = Math.pow(10, low.prob[lowRow]);
      t.prob[i] = Math.log10(Math.max(a - discountOf(d, a), 0) / sum + gamma * lower);
    }
    r = end;
  }
}

function sameContext(ids: Int32Array, a: number, b: number, n: number): boolean {
  for (let k = 0; k < n - 1; k++) if (ids[a * n + k] !== ids[b * n + k]) return false;
  return true;
}

function emptyTable(n: number, ids: Int32Array): NgramTable {
  const count = ids.length / n;
  return {
    n,
    count,
    ids,
    adjusted: new Float64Array(count),
    prob: new Float64Array(count),
    backoff: new Float64Array(count),
    isContext: new Uint8Array(count),
  };
}

/** Splits a line into words on whitespace; lowercases unless told not to; optionally drops a leading id. */
export function tokenizeLine(
  line: string,
  options: { lowercase?: boolean; skipFirstField?: boolean } = {},
): string[] {
  const fields = line.trim().split(/\s+/).filter((w) => w !== "");
  if (options.skipFirstField) fields.shift();
  return (options.lowercase ?? true) ? fields.map((w) => w.toLowerCase()) : fields;
}

/** A log10 value with 8 significant digits and no trailing zeros, as ARPA text. */
export function formatLog10(x: number): string {
  if (x === 0) return "0";
  const s = x.toPrecision(8);
  const e = s.indexOf("e");
  const mantissa = e < 0 ? s : s.slice(0, e);
  const trimmed = mantissa.includes(".") ? mantissa.replace(/0+$/, "").replace(/\.$/, "") : mantissa;
  return e < 0 ? trimmed : trimmed + s.slice(e);
}

/**
 * The model as ARPA text, in pieces (one string per chunk of lines) so a large model is never one string.
 * Back-offs are written for every n-gram that is the context of a higher-order n-gram.
 */
export function* arpaChunks(model: KneserNeyModel): Generator<string> {
  const header = ["", "\\data\\"];
  for (const t of model.tables) header.push(`ngram ${t.n}=${t.count}`);
  yield header.join("\n") + "\n";
  for (const t of model.tables) {
    let lines = [`\n\\${t.n}-grams:`];
    const top = t.n === model.order;
    for (let r = 0; r < t.count; r++) {
      let text = "";
      for (let k = 0; k < t.n; k++) text += (k ? " " : "") + model.words[t.ids[r * t.n + k]];
      let line = `${formatLog10(t.prob[r])}\t${text}`;
      if (!top && t.isContext[r]) line += `\t${formatLog10(t.backoff[r])}`;
      lines.push(line);
      if (lines.length >= 4096) {
        yield lines.join("\n") + "\n";
        lines = [];
      }
    }
    if (lines.length) yield lines.join("\n") + "\n";
  }
  yield "\n\\end\\\n";
}

/** The model as one ARPA string (small models). */
export function formatArpa(model: KneserNeyModel): string {
  return [...arpaChunks(model)].join("");
}

/** Writes the model as an ARPA file: to a temporary file next to `path`, renamed into place when complete. */
export async function writeArpaFile(model: KneserNeyModel, path: string): Promise<void> {
  await writeFileAtomic(path, async (writer) => {
    for (const chunk of arpaChunks(model)) await writer.write(chunk);
  });
}
