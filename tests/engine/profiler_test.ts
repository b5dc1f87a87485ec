/** The profiler: kernel families of real pipeline keys, phase accounting, launch counts and GPU times. */
import { deepEqual, equal, match, ok } from "node:assert/strict";
import "../harness.ts";
import { commands } from "../../engine/commands.ts";
import {
  isProfiling,
  kernelFamily,
  profileData,
  profileIterable,
  profilePhase,
  profileReport,
  startProfile,
  stopProfile,
} from "../../engine/profiler.ts";
import { tensor } from "../../engine/tensor.ts";
import { unary } from "../../kernels/elementwise.ts";
import { matmul } from "../../kernels/matmul.ts";

function busy(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end) { /* spin */ }
}

Deno.test("kernel families of the pipeline keys in kernels/", () => {
  const cases: [string, string][] = [
    ["conv2d:fwd:3:3:1:1:1", "conv"],
    ["conv2d:gw:3:3:2:2", "conv"],
    ["conv2d:repack", "conv"],
    ["gru:fwd:11", "GRU step"],
    ["gru:bwd:0", "GRU step"],
    ["matmul:01011", "matmul"],
    ["matmul-shared:10", "matmul"],
    ["mel-frames", "mel/FFT"],
    ["mel-project:2:1:201", "mel/FFT"],
    ["fft-stage:512:1:4:1", "mel/FFT"],
    ["rfft-r2c", "mel/FFT"],
    ["specaugment:2:2", "mel/FFT"],
    ["ctc:alpha:loop", "CTC"],
    ["ctc:grad:29", "CTC"],
    ["adamw:update:vec4", "optimizer"],
    ["grad-norm:partials:12", "optimizer"],
    ["layernorm:fwd", "layernorm"],
    ["unary:gelu", "elementwise"],
    ["unary-grad:gelu", "elementwise"],
    ["binary:add:1:0", "elementwise"],
    ["dropout", "elementwise"],
    ["fill:f32", "elementwise"],
    ["reduce:sum", "other"],
    ["log_softmax:grad", "other"],
    ["layout:copy", "other"],
    ["something-new:1", "other"],
  ];
  for (const [key, family] of cases) equal(kernelFamily(key), family, key);
});

Deno.test("phases nest, time goes to the innermost, and the rows add up to the wall time", async () => {
  startProfile();
  ok(isProfiling());
  profilePhase("a", () => {
    busy(5);
    profilePhase("b", () => busy(5));
    busy(2);
  });
  const v = await profilePhase("c", async () => {
    await new Promise((r) => setTimeout(r, 5));
    profilePhase("d", () => busy(3));
    return 42;
  });
  equal(v, 42);
  async function* three() {
    yield 1;
    await new Promise((r) => setTimeout(r, 2));
    yield 2;
    yield 3;
  }
  const got: number[] = [];
  for await (const x of profileIterable("wait", three())) got.push(x);
  deepEqual(got, [1, 2, 3]);
  let threw = false;
  try {
    profilePhase("e", () => {
      throw new Error("boom");
    });
  } catch {
    threw = true;
  }
  ok(threw);
  busy(2);
  await stopProfile();
  ok(!isProfiling());
  const d = profileData();
  const names = d.phases.map((p) => p.name);
  deepEqual(names, ["a", "a > b", "c", "c > d", "wait", "e", "outside phases"]);
  const calls = Object.fromEntries(d.phases.map((p) => [p.name, p.calls]));
  deepEqual(calls, { a: 1, "a > b": 1, c: 1, "c > d": 1, wait: 4, e: 1, "outside phases": 0 });
  for (const p of d.phases) ok(p.seconds >= 0, p.name);
  const sum = d.phases.reduce((s, p) => s + p.seconds, 0);
  ok(Math.abs(sum - d.wallSeconds) < 1e-9, `${sum} vs ${d.wallSeconds}`);
  // The phases were busy for at least what they spun (inner time is not charged to the outer phase twice).
  const sec = (n: string) => d.phases.find((p) => p.name === n)!.seconds;
  ok(sec("a") >= 0.007 && sec("a > b") >= 0.005 && sec("c > d") >= 0.003);
  ok(sec("outside phases") >= 0.002);
  // Not profiling: phases are plain calls.
  equal(profilePhase("x", () => 7), 7);
  equal(profileData().phases.length, d.phases.length);
  const report = profileReport();
  match(report, /^profile: [\d.]+ s wall/);
  match(report, /a > b +[\d.]+ +[\d.]+%/);
});

Deno.test("launches are counted per family, and GPU times are non-negative and within the wall time", async () => {
  const a = tensor(new Float32Array(64 * 64).fill(0.5), [64, 64]);
  await a.f32();
  startProfile();
  const t = profilePhase("ops", () => {
    const m1 = matmul(a, a);
    const m2 = matmul(m1, a);
    const g1 = unary("gelu", m2);
    const m3 = matmul(g1, a);
    const g2 = unary("gelu", m3);
    for (const x of [m1, m2, g1, m3]) x.dispose();
    return g2;
  });
  await profilePhase("readback", () => t.f32());
  t.dispose();
  a.dispose();
  await stopProfile();
  const d = profileData();
  deepEqual(d.kernels.map((k) => [k.family, k.launches]), [["matmul", 3], ["elementwise", 2]]);
  for (const k of d.kernels) ok(k.gpuSeconds >= 0, `${k.family}: ${k.gpuSeconds}`);
  const gpu = d.kernels.reduce((s, k) => s + k.gpuSeconds, 0);
  ok(gpu <= d.wallSeconds, `GPU ${gpu} s over a wall of ${d.wallSeconds} s`);
  ok(d.gpuMethod.length > 0);
  match(profileReport(), /matmul +[\d.]+ +[\d.]+% +3\n/);
});

Deno.test("profiling with many family changes leaves results unchanged", async () => {
  const x = tensor(new Float32Array([0.1, -0.2, 0.3, 0.4]), [2, 2]);
  const plain = await unary("gelu", matmul(unary("gelu", x), x)).f32();
  startProfile();
  const profiled = await unary("gelu", matmul(unary("gelu", x), x)).f32();
  await stopProfile();
  deepEqual(Array.from(profiled), Array.from(plain));
  ok(commands().totalSubmits > 0);
});
