import assert from "node:assert/strict";
import { BLANK, CharacterMapError, CHARACTERS, intsToText, N_CLASS, textToInts } from "../../data/text.ts";

Deno.test("character map: apostrophe 0, space 1, a-z 2..27, blank 28", () => {
  assert.equal(BLANK, 28);
  assert.equal(N_CLASS, 29);
  assert.equal(CHARACTERS.length, 28);
  assert.deepEqual(textToInts("'"), [0]);
  assert.deepEqual(textToInts("a b"), [2, 1, 3]);
  assert.deepEqual(textToInts("a"), [2]);
  assert.deepEqual(textToInts("z"), [27]);
  assert.deepEqual(textToInts("abcdefghijklmnopqrstuvwxyz"), Array.from({ length: 26 }, (_, i) => i + 2));
});

Deno.test("textToInts lowercases, intsToText inverts", () => {
  const ints = textToInts("HE HOPED there'd be STEW");
  assert.deepEqual(ints, [9, 6, 1, 9, 16, 17, 6, 5, 1, 21, 9, 6, 19, 6, 0, 5, 1, 3, 6, 1, 20, 21, 6, 24]);
  assert.equal(intsToText(ints), "he hoped there'd be stew");
  assert.equal(intsToText(new Int32Array([2, 1, 0, 27])), "a 'z");
  assert.deepEqual(textToInts(""), []);
  // U+212A KELVIN SIGN lowercases to a plain "k", as Python's str.lower() does.
  assert.deepEqual(textToInts("\u212a"), [12]);
});

Deno.test("textToInts names the unmapped character and its column", () => {
  const error = assertThrowsMapError(() => textToInts("IT'S 5 O'CLOCK"));
  assert.equal(error.character, "5");
  assert.equal(error.column, 6);
  assert.equal(
    error.message,
    `character '5' (U+0035) at column 6 is not in the character map ` +
      `(apostrophe, space, a-z): "IT'S 5 O'CLOCK"`,
  );
  const accent = assertThrowsMapError(() => textToInts("café\tnoir"));
  assert.equal(accent.character, "é");
  assert.equal(accent.column, 4);
  const control = assertThrowsMapError(() => textToInts("ab\u0007c"));
  assert.ok(control.message.startsWith("character (U+0007) at column 3 "));
  // Columns count code points of the text as given, not UTF-16 units, nor the normalised text.
  const emoji = assertThrowsMapError(() => textToInts("😀x-"));
  assert.equal(emoji.column, 1);
  assert.equal(assertThrowsMapError(() => textToInts("x\u{1F600}\u{1F600}")).column, 2);
  assert.equal(assertThrowsMapError(() => textToInts("  \u201cwell,\u201d  I  said \u00a3")).column, 20);
});

Deno.test("textToInts normalises first: case, quotes, punctuation, whitespace", () => {
  const text = (s: string) => intsToText(textToInts(s));
  assert.equal(
    text("  \u201cWell-known,\u201d she said \u2014 ISN\u2019T it?  "),
    "well known she said isn't it",
  );
  assert.equal(text("ab\tc\n d"), "ab c d");
  // NFKC: full-width letters and the fi ligature fold to plain ones.
  assert.equal(text("\uff28\uff29 \ufb01ne"), "hi fine");
  assert.equal(text("...!?"), "");
});

Deno.test("intsToText rejects the blank and non-classes", () => {
  assert.throws(() => intsToText([2, 28]), {
    name: "RangeError",
    message: "intsToText: value 28 at index 1 is the CTC blank, which has no character",
  });
  assert.throws(() => intsToText([-1]), {
    message: "intsToText: value -1 at index 0 is not a class id (0-27)",
  });
  assert.throws(() => intsToText([1.5]), {
    message: "intsToText: value 1.5 at index 0 is not a class id (0-27)",
  });
});

function assertThrowsMapError(fn: () => unknown): CharacterMapError {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof CharacterMapError, `expected CharacterMapError, got ${error}`);
    return error;
  }
  throw new assert.AssertionError({ message: "expected a CharacterMapError" });
}
