/**
 * A model's output classes: the characters it can emit, in class order, then the CTC blank (always the last
 * class, as in the tutorial's TextTransform, where apostrophe is 0, space 1, a-z 2..27 and the blank 28).
 *
 * Decoders, the loss and the checkpoint metadata take an Alphabet instead of assuming the tutorial's 29 classes,
 * so a model for digits or for another language trains and decodes with the same code.
 *
 * An alphabet file (`--alphabet FILE`) lists one symbol a line, in class order, in UTF-8:
 *
 * - `<space>` (or a line holding a single space) is the word separator;
 * - `<blank>` is the CTC blank and must be the last symbol line;
 * - a line starting with `#` is a comment (as in DeepSpeech's alphabet files); `\#` is the symbol `#`, and
 *   `\\` a backslash;
 * - empty lines are ignored; a trailing `\r` (CRLF files) is dropped;
 * - a symbol is one or more code points in NFKC form (the form transcripts are normalised to), so a symbol that
 *   normalisation would change is an error, as is a symbol listed twice.
 *
 * Errors name the file and the line.
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
    if (typeof c !== "string" || c.length === 0) throw new Error(`alphabet: symbol ${i} is empty`);
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

/** Whether two alphabets have the same classes in the same order. */
export function sameAlphabet(a: Alphabet, b: Alphabet): boolean {
  return a.size === b.size && a.characters.every((c, i) => c === b.characters[i]);
}

/** An alphabet file or metadata value that cannot be read: the message names the file (and line). */
export class AlphabetError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "AlphabetError";
  }
}

const SPACE_TOKEN = "<space>";
const BLANK_TOKEN = "<blank>";

/** The symbol a line stands for, or null for a comment or an empty line. */
function symbolOfLine(raw: string): string | null {
  const line = raw.endsWith("\r") ? raw.slice(0, -1) : raw;
  if (line === " " || line === SPACE_TOKEN) return " ";
  if (line === "" || line.startsWith("#")) return null;
  if (line === "\\#") return "#";
  if (line === "\\\\") return "\\";
  return line;
}

/**
 * Parses an alphabet file's text (the format is in the module comment). `file` names it in errors.
 */
export function parseAlphabet(text: string, file = "alphabet"): Alphabet {
  const symbols: string[] = [];
  const lineOf = new Map<string, number>();
  let blankLine = 0;
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const line = i + 1;
    const symbol = symbolOfLine(lines[i]);
    if (symbol === null) continue;
    if (blankLine > 0) {
      throw new AlphabetError(
        `${file}:${line}: ${JSON.stringify(symbol)} comes after ${BLANK_TOKEN} (line ${blankLine}); ` +
          `${BLANK_TOKEN} must be the last symbol`,
      );
    }
    if (symbol === BLANK_TOKEN) {
      blankLine = line;
      continue;
    }
    if (symbol !== " " && symbol.trim() !== symbol) {
      throw new AlphabetError(
        `${file}:${line}: symbol ${JSON.stringify(symbol)} has leading or trailing whitespace ` +
          `(write the word separator as ${SPACE_TOKEN})`,
      );
    }
    const nfkc = symbol.normalize("NFKC");
    if (nfkc !== symbol) {
      throw new AlphabetError(
        `${file}:${line}: symbol ${JSON.stringify(symbol)} is not in NFKC form (transcripts are normalised ` +
          `to NFKC, so it could never occur); write ${JSON.stringify(nfkc)}`,
      );
    }
    const earlier = lineOf.get(symbol);
    if (earlier !== undefined) {
      throw new AlphabetError(
        `${file}:${line}: symbol ${JSON.stringify(symbol)} is already on line ${earlier}`,
      );
    }
    lineOf.set(symbol, line);
    symbols.push(symbol);
  }
  if (blankLine === 0) {
    throw new AlphabetError(
      `${file}: no ${BLANK_TOKEN} line; the CTC blank must be listed last, as ${BLANK_TOKEN}`,
    );
  }
  if (symbols.length === 0) throw new AlphabetError(`${file}: no symbols before ${BLANK_TOKEN}`);
  return alphabetOf(symbols);
}

/** Reads and parses an alphabet file; a missing or unreadable file is an AlphabetError naming it. */
export async function readAlphabetFile(path: string): Promise<Alphabet> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    throw new AlphabetError(`alphabet file ${path}: ${(e as Error).message}`);
  }
  return parseAlphabet(text, path);
}

/** The text of an alphabet file for `alphabet` (parseAlphabet reads it back to the same classes). */
export function formatAlphabet(alphabet: Alphabet): string {
  const lines = alphabet.characters.map((c) =>
    c === " " ? SPACE_TOKEN : c === "#" ? "\\#" : c === "\\" ? "\\\\" : c
  );
  return [...lines, BLANK_TOKEN, ""].join("\n");
}

/** The checkpoint metadata key that records the alphabet. */
export const ALPHABET_KEY = "alphabet";

/** The metadata value recording an alphabet: its characters in class order as a JSON array (blank implied). */
export function alphabetToMetadata(alphabet: Alphabet): string {
  return JSON.stringify(alphabet.characters);
}

/** Reads the alphabet back from its metadata value; `file` names the checkpoint in errors. */
export function alphabetFromMetadata(value: string, file = "checkpoint"): Alphabet {
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch (e) {
    throw new AlphabetError(`${file}: metadata ${ALPHABET_KEY} is not JSON (${(e as Error).message})`);
  }
  if (!Array.isArray(parsed) || parsed.length === 0 || !parsed.every((c) => typeof c === "string")) {
    throw new AlphabetError(
      `${file}: metadata ${ALPHABET_KEY} must be a JSON array of strings, got ${value}`,
    );
  }
  try {
    return alphabetOf(parsed);
  } catch (e) {
    throw new AlphabetError(`${file}: metadata ${ALPHABET_KEY}: ${(e as Error).message}`);
  }
}

/** Whether the alphabet has letters that lowercasing would change (then transcripts keep their case). */
export function isCased(alphabet: Alphabet): boolean {
  return alphabet.characters.some((c) => c.toLowerCase() !== c);
}
