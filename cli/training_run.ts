/**
 * One training run of `deno task train` (train.ts): opening it (fresh, or resumed from its latest checkpoint with
 * the run's own settings), the epoch loop (steps, the loss ring read back every --log-every steps, checkpoints,
 * eval and report after each epoch) and the closing report. All randomness is derived from the seed and the
 * global step, so a resumed run trains the same batches with the same dropout and SpecAugment draws.
 *
 * Under an MPI launcher (`mpirun -np N`, docs/DISTRIBUTED.md) the run is data-parallel: rank 0 decides how the
 * run starts (fresh or resumed) and broadcasts it with its weights and optimizer state; each global batch is
 * split across the ranks, each shard padded as the whole batch would be and drawing the whole batch's dropout
 * and SpecAugment per sample; the gradients and loss are summed over the ranks before clipping and the
 * optimizer step, so every rank takes the same step, and the result does not depend on N. Rank 0 alone writes
 * the run folder and prints; a collective that waits past the watchdog's deadline ends the job.
 */
import { GpuDeviceLostError, GpuOutOfMemoryError, setQuiet } from "../engine/device.ts";
import { setMemoryLimit } from "../engine/memory.ts";
import { profileIterable, profilePhase, ProfileSession } from "../engine/profiler.ts";
import { Random } from "../engine/random.ts";
import { keep, tidy } from "../engine/scope.ts";
import { copyInto, type Tensor, tensor, zeros } from "../engine/tensor.ts";
import { concat } from "../kernels/layout.ts";
import { allGatherNumbers, broadcastJson } from "../dist/collectives.ts";
import type { Communicator } from "../dist/communicator.ts";
import { broadcastTensors } from "../dist/broadcast_tensors.ts";
import { GradientReducer } from "../dist/grad_reducer.ts";
import { communicator } from "../dist/open.ts";
import { type GlobalBatch, globalBatch, shardRange } from "../dist/shard.ts";
import { heartbeatDir, Heartbeats } from "../dist/heartbeat.ts";
import { timeoutOptions, Watchdog } from "../dist/watchdog.ts";
import { AudioPool } from "../data/audio_pool.ts";
import { type Batch, BatchLoader, selectBatches, spectrogramFrames } from "../data/batching.ts";
import { melSpectrogram } from "../data/features.ts";
import { epochBatches, epochSeed } from "../data/sampler.ts";
import { specAugment } from "../kernels/specaugment.ts";
import { loadTrainingState, optimizerStateArrays, optimizerStateFrom } from "../model/checkpoint.ts";
import { configFromMetadata, configToMetadata } from "../model/config.ts";
import { describeFrozen, FreezeError, freezeParameters } from "../model/freeze.ts";
import { AdamW } from "../model/optim.ts";
import { SpeechRecognitionModel } from "../model/recognizer.ts";
import { OneCycleLR } from "../model/schedule.ts";
import { accumulateGradients, applyUpdate, type StepResult } from "../model/train_step.ts";
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

/** Where progress goes on the ranks that stay quiet. */
const NOWHERE = { writeSync: (bytes: Uint8Array) => bytes.length };

/** A batch's labels as an i32 (batch, columns) tensor, rows padded (to the global batch's longest label). */
function paddedLabels(b: Batch, columns: number): Tensor {
  const n = b.utterances.length;
  const width = Math.max(columns, 1);
  const out = new Int32Array(n * width);
  for (let i = 0; i < n; i++) {
    out.set(b.labels.subarray(i * b.maxLabelLength, (i + 1) * b.maxLabelLength), i * width);
  }
  return tensor(out, [n, width], "i32");
}

/** Features (batch, 1, mels, frames) zero-padded over time to `frames` (the padding melSpectrogram writes). */
function padFrames(features: Tensor, frames: number): Tensor {
  const [n, c, m, t] = features.shape;
  if (t >= frames) return features;
  return concat([features, zeros([n, c, m, frames - t])], 3);
}

