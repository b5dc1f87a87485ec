/**
 * Matmul throughput: ours against @tensorflow/tfjs-backend-webgpu on the same adapter, in the same run.
 * Both sides run warm-up iterations first (pipeline compilation) and are timed over whole iterations ending in
 * a GPU sync, so queueing cannot flatter either.
 */
import { commands, initGpu, Random, tensor, tidy } from "../engine/mod.ts";
import { matmul } from "../kernels/matmul.ts";
import { report } from "./report.ts";

interface Case {
  name: string;
  batch: number;
  M: number;
  N: number;
  K: number;
  iters: number;
}

function randomData(rng: Random, n: number): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = rng.normal();
  return a;
}

async function timeOurs(c: Case): Promise<number> {
  const rng = new Random(1);
  const a = tensor(randomData(rng, c.batch * c.M * c.K), c.batch > 1 ? [c.batch, c.M, c.K] : [c.M, c.K]);
  const b = tensor(randomData(rng, c.batch * c.K * c.N), c.batch > 1 ? [c.batch, c.K, c.N] : [c.K, c.N]);
  tidy(() => matmul(a, b));
  await commands().sync();
  // Best of three timed rounds: the CPU adapter's worker threads take a moment to spin up.
  let seconds = Infinity;
  for (let round = 0; round < 3; round++) {
    const t0 = performance.now();
    for (let i = 0; i < c.iters; i++) tidy(() => void matmul(a, b));
    await commands().sync();
    seconds = Math.min(seconds, (performance.now() - t0) / 1000 / c.iters);
  }
  a.dispose();
  b.dispose();
  return 2 * c.batch * c.M * c.N * c.K / seconds / 1e9;
}

// deno-lint-ignore no-explicit-any
type Tf = any;

async function loadTf(): Promise<Tf | null> {
  try {
    const tf = await import("@tensorflow/tfjs-core");
    await import("@tensorflow/tfjs-backend-webgpu");
    if (!(await tf.setBackend("webgpu"))) return null;
    await tf.ready();
    return tf;
  } catch (e) {
    console.error(`tfjs-webgpu unavailable: ${(e as Error).message}`);
    return null;
  }
}

async function timeTf(tf: Tf, c: Case): Promise<number> {
  const shapeA = c.batch > 1 ? [c.batch, c.M, c.K] : [c.M, c.K];
  const shapeB = c.batch > 1 ? [c.batch, c.K, c.N] : [c.K, c.N];
  const a = tf.randomNormal(shapeA);
  const b = tf.randomNormal(shapeB);
  const warm = tf.matMul(a, b);
  await warm.data();
  warm.dispose();
  let seconds = Infinity;
  for (let round = 0; round < 3; round++) {
    const t0 = performance.now();
    let last = null;
    for (let i = 0; i < c.iters; i++) {
      last?.dispose();
      last = tf.matMul(a, b);
    }
    // Reading one element back waits for every queued matmul; it costs one ~10 ms sync, as ours does.
    const one = tf.slice(last, last.shape.map(() => 0), last.shape.map(() => 1));
    await one.data();
    one.dispose();
    seconds = Math.min(seconds, (performance.now() - t0) / 1000 / c.iters);
    last.dispose();
  }
  a.dispose();
  b.dispose();
  return 2 * c.batch * c.M * c.N * c.K / seconds / 1e9;
}

export async function benchMatmul(quick = false): Promise<void> {
  await initGpu();
  const cases: Case[] = [
    { name: "matmul 1024x1024x1024", batch: 1, M: 1024, N: 1024, K: 1024, iters: quick ? 1 : 3 },
    { name: "matmul batched 20 x 400x1024x1536", batch: 20, M: 400, N: 1536, K: 1024, iters: 1 },
  ];
  const tf = await loadTf();
  for (const c of cases) {
    const ours = await timeOurs(c);
    const peer = tf ? await timeTf(tf, c) : null;
    report({ name: c.name, ours, peer, peerName: "tfjs-webgpu 4.22", unit: "GFLOP/s" });
  }
}

if (import.meta.main) await benchMatmul();
