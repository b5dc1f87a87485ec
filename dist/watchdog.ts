/**
 * The deadline of a collective in data-parallel training. A rank that dies is noticed by the launcher (mpirun
 * ends the job); one that hangs (a stuck driver, a stopped process, a lost host) leaves the others waiting in
 * a collective for ever. The watchdog gives every collective of the training loop a deadline of `factor` times
 * the median step measured so far (at least `minSeconds`; `startupSeconds` until `warmupSteps` steps are
 * measured, as the first steps compile pipelines), and past it calls `onExpire` with a line naming the rank
 * that did not arrive (dist/heartbeat.ts), the collective and the step, which ends the job.
 *
 * {@link Watchdog.watch} wraps the communicator, so no collective escapes a deadline; {@link Watchdog.guard}
 * labels the collectives of a phase ("the gradient all-reduce of step 14") and marks the phases whose waits are
 * legitimately long (another rank writing a checkpoint, evaluation shards of unequal cost): those wait
 * `startupSeconds` (or the step rule, if longer). Timers run because MPI's calls run off the event loop
 * (dist/mpi.ts).
 */
import type { Communicator } from "./communicator.ts";
import type { Heartbeats } from "./heartbeat.ts";

export interface WatchdogOptions {
  factor?: number;
  minSeconds?: number;
  startupSeconds?: number;
  warmupSteps?: number;
}

/** The defaults: 10 x the median step, at least 60 s; 15 minutes until 3 steps are measured. */
export const WATCHDOG_DEFAULTS: Required<WatchdogOptions> = {
  factor: 10,
  minSeconds: 60,
  startupSeconds: 900,
  warmupSteps: 3,
};

/** The options of `--hang-timeout S`: S replaces both the floor and the first steps' limit. */
export function timeoutOptions(seconds: number | undefined): WatchdogOptions {
  return seconds === undefined ? {} : { minSeconds: seconds, startupSeconds: seconds };
}

/**
 * While a rank waits in a collective its event loop is free, so it renews its heartbeat this often: a rank
 * inside the same collective whose heartbeat has not been renewed for {@link STALE_MS} is stopped or stuck.
 */
const PULSE_MS = 1000;
const STALE_MS = 5000;

interface Phase {
  what: string;
  patient: boolean;
}

export class Watchdog {
  readonly #steps: number[] = [];
  readonly #opts: Required<WatchdogOptions>;
  #phase: Phase | null = null;
  /** Collectives entered through {@link watch}ed communicators. */
  #calls = 0;
  #expired = false;

  /**
   * `onExpire` gets the line to print and must end the job; `heartbeats` (this rank's, when the run folder is
   * at hand) name the rank that keeps the others waiting.
   */
  constructor(
    readonly onExpire: (message: string) => void,
    opts: WatchdogOptions = {},
    readonly heartbeats: Heartbeats | null = null,
  ) {
    this.#opts = { ...WATCHDOG_DEFAULTS, ...opts };
  }

  /** Notes one step's wall time. */
  recordStep(ms: number): void {
    this.#steps.push(ms);
    if (this.#steps.length > 101) this.#steps.shift();
  }

  /** The median step so far in ms (NaN before any). */
  get medianStepMs(): number {
    const s = [...this.#steps].sort((a, b) => a - b);
    return s.length === 0 ? NaN : s[Math.floor(s.length / 2)];
  }

  /** The deadline of the next collective, in ms, and how it was set; `patient` for a long phase's. */
  deadline(patient = false): { ms: number; why: string } {
    const o = this.#opts;
    const slow = { ms: o.startupSeconds * 1000, why: `the first ${o.warmupSteps} steps' limit` };
    if (this.#steps.length < o.warmupSteps) return slow;
    const median = this.medianStepMs;
    const ms = Math.max(o.factor * median, o.minSeconds * 1000);
    if (patient && slow.ms > ms) return { ms: slow.ms, why: "the limit of checkpoints and evaluations" };
    return {
      ms,
      why: `${o.factor} x the median step of ${(median / 1000).toFixed(2)} s, at least ${o.minSeconds} s`,
    };
  }

  /**
   * Runs `work` with its collectives labelled `what`; `patient` for a phase where one rank may wait long for
   * another's legitimate work (a checkpoint being written, an evaluation shard).
   */
  async guard<T>(what: string, work: () => Promise<T>, opts: { patient?: boolean } = {}): Promise<T> {
    const outer = this.#phase;
    this.#phase = { what, patient: opts.patient ?? false };
    this.heartbeats?.beat(this.#calls, what);
    try {
      return await work();
    } finally {
      this.#phase = outer;
    }
  }

  /** `comm` with a deadline on every collective (the label and patience of the phase it is called in). */
  watch(comm: Communicator): Communicator {
    const timed = <T>(work: () => Promise<T>) => this.#timed(comm.rank, work);
    return {
      rank: comm.rank,
      size: comm.size,
      localRank: comm.localRank,
      description: comm.description,
      allReduceSum: (values) => timed(() => comm.allReduceSum(values)),
      broadcast: (bytes, root) => timed(() => comm.broadcast(bytes, root)),
      barrier: () => timed(() => comm.barrier()),
      abort: (code) => comm.abort(code),
      close: () => comm.close(),
    };
  }

  async #timed<T>(rank: number, work: () => Promise<T>): Promise<T> {
    const phase = this.#phase ?? { what: "a collective outside the training steps", patient: false };
    const calls = ++this.#calls;
    this.heartbeats?.beat(calls, phase.what);
    const { ms, why } = this.deadline(phase.patient);
    const pulse = this.heartbeats ? setInterval(() => this.heartbeats!.beat(calls, phase.what), PULSE_MS) : 0;
    const timer = setTimeout(() => {
      if (this.#expired) return;
      this.#expired = true;
      const who = this.heartbeats?.blame(calls, STALE_MS) ??
        "which rank did not arrive is not known (no heartbeats): another rank died or hangs";
      this.onExpire(`${who}; rank ${rank} waited ${(ms / 1000).toFixed(1)} s in ${phase.what} (${why})`);
    }, ms);
    try {
      return await work();
    } finally {
      clearTimeout(timer);
      clearInterval(pulse);
    }
  }
}
