/**
 * A model's output classes: the characters it can emit, in class order, then the CTC blank (always the last
 * class, as in the tutorial's TextTransform, where apostrophe is 0, space 1, a-z 2..27 and the blank 28).
 *
 * Decoders, the loss and the checkpoint metadata take an Alphabet instead of assuming the tutorial's 29 classes,
 * so a model for digits or for another language trains and decodes with the same code.
 */

export interface Alphabet {
  /** The characters of classes 0..blank-1, in class order (one code point or grapheme each). */
  readonly characters: readonly string[];
  /** The class id of the CTC blank: the last class. */
  readonly blank: number;
  /** Classes in all, blank included (the model's n_class). */
  readonly size: number;
  /** The class id of the word separator (" "), or -1 when the alphabet has none. */
  readonly space: number;
}

/** Builds an alphabet from its characters in class order; the blank is appended after them. */
export function alphabetOf(characters: readonly string[]): Alphabet {
  const seen = new Set<string>();
  for (const [i, c] of characters.entries()) {
    if (c.length === 0) throw new Error(`alphabet: symbol ${i} is empty`);
    if (seen.has(c)) throw new Error(`alphabet: symbol ${JSON.stringify(c)} appears twice (at ${i})`);
    seen.add(c);
  }
  return Object.freeze({
    characters: Object.freeze([...characters]),
    blank: characters.length,
    size: characters.length + 1,
    space: characters.indexOf(" "),
  });
}

/** The tutorial's 29 classes: apostrophe, space, a-z, blank. */
export const TUTORIAL_ALPHABET: Alphabet = alphabetOf(["'", " ", ..."abcdefghijklmnopqrstuvwxyz"]);
