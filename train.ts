/**
 * `deno task train`: trains the recognizer, with a progress bar, metrics.jsonl, report.html, checkpoints that
 * survive a kill, and `--resume` that continues exactly where the run stopped (same batches, same dropout and
 * SpecAugment draws: all randomness is derived from the seed and the global step, not from a running stream).
 */
import { GpuDeviceLostError, GpuOutOfMemoryError } from "./engine/device.ts";
import { setMemoryLimit } from "./engine/memory.ts";
import {
  flushProfile,
  profileIterable,
  profilePhase,
  profileReport,
  startProfile,
  stopProfile,
} from "./engine/profiler.ts";
import { Random } from "./engine/random.ts";
import { tidy } from "./engine/scope.ts";
import { copyInto, zeros } from "./engine/tensor.ts";
import { AudioPool } from "./data/audio_pool.ts";
import { BatchLoader, labelTensor, selectBatches, spectrogramFrames } from "./data/batching.ts";
import { melSpectrogram } from "./data/features.ts";
import { epochBatches, epochSeed } from "./data/sampler.ts";
import { specAugment } from "./kernels/specaugment.ts";
import {
  loadCheckpoint,
  loadTrainingState,
  optimizerStateArrays,
  optimizerStateFrom,
} from "./model/checkpoint.ts";
import { configToMetadata } from "./model/config.ts";
import { AdamW } from "./model/optim.ts";
import { parameterSpecs, SpeechRecognitionModel } from "./model/recognizer.ts";
import { OneCycleLR } from "./model/schedule.ts";
import { trainStep } from "./model/train_step.ts";
import { CheckpointManager } from "./cli/checkpoint_manager.ts";
import { requireGpu, runCli, UsageError } from "./cli/common.ts";
import { type EvalResult, evaluate } from "./cli/evaluate.ts";
import { MetricsLog, readMetrics } from "./cli/metrics_log.ts";
import { Progress } from "./cli/progress.ts";
import { writeReport } from "./cli/report_html.ts";
import { parseTrainArgs, type TrainArgs, type TrainDefaults, TUTORIAL_DEFAULTS } from "./cli/train_args.ts";
import { resolveTrainData } from "./cli/train_data.ts";
import { checkWeights } from "./model/checkpoint.ts";
import { memoryReportLine } from "./cli/memory_report.ts";

/**
 * The bundled sample corpus is small (271 clips): a tiny model, small batches (more steps), a higher learning
 * rate and no SpecAugment get it past CTC's blank-only phase within a few minutes on the CPU adapter (measured:
 * dev CER 1.0 -> 0.45 in 15 epochs; with batch 10, lr 2e-3 and SpecAugment it was still blank after 10).
 */
const SAMPLE_DEFAULTS: TrainDefaults = {
  config: "tiny",
  epochs: 20,
  batchSize: 5,
  lr: 3e-3,
  clipGradNorm: 400,
  specAugment: false,
};

/** A stream seed for one step's dropout or SpecAugment, from the run seed, the step and a purpose tag. */
function stepSeed(seed: number, step: number, purpose: number): number {
  return epochSeed((seed ^ Math.imul(purpose, 0x632be5ab)) >>> 0, step);
}

interface Position {
  step: number;
  epoch: number;
  /** Batches of this epoch already trained. */
  batch: number;
}

function describeEval(r: EvalResult): string {
  return `dev CER ${r.corpusCer.toFixed(4)} WER ${r.corpusWer.toFixed(4)} (corpus) | ` +
    `CER ${r.meanCer.toFixed(4)} WER ${r.meanWer.toFixed(4)} (tutorial) | loss ${r.loss.toFixed(3)}`;
}

