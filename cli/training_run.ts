/**
 * One training run of `deno task train` (train.ts): opening it (fresh, or resumed from its latest checkpoint with
 * the run's own settings), the epoch loop (steps, the loss ring read back every --log-every steps, checkpoints,
 * eval and report after each epoch) and the closing report. All randomness is derived from the seed and the
 * global step, so a resumed run trains the same batches with the same dropout and SpecAugment draws.
 */
import { GpuDeviceLostError, GpuOutOfMemoryError } from "../engine/device.ts";
import { setMemoryLimit } from "../engine/memory.ts";
import { profileIterable, profilePhase, ProfileSession } from "../engine/profiler.ts";
import { Random } from "../engine/random.ts";
import { tidy } from "../engine/scope.ts";
import { copyInto, type Tensor, zeros } from "../engine/tensor.ts";
import { AudioPool } from "../data/audio_pool.ts";
import { type Batch, BatchLoader, labelTensor, selectBatches, spectrogramFrames } from "../data/batching.ts";
import { melSpectrogram } from "../data/features.ts";
import { epochBatches, epochSeed } from "../data/sampler.ts";
import { specAugment } from "../kernels/specaugment.ts";
import { loadTrainingState, optimizerStateArrays, optimizerStateFrom } from "../model/checkpoint.ts";
import { configToMetadata } from "../model/config.ts";
import { describeFrozen, FreezeError, freezeParameters } from "../model/freeze.ts";
import { AdamW } from "../model/optim.ts";
import { SpeechRecognitionModel } from "../model/recognizer.ts";
import { OneCycleLR } from "../model/schedule.ts";
import { trainStep } from "../model/train_step.ts";
import { CheckpointManager } from "./checkpoint_manager.ts";
import { requireGpu, UsageError } from "./common.ts";
import { type EvalResult, evaluate } from "./evaluate.ts";
import { MetricsLog, readMetrics } from "./metrics_log.ts";
import { memoryReportLine } from "./memory_report.ts";
import { modelSource } from "./model_source.ts";
import { Progress } from "./progress.ts";
import { writeReport } from "./report_html.ts";
import type { TrainArgs } from "./train_args.ts";
import { resolveTrainData, type TrainData } from "./train_data.ts";

/** A stream seed for one step's dropout or SpecAugment, from the run seed, the step and a purpose tag. */
function stepSeed(seed: number, step: number, purpose: number): number {
  return epochSeed((seed ^ Math.imul(purpose, 0x632be5ab)) >>> 0, step);
}

/** Where a run stands. */
export interface Position {
  step: number;
  epoch: number;
  /** Batches of this epoch already trained. */
  batch: number;
}

type Resumable = NonNullable<Awaited<ReturnType<CheckpointManager["latest"]>>>;
type TrainingState = Awaited<ReturnType<typeof loadTrainingState>>;

function describeEval(r: EvalResult): string {
  return `dev CER ${r.corpusCer.toFixed(4)} WER ${r.corpusWer.toFixed(4)} (corpus) | ` +
    `CER ${r.meanCer.toFixed(4)} WER ${r.meanWer.toFixed(4)} (tutorial) | loss ${r.loss.toFixed(3)}`;
}

/**
 * Loss and per-sample losses of the last steps, copied on the GPU and read back every --log-every steps (one
 * readback instead of one per step).
 */
class LossRing {
  readonly #losses: Tensor;
  readonly #samples: Tensor;
  readonly #pending: { step: number; lr: number; n: number }[] = [];
  #lastLoss = NaN;

  constructor(readonly size: number, readonly batchSize: number) {
    this.#losses = zeros([size]);
    this.#samples = zeros([size * batchSize]);
  }

  /** Steps recorded and not yet read back. */
  get pending(): number {
    return this.#pending.length;
  }

