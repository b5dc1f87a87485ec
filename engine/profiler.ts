/**
 * `--profile`: where the time goes, per phase of the program (wall time on the main thread) and per kernel
 * family (time on the GPU), printed as one plain-text table by {@link profileReport}.
 *
 * Phases. {@link profilePhase} marks a span of the program (sync or async). Phases nest, and time is charged to
 * the innermost open phase only: the profiler keeps a stack of open phases and, at every push and pop, charges
 * the wall time since the previous push or pop to the phase then on top (or to "outside phases" when none is
 * open). The rows therefore partition the profiled wall time exactly. A nested phase is reported under its path
 * ("eval > forward"). Phases must nest in time (sequential `await`s do); overlapping async phases are charged
 * as if the later one were nested in the earlier.
 *
 * Phase time is main-thread wall time. GPU work is asynchronous: recording a launch costs the CPU little, and
 * the GPU's work shows up as waiting in the phase that needs its result (usually "readback"). The kernel table
 * says which kernels that GPU time was spent in.
 *
 * Kernels. `launch()` (engine/kernel.ts) costs one boolean check when profiling is off. When it is on, each
 * launch is counted under its family ({@link kernelFamily}, from the pipeline key) and the command recorder
 * (engine/commands.ts) times the GPU work of each run of consecutive launches of one family ("segment"):
 *
 * - With the device feature 'timestamp-query': each segment is its own compute pass with `timestampWrites`
 *   (begin and end of pass); the query set is resolved once per submit and read back with a `mapAsync` that
 *   nothing waits for. Exact GPU time of the compute passes; buffer copies between passes are not counted.
 * - Without it (the fallback): each segment is submitted on its own, followed by one
 *   `queue.onSubmittedWorkDone()` call. A segment's GPU time is its completion minus the later of its submission
 *   and the previous segment's completion (the GPU was busy with that one until then, or idle until this one
 *   came), so times are non-negative, never overlap, and sum to less than the wall time. Its completion: on
 *   Deno the `onSubmittedWorkDone()` call itself blocks until the GPU has finished (measured on lavapipe: the
 *   call takes the work's duration, the promise then resolves ~11 ms later at Deno's next device poll), so the
 *   call's return is taken; where calls return at once (detected per batch: calls that took under half of the
 *   batch's span), the promise's resolution is taken, which is seen only at a device poll (~10 ms grid) and only
 *   when the main thread is free. To keep the main thread free, the recorder holds the queue's work back
 *   (writes with their data copied, and submits, in order) until the program waits for the GPU anyway (a
 *   readback or `sync()`), then submits it segment by segment (not under a memory limit: the pool then
 *   destroys free buffers that held-back work may still use; `trim()` submits held work first). Error, measured
 *   against timestamp queries on lavapipe (4 training steps and an eval, tiny model): families within ~20% (conv
 *   3.39 s vs 4.05 s, matmul 1.95 vs 1.76, GRU 1.16 vs 1.10), a family with little work (CTC: 0.22 vs 0.03 s)
 *   is dominated by the per-segment overhead and the copies recorded between launches, which are charged to
 *   the segment they fall in. Side effects while profiling: the GPU no longer overlaps recording (each segment
 *   waits for the previous), and the extra submits let the pool reuse buffers sooner (lower GPU peaks).
 */
import { activeRecorder } from "./commands.ts";

/** True while profiling: read by `launch()` (one boolean check per launch when off). */
export let profiling = false;

/** The kernel families of the table, in its order. */
export const KERNEL_FAMILIES = [
  "conv",
  "GRU step",
  "matmul",
  "mel/FFT",
  "CTC",
  "optimizer",
  "layernorm",
  "elementwise",
  "other",
] as const;
export type KernelFamily = (typeof KERNEL_FAMILIES)[number];

/** Pipeline-key prefixes (up to the first ':') and their families (kernels/*.ts). */
const PREFIX_FAMILY: Record<string, KernelFamily> = {
  "conv2d": "conv",
  "gru": "GRU step",
  "matmul": "matmul",
  "matmul-shared": "matmul",
  "mel-frames": "mel/FFT",
  "mel-complex-power": "mel/FFT",
  "mel-project": "mel/FFT",
  "fft-stage": "mel/FFT",
  "fft-bluestein-pre": "mel/FFT",
  "fft-bluestein-mul": "mel/FFT",
  "fft-bluestein-post": "mel/FFT",
  "fft-copy": "mel/FFT",
  "rfft-split": "mel/FFT",
  "rfft-r2c": "mel/FFT",
  "rfft-take": "mel/FFT",
  "signal-materialize": "mel/FFT",
  "specaugment": "mel/FFT",
  "ctc": "CTC",
  "adamw": "optimizer",
  "grad-norm": "optimizer",
  "layernorm": "layernorm",
  "unary": "elementwise",
  "unary-grad": "elementwise",
  "binary": "elementwise",
  "dropout": "elementwise",
  "fill": "elementwise",
};

