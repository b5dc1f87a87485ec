/**
 * Transcripts to class ids and back, for an alphabet (data/alphabet.ts); without one, the PyTorch tutorial's
 * TextTransform map: apostrophe 0, space 1, a-z 2..27, and the CTC blank 28, 29 classes in all. Text is
 * normalised first (data/normalise.ts: NFKC, case, quotes, punctuation, spacing), so only a character the
 * alphabet truly lacks is an error, and that error says where it is.
 */
import { type Alphabet, sameAlphabet, TUTORIAL_ALPHABET } from "./alphabet.ts";
import { normaliseWithOrigins, sourceColumn } from "./normalise.ts";

/** The tutorial alphabet's blank class. */
export const BLANK = TUTORIAL_ALPHABET.blank;
/** The tutorial alphabet's class count. */
export const N_CLASS = TUTORIAL_ALPHABET.size;

/** The characters of the tutorial alphabet's classes 0..27, in class order. */
export const CHARACTERS: readonly string[] = TUTORIAL_ALPHABET.characters;

/** How an error names an alphabet: the tutorial's by its parts, another by its first symbols. */
function describeAlphabet(alphabet: Alphabet): string {
  if (sameAlphabet(alphabet, TUTORIAL_ALPHABET)) return "the character map (apostrophe, space, a-z)";
  const shown = alphabet.characters.slice(0, 40).map((c) => c === " " ? "<space>" : c).join(" ");
  const more = alphabet.characters.length > 40 ? " ..." : "";
  return `the alphabet (${alphabet.characters.length} symbols: ${shown}${more})`;
}

/**
 * A character with no class. `column` is 1-based and counts code points of the text as given, so a caller that
 * knows where the text came from can point at the exact place (`file:line:column`).
 */
export class CharacterMapError extends Error {
  constructor(
    readonly character: string,
    readonly column: number,
    readonly text: string,
    alphabet: Alphabet = TUTORIAL_ALPHABET,
  ) {
    super(
      `character ${describeCharacter(character)} at column ${column} is not in ${
        describeAlphabet(alphabet)
      }: ` +
        `"${text}"`,
    );
    this.name = "CharacterMapError";
  }
}

function describeCharacter(character: string): string {
  const codePoint = character.codePointAt(0)!;
  const hex = codePoint.toString(16).toUpperCase().padStart(4, "0");
  const printable = codePoint >= 0x20 && codePoint !== 0x7f ? `'${character}' ` : "";
  return `${printable}(U+${hex})`;
}

/** Per alphabet: symbol -> class id, and the longest symbol in code points. */
interface Encoder {
  ids: Map<string, number>;
  longest: number;
}

const encoders = new WeakMap<Alphabet, Encoder>();

function encoderOf(alphabet: Alphabet): Encoder {
  let enc = encoders.get(alphabet);
  if (!enc) {
    const ids = new Map(alphabet.characters.map((c, i) => [c, i]));
    const longest = Math.max(1, ...alphabet.characters.map((c) => [...c].length));
    enc = { ids, longest };
    encoders.set(alphabet, enc);
  }
  return enc;
}

/**
 * Normalises `text` for the alphabet (data/normalise.ts) and maps it to class ids, longest symbol first; throws
 * CharacterMapError on the first character left without a class, with its column in `text` as given.
 */
export function textToInts(text: string, alphabet: Alphabet = TUTORIAL_ALPHABET): number[] {
  const { text: normalised, origins } = normaliseWithOrigins(text, alphabet);
  const { ids, longest } = encoderOf(alphabet);
  const cps = [...normalised];
  const ints: number[] = [];
  for (let i = 0; i < cps.length;) {
    let matched = 0;
    for (let len = Math.min(longest, cps.length - i); len >= 1 && matched === 0; len--) {
      const id = ids.get(len === 1 ? cps[i] : cps.slice(i, i + len).join(""));
      if (id !== undefined) {
        ints.push(id);
        matched = len;
      }
    }
    if (matched === 0) {
      const column = sourceColumn(text, origins[i], alphabet);
      throw new CharacterMapError(cps[i], column, text, alphabet);
    }
    i += matched;
  }
  return ints;
}

/** Maps class ids back to text. The blank has no character: a decoder removes it first. */
export function intsToText(ints: ArrayLike<number>, alphabet: Alphabet = TUTORIAL_ALPHABET): string {
  const { characters, blank } = alphabet;
  let text = "";
  for (let i = 0; i < ints.length; i++) {
    const id = ints[i];
    if (!Number.isInteger(id) || id < 0 || id >= blank) {
      const why = id === blank ? "the CTC blank, which has no character" : `not a class id (0-${blank - 1})`;
      throw new RangeError(`intsToText: value ${id} at index ${i} is ${why}`);
    }
    text += characters[id];
  }
  return text;
}