async function main(argv: string[]): Promise<number> {
  const hasData = argv.some((a) => a === "--data" || a.startsWith("--data=") || a === "--download") ||
    await Deno.stat("data/LibriSpeech").then(() => true, () => false);
  const parsed = parseTrainArgs(argv, hasData ? TUTORIAL_DEFAULTS : SAMPLE_DEFAULTS);
  if (!parsed) return 0;
  let args: TrainArgs = parsed;
  const outDir = args.out ?? `runs/${new Date().toISOString().replace(/[:.]/g, "-").slice(0, 19)}`;

  // Resuming: the run's own settings win (same data order, same schedule); the checkpoint gives the weights.
  const manager = await CheckpointManager.open(outDir, {
    keepLast: args.keep,
    everySteps: args.checkpointEvery,
  });
  let resumeFrom: Awaited<ReturnType<CheckpointManager["latest"]>> = null;
  if (args.resume) {
    resumeFrom = await manager.latest();
    if (!resumeFrom) throw new UsageError(`--resume: no complete checkpoint in ${outDir}/checkpoints`);
  }
  let state: Awaited<ReturnType<typeof loadTrainingState>> | null = null;
  if (resumeFrom) {
    state = await loadTrainingState(resumeFrom.state);
    const saved = state.meta.args as TrainArgs;
    // How this invocation reports (--profile, --memory) is its own, not the run's.
    args = {
      ...saved,
      resume: true,
      out: outDir,
      workers: args.workers,
      profile: args.profile,
      memory: args.memory,
      memoryLimit: args.memoryLimit,
    };
  }

  const data = await resolveTrainData(args);
  console.log(data.description);
  if (data.train.length === 0) throw new UsageError("no training utterances");
  await requireGpu();
  if (args.memoryLimit !== null) setMemoryLimit(args.memoryLimit);

  let model: SpeechRecognitionModel;
  if (resumeFrom) {
    const ck = await loadCheckpoint(resumeFrom.model);
    checkWeights(ck.weights, parameterSpecs(ck.config), resumeFrom.model, ck.shapes);
    model = new SpeechRecognitionModel(ck.config, ck.weights);
    args.config = ck.config;
  } else {
    model = new SpeechRecognitionModel(args.config, undefined, args.seed);
  }
  const c = model.config;
  console.log(
    `model: ${c.nCnnLayers} ResCNN + ${c.nRnnLayers} BiGRU of ${c.rnnDim}, ${c.nFeats} ${c.features} features, ` +
      `${c.gruLayout} GRU layout, ${(model.parameterCount() / 1e6).toFixed(2)}M parameters; ` +
      `${args.epochs} epochs, batch ${args.batchSize}, lr ${args.lr}, run folder ${outDir}`,
  );

  const stepsPerEpoch = Math.ceil(data.train.length / args.batchSize);
  const optimizer = new AdamW(model.parameters(), {
    lr: args.lr,
    weightDecay: 0.01,
    maxGradNorm: args.clipGradNorm,
  });
  const schedule = new OneCycleLR({
    maxLr: args.lr,
    epochs: args.epochs,
    stepsPerEpoch,
    annealStrategy: args.anneal,
  });
  let pos: Position = { step: 0, epoch: 0, batch: 0 };
  let infeasible = 0;
  let bestCer = Infinity;
  if (state) {
    optimizer.loadState(optimizerStateFrom(state.tensors));
    schedule.loadState(state.meta.schedule as { lastEpoch: number });
    pos = state.meta.position as Position;
    infeasible = (state.meta.infeasible as number) ?? 0;
    bestCer = (state.meta.bestCer as number) ?? Infinity;
    console.log(`resuming at step ${pos.step} (epoch ${pos.epoch + 1}, batch ${pos.batch + 1})`);
  }

  const log = await MetricsLog.open(outDir, { resumeStep: state ? pos.step : undefined });
  if (!state) {
    log.append({ type: "run", args: { ...args, config: configToMetadata(c) }, time: Date.now() / 1000 });
  }
  const pool = new AudioPool({ workers: args.workers });
  const reportConfig = { ...configToMetadata(c), epochs: args.epochs, batch: args.batchSize, lr: args.lr };
  const skippedFiles: string[] = [];

  const saveCheckpoint = async (cer?: number) => {
    await manager.save(pos.step, {
      params: model.params,
      config: c,
      epoch: pos.epoch,
      cer,
      state: {
        tensors: await optimizerStateArrays(optimizer.stateTensors()),
        meta: {
          args,
          position: pos,
          schedule: schedule.state(),
          infeasible,
          bestCer,
          seed: args.seed,
        },
      },
    });
  };

  // Loss and per-sample losses of the last steps, copied on the GPU and read back every --log-every steps.
  const logEvery = args.logEvery;
  const lossRing = zeros([logEvery]);
  const sampleRing = zeros([logEvery * args.batchSize]);
  const pending: { step: number; lr: number; n: number }[] = [];
  let lastLoss = NaN;

  const flushLosses = async (progress: Progress) => {
    if (pending.length === 0) return;
    const [losses, samples] = await profilePhase(
      "readback",
      () => Promise.all([lossRing.f32(), sampleRing.f32()]),
    );
    pending.forEach((p, k) => {
      let bad = 0;
      for (let i = 0; i < p.n; i++) if (!Number.isFinite(samples[k * args.batchSize + i])) bad++;
      infeasible += bad;
      log.train(p.step, pos.epoch + 1, losses[k], p.lr, bad > 0 ? { infeasible: bad } : {});
      if (Number.isFinite(losses[k])) lastLoss = losses[k];
    });
    const lr = pending.at(-1)!.lr;
    pending.length = 0;
    progress.update(pos.batch, { loss: lastLoss, lr });
  };

  if (args.profile) startProfile();
  const firstEpoch = pos.epoch;
  const largest = { utterances: 0, frames: 0 };
  try {
    for (; pos.epoch < args.epochs; pos.epoch++, pos.batch = 0) {
      const order = epochBatches(data.train, {
        batchSize: args.batchSize,
        seed: args.seed,
        epoch: pos.epoch,
        bucketed: args.bucketed,
      });
      const batches = selectBatches(data.train, order);
      const progress = new Progress({
        totalSteps: batches.length,
        epoch: pos.epoch + 1,
        epochs: args.epochs,
        startStep: pos.batch,
        logEvery: Math.max(logEvery, 1),
      });
      const loader = new BatchLoader(batches, {
        decoder: pool,
        start: pos.batch,
        onSkippedFile: (s) => {
          skippedFiles.push(s.file);
          progress.message(`skipped ${s.file}: ${s.reason}`);
        },
      });
      for await (const b of profileIterable("decode audio", loader)) {
        const lr = schedule.lr;
        noteBatchShape(
          largest,
          b.utterances.length,
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
          const r = trainStep(model, optimizer, {
            spectrograms,
            labels,
            inputLengths: b.inputLengths,
            labelLengths: b.labelLengths,
          }, { lr, beta1: schedule.beta1 ?? 0.9, dropoutSeed: stepSeed(args.seed, pos.step, 1) });
          const slot = pending.length;
          copyInto(r.loss, lossRing, { dstOffset: slot, count: 1 });
          copyInto(r.sampleLosses, sampleRing, {
            dstOffset: slot * args.batchSize,
            count: b.utterances.length,
          });
          return r;
        });
        result.loss.dispose();
        result.sampleLosses.dispose();
        schedule.step();
        pos.step++;
        pos.batch = b.index + 1;
        pending.push({ step: pos.step, lr, n: b.utterances.length });
        if (pending.length === logEvery || pos.batch === batches.length) await flushLosses(progress);
        if (manager.shouldSave(pos.step, false) && pos.batch < batches.length) {
          await flushLosses(progress);
          await profilePhase("checkpoint", () => saveCheckpoint());
        }
      }
      await flushLosses(progress);
      progress.finish();
      const r = await profilePhase("eval", () => evaluate(model, data.eval, pool, args.batchSize));
      log.eval(pos.step, pos.epoch + 1, {
        cer: r.corpusCer,
        wer: r.corpusWer,
        cer_tutorial: r.meanCer,
        wer_tutorial: r.meanWer,
        loss: r.loss,
      });
      console.log(`epoch ${pos.epoch + 1}/${args.epochs}: ${describeEval(r)}`);
      for (const ex of r.examples.slice(0, 2)) console.log(`  "${ex.reference}" -> "${ex.hypothesis}"`);
      bestCer = Math.min(bestCer, r.corpusCer);
      const done = { ...pos, epoch: pos.epoch + 1, batch: 0 };
      const current = pos;
      pos = done;
      await profilePhase("checkpoint", () => saveCheckpoint(r.corpusCer));
      pos = current;
      await profilePhase("report", async () => {
        const { records } = await readMetrics(log.path);
        await writeReport(outDir, records, { title: `speech training: ${outDir}`, config: reportConfig });
      });
      if (args.profile && pos.epoch === firstEpoch && args.epochs - firstEpoch > 1) {
        await flushProfile();
        console.error(`after epoch ${pos.epoch + 1}: ${profileReport()}`);
      }
    }
  } catch (e) {
    throw outOfMemoryAdvice(e, { ...largest, step: pos.step, batchSize: args.batchSize, out: outDir });
  } finally {
    await pool.close();
    log.close();
  }
  const skippedSteps = await profilePhase("readback", () => optimizer.skippedSteps());
  if (args.profile) await stopProfile();
  console.log(
    `done: ${pos.step} steps; best dev CER ${bestCer.toFixed(4)}; checkpoints in ${outDir}/checkpoints; ` +
      `report ${outDir}/report.html`,
  );
  if (skippedFiles.length > 0) console.log(`${skippedFiles.length} unreadable audio file(s) were skipped`);
  if (infeasible > 0) {
    console.log(`${infeasible} sample(s) had a target longer than their input (left out of the loss)`);
  }
  if (skippedSteps > 0) {
    console.log(`${skippedSteps} step(s) with a non-finite loss or gradient were skipped`);
  }
  if (args.profile) console.error(profileReport());
  if (args.memory) console.error(memoryReportLine());
  return 0;
}

/** Records the largest batch shape seen (what an out-of-memory message names). */
function noteBatchShape(
  largest: { utterances: number; frames: number },
  utterances: number,
  frames: number,
): void {
  largest.utterances = Math.max(largest.utterances, utterances);
  largest.frames = Math.max(largest.frames, frames);
}

/**
 * Running out of GPU memory (or losing the device) becomes one line naming the batch and what to lower. The
 * error surfaces at the next readback, so it names the largest batch so far rather than one step. Checkpoints
 * are written to a temporary file and renamed, so none is left half-written.
 */
function outOfMemoryAdvice(
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

if (import.meta.main) await runCli("train", () => main(Deno.args));