const familyCache = new Map<string, KernelFamily>();

/**
 * The family of a pipeline key: "gru:fwd:11" -> "GRU step", "matmul:01011" -> "matmul", "conv2d:fwd:..." ->
 * "conv", "mel-project:..." and "fft-stage:..." -> "mel/FFT" (feature extraction, SpecAugment included),
 * "ctc:alpha:loop" -> "CTC", "adamw:update:vec4" and "grad-norm:..." -> "optimizer", "unary:gelu",
 * "binary:add:..", "dropout", "fill:f32" -> "elementwise"; reductions, log-softmax, layout copies and unknown
 * keys -> "other".
 */
export function kernelFamily(key: string): KernelFamily {
  let f = familyCache.get(key);
  if (f === undefined) {
    const colon = key.indexOf(":");
    f = PREFIX_FAMILY[colon < 0 ? key : key.slice(0, colon)] ?? "other";
    familyCache.set(key, f);
  }
  return f;
}

interface PhaseRow {
  seconds: number;
  calls: number;
}
interface Frame {
  path: string;
}

const OUTSIDE = "outside phases";
let phaseRows = new Map<string, PhaseRow>();
let stack: Frame[] = [];
let lastMark = 0;
let startedAt = 0;
let stoppedAt = 0;
let launches = new Map<KernelFamily, number>();
let gpuMs = new Map<KernelFamily, number>();
let gpuMethod = "";

function row(path: string): PhaseRow {
  let r = phaseRows.get(path);
  if (!r) phaseRows.set(path, r = { seconds: 0, calls: 0 });
  return r;
}

/** Charges the time since the last push or pop to the phase on top of the stack. */
function charge(now: number): void {
  row(stack.length > 0 ? stack[stack.length - 1].path : OUTSIDE).seconds += (now - lastMark) / 1000;
  lastMark = now;
}

/** Starts profiling (clearing earlier figures). Work recorded before is submitted first, untimed. */
export function startProfile(): void {
  activeRecorder()?.flush();
  phaseRows = new Map();
  stack = [];
  launches = new Map();
  gpuMs = new Map();
  gpuMethod = "";
  startedAt = lastMark = performance.now();
  stoppedAt = 0;
  row(OUTSIDE);
  profiling = true;
}

/** Stops profiling: waits for the GPU to finish (and report the times of) everything launched while on. */
export async function stopProfile(): Promise<void> {
  if (!profiling) return;
  await flushProfile();
  charge(performance.now());
  stoppedAt = lastMark;
  profiling = false;
  stack = [];
}

/** Waits until the GPU has finished, and the times have arrived of, everything launched so far. */
export async function flushProfile(): Promise<void> {
  const rec = activeRecorder();
  if (rec) {
    await rec.sync("profiling");
    await rec.profileSettled();
  }
}

export function isProfiling(): boolean {
  return profiling;
}

/**
 * Runs `fn` as the phase `name` (nested in the phases open around it). A sync `fn` stays sync; an async one's
 * phase lasts until its promise settles. Costs one boolean check when not profiling.
 */
export function profilePhase<T>(name: string, fn: () => T): T {
  if (!profiling) return fn();
  const frame: Frame = { path: stack.length > 0 ? `${stack[stack.length - 1].path} > ${name}` : name };
  charge(performance.now());
  stack.push(frame);
  row(frame.path).calls++;
  const close = () => {
    if (!profiling) return;
    const at = stack.lastIndexOf(frame);
    if (at < 0) return;
    charge(performance.now());
    stack.splice(at, 1);
  };
  let out: T;
  try {
    out = fn();
  } catch (e) {
    close();
    throw e;
  }
  if (out instanceof Promise) {
    return out.then((v) => {
      close();
      return v;
    }, (e) => {
      close();
      throw e;
    }) as T;
  }
  close();
  return out;
}

/** An async iterable whose every `next()` wait is the phase `name` (e.g. waiting for decoded audio). */
export async function* profileIterable<T>(name: string, source: AsyncIterable<T>): AsyncGenerator<T> {
  const it = source[Symbol.asyncIterator]();
  let done = false;
  try {
    while (true) {
      const r = await profilePhase(name, () => it.next());
      if (r.done) {
        done = true;
        return;
      }
      yield r.value;
    }
  } finally {
    if (!done) await it.return?.();
  }
}

