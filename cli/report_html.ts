/**
 * `report.html`: a self-contained page about a training run, drawn from its metrics records: inline SVG charts
 * (training loss raw and smoothed, learning rate, CER and WER, corpus-level and tutorial-style) and tables of
 * the latest numbers and the run's config. Inline CSS, no scripts, no external resources: it opens anywhere,
 * offline, and can be mailed or archived as one file.
 *
 * @module
 */
import type { MetricsRecord } from "./metrics_log.ts";
import { writeFileAtomic } from "../data/atomic_write.ts";

export interface ReportOptions {
  title: string;
  /** The run's settings, shown as a table (nested values as JSON). */
  config?: Record<string, unknown>;
  /** Log scale for the loss axis: true, false, or "auto" (default: when the loss spans more than 20x). */
  logLoss?: boolean | "auto";
  /** Exponential smoothing weight of the smoothed loss, in [0, 1) (default: by the number of steps). */
  smoothing?: number;
  /** When the report was made (default now); shown on the page. */
  generatedAt?: Date;
}

export type Point = [number, number];

export interface Series {
  name: string;
  points: Point[];
  color: string;
  /** Line width (default 2). */
  width?: number;
  /** SVG dash pattern, e.g. "6 4". */
  dash?: string;
  opacity?: number;
  /** Draw a dot at each point (for sparse series such as evaluations). */
  markers?: boolean;
}

export interface ChartSpec {
  title: string;
  xLabel: string;
  yLabel: string;
  series: Series[];
  logY?: boolean;
  /** Tick labels as percentages of fractions (0.25 -> 25%). */
  percent?: boolean;
  /** Include 0 in the y range. */
  yFromZero?: boolean;
  /** The x range (default: the data's); charts of one run share it so that they line up. */
  xDomain?: [number, number];
  width?: number;
  height?: number;
}

/** Most points a line gets; longer series keep each bucket's first, min, max and last point. */
const MAX_LINE_POINTS = 1500;
const COLORS = {
  raw: "#9db4d6",
  smooth: "#1f5fbf",
  eval: "#d9480f",
  lr: "#2b8a3e",
  corpus: "#c2255c",
  tutorial: "#5f3dc4",
};

// ---- text -----------------------------------------------------------------------------------------------------

/** Escapes text for HTML/SVG text and attribute values. */
export function escapeXml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** A number rounded for SVG coordinates. */
function coord(v: number): string {
  return String(Math.round(v * 10) / 10);
}

/** A tick label: enough digits for the tick spacing, exponent form for very small or large values. */
export function formatTick(v: number, step: number, percent = false): string {
  if (percent) {
    const digits = Math.max(0, -Math.floor(Math.log10(step * 100) + 1e-9));
    return `${(v * 100).toFixed(Math.min(digits, 6))}%`;
  }
  if (v === 0) return "0";
  const a = Math.abs(v);
  if (a >= 1e5 || a < 1e-3) {
    const digits = Math.max(0, Math.floor(Math.log10(a) + 1e-9) - Math.floor(Math.log10(step) + 1e-9));
    return v.toExponential(Math.min(digits, 6)).replace("e+", "e");
  }
  const digits = Math.max(0, -Math.floor(Math.log10(step) + 1e-9));
  return v.toFixed(Math.min(digits, 10));
}

/** A number for the tables. */
export function formatNumber(v: number | undefined): string {
  if (v === undefined) return "";
  if (Number.isNaN(v)) return "NaN";
  if (!Number.isFinite(v)) return v > 0 ? "Infinity" : "-Infinity";
  if (Number.isInteger(v)) return String(v);
  const a = Math.abs(v);
  if (a < 1e-3 || a >= 1e6) return v.toExponential(3);
  return String(Number(v.toPrecision(4)));
}

// ---- axes -----------------------------------------------------------------------------------------------------

