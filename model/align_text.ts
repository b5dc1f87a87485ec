/**
 * Turning the human text given to forced alignment into the model's labels: lowercased (unless the alphabet has
 * capitals), in NFKC form, whitespace runs as one word break, plain sentence punctuation dropped, and any other
 * character the alphabet lacks an error naming it and where it is (line and 1-based column, in code points of the text as given), since aligning a text that is
 * not what the model can emit would put every later word in the wrong place.
 */
import type { Alphabet } from "../data/alphabet.ts";

/**
 * Sentence punctuation dropped when the alphabet lacks it: . , ! ? ; : and the quotes other than the apostrophe
 * (" “ ” „ ‟ « » ‹ › ‘ ‚ ‛, and ’ where it is not inside a word).
 */
export const DROPPED_PUNCTUATION: ReadonlySet<string> = new Set([
  ...".,!?;:",
  ...'"\u201C\u201D\u201E\u201F\u00AB\u00BB\u2039\u203A\u2018\u201A\u201B\u2019',
]);

/** The typographic apostrophe: inside a word ("don’t") it is read as "'". */
const RIGHT_SINGLE_QUOTE = "\u2019";

/**
 * A character of the text with no class in the alphabet. The message starts with its place (`line L, column C:`);
 * `detail` is the rest, for callers that name the place their own way (`FILE:L:C:`).
 */
export class AlignmentTextError extends Error {
  readonly detail: string;

  constructor(
    readonly character: string,
    readonly line: number,
    readonly column: number,
    alphabet: Alphabet,
  ) {
    const cp = character.codePointAt(0)!;
    const hex = `U+${cp.toString(16).toUpperCase().padStart(4, "0")}`;
    const shown = cp >= 0x20 && cp !== 0x7f ? `'${character}' (${hex})` : hex;
    const detail = `character ${shown} is not in the model's alphabet (${describeAlphabet(alphabet)})`;
    super(`line ${line}, column ${column}: ${detail}`);
    this.name = "AlignmentTextError";
    this.detail = detail;
  }
}

/** The alphabet's symbols, runs of three or more consecutive code points written as ranges: `' space a-z`. */
export function describeAlphabet(alphabet: Alphabet): string {
  const parts: string[] = [];
  const chars = alphabet.characters;
  const code = (c: string) => [...c].length === 1 ? c.codePointAt(0)! : NaN;
  for (let i = 0; i < chars.length;) {
    let j = i;
    while (j + 1 < chars.length && code(chars[j + 1]) === code(chars[j]) + 1) j++;
    if (j - i >= 2) parts.push(`${chars[i]}-${chars[j]}`);
    else for (let k = i; k <= j; k++) parts.push(chars[k] === " " ? "space" : chars[k]);
    i = j + 1;
  }
  return parts.join(" ");
}

/** One word of the text: its characters (alphabet symbols) and their class ids. */
export interface AlignmentWord {
  word: string;
  characters: string[];
  labels: number[];
}

/** The text ready to align. */
export interface AlignmentText {
  /** The normalised text: words joined by single spaces. */
  text: string;
  words: AlignmentWord[];
  /** The label sequence to align: the words' labels, with the space class between words when there is one. */
  labels: Int32Array;
  /** For each label, its word (or -1 for a space between words) and its index in that word. */
  wordOf: Int32Array;
  charOf: Int32Array;
}

interface Piece {
  text: string;
  line: number;
  column: number;
  original: string;
}

/**
 * Code points of the text, each in NFKC form (as training transcripts are) and lowercased unless the alphabet has
 * capitals (either may give several), with where they came from.
 */
function piecesOf(text: string, lowercase: boolean): Piece[] {
  const pieces: Piece[] = [];
  let line = 1;
  let column = 0;
  for (const original of text) {
    if (original === "\n") {
      line++;
      column = 0;
      pieces.push({ text: "\n", line, column: 0, original });
      continue;
    }
    column++;
    const normal = original.normalize("NFKC");
    for (const text of lowercase ? normal.toLowerCase() : normal) {
      pieces.push({ text, line, column, original });
    }
  }
  return pieces;
}

const LETTER = /\p{L}/u;

/** Lowercases, splits and maps `raw` to labels of `alphabet` (see the module doc). */
export function alignmentText(raw: string, alphabet: Alphabet): AlignmentText {
  const classOf = new Map(alphabet.characters.map((c, i) => [c, i]));
  const longest = Math.max(1, ...alphabet.characters.map((c) => [...c].length));
  const cased = alphabet.characters.some((c) => c.toLowerCase() !== c);
  const pieces = piecesOf(raw, !cased);
  const words: AlignmentWord[] = [];
  let word: AlignmentWord | null = null;
  const endWord = () => {
    if (word) words.push(word);
    word = null;
  };
  for (let i = 0; i < pieces.length;) {
    const p = pieces[i];
    const match = longestSymbol(pieces, i, longest, classOf);
    if (match && match.symbol !== " ") {
      word ??= { word: "", characters: [], labels: [] };
      word.word += match.symbol;
      word.characters.push(match.symbol);
      word.labels.push(match.id);
      i += match.length;
      continue;
    }
    i++;
    if (/^\s$/u.test(p.text)) {
      endWord();
    } else if (p.text === RIGHT_SINGLE_QUOTE && classOf.has("'") && insideWord(pieces, i - 1)) {
      word!.word += "'";
      word!.characters.push("'");
      word!.labels.push(classOf.get("'")!);
    } else if (!DROPPED_PUNCTUATION.has(p.text)) {
      throw new AlignmentTextError(p.original, p.line, p.column, alphabet);
    }
  }
  endWord();
  return assemble(words, alphabet);
}

function insideWord(pieces: Piece[], i: number): boolean {
  return i > 0 && i + 1 < pieces.length && LETTER.test(pieces[i - 1].text) && LETTER.test(pieces[i + 1].text);
}

function longestSymbol(
  pieces: Piece[],
  at: number,
  longest: number,
  classOf: Map<string, number>,
): { symbol: string; id: number; length: number } | null {
  for (let n = Math.min(longest, pieces.length - at); n >= 1; n--) {
    let symbol = "";
    for (let k = 0; k < n; k++) symbol += pieces[at + k].text;
    const id = classOf.get(symbol);
    if (id !== undefined) return { symbol, id, length: n };
  }
  return null;
}

function assemble(words: AlignmentWord[], alphabet: Alphabet): AlignmentText {
  const labels: number[] = [];
  const wordOf: number[] = [];
  const charOf: number[] = [];
  words.forEach((w, i) => {
    if (i > 0 && alphabet.space >= 0) {
      labels.push(alphabet.space);
      wordOf.push(-1);
      charOf.push(-1);
    }
    w.labels.forEach((id, k) => {
      labels.push(id);
      wordOf.push(i);
      charOf.push(k);
    });
  });
  return {
    text: words.map((w) => w.word).join(" "),
    words,
    labels: Int32Array.from(labels),
    wordOf: Int32Array.from(wordOf),
    charOf: Int32Array.from(charOf),
  };
}
