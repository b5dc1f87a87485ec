/**
 * The deadline of a collective in data-parallel training. A rank that dies is noticed by the launcher (mpirun
 * ends the job); one that hangs (a stuck driver, a stopped process, a lost host) leaves the others waiting in
 * the all-reduce for ever. The watchdog gives each collective a deadline of `factor` times the median step
 * measured so far (at least `minSeconds`; `startupSeconds` until `warmupSteps` steps are measured, as the first
 * steps compile pipelines), and past it calls `onExpire` with a line saying who waited for what, which ends the
 * job. Timers run because MPI's calls run off the event loop (dist/mpi.ts).
 */

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

export class Watchdog {
  readonly #steps: number[] = [];
  readonly #opts: Required<WatchdogOptions>;

  constructor(readonly onExpire: (message: string) => void, opts: WatchdogOptions = {}) {
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

  /** The deadline of the next collective, in ms, and how it was set. */
  deadline(): { ms: number; why: string } {
    const o = this.#opts;
    if (this.#steps.length < o.warmupSteps) {
      return { ms: o.startupSeconds * 1000, why: `the first ${o.warmupSteps} steps' limit` };
    }
    const median = this.medianStepMs;
    const ms = Math.max(o.factor * median, o.minSeconds * 1000);
    return {
      ms,
      why: `${o.factor} x the median step of ${(median / 1000).toFixed(2)} s, at least ${o.minSeconds} s`,
    };
  }

  /** `work`, with `onExpire` called if it has not settled by the deadline. */
  async guard<T>(what: string, work: Promise<T>): Promise<T> {
    const { ms, why } = this.deadline();
    const timer = setTimeout(
      () => this.onExpire(`${what} still waiting after ${(ms / 1000).toFixed(1)} s (${why})`),
      ms,
    );
    try {
      return await work;
    } finally {
      clearTimeout(timer);
    }
  }
}