/** "Nice" ticks (1, 2 or 5 times a power of ten) covering [min, max], about `count` of them. */
export function niceTicks(min: number, max: number, count = 5): { ticks: number[]; step: number } {
  if (!(max > min)) {
    const pad = min === 0 ? 1 : Math.abs(min) * 0.1;
    [min, max] = [min - pad, max + pad];
  }
  const raw = (max - min) / Math.max(1, count);
  const power = 10 ** Math.floor(Math.log10(raw));
  const fraction = raw / power;
  const step = (fraction <= 1 ? 1 : fraction <= 2 ? 2 : fraction <= 5 ? 5 : 10) * power;
  const first = Math.floor(min / step + 1e-9);
  const last = Math.ceil(max / step - 1e-9);
  const ticks: number[] = [];
  for (let i = first; i <= last; i++) ticks.push(Number((i * step).toPrecision(12)));
  return { ticks, step };
}

/** Ticks of a log axis: powers of ten, with 2x and 5x between them when the range spans few decades. */
export function logTicks(min: number, max: number): number[] {
  let lo = Math.floor(Math.log10(min) + 1e-9);
  let hi = Math.ceil(Math.log10(max) - 1e-9);
  if (hi === lo) hi = lo + 1;
  if (hi - lo > 12) lo = hi - 12;
  const multiples = hi - lo <= 2 ? [1, 2, 5] : [1];
  const ticks: number[] = [];
  for (let e = lo; e <= hi; e++) {
    for (const m of multiples) {
      const v = Number((m * 10 ** e).toPrecision(12));
      if (e === hi && m > 1) continue;
      ticks.push(v);
    }
  }
  // Trim to the data when the 2x/5x ticks are there to bracket it tightly.
  if (multiples.length > 1) {
    const below = ticks.filter((t) => t <= min * (1 + 1e-9));
    const above = ticks.filter((t) => t >= max * (1 - 1e-9));
    const start = below.length > 0 ? ticks.indexOf(below[below.length - 1]) : 0;
    const end = above.length > 0 ? ticks.indexOf(above[0]) : ticks.length - 1;
    return ticks.slice(start, end + 1);
  }
  return ticks;
}

// ---- data -----------------------------------------------------------------------------------------------------

/**
 * Exponentially smoothed values, debiased (as TensorBoard's smoothing): non-finite values are skipped (their
 * points become NaN so the line breaks there) and do not poison later points.
 */
export function smooth(points: readonly Point[], weight: number): Point[] {
  let avg = 0;
  let norm = 0;
  return points.map(([x, y]) => {
    if (!Number.isFinite(y)) return [x, NaN];
    avg = avg * weight + (1 - weight) * y;
    norm = norm * weight + (1 - weight);
    return [x, avg / norm];
  });
}

/** The smoothing weight used when none is given: heavier for longer runs. */
export function defaultSmoothing(n: number): number {
  if (n < 20) return 0;
  return Math.min(0.95, Math.max(0.6, 1 - 10 / n));
}

/**
 * At most about `max` points: each bucket of consecutive points keeps its first, lowest, highest and last
 * point, so spikes survive. Non-finite points are kept (they break the line).
 */
export function downsample(points: readonly Point[], max = MAX_LINE_POINTS): Point[] {
  if (points.length <= max) return [...points];
  const buckets = Math.max(1, Math.floor(max / 4));
  const size = points.length / buckets;
  const out: Point[] = [];
  for (let b = 0; b < buckets; b++) {
    const start = Math.floor(b * size);
    const end = Math.floor((b + 1) * size);
    const chosen = new Set<number>([start, end - 1]);
    let lo = -1;
    let hi = -1;
    for (let i = start; i < end; i++) {
      const y = points[i][1];
      if (!Number.isFinite(y)) {
        chosen.add(i);
        continue;
      }
      if (lo < 0 || y < points[lo][1]) lo = i;
      if (hi < 0 || y > points[hi][1]) hi = i;
    }
    if (lo >= 0) chosen.add(lo);
    if (hi >= 0) chosen.add(hi);
    for (const i of [...chosen].sort((a, b) => a - b)) out.push(points[i]);
  }
  return out;
}