/** Counts one launch of `family` (called by the command recorder while profiling). */
export function noteLaunch(family: KernelFamily): void {
  launches.set(family, (launches.get(family) ?? 0) + 1);
}

/** Adds GPU time measured for `family` (called by the command recorder's timers). */
export function noteGpuTime(family: KernelFamily, ms: number): void {
  gpuMs.set(family, (gpuMs.get(family) ?? 0) + Math.max(0, ms));
}

/** Names the GPU timing method in the report (set by the command recorder). */
export function noteGpuMethod(method: string): void {
  gpuMethod = method;
}

/** The figures of the table, for tests and tools. */
export interface ProfileData {
  wallSeconds: number;
  phases: { name: string; seconds: number; calls: number }[];
  kernels: { family: KernelFamily; gpuSeconds: number; launches: number }[];
  gpuMethod: string;
}

/** The figures so far (or of the stopped profile). */
export function profileData(): ProfileData {
  if (profiling) charge(performance.now());
  const end = profiling ? lastMark : stoppedAt;
  const phases = [...phaseRows].map(([name, r]) => ({ name, seconds: r.seconds, calls: r.calls }));
  const outside = phases.findIndex((p) => p.name === OUTSIDE);
  if (outside >= 0) phases.push(...phases.splice(outside, 1));
  const kernels = KERNEL_FAMILIES.filter((f) => launches.has(f) || gpuMs.has(f)).map((family) => ({
    family,
    gpuSeconds: (gpuMs.get(family) ?? 0) / 1000,
    launches: launches.get(family) ?? 0,
  }));
  return { wallSeconds: Math.max(0, (end - startedAt) / 1000), phases, kernels, gpuMethod };
}

const pct = (part: number, whole: number) => whole > 0 ? `${(100 * part / whole).toFixed(1)}%` : "-";

/** The plain-text table: per phase wall seconds, share and calls; per kernel family GPU seconds, share, launches. */
export function profileReport(): string {
  const d = profileData();
  const w = Math.max(24, ...d.phases.map((p) => p.name.length + 2));
  const line = (a: string, b: string, c: string, e: string) =>
    `${a.padEnd(w)}${b.padStart(12)}${c.padStart(9)}${e.padStart(10)}`;
  const out: string[] = [`profile: ${d.wallSeconds.toFixed(3)} s wall`];
  out.push(line("phase", "wall s", "share", "calls"));
  let sum = 0;
  for (const p of d.phases) {
    sum += p.seconds;
    out.push(
      line(p.name, p.seconds.toFixed(3), pct(p.seconds, d.wallSeconds), p.calls ? String(p.calls) : ""),
    );
  }
  out.push(line("total", sum.toFixed(3), pct(sum, d.wallSeconds), ""));
  out.push("");
  const gpuTotal = d.kernels.reduce((s, k) => s + k.gpuSeconds, 0);
  const launchTotal = d.kernels.reduce((s, k) => s + k.launches, 0);
  out.push(line("kernel family", "GPU s", "share", "launches"));
  for (const k of d.kernels) {
    out.push(line(k.family, k.gpuSeconds.toFixed(3), pct(k.gpuSeconds, gpuTotal), String(k.launches)));
  }
  out.push(line("total", gpuTotal.toFixed(3), pct(gpuTotal, gpuTotal), String(launchTotal)));
  out.push(
    `GPU busy ${pct(gpuTotal, d.wallSeconds)} of wall; GPU times by ${d.gpuMethod || "no launches"}`,
  );
  return out.join("\n");
}

/**
 * A CLI's `--profile`: when `enabled`, {@link start} starts profiling, {@link interim} prints the table so far,
 * {@link stop} stops it and {@link print} prints the table (to stderr); when not, each does nothing. The CLIs
 * also mark their phases with {@link profilePhase} and {@link profileIterable}.
 */
export class ProfileSession {
  constructor(readonly enabled: boolean) {}

  /** Starts profiling (see {@link startProfile}). */
  start(): void {
    if (this.enabled) startProfile();
  }

  /** Prints `label: ` and the table so far, once the GPU times of everything launched so far have arrived. */
  async interim(label: string): Promise<void> {
    if (!this.enabled) return;
    await flushProfile();
    console.error(`${label}: ${profileReport()}`);
  }

  /** Stops profiling (see {@link stopProfile}). */
  async stop(): Promise<void> {
    if (this.enabled) await stopProfile();
  }

  /** Prints the table. */
  print(): void {
    if (this.enabled) console.error(profileReport());
  }

  /** Stops profiling and prints the table. */
  async end(): Promise<void> {
    await this.stop();
    this.print();
  }
}