  /** Copies one step's losses into the ring (inside the step's tidy scope). */
  copy(loss: Tensor, sampleLosses: Tensor, utterances: number): void {
    const slot = this.#pending.length;
    copyInto(loss, this.#losses, { dstOffset: slot, count: 1 });
    copyInto(sampleLosses, this.#samples, { dstOffset: slot * this.batchSize, count: utterances });
  }

  /** Notes the step whose losses the last `copy` wrote. */
  push(step: number, lr: number, utterances: number): void {
    this.#pending.push({ step, lr, n: utterances });
  }

  /**
   * Reads the ring back, logs each pending step and updates the progress bar at `batch`; returns how many
   * samples had a non-finite loss (a target longer than their input).
   */
  async flush(log: MetricsLog, epoch: number, progress: Progress, batch: number): Promise<number> {
    const pending = this.#pending;
    if (pending.length === 0) return 0;
    const [losses, samples] = await profilePhase(
      "readback",
      () => Promise.all([this.#losses.f32(), this.#samples.f32()]),
    );
    let infeasible = 0;
    pending.forEach((p, k) => {
      let bad = 0;
      for (let i = 0; i < p.n; i++) if (!Number.isFinite(samples[k * this.batchSize + i])) bad++;
      infeasible += bad;
      log.train(p.step, epoch + 1, losses[k], p.lr, bad > 0 ? { infeasible: bad } : {});
      if (Number.isFinite(losses[k])) this.#lastLoss = losses[k];
    });
    const lr = pending.at(-1)!.lr;
    pending.length = 0;
    progress.update(batch, { loss: this.#lastLoss, lr });
    return infeasible;
  }
}

/** The run's settings and, when resuming, the checkpoint and training state it continues from. */
async function resumeOrStart(
  args: TrainArgs,
  outDir: string,
  manager: CheckpointManager,
): Promise<{ args: TrainArgs; resumeFrom: Resumable | null; state: TrainingState | null }> {
  if (!args.resume) return { args, resumeFrom: null, state: null };
  const resumeFrom = await manager.latest();
  if (!resumeFrom) throw new UsageError(`--resume: no complete checkpoint in ${outDir}/checkpoints`);
  const state = await loadTrainingState(resumeFrom.state);
  const saved = state.meta.args as TrainArgs;
  // The run's own settings win (same data order, same schedule); how this invocation reports (--profile,
  // --memory) is its own, not the run's.
  return {
    args: {
      ...saved,
      resume: true,
      out: outDir,
      workers: args.workers,
      profile: args.profile,
      memory: args.memory,
      memoryLimit: args.memoryLimit,
    },
    resumeFrom,
    state,
  };
}

/**
 * The parameters the optimizer trains: all of them, or those `--freeze` leaves (the frozen ones stop requiring a
 * gradient). A resumed fine-tuning run freezes the same ones, so its optimizer state matches.
 */
function trainableParameters(model: SpeechRecognitionModel, freeze: readonly string[]) {
  if (freeze.length === 0) return model.parameters();
  try {
    const { frozen, trainable } = freezeParameters(model.params, freeze);
    console.log(`frozen (--freeze ${freeze.join(",")}): ${describeFrozen(model.params, frozen)}`);
    return trainable;
  } catch (e) {
    if (e instanceof FreezeError) throw new UsageError(e.message);
    throw e;
  }
}

/** A training run: `open` it, `train()`, then `finish()`. */
export class TrainingRun {
  pos: Position = { step: 0, epoch: 0, batch: 0 };
  /** Samples whose target was longer than their input, over the whole run. */
  infeasible = 0;
  bestCer = Infinity;
  readonly skippedFiles: string[] = [];
  /** The largest batch shape seen (what an out-of-memory message names). */
  readonly largest = { utterances: 0, frames: 0 };
  readonly optimizer: AdamW;
  readonly schedule: OneCycleLR;
  readonly log: MetricsLog;
  readonly pool: AudioPool;
  readonly losses: LossRing;
  readonly #reportConfig: Record<string, unknown>;
  /** --profile: started by {@link train}, stopped and printed by {@link finish}. */
  readonly #profile: ProfileSession;

  private constructor(
    readonly args: TrainArgs,
    readonly outDir: string,
    readonly manager: CheckpointManager,
    readonly data: TrainData,
    readonly model: SpeechRecognitionModel,
    parts: { optimizer: AdamW; schedule: OneCycleLR; log: MetricsLog },
  ) {
    this.optimizer = parts.optimizer;
    this.schedule = parts.schedule;
    this.log = parts.log;
    this.pool = new AudioPool({ workers: args.workers });
    this.#reportConfig = {
      ...configToMetadata(model.config),
      epochs: args.epochs,
      batch: args.batchSize,
      lr: args.lr,
    };
    this.losses = new LossRing(args.logEvery, args.batchSize);
    this.#profile = new ProfileSession(args.profile);
  }

  /** Opens the run folder, resumes or starts the run, loads the data and the model, and opens the metrics log. */
  static async open(parsed: TrainArgs, outDir: string): Promise<TrainingRun> {
    const manager = await CheckpointManager.open(outDir, {
      keepLast: parsed.keep,
      everySteps: parsed.checkpointEvery,
    });
    const { args, resumeFrom, state } = await resumeOrStart(parsed, outDir, manager);
    // The model's config (its alphabet above all) comes first: the transcripts are checked against it.
    const source = await modelSource(args, resumeFrom?.model ?? null);
    args.config = source.config;
    for (const line of source.notes) console.log(line);
    const data = await resolveTrainData(args);
    console.log(data.description);
    if (data.train.length === 0) throw new UsageError("no training utterances");
    await requireGpu();
    if (args.memoryLimit !== null) setMemoryLimit(args.memoryLimit);
    const model = new SpeechRecognitionModel(source.config, source.weights, args.seed);
    const c = model.config;
    console.log(
      `model: ${c.nCnnLayers} ResCNN + ${c.nRnnLayers} BiGRU of ${c.rnnDim}, ${c.nFeats} ${c.features} features, ` +
        `${c.gruLayout} GRU layout, ${c.nClass} classes, ${(model.parameterCount() / 1e6).toFixed(2)}M ` +
        `parameters; ` +
        `${args.epochs} epochs, batch ${args.batchSize}, lr ${args.lr}, run folder ${outDir}`,
    );
    const optimizer = new AdamW(trainableParameters(model, args.freeze), {
      lr: args.lr,
      weightDecay: 0.01,
      maxGradNorm: args.clipGradNorm,
    });
    const schedule = new OneCycleLR({
      maxLr: args.lr,
      epochs: args.epochs,
      stepsPerEpoch: Math.ceil(data.train.length / args.batchSize),
      annealStrategy: args.anneal,
    });
    let pos: Position = { step: 0, epoch: 0, batch: 0 };
    if (state) {
      optimizer.loadState(optimizerStateFrom(state.tensors));
      schedule.loadState(state.meta.schedule as { lastEpoch: number });
      pos = state.meta.position as Position;
      console.log(`resuming at step ${pos.step} (epoch ${pos.epoch + 1}, batch ${pos.batch + 1})`);
    }
    const log = await MetricsLog.open(outDir, { resumeStep: state ? pos.step : undefined });
    if (!state) {
      log.append({ type: "run", args: { ...args, config: configToMetadata(c) }, time: Date.now() / 1000 });
    }
    const run = new TrainingRun(args, outDir, manager, data, model, { optimizer, schedule, log });
    run.pos = pos;
    if (state) {
      run.infeasible = (state.meta.infeasible as number) ?? 0;
      run.bestCer = (state.meta.bestCer as number) ?? Infinity;
    }
    return run;
  }

  /** The epoch loop, to the last epoch; out-of-memory becomes advice; the pool and log are closed at the end. */
  async train(): Promise<void> {
    const args = this.args;
    this.#profile.start();
    const firstEpoch = this.pos.epoch;
    try {
      for (; this.pos.epoch < args.epochs; this.pos.epoch++, this.pos.batch = 0) {
        await this.#epoch();
        await this.#endOfEpoch();
        if (this.pos.epoch === firstEpoch && args.epochs - firstEpoch > 1) {
          await this.#profile.interim(`after epoch ${this.pos.epoch + 1}`);
        }
      }
    } catch (e) {
      throw outOfMemoryAdvice(e, {
        ...this.largest,
        step: this.pos.step,
        batchSize: args.batchSize,
        out: this.outDir,
      });
    } finally {
      await this.pool.close();
      this.log.close();
    }
  }

  /** Trains the rest of the current epoch, with a progress bar. */
  async #epoch(): Promise<void> {
    const { args, pos } = this;
    const order = epochBatches(this.data.train, {
      batchSize: args.batchSize,
      seed: args.seed,
      epoch: pos.epoch,
      bucketed: args.bucketed,
    });
    const batches = selectBatches(this.data.train, order);
    const progress = new Progress({
      totalSteps: batches.length,
      epoch: pos.epoch + 1,
      epochs: args.epochs,
      startStep: pos.batch,
      logEvery: Math.max(args.logEvery, 1),
    });
    const loader = new BatchLoader(batches, {
      decoder: this.pool,
      alphabet: this.model.config.alphabet,
      start: pos.batch,
      onSkippedFile: (s) => {
        this.skippedFiles.push(s.file);
        progress.message(`skipped ${s.file}: ${s.reason}`);
      },
    });
    for await (const b of profileIterable("decode audio", loader)) {
      this.#step(b);
      const last = this.pos.batch === batches.length;
      if (this.losses.pending === args.logEvery || last) await this.#flushLosses(progress);
      if (this.manager.shouldSave(this.pos.step, false) && !last) {
        await this.#flushLosses(progress);
        await profilePhase("checkpoint", () => this.#saveCheckpoint(this.pos));
      }
    }
    await this.#flushLosses(progress);
    progress.finish();
  }

  /** One optimizer step on batch `b`; its losses go to the ring. */
  #step(b: Batch): void {
    const { args, model, schedule, pos } = this;
    const c = model.config;
    const lr = schedule.lr;
    this.largest.utterances = Math.max(this.largest.utterances, b.utterances.length);
    this.largest.frames = Math.max(
      this.largest.frames,
      spectrogramFrames(Math.max(...b.waveforms.map((w) => w.length))),
    );
    const result = tidy(() => {
      const { spectrograms, labels } = profilePhase("features", () => {
        const { features, frames } = melSpectrogram(b.waveforms, {
          nMels: c.nFeats,
          log: c.features === "logmel",
        });
        const spectrograms = args.specAugment
          ? specAugment(features, frames, new Random(stepSeed(args.seed, pos.step, 2)))
          : features;
        return { spectrograms, labels: labelTensor(b) };
      });
      const r = trainStep(model, this.optimizer, {
        spectrograms,
        labels,
        inputLengths: b.inputLengths,
        labelLengths: b.labelLengths,
      }, { lr, beta1: schedule.beta1 ?? 0.9, dropoutSeed: stepSeed(args.seed, pos.step, 1) });
      this.losses.copy(r.loss, r.sampleLosses, b.utterances.length);
      return r;
    });
    result.loss.dispose();
    result.sampleLosses.dispose();
    schedule.step();
    pos.step++;
    pos.batch = b.index + 1;
    this.losses.push(pos.step, lr, b.utterances.length);
  }

  async #flushLosses(progress: Progress): Promise<void> {
    const infeasible = await this.losses.flush(this.log, this.pos.epoch, progress, this.pos.batch);
    this.infeasible += infeasible;
  }

  /** Eval on the dev set, the end-of-epoch checkpoint and the HTML report. */
  async #endOfEpoch(): Promise<void> {
    const { args, pos } = this;
    const r = await profilePhase(
      "eval",
      () => evaluate(this.model, this.data.eval, this.pool, args.batchSize),
    );
    this.log.eval(pos.step, pos.epoch + 1, {
      cer: r.corpusCer,
      wer: r.corpusWer,
      cer_tutorial: r.meanCer,
      wer_tutorial: r.meanWer,
      loss: r.loss,
    });
    console.log(`epoch ${pos.epoch + 1}/${args.epochs}: ${describeEval(r)}`);
    for (const ex of r.examples.slice(0, 2)) console.log(`  "${ex.reference}" -> "${ex.hypothesis}"`);
    this.bestCer = Math.min(this.bestCer, r.corpusCer);
    const done = { ...pos, epoch: pos.epoch + 1, batch: 0 };
    await profilePhase("checkpoint", () => this.#saveCheckpoint(done, r.corpusCer));
    await profilePhase("report", async () => {
      const { records } = await readMetrics(this.log.path);
      await writeReport(this.outDir, records, {
        title: `speech training: ${this.outDir}`,
        config: this.#reportConfig,
      });
    });
  }

  /** A checkpoint of the weights and everything a resume needs, at `pos`. */
  async #saveCheckpoint(pos: Position, cer?: number): Promise<void> {
    await this.manager.save(pos.step, {
      params: this.model.params,
      config: this.model.config,
      epoch: pos.epoch,
      cer,
      state: {
        tensors: await optimizerStateArrays(this.optimizer.stateTensors()),
        meta: {
          args: this.args,
          position: pos,
          schedule: this.schedule.state(),
          infeasible: this.infeasible,
          bestCer: this.bestCer,
          seed: this.args.seed,
        },
      },
    });
  }

  /** The closing lines: steps, best CER, skipped files, infeasible samples and steps; profile and memory. */
  async finish(): Promise<void> {
    const { args, outDir } = this;
    const skippedSteps = await profilePhase("readback", () => this.optimizer.skippedSteps());
    await this.#profile.stop();
    console.log(
      `done: ${this.pos.step} steps; best dev CER ${this.bestCer.toFixed(4)}; checkpoints in ` +
        `${outDir}/checkpoints; report ${outDir}/report.html`,
    );
    if (this.skippedFiles.length > 0) {
      console.log(`${this.skippedFiles.length} unreadable audio file(s) were skipped`);
    }
    if (this.infeasible > 0) {
      console.log(`${this.infeasible} sample(s) had a target longer than their input (left out of the loss)`);
    }
    if (skippedSteps > 0) {
      console.log(`${skippedSteps} step(s) with a non-finite loss or gradient were skipped`);
    }
    this.#profile.print();
    if (args.memory) console.error(memoryReportLine());
  }
}

/**
 * Running out of GPU memory (or losing the device) becomes one line naming the batch and what to lower. The
 * error surfaces at the next readback, so it names the largest batch so far rather than one step. Checkpoints
 * are written to a temporary file and renamed, so none is left half-written.
 */
export function outOfMemoryAdvice(
  e: unknown,
  at: { utterances: number; frames: number; step: number; batchSize: number; out: string },
): unknown {
  if (!(e instanceof GpuOutOfMemoryError) && !(e instanceof GpuDeviceLostError)) return e;
  const what = e instanceof GpuOutOfMemoryError ? "out of GPU memory" : "the GPU device was lost";
  return new UsageError(
    `${what} near step ${at.step} (batches of up to ${at.utterances} utterances x ${at.frames} frames): lower ` +
      `--batch-size (now ${at.batchSize}) or use --bucketed, and continue with --resume; the checkpoints in ` +
      `${at.out} are intact. (${e.message})`,
  );
}
