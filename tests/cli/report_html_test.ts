import { deepStrictEqual as assertEquals, ok, throws } from "node:assert/strict";
import type { MetricsRecord } from "../../cli/metrics_log.ts";
import {
  downsample,
  escapeXml,
  formatTick,
  logTicks,
  niceTicks,
  type Point,
  renderChart,
  renderReport,
  smooth,
  writeReport,
} from "../../cli/report_html.ts";

interface Element {
  name: string;
  attrs: Record<string, string>;
  text: string;
  children: Element[];
}

/** A strict little XML-ish parser: every tag closed in order, attributes quoted, text free of raw `<`/`&`. */
function parseMarkup(src: string): Element {
  const root: Element = { name: "#root", attrs: {}, text: "", children: [] };
  const stack = [root];
  let i = 0;
  const doctype = "<!DOCTYPE html>";
  if (src.startsWith(doctype)) i = doctype.length;
  while (i < src.length) {
    const lt = src.indexOf("<", i);
    const text = src.slice(i, lt < 0 ? src.length : lt);
    if (/&(?!#\d+;|amp;|lt;|gt;|quot;)/.test(text)) throw new Error(`bad entity in text near ${i}: ${text}`);
    stack[stack.length - 1].text += text;
    if (lt < 0) break;
    const gt = src.indexOf(">", lt);
    if (gt < 0) throw new Error(`unclosed tag at ${lt}`);
    const tag = src.slice(lt + 1, gt);
    i = gt + 1;
    if (tag.startsWith("/")) {
      const open = stack.pop()!;
      if (open.name !== tag.slice(1)) throw new Error(`</${tag.slice(1)}> closes <${open.name}> at ${lt}`);
      continue;
    }
    const m = /^([a-zA-Z][\w-]*)((?:\s+[\w:-]+="[^"<>]*")*)\s*(\/?)$/.exec(tag);
    if (!m) throw new Error(`malformed tag <${tag}> at ${lt}`);
    const attrs: Record<string, string> = {};
    for (const a of m[2].matchAll(/([\w:-]+)="([^"]*)"/g)) {
      if (a[1] in attrs) throw new Error(`duplicate attribute ${a[1]} in <${m[1]}>`);
      attrs[a[1]] = a[2];
    }
    const el: Element = { name: m[1], attrs, text: "", children: [] };
    stack[stack.length - 1].children.push(el);
    if (m[3] !== "/") stack.push(el);
  }
  if (stack.length !== 1) throw new Error(`unclosed <${stack[stack.length - 1].name}>`);
  return root;
}

function all(el: Element, name: string): Element[] {
  return el.children.flatMap((c) => [...(c.name === name ? [c] : []), ...all(c, name)]);
}

/** Number of drawn points of a path, and of its segments (M commands). */
function pathPoints(d: string): { points: number; segments: number; coords: number[] } {
  const commands = d.match(/[ML][^ML]*/g) ?? [];
  const coords = commands.flatMap((c) => c.slice(1).trim().split(/\s+/).map(Number));
  return { points: commands.length, segments: commands.filter((c) => c[0] === "M").length, coords };
}

function checkPage(html: string): Element {
  const root = parseMarkup(html);
  ok(!/http/i.test(html), "no URL");
  ok(!/<script/i.test(html), "no script");
  ok(!/\son\w+=/i.test(html), "no event handlers");
  ok(!/\b(href|src)=/.test(html), "no links or external resources");
  ok(!html.includes("NaN") || !/[ML][^"]*NaN/.test(html), "no NaN coordinates");
  for (const p of all(root, "path")) {
    const { coords } = pathPoints(p.attrs.d);
    ok(coords.every((c) => Number.isFinite(c)), `finite coordinates in ${p.attrs.d.slice(0, 60)}`);
  }
  for (const c of all(root, "circle")) {
    ok(Number.isFinite(Number(c.attrs.cx)) && Number.isFinite(Number(c.attrs.cy)));
  }
  return root;
}

function chartByTitle(root: Element, title: string): Element {
  const svg = all(root, "svg").find((s) => all(s, "title")[0]?.text === title);
  if (!svg) throw new Error(`no chart "${title}"`);
  return svg;
}

function seriesPaths(svg: Element): Map<string, { points: number; segments: number; circles: number }> {
  const out = new Map<string, { points: number; segments: number; circles: number }>();
  for (const g of all(svg, "g").filter((g) => g.attrs.class === "series")) {
    const path = all(g, "path")[0];
    const { points, segments } = path ? pathPoints(path.attrs.d) : { points: 0, segments: 0 };
    out.set(g.attrs["data-name"], { points, segments, circles: all(g, "circle").length });
  }
  return out;
}

function trainRecords(n: number, loss: (i: number) => number): MetricsRecord[] {
  return Array.from({ length: n }, (_, i) => ({
    type: "train",
    step: i + 1,
    epoch: 1 + Math.floor(i / 100),
    loss: loss(i),
    lr: 5e-4 * Math.min(1, (i + 1) / 30),
    time: 1000 + i * 2,
  }));
}

Deno.test("report: ticks, labels, smoothing, downsampling", () => {
  assertEquals(niceTicks(0, 1, 5), { ticks: [0, 0.2, 0.4, 0.6, 0.8, 1], step: 0.2 });
  assertEquals(niceTicks(3, 97, 5).ticks, [0, 20, 40, 60, 80, 100]);
  assertEquals(niceTicks(5, 5, 5).ticks.length > 1, true);
  assertEquals(logTicks(0.3, 4), [0.2, 0.5, 1, 2, 5]);
  assertEquals(logTicks(0.01, 300), [0.01, 0.1, 1, 10, 100, 1000]);
  assertEquals(formatTick(2e-4, 1e-4), "2e-4");
  assertEquals(formatTick(1.5e-4, 5e-5), "1.5e-4");
  assertEquals(formatTick(0.4, 0.2), "0.4");
  assertEquals(formatTick(2500, 500), "2500");
  assertEquals(formatTick(0.25, 0.05, true), "25%");
  assertEquals(formatTick(0.012, 0.002, true), "1.2%");
  assertEquals(escapeXml(`<a & "b">`), "&#60;a &#38; &#34;b&#34;&#62;");
  const s = smooth([[1, 2], [2, NaN], [3, 4]], 0.5);
  assertEquals(s[0], [1, 2]);
  ok(Number.isNaN(s[1][1]));
  assertEquals(s[2][1], (0.5 * 0.5 * 2 + 0.5 * 4) / (0.5 * 0.5 + 0.5));
  const many: Point[] = Array.from({ length: 10_000 }, (_, i) => [i, i === 5000 ? 100 : Math.sin(i)]);
  const few = downsample(many, 400);
  ok(few.length <= 400 && few.length >= 200, `${few.length}`);
  ok(few.some(([x, y]) => x === 5000 && y === 100), "the spike survives");
  assertEquals(few[0], [0, 0]);
  assertEquals(few[few.length - 1][0], 9999);
});

Deno.test("report: a full run renders every chart with the right series and points", () => {
  const records: MetricsRecord[] = [
    { type: "run", time: 999 },
    ...trainRecords(200, (i) => 3 * Math.exp(-i / 50) + 0.3 + 0.1 * Math.sin(i)),
    {
      type: "eval",
      step: 100,
      epoch: 1,
      cer: 0.6,
      wer: 0.95,
      cer_tutorial: 0.55,
      wer_tutorial: 0.9,
      loss: 1.5,
    },
    {
      type: "eval",
      step: 200,
      epoch: 2,
      cer: 0.4,
      wer: 0.8,
      cer_tutorial: 0.38,
      wer_tutorial: 0.77,
      loss: 1.1,
    },
  ];
  const html = renderReport(records, {
    title: "run <cathy> & co",
    config: { lr: 5e-4, batch_size: 20, model: { rnn_dim: 512 }, note: "a<b" },
    generatedAt: new Date("2024-01-02T03:04:05Z"),
  });
  const root = checkPage(html);
  assertEquals(all(root, "title")[0].text, "run &#60;cathy&#62; &#38; co");
  assertEquals(all(root, "svg").length, 4);
  const loss = seriesPaths(chartByTitle(root, "Training loss"));
  assertEquals(loss.get("raw"), { points: 200, segments: 1, circles: 0 });
  assertEquals(loss.get("smoothed (0.95)"), { points: 200, segments: 1, circles: 0 });
  assertEquals(loss.get("eval"), { points: 2, segments: 1, circles: 2 });
  assertEquals(seriesPaths(chartByTitle(root, "Learning rate")).get("lr")?.points, 200);
  const cer = seriesPaths(chartByTitle(root, "CER on the dev set"));
  assertEquals(cer.get("corpus"), { points: 2, segments: 1, circles: 2 });
  assertEquals(cer.get("tutorial (mean per utterance)"), { points: 2, segments: 1, circles: 2 });
  assertEquals(seriesPaths(chartByTitle(root, "WER on the dev set")).get("corpus")?.circles, 2);
  // Tick labels: percentages on the error charts, exponents on the lr chart.
  const cerTicks = all(chartByTitle(root, "CER on the dev set"), "text").map((t) => t.text);
  ok(cerTicks.includes("0%") && cerTicks.includes("60%"), cerTicks.join(","));
  const lrTicks = all(chartByTitle(root, "Learning rate"), "text").map((t) => t.text);
  ok(lrTicks.includes("5e-4") && lrTicks.includes("0"), lrTicks.join(","));
  // Tables: latest numbers and config.
  const cells = Object.fromEntries(
    all(root, "tr").map((tr) => [all(tr, "th")[0].text, all(tr, "td")[0].text]),
  );
  assertEquals(cells["step"], "200");
  assertEquals(cells["CER"], "40.00%");
  assertEquals(cells["WER (tutorial)"], "77.00%");
  assertEquals(cells["best CER"], "40.00% at step 200");
  assertEquals(cells["wall time"], "6 min 39 s");
  assertEquals(cells["lr"], "5.000e-4");
  assertEquals(cells["model"], "{&#34;rnn_dim&#34;:512}");
  assertEquals(cells["note"], "a&#60;b");
  ok(html.includes("2024-01-02 03:04:05 UTC"));
});

Deno.test("report: 0, 1 and many points, NaN and Infinity, log scale", () => {
  const empty = checkPage(renderReport([], { title: "empty" }));
  assertEquals(all(empty, "svg").length, 4);
  assertEquals(all(empty, "path").length, 0);
  assertEquals(all(empty, "text").filter((t) => t.text === "no data yet").length, 4);

  const one = checkPage(renderReport(trainRecords(1, () => 2), { title: "one" }));
  const oneLoss = seriesPaths(chartByTitle(one, "Training loss"));
  assertEquals(oneLoss.get("raw")?.points, 1);

  const bad = trainRecords(10, (i) => [NaN, Infinity, -Infinity].includes(i) ? 0 : 2 + i);
  bad[3].loss = NaN;
  bad[4].loss = Infinity;
  bad[7].loss = -Infinity;
  bad[5].lr = NaN;
  const badRoot = checkPage(renderReport(bad, { title: "bad" }));
  const badLoss = seriesPaths(chartByTitle(badRoot, "Training loss"));
  assertEquals(badLoss.get("raw"), { points: 7, segments: 3, circles: 0 });
  // All values non-finite: the chart says so instead of drawing.
  const allBad = checkPage(renderReport(trainRecords(3, () => NaN), { title: "nan" }));
  assertEquals(
    all(chartByTitle(allBad, "Training loss"), "text").some((t) => t.text === "no data yet"),
    true,
  );

  // Log scale: non-positive values are skipped, ticks are powers of ten.
  const wide = trainRecords(300, (i) => (i === 10 ? 0 : 500 * Math.exp(-i / 30)));
  const logRoot = checkPage(renderReport(wide, { title: "log", logLoss: "auto" }));
  const chart = chartByTitle(logRoot, "Training loss");
  ok(all(chart, "text").some((t) => t.text === "CTC loss (log)"));
  assertEquals(seriesPaths(chart).get("raw")?.segments, 2);
  const labels = all(chart, "text").map((t) => t.text);
  for (const l of ["0.1", "1", "10", "100", "1000"]) ok(labels.includes(l), `${l} in ${labels}`);
  const linear = checkPage(renderReport(wide, { title: "lin", logLoss: false }));
  ok(!all(chartByTitle(linear, "Training loss"), "text").some((t) => t.text === "CTC loss (log)"));

  // Many points: the line is thinned but spans the run.
  const big = checkPage(renderReport(trainRecords(20_000, (i) => 1 + 1 / (i + 1)), { title: "big" }));
  const bigRaw = seriesPaths(chartByTitle(big, "Training loss")).get("raw")!;
  ok(bigRaw.points <= 1500 && bigRaw.points > 500, `${bigRaw.points}`);

  throws(() => renderReport([], { title: "x", smoothing: 1 }), /smoothing/);
});

Deno.test("report: a chart on its own, and writeReport writes atomically", async () => {
  const svg = parseMarkup(renderChart({
    title: "t",
    xLabel: "x",
    yLabel: "y",
    series: [{ name: "s", points: [[5, 1]], color: "#000", markers: true }],
  }));
  const series = seriesPaths(all(svg, "svg")[0]);
  assertEquals(series.get("s"), { points: 1, segments: 1, circles: 1 });
  const dir = await Deno.makeTempDir({ prefix: "report_test_" });
  try {
    const path = await writeReport(dir, trainRecords(5, (i) => i + 1), { title: "w" });
    assertEquals(path, `${dir}/report.html`);
    assertEquals([...Deno.readDirSync(dir)].map((e) => e.name), ["report.html"]);
    checkPage(await Deno.readTextFile(path));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
