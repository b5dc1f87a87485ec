import assert from "node:assert/strict";
import {
  alphabetFromMetadata,
  alphabetOf,
  alphabetToMetadata,
  formatAlphabet,
  parseAlphabet,
  readAlphabetFile,
  TUTORIAL_ALPHABET,
} from "../../data/alphabet.ts";
import { normaliseTranscript } from "../../data/normalise.ts";
import {
  configFromMetadata,
  configToMetadata,
  TUTORIAL_CONFIG,
  validateConfig,
  withAlphabet,
} from "../../model/config.ts";
import { CharacterMapError, intsToText, textToInts } from "../../data/text.ts";

const DIGITS_FILE = new URL("../fixtures/finetune/alphabet_digits.txt", import.meta.url).pathname;

Deno.test("alphabet file: one symbol a line, <space>, comments, escapes, <blank> last", () => {
  const a = parseAlphabet("# digits\n<space>\n'\n\\#\n0\n1\r\nab\n\n<blank>\n", "a.txt");
  assert.deepEqual(a.characters, [" ", "'", "#", "0", "1", "ab"]);
  assert.equal(a.blank, 6);
  assert.equal(a.size, 7);
  assert.equal(a.space, 0);
  // A line holding one space is the space too (DeepSpeech's files write it so).
  assert.deepEqual(parseAlphabet("a\n \n<blank>").characters, ["a", " "]);
  assert.equal(parseAlphabet("a\nb\n<blank>\n").space, -1);
  // formatAlphabet writes what parseAlphabet reads back.
  const back = parseAlphabet(formatAlphabet(a));
  assert.deepEqual(back.characters, a.characters);
  assert.deepEqual(parseAlphabet(formatAlphabet(TUTORIAL_ALPHABET)).characters, TUTORIAL_ALPHABET.characters);
});

Deno.test("alphabet file: errors name the file and line", () => {
  const bad = (text: string, message: RegExp) => assert.throws(() => parseAlphabet(text, "x.txt"), message);
  bad("a\nb\n", /^AlphabetError: x\.txt: no <blank> line/);
  bad("a\n<blank>\nb\n", /x\.txt:3: "b" comes after <blank> \(line 2\)/);
  bad("a\nb\na\n<blank>", /x\.txt:3: symbol "a" is already on line 1/);
  bad("a\n \u00e9x\n<blank>", /x\.txt:2: .* leading or trailing whitespace/);
  bad("a\ne\u0301\n<blank>", /x\.txt:2: symbol "e\u0301" is not in NFKC form .* write "\u00e9"/);
  bad("\ufb01\n<blank>", /x\.txt:1: .*not in NFKC form/);
  bad("<blank>\n", /x\.txt: no symbols before <blank>/);
});

Deno.test("alphabet file: the committed digits alphabet is the tutorial's plus 0-9", async () => {
  const a = await readAlphabetFile(DIGITS_FILE);
  assert.equal(a.size, 39);
  assert.deepEqual(a.characters.slice(0, 28), TUTORIAL_ALPHABET.characters);
  assert.deepEqual(a.characters.slice(28), [..."0123456789"]);
  await assert.rejects(
    readAlphabetFile("/nonexistent/alphabet.txt"),
    /alphabet file \/nonexistent\/alphabet\.txt:/,
  );
});

Deno.test("alphabet metadata: a JSON array of the characters, read back the same; bad values named", () => {
  const a = alphabetOf([" ", ..."0123456789"]);
  const text = alphabetToMetadata(a);
  assert.equal(text, '[" ","0","1","2","3","4","5","6","7","8","9"]');
  assert.deepEqual(alphabetFromMetadata(text), a);
  assert.throws(
    () => alphabetFromMetadata("[1,2]", "ck.safetensors"),
    /ck\.safetensors: metadata alphabet must be/,
  );
  assert.throws(() => alphabetFromMetadata("nope", "ck"), /ck: metadata alphabet is not JSON/);
  assert.throws(() => alphabetFromMetadata('["a","a"]', "ck"), /ck: metadata alphabet: .*appears twice/);
});

Deno.test("normalisation: digits kept only when the alphabet has them, else reported", () => {
  const digits = alphabetOf(["'", " ", ..."abcdefghijklmnopqrstuvwxyz", ..."0123456789"]);
  assert.equal(normaliseTranscript("Room 101, Floor \uff12.", digits), "room 101 floor 2");
  assert.deepEqual(textToInts("a 9", digits), [2, 1, 37]);
  assert.equal(intsToText([37, 1, 28], digits), "9 0");
  assert.throws(() => intsToText([38], digits), /value 38 at index 0 is the CTC blank/);
  // The tutorial's letters-only alphabet keeps the digit and reports it.
  assert.equal(normaliseTranscript("Room 101.", TUTORIAL_ALPHABET), "room 101");
  assert.throws(() => textToInts("Room 101."), (e) => e instanceof CharacterMapError && e.column === 6);
});

Deno.test("normalisation: an alphabet without space or apostrophe; a cased one; multi-code-point symbols", () => {
  const digitsOnly = alphabetOf([..."0123456789"]);
  assert.equal(normaliseTranscript(" 1 2-3 ", digitsOnly), "123");
  assert.equal(normaliseTranscript("don\u2019t", TUTORIAL_ALPHABET), "don't");
  assert.equal(normaliseTranscript("don\u2019t", alphabetOf([..."dont"])), "dont");
  const cased = alphabetOf([" ", ..."aAbB"]);
  assert.equal(normaliseTranscript("Ab ba!", cased), "Ab ba");
  const multi = alphabetOf([" ", "a", "ch", "c", "h"]);
  assert.deepEqual(textToInts("chac h", multi), [2, 1, 3, 0, 4]);
  const error = (() => {
    try {
      textToInts("ca\u20ac", multi);
    } catch (e) {
      return e as CharacterMapError;
    }
  })();
  assert.ok(error instanceof CharacterMapError);
  assert.equal(error.column, 3);
  assert.match(error.message, /is not in the alphabet \(5 symbols: <space> a ch c h\)/);
});

Deno.test("model config: the alphabet in the checkpoint metadata, validated against n_class", async () => {
  const digits = await readAlphabetFile(DIGITS_FILE);
  const config = withAlphabet(TUTORIAL_CONFIG, digits);
  const meta = configToMetadata(config);
  assert.equal(meta.n_class, "39");
  assert.equal(meta.alphabet, alphabetToMetadata(digits));
  assert.deepEqual(configFromMetadata(meta, "ck").alphabet, digits);
  // A checkpoint without the key is the tutorial's; with n_class 39 and no alphabet its classes are unknown.
  const { alphabet: _, ...withoutAlphabet } = configToMetadata(TUTORIAL_CONFIG);
  assert.deepEqual(configFromMetadata(withoutAlphabet, "ck").alphabet, TUTORIAL_ALPHABET);
  assert.throws(
    () => configFromMetadata({ ...withoutAlphabet, n_class: "39" }, "old.safetensors"),
    /old\.safetensors: n_class is 39 but the metadata has no alphabet/,
  );
  assert.throws(
    () => configFromMetadata({ ...meta, n_class: "29" }, "ck"),
    /ck: nClass = 29 must equal the alphabet's size \(39/,
  );
  assert.throws(
    () => configFromMetadata({ ...meta, alphabet: "[" }, "ck"),
    /ck: metadata alphabet is not JSON/,
  );
  assert.throws(() => validateConfig({ ...config, nClass: 29 }, "model"), /model: nClass = 29 must equal/);
});
