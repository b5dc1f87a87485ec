import assert from "node:assert/strict";
import { parseArpa } from "../../model/arpa.ts";
import {
  buildKneserNey,
  formatArpa,
  formatLog10,
  type KneserNeyModel,
  tokenizeLine,
} from "../../model/kneser_ney.ts";
import { main } from "../../cli/lm.ts";

const CATHY = new URL(
  "../../../shared/speech/rhasspy-cathy/librispeech/90101/1/90101-1.trans.txt",
  import.meta.url,
);

/** A few hundred real sentences (enough for count-of-counts), falling back to a generated text without ../shared. */
function corpus(): string[][] {
  try {
    const lines = Deno.readTextFileSync(CATHY).split("\n").slice(0, 300);
    return lines.map((l) => tokenizeLine(l, { skipFirstField: true })).filter((s) => s.length > 0);
  } catch {
    const words = "the a cat dog sat on mat ran to big small red".split(" ");
    let s = 1;
    const r = () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 4294967296;
    return Array.from(
      { length: 300 },
      () =>
        Array.from({ length: 2 + Math.floor(r() * 8) }, () => words[Math.floor(r() * r() * words.length)]),
    );
  }
}

/** A float64 back-off scorer straight from the model's tables (independent of the ARPA reader). */
function scorer(model: KneserNeyModel) {
  const entries = new Map<string, { prob: number; backoff: number }>();
  for (const t of model.tables) {
    for (let r = 0; r < t.count; r++) {
      entries.set(Array.from(t.ids.subarray(r * t.n, (r + 1) * t.n)).join(","), {
        prob: t.prob[r],
        backoff: t.backoff[r],
      });
    }
  }
  const score = (context: number[], w: number): number => {
    const ctx = context.slice(Math.max(0, context.length - (model.order - 1)));
    const e = entries.get([...ctx, w].join(","));
    if (e) return e.prob;
    if (ctx.length === 0) throw new Error(`no unigram ${w}`);
    const c = entries.get(ctx.join(","));
    return (c ? c.backoff : 0) + score(ctx.slice(1), w);
  };
  return { entries, score };
}

function contextsToCheck(model: KneserNeyModel): number[][] {
  const out: number[][] = [[]];
  // Every n-gram below the top order is a context; an evenly spaced sample of at most 120 per order keeps it fast.
  for (const t of model.tables.slice(0, model.order - 1)) {
    const step = Math.max(1, Math.floor(t.count / 120));
    for (let r = 0; r < t.count; r += step) out.push(Array.from(t.ids.subarray(r * t.n, (r + 1) * t.n)));
    out.push(Array.from(t.ids.subarray((t.count - 1) * t.n, t.count * t.n)));
  }
  // Unseen contexts too.
  out.push([model.unkId], [model.unkId, model.eosId], [model.words.indexOf("the"), model.unkId]);
  return out.map((c) => c.filter((x) => x >= 0));
}

Deno.test("Kneser-Ney: hand-computed probabilities on a tiny corpus", () => {
  const model = buildKneserNey([["a", "b"], ["a", "c"], ["b"]], 2);
  assert.deepEqual(model.words, ["</s>", "<s>", "<unk>", "a", "b", "c"]);
  assert.deepEqual(model.usedFallback, [true, true]);
  const { entries } = scorer(model);
  const p = (ngram: string) =>
    Math.pow(10, entries.get(ngram.split(" ").map((w) => model.words.indexOf(w)).join(","))!.prob);
  // Continuation counts a=1, b=2, c=1, </s>=2; D = 0.5, 1; sum 6, gamma 3/6; uniform over 5 words.
  const close = (a: number, b: number) => assert.ok(Math.abs(a - b) < 1e-12, `${a} vs ${b}`);
  close(p("a"), 0.5 / 6 + 0.1);
  close(p("b"), 1 / 6 + 0.1);
  close(p("</s>"), 1 / 6 + 0.1);
  close(p("<unk>"), 0.1);
  // Context <s>: raw counts a=2, b=1, S=3, gamma = (1 + 0.5) / 3.
  close(p("<s> a"), 1 / 3 + 0.5 * (0.5 / 6 + 0.1));
  close(p("<s> b"), 0.5 / 3 + 0.5 * (1 / 6 + 0.1));
  const s = entries.get([model.bosId].join(","))!;
  close(Math.pow(10, s.backoff), 0.5);
});

Deno.test("Kneser-Ney: every context sums to 1 over the vocabulary (orders 1-4)", () => {
  const sentences = corpus();
  for (const order of [1, 2, 3, 4]) {
    const model = buildKneserNey(sentences, order);
    const { score } = scorer(model);
    const vocab = model.words.map((_, i) => i).filter((i) => i !== model.bosId);
    for (const ctx of contextsToCheck(model)) {
      let sum = 0;
      for (const w of vocab) sum += Math.pow(10, score(ctx, w));
      assert.ok(
        Math.abs(sum - 1) < 1e-9,
        `order ${order} context ${ctx.map((i) => model.words[i]).join(" ")}: ${sum}`,
      );
    }
    if (order > 1) assert.ok(model.usedFallback.slice(1).some((f) => !f), "real discounts estimated");
    for (const [k, d] of model.discounts.entries()) {
      assert.ok(
        d[0] > 0 && d[0] <= 1 && d[1] > 0 && d[1] <= 2 && d[2] > 0 && d[2] <= 3,
        `order ${k + 1}: ${d}`,
      );
    }
  }
});

