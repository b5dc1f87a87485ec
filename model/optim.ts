/**
 * AdamW as PyTorch 1.13's `torch.optim.AdamW` (amsgrad off), updating parameters in place on the GPU, with
 * optional gradient clipping by global norm (`clip_grad_norm_`) and a guard that skips a step whose gradients
 * or loss are non-finite, all decided on the GPU: a training step never waits for a readback.
 *
 * Each `step()` records: the gradient-norm passes (a few launches for all gradients), one small launch that
 * advances the per-parameter step counts and bias corrections, and one update launch per parameter. The
 * learning rate and beta1 are uniforms, so a schedule that changes them every step reuses the same pipelines.
 *
 * The guard, and how it differs from PyTorch: when any gradient element or the loss is NaN or +-Inf (or the sum
 * of squares overflows f32), the step does nothing at all: parameters, exp_avg, exp_avg_sq and the step counts
 * stay as they were, and a skipped-step counter goes up (read it with {@link AdamW.skippedSteps}). PyTorch would
 * instead write NaN into the parameters. Because step counts live on the GPU, the CPU does not know them; a
 * learning-rate schedule stepped on the CPU keeps advancing through skipped steps, as it would in PyTorch with
 * a `GradScaler`-style skip. With clipping, the gradients are scaled inside the update (`.grad` itself is left
 * unscaled, unlike `clip_grad_norm_`).
 */
import { keep } from "../engine/scope.ts";
import { assign, copyInto, shapeString, type Tensor, zeros } from "../engine/tensor.ts";
import { adamwPrepare, adamwUpdate } from "../kernels/adamw.ts";
import { GradStats, gradStats, STATS_SIZE, statsWord } from "../kernels/grad_norm.ts";

export interface AdamWOptions {
  /** Learning rate (default 1e-3, PyTorch's); a schedule passes its own to each `step`. */
  lr?: number;
  /** (beta1, beta2), default (0.9, 0.999). */
  betas?: readonly [number, number];
  /** Default 1e-8. */
  eps?: number;
  /** Decoupled weight decay, default 0.01. */
  weightDecay?: number;
  /** Clip gradients to this global L2 norm before each update (`clip_grad_norm_`); default: no clipping. */
  maxGradNorm?: number;
  /** Skip steps with a non-finite gradient or loss (default true). */
  skipNonFinite?: boolean;
}

export interface AdamWStepOptions {
  /** This step's learning rate (default: the constructor's). */
  lr?: number;
  /** This step's beta1 (OneCycleLR cycles it as momentum; default: the constructor's). */
  beta1?: number;
  /** The loss of this step (one element): a non-finite loss skips the step too. */
  loss?: Tensor;
}

/** A value accepted by {@link AdamW.loadState}: a tensor (copied on the GPU) or CPU data. */
export type StateValue = Tensor | Float32Array;

function checkBeta(value: number, what: string): void {
  if (!(value >= 0 && value < 1)) throw new RangeError(`AdamW: ${what} must be in [0, 1), got ${value}`);
}

function checkLr(value: number): void {
  if (!(value >= 0) || !Number.isFinite(value)) {
    throw new RangeError(`AdamW: the learning rate must be finite and >= 0, got ${value}`);
  }
}

export class AdamW {
  readonly params: readonly Tensor[];
  /** State-dict names of the parameters (their `name`, or their index). */
  readonly names: readonly string[];
  lr: number;
  beta1: number;
  readonly beta2: number;
  readonly eps: number;
  readonly weightDecay: number;
  readonly maxGradNorm: number | undefined;
  readonly skipNonFinite: boolean;
  private expAvg: Tensor[];
  private expAvgSq: Tensor[];
  /** Per-parameter step counts (f32; exact below 2^24 steps). */
  private steps: Tensor;
  /** Per-parameter [lr / bias_correction1, sqrt(bias_correction2)] of the current step. */
  private coefs: Tensor;
  private skipped: Tensor;
  /** The last step's gradient statistics (norm, clip scale, flags). */
  private stats: Tensor;
  private disposed = false;