// ---- charts ---------------------------------------------------------------------------------------------------

const usable = (logY: boolean) => ([x, y]: Point) =>
  Number.isFinite(x) && Number.isFinite(y) && (!logY || y > 0);

/** The chart's size and the plot area inside its margins. */
interface Frame {
  width: number;
  height: number;
  left: number;
  top: number;
  plotW: number;
  plotH: number;
}

/** An axis: where its ticks go, how each is labelled, and the data-to-pixel mapping. */
interface Axis {
  ticks: number[];
  label: (t: number) => string;
  map: (v: number) => number;
}

function chartFrame(spec: ChartSpec): Frame {
  const width = spec.width ?? 640;
  const height = spec.height ?? 300;
  const margin = { left: 64, right: 16, top: 34, bottom: 44 };
  return {
    width,
    height,
    left: margin.left,
    top: margin.top,
    plotW: width - margin.left - margin.right,
    plotH: height - margin.top - margin.bottom,
  };
}

/** The opening `<svg>` tag, its title, the visible title and the plot frame. */
function chartHead(spec: ChartSpec, f: Frame): string[] {
  return [
    `<svg class="chart" viewBox="0 0 ${f.width} ${f.height}" width="${f.width}" height="${f.height}" role="img" ` +
    `aria-label="${escapeXml(spec.title)}">`,
    `<title>${escapeXml(spec.title)}</title>`,
    `<text class="chart-title" x="${f.left}" y="20">${escapeXml(spec.title)}</text>`,
    `<rect class="frame" x="${f.left}" y="${f.top}" width="${f.plotW}" height="${f.plotH}"/>`,
  ];
}

function emptyNote(f: Frame): string {
  return `<text class="empty" x="${coord(f.left + f.plotW / 2)}" y="${coord(f.top + f.plotH / 2)}" ` +
    `text-anchor="middle">no data yet</text>`;
}

/** The x axis: the steps (or the given domain), padded when there is a single one. */
function xAxis(spec: ChartSpec, all: readonly Point[], f: Frame): Axis {
  let xMin = spec.xDomain?.[0] ?? Math.min(...all.map((p) => p[0]));
  let xMax = spec.xDomain?.[1] ?? Math.max(...all.map((p) => p[0]));
  if (xMax === xMin) [xMin, xMax] = [xMin - 1, xMax + 1];
  const { ticks, step } = niceTicks(xMin, xMax, 6);
  return {
    ticks: ticks.filter((t) => t >= xMin - 1e-9 * Math.abs(step) && t <= xMax + 1e-9 * step),
    label: (t) => formatTick(t, step),
    map: (x) => f.left + ((x - xMin) / (xMax - xMin)) * f.plotW,
  };
}

/** The y axis, log or linear; its range is widened to the outer ticks. */
function yAxis(spec: ChartSpec, all: readonly Point[], f: Frame, logY: boolean): Axis {
  const yMin = Math.min(...all.map((p) => p[1]));
  const yMax = Math.max(...all.map((p) => p[1]));
  const bottom = f.top + f.plotH;
  if (logY) {
    const ticks = logTicks(yMin, yMax);
    const [l0, l1] = [Math.log10(ticks[0]), Math.log10(ticks[ticks.length - 1])];
    return {
      ticks,
      label: (t) => formatTick(t, t),
      map: (y) => bottom - ((Math.log10(y) - l0) / (l1 - l0)) * f.plotH,
    };
  }
  const [lo, hi] = spec.yFromZero ? [Math.min(0, yMin), Math.max(0, yMax)] : [yMin, yMax];
  const { ticks, step } = niceTicks(lo, hi, 5);
  const [t0, t1] = [ticks[0], ticks[ticks.length - 1]];
  return {
    ticks,
    label: (t) => formatTick(t, step, spec.percent),
    map: (y) => bottom - ((y - t0) / (t1 - t0)) * f.plotH,
  };
}