/** Parses ARPA text into sections without our reader, for format checks. */
function sections(text: string) {
  const lines = text.split("\n");
  const declared: number[] = [];
  const body: { fields: string[] }[][] = [];
  let section = -1;
  for (const line of lines) {
    const m = /^ngram (\d+)=(\d+)$/.exec(line);
    if (m) declared[Number(m[1]) - 1] = Number(m[2]);
    const h = /^\\(\d+)-grams:$/.exec(line);
    if (h) {
      section = Number(h[1]) - 1;
      body[section] = [];
      continue;
    }
    if (line === "\\end\\") section = -1;
    else if (section >= 0 && line !== "") body[section].push({ fields: line.split("\t") });
  }
  return { declared, body, ended: lines.includes("\\end\\") };
}

Deno.test("Kneser-Ney ARPA output: header, sorted sections, back-offs, contexts present; reads back equal", () => {
  const model = buildKneserNey(corpus(), 3);
  const text = formatArpa(model);
  const { declared, body, ended } = sections(text);
  assert.ok(ended);
  assert.deepEqual(declared, body.map((b) => b.length));
  const present = new Set<string>();
  for (const [o, rows] of body.entries()) {
    let prev: string[] | null = null;
    for (const { fields } of rows) {
      const words = fields[1].split(" ");
      assert.equal(words.length, o + 1);
      assert.ok(Number.isFinite(Number(fields[0])));
      if (prev) {
        const a = prev.join("\u0000"), b = words.join("\u0000");
        assert.ok(a < b, `section ${o + 1} not sorted: ${prev.join(" ")} / ${words.join(" ")}`);
      }
      prev = words;
      if (o > 0) assert.ok(present.has(words.slice(0, -1).join(" ")), `context of ${fields[1]} missing`);
      present.add(fields[1]);
    }
  }
  for (const w of ["<s>", "</s>", "<unk>"]) assert.ok(present.has(w), w);
  // Every context of a higher-order n-gram carries a back-off; the top order has none.
  const contexts = new Set<string>();
  for (const rows of body.slice(1)) {
    for (const { fields } of rows) contexts.add(fields[1].split(" ").slice(0, -1).join(" "));
  }
  for (const [o, rows] of body.entries()) {
    for (const { fields } of rows) {
      if (o === body.length - 1) assert.equal(fields.length, 2);
      else assert.equal(fields.length === 3, contexts.has(fields[1]), `back-off column of ${fields[1]}`);
    }
  }

  const lm = parseArpa(text);
  assert.deepEqual(lm.counts, model.tables.map((t) => t.count));
  const { entries, score } = scorer(model);
  for (const [key, e] of entries) {
    const ids = key.split(",").map(Number);
    const got = lm.entry(ids.map((i) => model.words[i]))!;
    assert.ok(Math.abs(got.prob - e.prob) < 1e-5 * Math.max(1, Math.abs(e.prob)), key);
    assert.ok(Math.abs(got.backoff - e.backoff) < 1e-5, key);
  }
  // Read-back model: still normalised (float32 storage) and equal scores for unseen events.
  const vocab = model.words.map((_, i) => i).filter((i) => i !== model.bosId);
  for (const ctx of contextsToCheck(model).slice(0, 200)) {
    const lmCtx = ctx.map((i) => lm.wordId(model.words[i]));
    let sum = 0;
    for (const w of vocab) {
      const s = lm.score(lmCtx, lm.wordId(model.words[w]));
      assert.ok(Math.abs(s - score(ctx, w)) < 1e-4, `${ctx} ${w}`);
      sum += Math.pow(10, s);
    }
    assert.ok(Math.abs(sum - 1) < 1e-4, `read-back sum ${sum}`);
  }
});

Deno.test("formatLog10 and tokenizeLine", () => {
  assert.equal(formatLog10(-1.5), "-1.5");
  assert.equal(formatLog10(0), "0");
  assert.equal(formatLog10(-0.123456789), "-0.12345679");
  assert.equal(formatLog10(-99), "-99");
  assert.equal(formatLog10(-1.5e-9), "-1.5e-9");
  assert.deepEqual(tokenizeLine("  ID-1 Hello   WORLD "), ["id-1", "hello", "world"]);
  assert.deepEqual(tokenizeLine("ID-1 Hello", { skipFirstField: true, lowercase: false }), ["Hello"]);
  assert.throws(() => buildKneserNey([["a", "<s>"]], 2), /reserved/);
});

Deno.test("cli/lm: builds an ARPA file from a text file; errors are clear", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/t.txt`, "U1 THE CAT SAT\nU2 THE DOG SAT\n\nU3 A CAT RAN\n");
    const out = `${dir}/lm.arpa`;
    assert.equal(await main(["--text", `${dir}/t.txt`, "--transcripts", "--order", "2", "--out", out]), 0);
    const lm = parseArpa(await Deno.readTextFile(out), { name: out });
    assert.deepEqual(lm.counts[0], 3 + 6);
    assert.ok(lm.hasWord("cat") && !lm.hasWord("u1"));
    assert.equal(await main(["--help"]), 0);
    assert.equal(await main(["--text", `${dir}/t.txt`, "--order", "x", "--out", out]), 2);
    assert.equal(await main(["--text", `${dir}/none.txt`, "--out", out]), 1);
    assert.equal(await main(["--out", out]), 2);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
