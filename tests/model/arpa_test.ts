import assert from "node:assert/strict";
import { ArpaError, loadArpa, MISSING_UNK_LOG10, parseArpa, readArpa } from "../../model/arpa.ts";

const FIXTURES = new URL("../fixtures/lm/", import.meta.url);
const TINY = new URL("tiny.arpa", FIXTURES).pathname;
const MISSING = new URL("missing_context.arpa", FIXTURES).pathname;

const close = (a: number, b: number, what: string) =>
  assert.ok(Math.abs(a - b) < 1e-6, `${what}: ${a} vs ${b}`);

/** Every entry of tiny.arpa: words, log10 prob, back-off (0 where the file has none). */
const TINY_ENTRIES: [string, number, number][] = [
  ["<s>", -1.0, -0.5],
  ["</s>", -0.8, 0],
  ["<unk>", -1.5, 0],
  ["the", -0.7, -0.3],
  ["cat", -0.9, -0.2],
  ["sat", -1.1, -0.25],
  ["<s> the", -0.4, -0.1],
  ["the cat", -0.6, -0.15],
  ["cat sat", -0.5, -0.05],
  ["sat </s>", -0.3, 0],
  ["the sat", -1.2, 0],
  ["<s> the cat", -0.2, 0],
  ["the cat sat", -0.1, 0],
];

Deno.test("ARPA reader: stored probabilities and back-offs equal the file's, words case-folded", async () => {
  const lm = await loadArpa(TINY);
  assert.equal(lm.order, 3);
  assert.deepEqual(lm.counts, [6, 5, 2]);
  for (const [ngram, prob, backoff] of TINY_ENTRIES) {
    const e = lm.entry(ngram.split(" "));
    assert.ok(e, ngram);
    close(e.prob, prob, `${ngram} prob`);
    close(e.backoff, backoff, `${ngram} backoff`);
  }
  assert.equal(lm.entry(["cat", "the"]), undefined);
  assert.equal(lm.wordId("THE"), lm.wordId("the"));
  assert.equal(lm.wordId("dog"), lm.unkId);
  assert.ok(lm.hasWord("Cat") && !lm.hasWord("dog"));
  let visited = 0;
  lm.forEachNgram(() => visited++);
  assert.equal(visited, TINY_ENTRIES.length);
});

Deno.test("ARPA reader: back-off scores and sentence scores equal hand computations", async () => {
  const lm = await loadArpa(TINY);
  const id = (w: string) => lm.wordId(w);
  // Found directly.
  close(lm.score([id("<s>"), id("the")], id("cat")), -0.2, "P(cat | <s> the)");
  // Trigram absent, context "<s> the" present: its back-off plus the bigram.
  close(lm.score([id("<s>"), id("the")], id("sat")), -0.1 + -1.2, "P(sat | <s> the)");
  // Context "cat sat" present, trigram absent: bo(cat sat) + P(</s> | sat).
  close(lm.score([id("cat"), id("sat")], id("</s>")), -0.05 + -0.3, "P(</s> | cat sat)");
  // Hand-computed: -0.4 - 0.2 - 0.1 + (-0.05 - 0.3).
  close(lm.sentenceScore(["the", "cat", "sat"]), -1.05, "the cat sat");
  close(lm.sentenceScore(["THE", "CAT", "SAT"]), -1.05, "THE CAT SAT");
  // P(cat|<s>) = -0.5 - 0.9; P(the|<s> cat) = -0.2 - 0.7; P(<unk>|cat the) = -0.3 - 1.5; P(</s>|the <unk>) = -0.8.
  close(lm.sentenceScore(["cat", "the", "dog"]), -4.9, "cat the dog");
  close(lm.sentenceScore(["the", "cat"], { eos: false }), -0.6, "no </s>");
  close(lm.sentenceScore(["the"], { bos: false }), -0.7 + -0.3 + -0.8, "no <s>");
  close(lm.lnScore([id("the")], id("cat")), -0.6 * Math.LN10, "ln");
});

Deno.test("ARPA reader: streams gzip files and CRLF text", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const gz = `${dir}/tiny.arpa.gz`;
    const plain = await Deno.readFile(TINY);
    const compressed = ReadableStream.from([plain]).pipeThrough(new CompressionStream("gzip"));
    await Deno.writeFile(gz, compressed);
    const lm = await loadArpa(gz);
    close(lm.sentenceScore(["the", "cat", "sat"]), -1.05, "gz");
    const crlf = new TextDecoder().decode(plain).replaceAll("\n", "\r\n");
    // Tiny chunks split lines anywhere, including between \r and \n.
    const bytes = new TextEncoder().encode(crlf);
    const chunks = [];
    for (let i = 0; i < bytes.length; i += 7) chunks.push(bytes.slice(i, i + 7));
    const lm2 = await readArpa(ReadableStream.from(chunks));
    close(lm2.sentenceScore(["cat", "the", "dog"]), -4.9, "crlf");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("ARPA reader: missing contexts are inserted without changing scores; missing <unk> added", async () => {
  const lm = await loadArpa(MISSING);
  assert.deepEqual(lm.counts, [6, 2, 1]);
  close(lm.entry(["<unk>"])!.prob, MISSING_UNK_LOG10, "<unk>");
  const ab = lm.entry(["a", "b"])!;
  close(ab.prob, -0.3 + -0.8, "inserted a b");
  close(ab.backoff, 0, "inserted a b backoff");
  const id = (w: string) => lm.wordId(w);
  close(lm.score([id("a"), id("b")], id("c")), -0.05, "P(c | a b)");
  close(lm.score([id("a")], id("b")), -0.3 + -0.8, "P(b | a)");
  close(lm.score([id("a"), id("b")], id("a")), 0 + -0.4 + -0.7, "P(a | a b)");
});

Deno.test("ARPA reader: bad files give errors naming source and line", () => {
  const good = Deno.readTextFileSync(TINY);
  assert.throws(() => parseArpa("hello\n", { name: "x.arpa" }), /x\.arpa:1: no \\data\\ section/);
  assert.throws(
    () => parseArpa(good.replace("ngram 2=5", "ngram 2=6"), { name: "t.arpa" }),
    (e) => e instanceof ArpaError && /declares 6 2-grams but the section has 5/.test(e.message),
  );
  assert.throws(
    () => parseArpa(good.replace("-0.6\tTHE CAT", "-0.6\tTHE DOG"), { name: "t.arpa" }),
    /t\.arpa:18: word "DOG"/,
  );
  assert.throws(() => parseArpa(good.replace("-0.9\tCAT", "x\tCAT")), /bad probability "x"/);
  assert.throws(() => parseArpa(good.replace("\\end\\", "")), /ends before \\end\\/);
});