function gridLines(x: Axis, y: Axis, f: Frame): string[] {
  const parts = ['<g class="grid">'];
  for (const t of y.ticks) {
    const py = coord(y.map(t));
    parts.push(`<line x1="${f.left}" x2="${f.left + f.plotW}" y1="${py}" y2="${py}"/>`);
  }
  for (const t of x.ticks) {
    const px = coord(x.map(t));
    parts.push(`<line x1="${px}" x2="${px}" y1="${f.top}" y2="${f.top + f.plotH}"/>`);
  }
  parts.push("</g>");
  return parts;
}

function tickLabels(x: Axis, y: Axis, f: Frame): string[] {
  const parts = ['<g class="ticks">'];
  for (const t of y.ticks) {
    parts.push(
      `<text x="${f.left - 6}" y="${coord(y.map(t) + 4)}" text-anchor="end">${escapeXml(y.label(t))}</text>`,
    );
  }
  for (const t of x.ticks) {
    parts.push(
      `<text x="${coord(x.map(t))}" y="${f.top + f.plotH + 16}" text-anchor="middle">${
        escapeXml(x.label(t))
      }</text>`,
    );
  }
  parts.push("</g>");
  return parts;
}

function axisLabels(spec: ChartSpec, f: Frame, logY: boolean): string[] {
  return [
    `<text class="axis-label" x="${coord(f.left + f.plotW / 2)}" y="${f.height - 6}" text-anchor="middle">${
      escapeXml(spec.xLabel)
    }</text>`,
    `<text class="axis-label" transform="translate(14 ${coord(f.top + f.plotH / 2)}) rotate(-90)" ` +
    `text-anchor="middle">${escapeXml(spec.yLabel + (logY ? " (log)" : ""))}</text>`,
  ];
}

/** The path's `d`: a new segment (M) after every unusable point, which breaks the line. */
function linePath(pts: readonly Point[], ok: (p: Point) => boolean, x: Axis, y: Axis): string {
  let d = "";
  let pen = false;
  for (const p of pts) {
    if (!ok(p)) {
      pen = false;
      continue;
    }
    d += `${pen ? "L" : "M"}${coord(x.map(p[0]))} ${coord(y.map(p[1]))}`;
    pen = true;
  }
  return d;
}

/** One series: its line, and dots when it is marked. */
function seriesGroup(s: Series, ok: (p: Point) => boolean, x: Axis, y: Axis): string[] {
  const pts = downsample(s.points);
  const style = `stroke="${s.color}" stroke-width="${s.width ?? 2}"` +
    (s.dash ? ` stroke-dasharray="${s.dash}"` : "") +
    (s.opacity !== undefined ? ` opacity="${s.opacity}"` : "");
  const d = linePath(pts, ok, x, y);
  const parts = [`<g class="series" data-name="${escapeXml(s.name)}">`];
  if (d !== "") parts.push(`<path class="line" d="${d}" fill="none" ${style}/>`);
  if (s.markers) {
    for (const p of pts.filter(ok)) {
      parts.push(
        `<circle class="point" cx="${coord(x.map(p[0]))}" cy="${
          coord(y.map(p[1]))
        }" r="3" fill="${s.color}"/>`,
      );
    }
  }
  parts.push("</g>");
  return parts;
}

/** The legend, top right, one row: laid out right to left from the frame's right edge, text widths estimated. */
function legend(series: readonly Series[], ok: (p: Point) => boolean, f: Frame): string {
  const named = series.filter((s) => s.points.some(ok));
  let lx = f.left + f.plotW;
  const items: string[] = [];
  for (const s of [...named].reverse()) {
    const textW = s.name.length * 6.5;
    lx -= textW;
    items.push(`<text x="${coord(lx)}" y="20">${escapeXml(s.name)}</text>`);
    lx -= 22;
    items.push(
      `<line x1="${coord(lx)}" x2="${coord(lx + 16)}" y1="16" y2="16" stroke="${s.color}" stroke-width="3"` +
        (s.dash ? ` stroke-dasharray="${s.dash}"` : "") + "/>",
    );
    lx -= 12;
  }
  return `<g class="legend">${items.join("")}</g>`;
}

