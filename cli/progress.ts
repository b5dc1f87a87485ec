/**
 * A training progress display. On a terminal: one status line redrawn in place (`\r` + clear-line) with the
 * epoch, the step within the epoch, a bar, the latest values (loss, lr, ...), the speed and the time left in
 * the epoch. Elsewhere (a log file, a pipe, CI): a plain line every `logEvery` steps, with no control
 * characters, so logs stay readable and small.
 *
 * @module
 */

/** Where the progress goes: `Deno.stdout` or anything with the same synchronous write. */
export interface ProgressWriter {
  writeSync(bytes: Uint8Array): number;
}

/** The values shown beside the bar; `undefined` ones are left out. */
export interface ProgressValues {
  loss?: number;
  lr?: number;
  [name: string]: number | undefined;
}

export interface ProgressOptions {
  /** Steps in this epoch. */
  totalSteps: number;
  /** This epoch (1-based) and the number of epochs. */
  epoch: number;
  epochs: number;
  /** Default `Deno.stdout`. */
  out?: ProgressWriter;
  /** Redraw one line in place (default: `out.isTerminal()` where `out` has it, else false). */
  isTTY?: boolean;
  /** Without a terminal, log a line every this many steps (default 50; the last step is always logged). */
  logEvery?: number;
  /** Steps already done when the display starts (a resumed epoch); the speed counts only new steps. */
  startStep?: number;
  /** Terminal width in columns (default: the console's, or 100). */
  columns?: number;
  /** On a terminal, redraw at most this often, in ms, except the last step (default 100). */
  minRedrawMs?: number;
  /** Milliseconds clock (default `performance.now`); tests inject their own. */
  now?: () => number;
  /** What the line starts with (default `epoch E/N`), for progress that is not training's. */
  heading?: string;
  /** What is counted (default "step"; "file" shows `file 3/300` and `files/s`). */
  unit?: string;
}

const CLEAR_LINE = "\r\x1b[2K";
/** How many recent updates the speed is averaged over (long enough to be steady, short enough to follow). */
const RATE_WINDOW = 20;

/** `m:ss`, or `h:mm:ss` from an hour on; `--:--` when unknown. */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return "--:--";
  const total = Math.round(seconds);
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  const ss = String(s).padStart(2, "0");
  return h > 0 ? `${h}:${String(m).padStart(2, "0")}:${ss}` : `${m}:${ss}`;
}

/** A value for a status line: 4 significant digits, exponent notation for very small or large values. */
export function formatValue(name: string, v: number): string {
  if (Number.isNaN(v)) return "nan";
  if (!Number.isFinite(v)) return v > 0 ? "inf" : "-inf";
  if (name === "lr") return v === 0 ? "0" : v.toExponential(2);
  const a = Math.abs(v);
  if (v !== 0 && (a < 1e-3 || a >= 1e6)) return v.toExponential(3);
  if (Number.isInteger(v) && !name.includes("loss")) return String(v);
  return v.toFixed(Math.max(0, 3 - Math.floor(Math.log10(a || 1))));
}

/** Steps per second, or seconds per step when slower than one a second (`--` when unknown). */
export function formatRate(stepsPerSecond: number, unit = "step"): string {
  if (!(stepsPerSecond > 0) || !Number.isFinite(stepsPerSecond)) return `-- ${unit}s/s`;
  if (stepsPerSecond >= 1) return `${stepsPerSecond.toFixed(2)} ${unit}s/s`;
  return `${(1 / stepsPerSecond).toFixed(2)} s/${unit}`;
}

function defaultColumns(): number {
  try {
    return Deno.consoleSize().columns;
  } catch {
    return 100;
  }
}

export class Progress {
  readonly totalSteps: number;
  readonly epoch: number;
  readonly epochs: number;
  readonly isTTY: boolean;
  readonly logEvery: number;
  private readonly heading: string;
  private readonly unit: string;
  private readonly out: ProgressWriter;
  private readonly columns: number;
  private readonly minRedrawMs: number;
  private readonly now: () => number;
  private readonly encoder = new TextEncoder();
  private readonly startTime: number;
  private readonly startStep: number;
  /** Recent (time, step) samples for the speed. */
  private samples: [number, number][];
  private step: number;
  private values: ProgressValues = {};
  private lastDraw = -Infinity;
  private lastLogged: number;
  /** Whether the status line is on screen (and must be cleared before printing anything else). */
  private barShown = false;
  private finished = false;