/** What rank 0 tells the other ranks about how the run starts. */
interface StartInfo {
  args: TrainArgs;
  /** Rank 0's run folder (its heartbeat folder is the ranks' meeting place; its default name has the time). */
  runDir: string;
  config: Record<string, string>;
  resumed:
    | { position: Position; schedule: { lastEpoch: number }; infeasible: number; bestCer: number }
    | null;
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
  async flush(
    log: MetricsLog,
    epoch: number,
    progress: Progress,
    batch: number,
    comm: Communicator,
  ): Promise<number> {
    const pending = this.#pending;
    if (pending.length === 0) return 0;
    const [losses, samples] = await profilePhase(
      "readback",
      () => Promise.all([this.#losses.f32(), this.#samples.f32()]),
    );
    // Each rank sees its shard's samples: the counts of the global batch are the sums over ranks.
    const mine = pending.map((p, k) => {
      let bad = 0;
      for (let i = 0; i < p.n; i++) if (!Number.isFinite(samples[k * this.batchSize + i])) bad++;
      return bad;
    });
    const all = comm.size > 1 ? await allGatherNumbers(comm, mine) : [mine];
    let infeasible = 0;
    pending.forEach((p, k) => {
      const bad = all.reduce((s, r) => s + r[k], 0);
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
      hangTimeout: args.hangTimeout,
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
  /** The processes of the run: a single one, or the ranks of an MPI job. */
  readonly comm: Communicator;
  /** Data-parallel only: the gradient all-reduce and the deadline of the collectives. */
  readonly reducer: GradientReducer | null = null;
  readonly watchdog: Watchdog | null = null;

  private constructor(
    readonly args: TrainArgs,
    readonly outDir: string,
    readonly manager: CheckpointManager,
    readonly data: TrainData,
    readonly model: SpeechRecognitionModel,
    parts: { optimizer: AdamW; schedule: OneCycleLR; log: MetricsLog; comm: Communicator },
  ) {
    this.comm = parts.comm;
    if (this.comm.size > 1) {
      const heartbeats = new Heartbeats(heartbeatDir(outDir), parts.comm.rank, parts.comm.size);
      this.watchdog = new Watchdog(
        (line) => {
          console.error(`train: ${line}; ending the job`);
          this.comm.abort(1);
        },
        timeoutOptions(args.hangTimeout),
        heartbeats,
      );
      this.comm = this.watchdog.watch(parts.comm);
      this.reducer = new GradientReducer(this.comm, parts.optimizer.params);
    }
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

  /**
   * Opens the run folder, resumes or starts the run, loads the data and the model, and opens the metrics log.
   * Data-parallel: rank 0 decides and reads the run folder, the other ranks get its decision, weights and
   * optimizer state by broadcast (they need no checkpoint of their own).
   */
  static async open(parsed: TrainArgs, outDir: string): Promise<TrainingRun> {
    const comm = communicator();
    const lead = comm.rank === 0;
    // Rank 0 speaks for the run; the others print only errors.
    if (!lead) {
      console.log = () => {};
      setQuiet(true);
    }
    const managerOpts = { keepLast: parsed.keep, everySteps: parsed.checkpointEvery };
    const manager = lead
      ? await CheckpointManager.open(outDir, managerOpts)
      : CheckpointManager.unopened(outDir, managerOpts);
    let start: StartInfo | null = null;
    let source: { config: SpeechRecognitionModel["config"]; weights?: Map<string, Float32Array> } | null =
      null;
    let state: TrainingState | null = null;
    if (lead) {
      const r = await resumeOrStart(parsed, outDir, manager);
      state = r.state;
      // The model's config (its alphabet above all) comes first: the transcripts are checked against it.
      const found = await modelSource(r.args, r.resumeFrom?.model ?? null);
      for (const line of found.notes) console.log(line);
      source = found;
      r.args.config = found.config;
      const meta = state?.meta;
      start = {
        args: r.args,
        runDir: outDir,
        config: configToMetadata(found.config),
        resumed: meta
          ? {
            position: meta.position as Position,
            schedule: meta.schedule as { lastEpoch: number },
            infeasible: (meta.infeasible as number) ?? 0,
            bestCer: (meta.bestCer as number) ?? Infinity,
          }
          : null,
      };
    }
    if (lead && comm.size > 1) Heartbeats.prepare(heartbeatDir(outDir));
    if (comm.size > 1) start = await broadcastJson(comm, start);
    if (!lead) outDir = start!.runDir;
    const { args, resumed } = start!;
    if (!lead) {
      // JSON has no Infinity: a run without an evaluation yet sends null.
      if (resumed) resumed.bestCer = resumed.bestCer ?? Infinity;
      source = { config: configFromMetadata(start!.config) };
      args.config = source.config;
    }
    if (comm.size > 1) {
      if (args.gradShards !== 1 && args.gradShards !== comm.size) {
        throw new UsageError(
          `--grad-shards ${args.gradShards} under ${comm.size} ranks: under mpirun the ranks are the shards ` +
            `(leave it out, or give ${comm.size})`,
        );
      }
      const c = source!.config;
      if (c.gruLayout === "tutorial") {
        throw new UsageError(
          "the tutorial GRU layout runs its recurrence across the batch, so a batch cannot be split over " +
            `${comm.size} ranks; train with --gru-layout default, or in one process`,
        );
      }
      console.log(
        `data-parallel over ${comm.size} ranks (${comm.description}): global batch ${args.batchSize}, ` +
          `about ${Math.ceil(args.batchSize / comm.size)} utterances per rank`,
      );
    }
    const data = await resolveTrainData(args);
    console.log(data.description);
    if (data.train.length === 0) throw new UsageError("no training utterances");
    await requireGpu();
    if (args.memoryLimit !== null) setMemoryLimit(args.memoryLimit);
    const model = new SpeechRecognitionModel(source!.config, source!.weights, args.seed);
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
    if (state) optimizer.loadState(optimizerStateFrom(state.tensors));
    if (comm.size > 1) {
      // Rank 0's initial (or resumed) weights, and its optimizer state when resuming, on every rank.
      const tensors = [...model.params.values(), ...(resumed ? optimizer.stateTensors().values() : [])];
      await broadcastTensors(comm, tensors);
    }
    if (resumed) {
      schedule.loadState(resumed.schedule);
      pos = resumed.position;
      console.log(`resuming at step ${pos.step} (epoch ${pos.epoch + 1}, batch ${pos.batch + 1})`);
    }
    const log = lead
      ? await MetricsLog.open(outDir, { resumeStep: resumed ? pos.step : undefined })
      : MetricsLog.discarding(outDir);
    if (!resumed) {
      log.append({ type: "run", args: { ...args, config: configToMetadata(c) }, time: Date.now() / 1000 });
    }
    const run = new TrainingRun(args, outDir, manager, data, model, { optimizer, schedule, log, comm });
    run.pos = pos;
    if (resumed) {
      run.infeasible = resumed.infeasible;
      run.bestCer = resumed.bestCer;
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
    const { args, pos, comm } = this;
    const order = epochBatches(this.data.train, {
      batchSize: args.batchSize,
      seed: args.seed,
      epoch: pos.epoch,
      bucketed: args.bucketed,
    });
    const batches = selectBatches(this.data.train, order);
    // This rank's shard of each global batch (the whole batch in a single process).
    const shards = comm.size === 1
      ? batches
      : batches.map((b) => b.slice(...shardRange(b.length, comm.rank, comm.size)));
    const progress = new Progress({
      totalSteps: batches.length,
      epoch: pos.epoch + 1,
      epochs: args.epochs,
      startStep: pos.batch,
      logEvery: Math.max(args.logEvery, 1),
      // Under mpirun stdout looks like a terminal even when redirected: one line per update instead.
      ...(comm.size > 1 ? { isTTY: false } : {}),
      ...(comm.rank !== 0 ? { out: NOWHERE } : {}),
    });
    const loader = new BatchLoader(shards, {
      decoder: this.pool,
      alphabet: this.model.config.alphabet,
      start: pos.batch,
      onSkippedFile: (s) => {
        this.skippedFiles.push(s.file);
        progress.message(`skipped ${s.file}: ${s.reason}`);
      },
    });
    // Every rank steps through every batch index (its shard may be empty or unreadable) so the collectives
    // pair up; a batch none of whose files could be read is skipped by all, as in a single process.
    const decoded = profileIterable("decode audio", loader)[Symbol.asyncIterator]();
    let next = await decoded.next();
    for (let k = pos.batch; k < batches.length; k++) {
      let b: Batch | null = null;
      if (!next.done && next.value.index === k) {
        b = next.value;
        next = await decoded.next();
      }
      const stepped = await this.#step(k, b);
      if (!stepped) continue;
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

  /**
   * One optimizer step on global batch `k`, of which this rank holds `b` (null: nothing readable); its losses go
   * to the ring. Returns false when the whole global batch was unreadable (no step).
   */
  async #step(k: number, b: Batch | null): Promise<boolean> {
    const { schedule, pos, comm } = this;
    const startTime = performance.now();
    const mine = b
      ? {
        utterances: b.utterances.length,
        frames: spectrogramFrames(Math.max(...b.waveforms.map((w) => w.length))),
        maxLabel: b.maxLabelLength,
      }
      : { utterances: 0, frames: 0, maxLabel: 0 };
    const g: GlobalBatch = comm.size === 1 ? { ...mine, firstSample: 0 } : await this.#collective(
      `the batch-size exchange of step ${pos.step + 1}`,
      () => globalBatch(comm, mine),
    );
    if (g.utterances === 0) {
      pos.batch = k + 1;
      return false;
    }
    const lr = schedule.lr;
    const beta1 = schedule.beta1 ?? 0.9;
    this.largest.utterances = Math.max(this.largest.utterances, g.utterances);
    this.largest.frames = Math.max(this.largest.frames, g.frames);
    const result: StepResult = b ? this.#gradients(b, g) : {
      // An empty shard contributes nothing but takes part in the all-reduce.
      loss: keep(zeros([])),
      sampleLosses: keep(zeros([1])),
    };
    if (this.reducer) {
      await profilePhase("all-reduce", () =>
        this.#collective(
          `the gradient all-reduce of step ${pos.step + 1}`,
          () => this.reducer!.allReduce(result.loss),
        ));
    }
    applyUpdate(this.optimizer, result.loss, { lr, beta1 });
    this.losses.copy(result.loss, result.sampleLosses, b?.utterances.length ?? 0);
    result.loss.dispose();
    result.sampleLosses.dispose();
    schedule.step();
    pos.step++;
    pos.batch = k + 1;
    this.losses.push(pos.step, lr, b?.utterances.length ?? 0);
    this.watchdog?.recordStep(performance.now() - startTime);
    return true;
  }

  /**
   * Forward and backward of this rank's part `b` of global batch `g`: padded as the whole batch, SpecAugment
   * and dropout drawn per sample of the whole batch, the loss a share of the whole batch's mean.
   */
  #gradients(b: Batch, g: GlobalBatch): StepResult {
    const { args, model, pos } = this;
    const c = model.config;
    return tidy(() => {
      const { spectrograms, labels } = profilePhase("features", () => {
        const { features, frames } = melSpectrogram(b.waveforms, {
          nMels: c.nFeats,
          log: c.features === "logmel",
        });
        const augmentSeed = stepSeed(args.seed, pos.step, 2);
        const augmented = args.specAugment
          ? specAugment(features, frames, (i) => new Random(epochSeed(augmentSeed, g.firstSample + i)))
          : features;
        return { spectrograms: padFrames(augmented, g.frames), labels: paddedLabels(b, g.maxLabel) };
      });
      const r = accumulateGradients(model, {
        spectrograms,
        labels,
        inputLengths: b.inputLengths,
        labelLengths: b.labelLengths,
      }, {
        dropoutSeed: stepSeed(args.seed, pos.step, 1),
        firstSample: g.firstSample,
        globalBatch: g.utterances,
        shards: this.comm.size === 1 ? args.gradShards : 1,
      });
      return { loss: keep(r.loss), sampleLosses: keep(r.sampleLosses) };
    });
  }

  async #flushLosses(progress: Progress): Promise<void> {
    const infeasible = await this.#collective(
      `the loss readback after step ${this.pos.step}`,
      () => this.losses.flush(this.log, this.pos.epoch, progress, this.pos.batch, this.comm),
    );
    this.infeasible += infeasible;
  }

  /**
   * `work`, whose collectives are labelled `what` for the watchdog; `patient` where a rank may wait long for
   * another's legitimate work (a checkpoint being written, an evaluation shard).
   */
  #collective<T>(what: string, work: () => Promise<T>, patient = false): Promise<T> {
    return this.watchdog ? this.watchdog.guard(what, work, { patient }) : work();
  }

  /** Eval on the dev set, the end-of-epoch checkpoint and the HTML report. */
  async #endOfEpoch(): Promise<void> {
    const { args, pos } = this;
    const r = await profilePhase(
      "eval",
      () =>
        this.#collective(
          `the evaluation after epoch ${pos.epoch + 1}`,
          () => evaluate(this.model, this.data.eval, this.pool, args.batchSize, this.comm),
          true,
        ),
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
    if (this.comm.rank !== 0) return;
    await profilePhase("report", async () => {
      const { records } = await readMetrics(this.log.path);
      await writeReport(this.outDir, records, {
        title: `speech training: ${this.outDir}`,
        config: this.#reportConfig,
      });
    });
  }

  /**
   * A checkpoint of the weights and everything a resume needs, at `pos` (rank 0 writes it; the other ranks,
   * which hold the same values, wait for it within the watchdog's patient deadline).
   */
  async #saveCheckpoint(pos: Position, cer?: number): Promise<void> {
    const barrier = () =>
      this.#collective(`the checkpoint of step ${pos.step}`, () => this.comm.barrier(), true);
    if (this.comm.rank !== 0) return await barrier();
    await this.#writeCheckpoint(pos, cer);
    await barrier();
  }

  async #writeCheckpoint(pos: Position, cer?: number): Promise<void> {
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

  /**
   * The closing lines: steps, best CER, skipped files, infeasible samples and steps; profile and memory. The
   * ranks of a data-parallel run leave MPI here; all but rank 0 then exit.
   */
  async finish(): Promise<void> {
    const { args, outDir } = this;
    const skippedSteps = await profilePhase("readback", () => this.optimizer.skippedSteps());
    await this.#profile.stop();
    await this.comm.close();
    if (this.comm.rank !== 0) Deno.exit(0);
    if (this.watchdog) Heartbeats.remove(heartbeatDir(outDir));
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