  /**
   * An optimizer over `params`, each a parameter that requires a gradient. Frozen parameters (model/freeze.ts)
   * are left out of `params`, so they have no state, no step count and no weight decay, and stay bit-identical.
   */
  constructor(params: readonly Tensor[], opts: AdamWOptions = {}) {
    if (params.length === 0) throw new RangeError("AdamW: got an empty parameter list");
    const names = params.map((p, i) => p.name ?? String(i));
    const seen = new Set<string>();
    params.forEach((p, i) => {
      if (p.dtype !== "f32") throw new TypeError(`AdamW: parameter ${names[i]} is ${p.dtype}, not f32`);
      if (!p.requiresGrad) throw new TypeError(`AdamW: parameter ${names[i]} does not require a gradient`);
      if (params.indexOf(p) !== i) throw new RangeError(`AdamW: parameter ${names[i]} is listed twice`);
      if (seen.has(names[i])) throw new RangeError(`AdamW: two parameters are named "${names[i]}"`);
      seen.add(names[i]);
    });
    this.params = [...params];
    this.names = names;
    this.lr = opts.lr ?? 1e-3;
    checkLr(this.lr);
    [this.beta1, this.beta2] = opts.betas ?? [0.9, 0.999];
    checkBeta(this.beta1, "beta1");
    checkBeta(this.beta2, "beta2");
    this.eps = opts.eps ?? 1e-8;
    if (!(this.eps >= 0)) throw new RangeError(`AdamW: eps must be >= 0, got ${this.eps}`);
    this.weightDecay = opts.weightDecay ?? 0.01;
    if (!(this.weightDecay >= 0)) {
      throw new RangeError(`AdamW: weightDecay must be >= 0, got ${this.weightDecay}`);
    }
    this.maxGradNorm = opts.maxGradNorm;
    if (this.maxGradNorm !== undefined && !(this.maxGradNorm > 0)) {
      throw new RangeError(`AdamW: maxGradNorm must be positive, got ${this.maxGradNorm}`);
    }
    this.skipNonFinite = opts.skipNonFinite ?? true;
    this.expAvg = params.map((p) => keep(zeros(p.shape)));
    this.expAvgSq = params.map((p) => keep(zeros(p.shape)));
    this.steps = keep(zeros([params.length]));
    this.coefs = keep(zeros([2 * params.length]));
    this.skipped = keep(zeros([1]));
    this.stats = keep(zeros([STATS_SIZE]));
  }

  private checkLive(): void {
    if (this.disposed) throw new Error("AdamW: used after dispose()");
  }

  /**
   * One AdamW update of every parameter that has a gradient (parameters without one are left alone and keep
   * their step count, as in PyTorch). Records GPU work only; nothing is read back.
   */
  step(opts: AdamWStepOptions = {}): void {
    this.checkLive();
    const lr = opts.lr ?? this.lr;
    const beta1 = opts.beta1 ?? this.beta1;
    checkLr(lr);
    checkBeta(beta1, "beta1");
    if (opts.loss && opts.loss.size !== 1) {
      throw new RangeError(`AdamW.step: the loss must have one element, got ${shapeString(opts.loss.shape)}`);
    }
    const active: number[] = [];
    this.params.forEach((p, i) => {
      const g = p.grad;
      if (!g) return;
      if (g.size !== p.size || g.dtype !== "f32") {
        throw new RangeError(
          `AdamW.step: gradient ${shapeString(g.shape)} ${g.dtype} of ${this.names[i]} does not match ` +
            `${shapeString(p.shape)}`,
        );
      }
      active.push(i);
    });
    if (active.length === 0) return;
    gradStats(active.map((i) => this.params[i].grad!), {
      maxNorm: this.maxGradNorm,
      loss: opts.loss,
      guard: this.skipNonFinite,
      into: this.stats,
    });
    // One prepare launch per run of consecutive active parameters (a single one when all have gradients).
    let runStart = 0;
    for (let r = 1; r <= active.length; r++) {
      if (r === active.length || active[r] !== active[r - 1] + 1) {
        adamwPrepare({
          stats: this.stats,
          steps: this.steps,
          coefs: this.coefs,
          skipped: this.skipped,
          first: active[runStart],
          end: active[r - 1] + 1,
          lr,
          beta1,
          beta2: this.beta2,
          countSkip: runStart === 0,
        });
        runStart = r;
      }
    }
    for (const i of active) {
      adamwUpdate({
        param: this.params[i],
        grad: this.params[i].grad!,
        expAvg: this.expAvg[i],
        expAvgSq: this.expAvgSq[i],
        index: i,
        stats: this.stats,
        coefs: this.coefs,
        lr,
        beta1,
        beta2: this.beta2,
        eps: this.eps,
        weightDecay: this.weightDecay,
      });
    }
  }