/** One chart as an inline `<svg>` (with a legend), or a framed "no data" note. */
export function renderChart(spec: ChartSpec): string {
  const f = chartFrame(spec);
  const logY = spec.logY ?? false;
  const ok = usable(logY);
  const all = spec.series.flatMap((s) => s.points.filter(ok));
  const parts = chartHead(spec, f);
  if (all.length === 0) return [...parts, emptyNote(f), "</svg>"].join("\n");
  const x = xAxis(spec, all, f);
  const y = yAxis(spec, all, f, logY);
  parts.push(...gridLines(x, y, f), ...tickLabels(x, y, f), ...axisLabels(spec, f, logY));
  for (const s of spec.series) parts.push(...seriesGroup(s, ok, x, y));
  parts.push(legend(spec.series, ok, f), "</svg>");
  return parts.join("\n");
}

// ---- the page -------------------------------------------------------------------------------------------------

const finiteNumber = (v: unknown): v is number => typeof v === "number";

function seriesOf(records: readonly MetricsRecord[], type: string, field: string): Point[] {
  const out: Point[] = [];
  for (const r of records) {
    if (r.type !== type || typeof r.step !== "number") continue;
    const v = r[field];
    if (finiteNumber(v)) out.push([r.step, v]);
  }
  return out;
}

function table(rows: [string, string][], cls: string): string {
  if (rows.length === 0) return "";
  return `<table class="${cls}">\n${
    rows.map(([k, v]) => `<tr><th>${escapeXml(k)}</th><td>${escapeXml(v)}</td></tr>`).join("\n")
  }\n</table>`;
}

function percent(v: unknown): string {
  return finiteNumber(v) && Number.isFinite(v) ? `${(v * 100).toFixed(2)}%` : formatNumber(v as number);
}

function duration(seconds: number): string {
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  return h > 0 ? `${h} h ${m} min` : m > 0 ? `${m} min ${s % 60} s` : `${s} s`;
}

function latestRows(records: readonly MetricsRecord[], smoothed: Point[]): [string, string][] {
  const rows: [string, string][] = [];
  const train = records.filter((r) => r.type === "train");
  const evals = records.filter((r) => r.type === "eval");
  const last = train[train.length - 1];
  if (last) {
    rows.push(["step", formatNumber(last.step)]);
    if (last.epoch !== undefined) rows.push(["epoch", formatNumber(last.epoch)]);
    rows.push(["train loss (last)", formatNumber(last.loss as number)]);
    const s = smoothed[smoothed.length - 1];
    if (s) rows.push(["train loss (smoothed)", formatNumber(s[1])]);
    if (finiteNumber(last.lr)) rows.push(["learning rate", formatNumber(last.lr)]);
  }
  const lastEval = evals[evals.length - 1];
  if (lastEval) {
    rows.push(["last eval at step", formatNumber(lastEval.step)]);
    for (const k of ["cer", "wer", "cer_tutorial", "wer_tutorial"]) {
      if (lastEval[k] !== undefined) {
        rows.push([k.toUpperCase().replace("_TUTORIAL", " (tutorial)"), percent(lastEval[k])]);
      }
    }
    if (finiteNumber(lastEval.loss)) rows.push(["eval loss", formatNumber(lastEval.loss)]);
    const scored = evals.filter((r) => finiteNumber(r.cer) && Number.isFinite(r.cer));
    if (scored.length > 0) {
      const best = scored.reduce((a, b) => ((b.cer as number) < (a.cer as number) ? b : a));
      rows.push(["best CER", `${percent(best.cer)} at step ${formatNumber(best.step)}`]);
    }
  }
  const times = records.map((r) => r.time).filter((t): t is number => finiteNumber(t) && Number.isFinite(t));
  if (times.length > 1) rows.push(["wall time", duration(Math.max(...times) - Math.min(...times))]);
  return rows;
}

