/**
 * Word and character error rates.
 *
 * The per-utterance `wer` and `cer` follow the definitions of the PyTorch tutorial "Building an end-to-end speech
 * recognition model in PyTorch" (AssemblyAI, 2020), whose test loop reports the mean of per-utterance rates:
 * - `wer`: reference and hypothesis are split on single spaces exactly as Python's `str.split(' ')` does, so
 *   repeated spaces yield empty words and an empty string is one empty word; errors are divided by the number of
 *   reference words.
 * - `cer`: runs of spaces are collapsed and leading/trailing spaces removed (`' '.join(filter(None, s.split(' ')))`)
 *   but the single spaces between words are kept and compared as characters; errors are divided by the length of
 *   that reference string.
 * Both raise an error for an empty reference, as the tutorial's ValueError does.
 *
 * Corpus-level rates divide the total edits by the total reference length, using the same tokenisation.
 */

/** Levenshtein distance (unit-cost insertions, deletions and substitutions) between two token sequences. */
export function editDistance<T>(reference: ArrayLike<T>, hypothesis: ArrayLike<T>): number {
  const n = reference.length;
  const m = hypothesis.length;
  if (n === 0) return m;
  if (m === 0) return n;
  let prev = new Int32Array(m + 1);
  let cur = new Int32Array(m + 1);
  for (let j = 0; j <= m; j++) prev[j] = j;
  for (let i = 1; i <= n; i++) {
    cur[0] = i;
    const r = reference[i - 1];
    for (let j = 1; j <= m; j++) {
      const sub = prev[j - 1] + (r === hypothesis[j - 1] ? 0 : 1);
      const del = prev[j] + 1;
      const ins = cur[j - 1] + 1;
      cur[j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
    }
    const t = prev;
    prev = cur;
    cur = t;
  }
  return prev[m];
}

/** Edits and reference length of one utterance. */
export interface ErrorCount {
  edits: number;
  referenceLength: number;
}

/** Word edits as the tutorial's `word_errors`: split on single spaces, keeping empty words. */
export function wordErrors(reference: string, hypothesis: string): ErrorCount {
  const ref = reference.split(" ");
  const hyp = hypothesis.split(" ");
  return { edits: editDistance(ref, hyp), referenceLength: ref.length };
}

/** Collapses runs of spaces and trims spaces at both ends (the tutorial's `char_errors` normalisation). */
export function normaliseSpaces(text: string): string {
  return text.split(" ").filter((w) => w !== "").join(" ");
}

/** Character edits as the tutorial's `char_errors` (spaces kept, but runs collapsed and ends trimmed). */
export function charErrors(reference: string, hypothesis: string): ErrorCount {
  const ref = Array.from(normaliseSpaces(reference));
  const hyp = Array.from(normaliseSpaces(hypothesis));
  return { edits: editDistance(ref, hyp), referenceLength: ref.length };
}

/** Word error rate of one utterance, as the tutorial's `wer`. Throws on an empty reference. */
export function wer(reference: string, hypothesis: string): number {
  const { edits, referenceLength } = wordErrors(reference, hypothesis);
  // "".split(" ") is [""], one word, so only an impossible zero-length split could fail here; kept for parity.
  if (referenceLength === 0) throw new Error("wer: the reference has no words");
  return edits / referenceLength;
}

/** Character error rate of one utterance, as the tutorial's `cer`. Throws on an empty reference. */
export function cer(reference: string, hypothesis: string): number {
  const { edits, referenceLength } = charErrors(reference, hypothesis);
  if (referenceLength === 0) {
    throw new Error(`cer: the reference ${JSON.stringify(reference)} has no characters`);
  }
  return edits / referenceLength;
}

/** Error rates over a set of utterances. */
export interface ErrorRates {
  /** Mean of per-utterance WER (what the tutorial prints). */
  meanWer: number;
  /** Mean of per-utterance CER (what the tutorial prints). */
  meanCer: number;
  /** Total word edits over total reference words. */
  corpusWer: number;
  /** Total character edits over total reference characters. */
  corpusCer: number;
  wordEdits: number;
  referenceWords: number;
  charEdits: number;
  referenceChars: number;
  utterances: number;
}

/** Accumulates utterance scores; `rates()` gives both the tutorial's means and the corpus-level rates. */
export class ErrorRateAccumulator {
  #werSum = 0;
  #cerSum = 0;
  #wordEdits = 0;
  #words = 0;
  #charEdits = 0;
  #chars = 0;
  #count = 0;

  /** Adds one utterance. Throws (naming the reference) if the reference is empty. */
  add(reference: string, hypothesis: string): void {
    const w = wordErrors(reference, hypothesis);
    const c = charErrors(reference, hypothesis);
    if (c.referenceLength === 0) {
      throw new Error(`error rates: the reference ${JSON.stringify(reference)} has no characters`);
    }
    this.#werSum += w.edits / w.referenceLength;
    this.#cerSum += c.edits / c.referenceLength;
    this.#wordEdits += w.edits;
    this.#words += w.referenceLength;
    this.#charEdits += c.edits;
    this.#chars += c.referenceLength;
    this.#count++;
  }

  rates(): ErrorRates {
    const n = this.#count;
    return {
      meanWer: n ? this.#werSum / n : NaN,
      meanCer: n ? this.#cerSum / n : NaN,
      corpusWer: this.#words ? this.#wordEdits / this.#words : NaN,
      corpusCer: this.#chars ? this.#charEdits / this.#chars : NaN,
      wordEdits: this.#wordEdits,
      referenceWords: this.#words,
      charEdits: this.#charEdits,
      referenceChars: this.#chars,
      utterances: n,
    };
  }
}

/** Error rates of parallel lists of references and hypotheses. */
export function errorRates(references: readonly string[], hypotheses: readonly string[]): ErrorRates {
  if (references.length !== hypotheses.length) {
    throw new Error(`errorRates: ${references.length} references but ${hypotheses.length} hypotheses`);
  }
  const acc = new ErrorRateAccumulator();
  for (let i = 0; i < references.length; i++) acc.add(references[i], hypotheses[i]);
  return acc.rates();
}
