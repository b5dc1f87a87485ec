/**
 * The character map of the PyTorch tutorial's TextTransform: apostrophe 0, space 1, a-z 2..27, and the CTC
 * blank 28, 29 classes in all.
 */

export const BLANK = 28;
export const N_CLASS = 29;

const APOSTROPHE = 0;
const SPACE = 1;
const LETTER_A = 2;

/** The characters of classes 0..27, in class order. */
export const CHARACTERS: readonly string[] = ["'", " ", ..."abcdefghijklmnopqrstuvwxyz"];

/**
 * A character with no class. `column` is 1-based and counts code points of the text as given, so a caller that
 * knows where the text came from can point at the exact place (`file:line:column`).
 */
export class CharacterMapError extends Error {
  constructor(readonly character: string, readonly column: number, readonly text: string) {
    super(
      `character ${describeCharacter(character)} at column ${column} is not in the character map ` +
        `(apostrophe, space, a-z): "${text}"`,
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

function classOfLowercase(character: string): number {
  if (character === "'") return APOSTROPHE;
  if (character === " ") return SPACE;
  if (character.length === 1) {
    const code = character.charCodeAt(0);
    if (code >= 0x61 && code <= 0x7a) return LETTER_A + code - 0x61;
  }
  return -1;
}

/** Maps text to class ids after lowercasing it; throws CharacterMapError on the first unmapped character. */
export function textToInts(text: string): number[] {
  const ints: number[] = [];
  let column = 0;
  for (const character of text) {
    column++;
    // Lowercasing one code point may give several (e.g. U+0130); each must be in the map.
    const lowered = character.toLowerCase();
    for (const piece of lowered) {
      const id = classOfLowercase(piece);
      if (id < 0) throw new CharacterMapError(character, column, text);
      ints.push(id);
    }
  }
  return ints;
}

/** Maps class ids 0..27 back to text. The blank (28) has no character: a decoder removes it first. */
export function intsToText(ints: ArrayLike<number>): string {
  let text = "";
  for (let i = 0; i < ints.length; i++) {
    const id = ints[i];
    if (!Number.isInteger(id) || id < 0 || id >= BLANK) {
      const why = id === BLANK ? "the CTC blank, which has no character" : "not a class id (0-27)";
      throw new RangeError(`intsToText: value ${id} at index ${i} is ${why}`);
    }
    text += CHARACTERS[id];
  }
  return text;
}