const CSS = `
:root { color-scheme: light dark; --fg: #1d2330; --muted: #667085; --grid: #e4e7ec; --bg: #ffffff; }
@media (prefers-color-scheme: dark) { :root { --fg: #e6e8ec; --muted: #98a2b3; --grid: #2c3340; --bg: #151a22; } }
body { font: 14px/1.45 system-ui, sans-serif; color: var(--fg); background: var(--bg); margin: 24px; }
h1 { font-size: 22px; margin: 0 0 4px; }
p.sub { color: var(--muted); margin: 0 0 16px; }
.tables { display: flex; flex-wrap: wrap; gap: 24px; margin-bottom: 16px; align-items: flex-start; }
table { border-collapse: collapse; }
th, td { text-align: left; padding: 2px 12px 2px 0; border-bottom: 1px solid var(--grid); vertical-align: top; }
th { color: var(--muted); font-weight: normal; }
td { font-variant-numeric: tabular-nums; }
h2 { font-size: 15px; margin: 0 0 4px; }
.charts { display: flex; flex-wrap: wrap; gap: 16px; }
svg.chart { max-width: 100%; height: auto; font-size: 11px; fill: var(--fg); }
svg.chart .frame { fill: none; stroke: var(--muted); stroke-width: 1; }
svg.chart .grid line { stroke: var(--grid); stroke-width: 1; }
svg.chart .ticks text, svg.chart .axis-label { fill: var(--muted); }
svg.chart .chart-title { font-size: 13px; font-weight: 600; }
svg.chart .empty { fill: var(--muted); font-size: 13px; }
svg.chart path.line { stroke-linejoin: round; stroke-linecap: round; }
`;

/** The training loss per step (NaN where a record has none, which breaks the line) and its smoothing weight. */
function trainingLoss(records: readonly MetricsRecord[], smoothing: number | undefined) {
  const raw = records.filter((r) => r.type === "train" && typeof r.step === "number").map((r): Point => [
    r.step!,
    typeof r.loss === "number" ? r.loss : NaN,
  ]);
  const weight = smoothing ?? defaultSmoothing(raw.length);
  if (!(weight >= 0 && weight < 1)) {
    throw new RangeError(`report: smoothing must be in [0, 1), got ${weight}`);
  }
  return { raw, weight, smoothed: smooth(raw, weight) };
}

/** Whether the loss axis is logarithmic: as asked, or under "auto" when the positive losses span over 20x. */
function useLogLoss(option: ReportOptions["logLoss"], losses: readonly Point[]): boolean {
  if (option === true) return true;
  if ((option ?? "auto") !== "auto") return false;
  const positive = losses.map((p) => p[1]).filter((v) => Number.isFinite(v) && v > 0);
  return positive.length > 1 && Math.max(...positive) / Math.min(...positive) > 20;
}

/** The steps the records span, shared by every chart so that they line up. */
function stepDomain(records: readonly MetricsRecord[]): [number, number] | undefined {
  const steps = records.map((r) => r.step).filter((s): s is number => finiteNumber(s) && Number.isFinite(s));
  return steps.length > 0 ? [Math.min(...steps), Math.max(...steps)] : undefined;
}

interface LossSeries {
  raw: Point[];
  smoothed: Point[];
  weight: number;
  evalLoss: Point[];
  logY: boolean;
}

function lossChart(loss: LossSeries, xDomain: [number, number] | undefined): string {
  return renderChart({
    title: "Training loss",
    xLabel: "step",
    xDomain,
    yLabel: "CTC loss",
    logY: loss.logY,
    series: [
      { name: "raw", points: loss.raw, color: COLORS.raw, width: 1, opacity: 0.8 },
      { name: `smoothed (${loss.weight.toFixed(2)})`, points: loss.smoothed, color: COLORS.smooth, width: 2 },
      { name: "eval", points: loss.evalLoss, color: COLORS.eval, width: 1.5, markers: true },
    ],
  });
}