  /** Frees every parameter's gradient (PyTorch's `zero_grad(set_to_none=True)`). */
  zeroGrad(): void {
    for (const p of this.params) {
      p.grad?.dispose();
      p.grad = null;
    }
  }

  /** The global gradient norm seen by the last `step()` (before clipping), as a new tensor of shape []. */
  gradNorm(): Tensor {
    this.checkLive();
    return statsWord(this.stats, GradStats.norm);
  }

  /** How many steps the non-finite guard has skipped so far (a readback: call it rarely). */
  async skippedSteps(): Promise<number> {
    this.checkLive();
    return await this.skipped.item();
  }

  /** Every parameter's step count (a readback). */
  async stepCounts(): Promise<number[]> {
    this.checkLive();
    return [...await this.steps.f32()];
  }

  /**
   * The optimizer state, by name: `<param>.exp_avg` and `<param>.exp_avg_sq` (the parameter's shape), `step`
   * (f32, one count per parameter, in parameter order) and `skipped_steps` (f32 [1]). These are the live
   * tensors: read or save them, do not dispose or modify them.
   */
  stateTensors(): Map<string, Tensor> {
    this.checkLive();
    const out = new Map<string, Tensor>();
    this.names.forEach((n, i) => {
      out.set(`${n}.exp_avg`, this.expAvg[i]);
      out.set(`${n}.exp_avg_sq`, this.expAvgSq[i]);
    });
    out.set("step", this.steps);
    out.set("skipped_steps", this.skipped);
    return out;
  }

  /**
   * Restores state saved from {@link stateTensors} (tensors, or Float32Arrays read from a checkpoint). Every key
   * must be present with the right size; `skipped_steps` may be missing (it then restarts at 0). Unknown keys
   * are an error, so that a checkpoint of another model is not half-loaded.
   */
  loadState(state: ReadonlyMap<string, StateValue>): void {
    this.checkLive();
    const targets = this.stateTensors();
    const unknown = [...state.keys()].filter((k) => !targets.has(k));
    if (unknown.length > 0) {
      throw new RangeError(`AdamW.loadState: unknown keys ${unknown.slice(0, 5).join(", ")}`);
    }
    for (const [key, target] of targets) {
      const value = state.get(key);
      if (!value) {
        if (key === "skipped_steps") continue;
        throw new RangeError(`AdamW.loadState: missing "${key}"`);
      }
      const size = value instanceof Float32Array ? value.length : value.size;
      if (size !== target.size || (!(value instanceof Float32Array) && value.dtype !== "f32")) {
        throw new RangeError(
          `AdamW.loadState: "${key}" has ${size} values, expected ${target.size} (${
            shapeString(target.shape)
          })`,
        );
      }
      if (key === "step") {
        const counts = value instanceof Float32Array ? value : null;
        if (counts && counts.some((c) => !(Number.isInteger(c) && c >= 0))) {
          throw new RangeError(`AdamW.loadState: "step" must hold non-negative integers`);
        }
      }
    }
    for (const [key, target] of targets) {
      const value = state.get(key);
      if (!value) {
        if (key === "skipped_steps") assign(target, new Float32Array(1));
        continue;
      }
      if (value instanceof Float32Array) assign(target, value);
      else copyInto(value, target);
    }
  }

  /** Frees the optimizer state (not the parameters). */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const t of [...this.expAvg, ...this.expAvgSq, this.steps, this.coefs, this.skipped, this.stats]) {
      t.dispose();
    }
  }
}
