/**
 * Transcript normalisation: the one rule that turns a transcript as written into the text a model with a given
 * alphabet is trained on (and its references are scored against), so that case, typographic quotes, punctuation
 * and spacing never make a corpus unusable, while a character the model truly cannot write is reported rather
 * than silently dropped.
 *
 * The rule, in order:
 *
 * 1. Unicode NFKC (compatibility forms fold: full-width letters, ligatures, no-break spaces, superscripts).
 * 2. Lowercase, unless the alphabet itself has letters that lowercasing changes (a cased alphabet keeps case).
 * 3. Apostrophe-like marks (U+2018, U+2019, U+201B, U+02BC, U+2032, U+0060, U+00B4) become `'`, unless the
 *    alphabet has the mark itself.
 * 4. Each character the alphabet lacks:
 *    - whitespace becomes a word separator (or nothing, when the alphabet has no space);
 *    - a dash or hyphen (Unicode Pd) becomes a word separator likewise ("twenty-one" -> "twenty one");
 *    - other punctuation (Unicode P: . , ; : ! ? quotes brackets ...) is removed;
 *    - anything else (letters, digits, symbols such as $ % &) is kept, and so reported by the encoder: a digit is
 *      kept only when the alphabet has it, and a transcript with "42" for a letters-only model must be spelt
 *      out by its author, since how to say a number depends on the language.
 * 5. Runs of spaces become one space; leading and trailing spaces are removed.
 *
 * A code point that is part of a multi-code-point symbol counts as in the alphabet.
 */
import type { Alphabet } from "./alphabet.ts";
import { isCased } from "./alphabet.ts";

const APOSTROPHES = new Set(["\u2018", "\u2019", "\u201b", "\u02bc", "\u2032", "\u0060", "\u00b4"]);
const WHITESPACE = /^\s$/u;
const DASH = /^\p{Pd}$/u;
const PUNCTUATION = /^\p{P}$/u;

/** What the rule needs to know of an alphabet, computed once per alphabet. */
interface NormaliseContext {
  codePoints: Set<string>;
  cased: boolean;
  hasSpace: boolean;
}

const contexts = new WeakMap<Alphabet, NormaliseContext>();

function contextOf(alphabet: Alphabet): NormaliseContext {
  let ctx = contexts.get(alphabet);
  if (!ctx) {
    const codePoints = new Set<string>();
    for (const symbol of alphabet.characters) for (const cp of symbol) codePoints.add(cp);
    ctx = { codePoints, cased: isCased(alphabet), hasSpace: alphabet.space >= 0 };
    contexts.set(alphabet, ctx);
  }
  return ctx;
}

/** Steps 1 and 2: NFKC, then lowercase for an uncased alphabet. */
function fold(text: string, ctx: NormaliseContext): string {
  const nfkc = text.normalize("NFKC");
  return ctx.cased ? nfkc : nfkc.toLowerCase();
}

/**
 * The normalised text, and for each of its code points the index of the code point of the folded text (steps 1
 * and 2) it came from, so that an error can point back at the transcript as written.
 */
export function normaliseWithOrigins(text: string, alphabet: Alphabet): { text: string; origins: number[] } {
  const ctx = contextOf(alphabet);
  const out: string[] = [];
  const origins: number[] = [];
  let pendingSpace = false;
  let index = -1;
  for (let ch of fold(text, ctx)) {
    index++;
    if (APOSTROPHES.has(ch) && !ctx.codePoints.has(ch)) ch = "'";
    if (!ctx.codePoints.has(ch)) {
      if (WHITESPACE.test(ch) || DASH.test(ch)) {
        pendingSpace = ctx.hasSpace;
        continue;
      }
      if (PUNCTUATION.test(ch)) continue;
    }
    if (ch === " ") {
      pendingSpace = true;
      continue;
    }
    if (pendingSpace && out.length > 0) {
      out.push(" ");
      origins.push(index);
    }
    pendingSpace = false;
    out.push(ch);
    origins.push(index);
  }
  return { text: out.join(""), origins };
}

/** The transcript normalised for `alphabet` by the rule of the module comment. */
export function normaliseTranscript(text: string, alphabet: Alphabet): string {
  return normaliseWithOrigins(text, alphabet).text;
}

/**
 * The 1-based column (in code points of `text` as given) of the character that produced code point `folded`
 * of the folded text: the shortest prefix of `text` whose folding reaches past it. Only called on an error.
 */
export function sourceColumn(text: string, folded: number, alphabet: Alphabet): number {
  const ctx = contextOf(alphabet);
  const source = [...text];
  for (let k = 1; k <= source.length; k++) {
    if ([...fold(source.slice(0, k).join(""), ctx)].length > folded) return k;
  }
  return source.length;
}