function learningRateChart(records: readonly MetricsRecord[], xDomain: [number, number] | undefined): string {
  return renderChart({
    title: "Learning rate",
    xLabel: "step",
    xDomain,
    yLabel: "lr",
    yFromZero: true,
    series: [{ name: "lr", points: seriesOf(records, "train", "lr"), color: COLORS.lr }],
  });
}

/** CER or WER of the evaluations: corpus-level and tutorial-style (mean per utterance). */
function errorRateChart(
  records: readonly MetricsRecord[],
  metric: "cer" | "wer",
  xDomain: [number, number] | undefined,
): string {
  const name = metric.toUpperCase();
  return renderChart({
    title: `${name} on the dev set`,
    xLabel: "step",
    xDomain,
    yLabel: name,
    percent: true,
    yFromZero: true,
    series: [
      { name: "corpus", points: seriesOf(records, "eval", metric), color: COLORS.corpus, markers: true },
      {
        name: "tutorial (mean per utterance)",
        points: seriesOf(records, "eval", `${metric}_tutorial`),
        color: COLORS.tutorial,
        dash: "6 4",
        markers: true,
      },
    ],
  });
}

/** The config table's rows: strings as they are, numbers formatted, anything else as JSON. */
function configRows(config: Record<string, unknown>): [string, string][] {
  return Object.entries(config).map(([k, v]) => [
    k,
    typeof v === "string" ? v : typeof v === "number" ? formatNumber(v) : JSON.stringify(v) ?? String(v),
  ]);
}

/** "2024-01-02 03:04:05 UTC". */
function timestamp(date: Date): string {
  return date.toISOString().replace("T", " ").replace(/\.\d+Z$/, " UTC");
}

interface PageParts {
  title: string;
  subtitle: string;
  latest: string;
  config: string;
  charts: string[];
}

/** The HTML document around the already rendered (and escaped) parts. */
function page(p: PageParts): string {
  const title = escapeXml(p.title);
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8" />
<meta name="viewport" content="width=device-width, initial-scale=1" />
<title>${title}</title>
<style>${CSS}</style>
</head>
<body>
<h1>${title}</h1>
<p class="sub">${escapeXml(p.subtitle)}</p>
<div class="tables">
<div><h2>Latest</h2>
${p.latest || "<p>no records yet</p>"}
</div>
<div><h2>Config</h2>
${p.config || "<p>none given</p>"}
</div>
</div>
<div class="charts">
${p.charts.join("\n")}
</div>
</body>
</html>
`;
}

/** The whole report page. */
export function renderReport(records: readonly MetricsRecord[], opts: ReportOptions): string {
  const { raw, weight, smoothed } = trainingLoss(records, opts.smoothing);
  const evalLoss = seriesOf(records, "eval", "loss");
  const logY = useLogLoss(opts.logLoss, [...raw, ...evalLoss]);
  const xDomain = stepDomain(records);
  const charts = [
    lossChart({ raw, smoothed, weight, evalLoss, logY }, xDomain),
    learningRateChart(records, xDomain),
    errorRateChart(records, "cer", xDomain),
    errorRateChart(records, "wer", xDomain),
  ];
  const evalCount = records.filter((r) => r.type === "eval").length;
  const generated = timestamp(opts.generatedAt ?? new Date());
  return page({
    title: opts.title,
    subtitle: `${generated}: ${raw.length} training records, ${evalCount} evaluations`,
    latest: table(latestRows(records, smoothed), "latest"),
    config: table(configRows(opts.config ?? {}), "config"),
    charts,
  });
}

/** Writes `<dir>/report.html` (temporary file + rename) and returns its path. */
export async function writeReport(
  dir: string,
  records: readonly MetricsRecord[],
  opts: ReportOptions,
): Promise<string> {
  const path = `${dir}/report.html`;
  await writeFileAtomic(path, renderReport(records, opts));
  return path;
}
