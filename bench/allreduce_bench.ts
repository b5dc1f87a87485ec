/**
 * `deno task bench --only allreduce`: the gradient all-reduce of data-parallel training (dist/grad_reducer.ts:
 * pack into buckets on the GPU, read back, MPI_Allreduce, write back) for the tutorial model's 23.7M gradient
 * floats over 2 ranks under mpirun, beside MPI's own MPI_Allreduce of a host buffer of the same size (the
 * difference is our overhead on top of MPI), and the share of a training step (tutorial model, batch 4 x 400
 * frames, measured in the same ranks) it adds. Needs mpirun (Open MPI); says so and reports nothing without it.
 */
import { initGpu, setQuiet } from "../engine/mod.ts";
import { commands } from "../engine/commands.ts";
import { Random } from "../engine/random.ts";
import { keep, tensor, tidy, zeros } from "../engine/mod.ts";
import { communicator } from "../dist/open.ts";
import { GradientReducer } from "../dist/grad_reducer.ts";
import { PRESETS } from "../model/config.ts";
import { AdamW } from "../model/optim.ts";
import { SpeechRecognitionModel } from "../model/recognizer.ts";
import { trainStep } from "../model/train_step.ts";
import { narrow } from "../kernels/layout.ts";
import { report } from "./report.ts";

const RANKS = 2;
const REPEATS = 5;
const STEP = { batch: 4, frames: 400, labels: 60 };

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

interface RankResult {
  floats: number;
  reducerMs: number;
  reducerMpiMs: number;
  rawMpiMs: number;
  stepMs: number;
  mpi: string;
}

/** One rank's measurements (run under mpirun by {@link benchAllreduce}). */
async function rank(): Promise<void> {
  setQuiet(true);
  const comm = communicator();
  await initGpu();
  const c = { ...PRESETS.tutorial, features: "mel" as const };
  const model = new SpeechRecognitionModel(c, undefined, 1);
  const params = model.parameters();
  const rng = new Random(comm.rank);
  for (const p of params) p.grad = keep(tensor(new Float32Array(p.size).map(() => rng.normal()), p.shape));
  const reducer = new GradientReducer(comm, params);
  const loss = keep(zeros([1]));
  const reducerMs: number[] = [];
  const reducerMpiMs: number[] = [];
  for (let k = 0; k <= REPEATS; k++) {
    await comm.barrier();
    await reducer.allReduce(loss);
    await commands().sync();
    if (k > 0) reducerMs.push(reducer.last.total), reducerMpiMs.push(reducer.last.mpi);
  }
  const host = new Float32Array(reducer.floats);
  const rawMpiMs: number[] = [];
  for (let k = 0; k <= REPEATS; k++) {
    await comm.barrier();
    const t = performance.now();
    await comm.allReduceSum(host);
    if (k > 0) rawMpiMs.push(performance.now() - t);
  }
  for (const p of params) {
    p.grad?.dispose();
    p.grad = null;
  }
  const optimizer = new AdamW(params, { lr: 5e-4 });
  const spec = new Float32Array(STEP.batch * c.nFeats * STEP.frames).map(() => Math.abs(rng.normal()));
  const labels = new Int32Array(STEP.batch * STEP.labels).map(() => rng.int(28));
  const batch = tidy(() => ({
    spectrograms: keep(tensor(spec, [STEP.batch, 1, c.nFeats, STEP.frames])),
    labels: keep(tensor(labels, [STEP.batch, STEP.labels], "i32")),
    inputLengths: new Array(STEP.batch).fill(STEP.frames / 2),
    labelLengths: new Array(STEP.batch).fill(STEP.labels),
  }));
  // The warm-up step (pipelines compiled) is a batch of one: on the CPU adapter a step takes minutes.
  const stepMs: number[] = [];
  for (const n of [1, STEP.batch]) {
    await comm.barrier();
    const t = performance.now();
    const part = n === STEP.batch ? batch : {
      ...batch,
      spectrograms: narrow(batch.spectrograms, 0, 0, n),
      labels: narrow(batch.labels, 0, 0, n),
      inputLengths: batch.inputLengths.slice(0, n),
      labelLengths: batch.labelLengths.slice(0, n),
    };
    const r = trainStep(model, optimizer, part, { lr: 5e-4, beta1: 0.9, dropoutSeed: n });
    await r.loss.f32();
    r.loss.dispose();
    r.sampleLosses.dispose();
    if (n === STEP.batch) stepMs.push(performance.now() - t);
  }
  const result: RankResult = {
    floats: reducer.floats,
    reducerMs: median(reducerMs),
    reducerMpiMs: median(reducerMpiMs),
    rawMpiMs: median(rawMpiMs),
    stepMs: median(stepMs),
    mpi: comm.description,
  };
  if (comm.rank === 0) console.log(JSON.stringify(result));
  await comm.close();
}

export async function benchAllreduce(): Promise<void> {
  const run = await new Deno.Command("mpirun", {
    args: [
      "-np",
      String(RANKS),
      "--bind-to",
      "none",
      "--allow-run-as-root",
      "--oversubscribe",
      Deno.execPath(),
      "run",
      "-A",
      new URL(import.meta.url).pathname,
      "--rank",
    ],
    stdout: "piped",
    stderr: "piped",
  }).output().catch(() => null);
  if (!run) {
    console.log("allreduce: mpirun is not installed (Debian: openmpi-bin); nothing measured");
    return;
  }
  const line = new TextDecoder().decode(run.stdout).trim().split("\n").find((l) => l.startsWith("{"));
  if (!run.success || !line) {
    throw new Error(`the ranks failed: ${new TextDecoder().decode(run.stderr).trim().slice(-2000)}`);
  }
  const r = JSON.parse(line) as RankResult;
  const overhead = r.reducerMs - r.rawMpiMs;
  report({
    name: `gradient all-reduce, ${(r.floats / 1e6).toFixed(1)}M floats, ${RANKS} ranks`,
    ours: r.reducerMs,
    peer: r.rawMpiMs,
    peerName: `raw MPI_Allreduce (${r.mpi})`,
    unit: "ms",
    lowerIsBetter: true,
    note: `ours on top of MPI: ${overhead.toFixed(0)} ms (GPU pack, readback, upload); inside MPI ` +
      `${r.reducerMpiMs.toFixed(0)} ms; ${(100 * r.reducerMs / (r.stepMs + r.reducerMs)).toFixed(1)}% of a ` +
      `data-parallel step (tutorial model, batch ${STEP.batch} x ${STEP.frames} frames per rank: ` +
      `${(r.stepMs / 1000).toFixed(2)} s step + the all-reduce)`,
  });
}

if (import.meta.main) {
  if (Deno.args.includes("--rank")) await rank();
  else await benchAllreduce();
}
