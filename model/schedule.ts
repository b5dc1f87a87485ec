/**
 * OneCycleLR as PyTorch 1.13's `torch.optim.lr_scheduler.OneCycleLR`, for one parameter group, with momentum
 * cycled on AdamW's beta1.
 *
 * Usage mirrors PyTorch: the schedule starts at step 0 (lr = maxLr / divFactor, beta1 = maxMomentum); each
 * training step calls `optimizer.step({ lr: sched.lr, beta1: sched.beta1 })` and then `sched.step()`. As in
 * PyTorch, `step()` may be called `totalSteps` times (the last call yields one extrapolated value past the end
 * of the cycle, which PyTorch computes and nobody uses); one more call throws, naming the counts as PyTorch's
 * error does, but without corrupting the state.
 */

export type AnnealStrategy = "cos" | "linear";

export interface OneCycleOptions {
  maxLr: number;
  /** Either totalSteps, or epochs and stepsPerEpoch. */
  totalSteps?: number;
  epochs?: number;
  stepsPerEpoch?: number;
  /** Fraction of the cycle spent increasing the lr (default 0.3). */
  pctStart?: number;
  /** Default "cos", as PyTorch (the training CLI uses "linear"). */
  annealStrategy?: AnnealStrategy;
  /** Cycle beta1 inversely to the lr (default true). */
  cycleMomentum?: boolean;
  baseMomentum?: number;
  maxMomentum?: number;
  /** initial_lr = maxLr / divFactor (default 25). */
  divFactor?: number;
  /** min_lr = initial_lr / finalDivFactor (default 1e4). */
  finalDivFactor?: number;
  /** PyTorch's three-phase variant (default false). */
  threePhase?: boolean;
}

/** What a checkpoint keeps (PyTorch's `last_epoch`, the number of `step()` calls so far). */
export interface OneCycleState {
  lastEpoch: number;
}

interface Phase {
  endStep: number;
  startLr: number;
  endLr: number;
  startMomentum: number;
  endMomentum: number;
}

function positiveInt(value: number | undefined, what: string): number {
  if (value === undefined || !Number.isInteger(value) || value <= 0) {
    throw new RangeError(`OneCycleLR: expected a positive integer ${what}, got ${value}`);
  }
  return value;
}

export class OneCycleLR {
  readonly totalSteps: number;
  readonly initialLr: number;
  readonly maxLr: number;
  readonly minLr: number;
  readonly cycleMomentum: boolean;
  readonly baseMomentum: number;
  readonly maxMomentum: number;
  private readonly anneal: (start: number, end: number, pct: number) => number;
  private readonly phases: Phase[];
  /** PyTorch's `last_epoch`: the index of the current step. */
  private current = 0;