  constructor(opts: ProgressOptions) {
    if (!Number.isInteger(opts.totalSteps) || opts.totalSteps < 0) {
      throw new RangeError(`Progress: totalSteps must be a non-negative integer, got ${opts.totalSteps}`);
    }
    this.totalSteps = opts.totalSteps;
    this.epoch = opts.epoch;
    this.epochs = opts.epochs;
    this.out = opts.out ?? Deno.stdout;
    this.heading = opts.heading ?? `epoch ${opts.epoch}/${opts.epochs}`;
    this.unit = opts.unit ?? "step";
    const out = this.out as Partial<{ isTerminal(): boolean }>;
    this.isTTY = opts.isTTY ?? (typeof out.isTerminal === "function" && out.isTerminal());
    this.logEvery = Math.max(1, Math.floor(opts.logEvery ?? 50));
    this.columns = Math.max(20, opts.columns ?? (this.isTTY ? defaultColumns() : 100));
    this.minRedrawMs = opts.minRedrawMs ?? 100;
    this.now = opts.now ?? (() => performance.now());
    this.startTime = this.now();
    this.startStep = opts.startStep ?? 0;
    this.step = this.startStep;
    this.lastLogged = this.startStep;
    this.samples = [[this.startTime, this.startStep]];
  }

  /** Steps per second over the recent updates (NaN before the first). */
  get rate(): number {
    const [t0, s0] = this.samples[0];
    const [t1, s1] = this.samples[this.samples.length - 1];
    return t1 > t0 ? (s1 - s0) / ((t1 - t0) / 1000) : NaN;
  }

  /** Seconds left in this epoch at the current speed (NaN when unknown). */
  get eta(): number {
    return (this.totalSteps - this.step) / this.rate;
  }

  /** Records that `step` steps of this epoch are done, with the latest values (they replace earlier ones). */
  update(step: number, values: ProgressValues = {}): void {
    const t = this.now();
    this.step = step;
    for (const [k, v] of Object.entries(values)) if (v !== undefined) this.values[k] = v;
    this.samples.push([t, step]);
    if (this.samples.length > RATE_WINDOW + 1) this.samples.shift();
    if (this.isTTY) {
      if (t - this.lastDraw >= this.minRedrawMs || step >= this.totalSteps) this.draw(t);
    } else if (
      step - this.lastLogged >= this.logEvery || (step >= this.totalSteps && step > this.lastLogged)
    ) {
      this.lastLogged = step;
      this.write(this.plainLine() + "\n");
    }
  }

  /** Prints a line of its own (above the bar on a terminal, which is then redrawn below it). */
  message(line: string): void {
    if (this.isTTY && this.barShown) {
      this.write(CLEAR_LINE + line + "\n" + this.statusLine());
    } else {
      this.write(line + "\n");
    }
  }

  /** Ends the epoch's display: the final status, then `summary` (or the epoch's step count, time and speed). */
  finish(summary?: string): void {
    if (this.finished) return;
    this.finished = true;
    const elapsed = (this.now() - this.startTime) / 1000;
    const steps = this.step - this.startStep;
    const line = summary ??
      `epoch ${this.epoch}/${this.epochs} done: ${steps} steps in ${formatDuration(elapsed)} ` +
        `(${formatRate(elapsed > 0 ? steps / elapsed : NaN)})`;
    if (this.isTTY) {
      this.write(CLEAR_LINE + this.statusLine() + "\n" + line + "\n");
    } else {
      if (this.step > this.lastLogged) {
        this.lastLogged = this.step;
        this.write(this.plainLine() + "\n");
      }
      this.write(line + "\n");
    }
    this.barShown = false;
  }

  private draw(t: number): void {
    this.lastDraw = t;
    this.barShown = true;
    this.write(CLEAR_LINE + this.statusLine());
  }

  private write(text: string): void {
    const bytes = this.encoder.encode(text);
    let done = 0;
    while (done < bytes.length) done += this.out.writeSync(bytes.subarray(done));
  }

  private stepText(): string {
    const width = String(this.totalSteps).length;
    return `${this.unit} ${String(this.step).padStart(width)}/${this.totalSteps}`;
  }

  private valuesText(): string {
    return Object.entries(this.values).map(([k, v]) => `${k} ${formatValue(k, v!)}`).join(" ");
  }

  private tailText(): string {
    return `${formatRate(this.rate, this.unit)} eta ${formatDuration(this.eta)}`;
  }

  /** The log line used without a terminal. */
  plainLine(): string {
    const parts = [this.heading, this.stepText(), this.valuesText(), this.tailText()];
    return parts.filter((p) => p !== "").join(" ");
  }

  /** The terminal status line, fitted to the width (the bar shrinks first, then the line is cut). */
  statusLine(): string {
    const head = `${this.heading} ${this.stepText()}`;
    const values = this.valuesText();
    const tail = this.tailText();
    const fixed = `${head}  ${values}${values ? "  " : ""}${tail}`;
    const room = this.columns - 1 - fixed.length - 3;
    const barWidth = Math.min(30, room);
    let line = fixed;
    if (barWidth >= 5) {
      const fraction = this.totalSteps > 0 ? Math.min(1, Math.max(0, this.step / this.totalSteps)) : 1;
      const filled = Math.round(fraction * barWidth);
      const bar = "\u2588".repeat(filled) + "\u2591".repeat(barWidth - filled);
      line = `${head} ${bar}  ${values}${values ? "  " : ""}${tail}`;
    }
    return line.length > this.columns - 1 ? line.slice(0, this.columns - 1).trimEnd() : line;
  }
}