  constructor(opts: OneCycleOptions) {
    if (opts.totalSteps === undefined && opts.epochs === undefined && opts.stepsPerEpoch === undefined) {
      throw new RangeError("OneCycleLR: define either totalSteps or (epochs and stepsPerEpoch)");
    }
    this.totalSteps = opts.totalSteps !== undefined
      ? positiveInt(opts.totalSteps, "totalSteps")
      : positiveInt(opts.epochs, "epochs") * positiveInt(opts.stepsPerEpoch, "stepsPerEpoch");
    const pctStart = opts.pctStart ?? 0.3;
    if (!(pctStart >= 0 && pctStart <= 1)) {
      throw new RangeError(`OneCycleLR: expected pctStart between 0 and 1, got ${pctStart}`);
    }
    const strategy = opts.annealStrategy ?? "cos";
    if (strategy === "cos") {
      this.anneal = (start, end, pct) => end + (start - end) / 2 * (Math.cos(Math.PI * pct) + 1);
    } else if (strategy === "linear") {
      this.anneal = (start, end, pct) => (end - start) * pct + start;
    } else {
      throw new RangeError(`OneCycleLR: annealStrategy must be "cos" or "linear", got ${strategy}`);
    }
    if (!(opts.maxLr >= 0) || !Number.isFinite(opts.maxLr)) {
      throw new RangeError(`OneCycleLR: maxLr must be finite and >= 0, got ${opts.maxLr}`);
    }
    const divFactor = opts.divFactor ?? 25;
    const finalDivFactor = opts.finalDivFactor ?? 1e4;
    this.maxLr = opts.maxLr;
    this.initialLr = opts.maxLr / divFactor;
    this.minLr = this.initialLr / finalDivFactor;
    this.cycleMomentum = opts.cycleMomentum ?? true;
    this.baseMomentum = opts.baseMomentum ?? 0.85;
    this.maxMomentum = opts.maxMomentum ?? 0.95;
    const total = this.totalSteps;
    const [lr0, lrMax, lrMin] = [this.initialLr, this.maxLr, this.minLr];
    const [mBase, mMax] = [this.baseMomentum, this.maxMomentum];
    this.phases = opts.threePhase
      ? [
        {
          endStep: pctStart * total - 1,
          startLr: lr0,
          endLr: lrMax,
          startMomentum: mMax,
          endMomentum: mBase,
        },
        {
          endStep: 2 * pctStart * total - 2,
          startLr: lrMax,
          endLr: lr0,
          startMomentum: mBase,
          endMomentum: mMax,
        },
        { endStep: total - 1, startLr: lr0, endLr: lrMin, startMomentum: mMax, endMomentum: mMax },
      ]
      : [
        {
          endStep: pctStart * total - 1,
          startLr: lr0,
          endLr: lrMax,
          startMomentum: mMax,
          endMomentum: mBase,
        },
        { endStep: total - 1, startLr: lrMax, endLr: lrMin, startMomentum: mBase, endMomentum: mMax },
      ];
    // PyTorch evaluates step 0 in its constructor, so a degenerate first phase fails here too.
    this.at(0);
  }

  /** The learning rate and beta1 (momentum; the optimizer's beta1 when `cycleMomentum` is off: undefined). */
  at(step: number): { lr: number; beta1: number | undefined } {
    if (!Number.isInteger(step) || step < 0 || step > this.totalSteps) {
      throw new RangeError(`OneCycleLR: step ${step} is outside 0..${this.totalSteps}`);
    }
    let start = 0;
    for (let i = 0; i < this.phases.length; i++) {
      const phase = this.phases[i];
      if (step <= phase.endStep || i === this.phases.length - 1) {
        const span = phase.endStep - start;
        if (span === 0) {
          throw new RangeError(
            `OneCycleLR: phase ${i + 1} of the cycle has zero length (totalSteps ${this.totalSteps}); ` +
              `PyTorch fails with a division by zero here: use more steps or another pctStart`,
          );
        }
        const pct = (step - start) / span;
        return {
          lr: this.anneal(phase.startLr, phase.endLr, pct),
          beta1: this.cycleMomentum ? this.anneal(phase.startMomentum, phase.endMomentum, pct) : undefined,
        };
      }
      start = phase.endStep;
    }
    throw new Error("unreachable");
  }

  /** The index of the current step (PyTorch's `last_epoch`). */
  get stepIndex(): number {
    return this.current;
  }

  /** The learning rate for the current step. */
  get lr(): number {
    return this.at(this.current).lr;
  }

  /** beta1 for the current step (undefined when momentum is not cycled: keep the optimizer's). */
  get beta1(): number | undefined {
    return this.at(this.current).beta1;
  }

  /** Advances to the next step; throws as PyTorch does when stepped more than `totalSteps` times. */
  step(): void {
    if (this.current + 1 > this.totalSteps) {
      throw new RangeError(
        `OneCycleLR: tried to step ${this.current + 2} times. The specified number of total steps is ` +
          `${this.totalSteps}`,
      );
    }
    this.current++;
  }

  state(): OneCycleState {
    return { lastEpoch: this.current };
  }

  loadState(state: OneCycleState): void {
    const e = state.lastEpoch;
    if (!Number.isInteger(e) || e < 0 || e > this.totalSteps) {
      throw new RangeError(`OneCycleLR.loadState: lastEpoch ${e} is outside 0..${this.totalSteps}`);
    }
    this.current = e;
  }
}
