import {
  deepEqual as assertDeepEqual,
  equal as assertEquals,
  throws as assertThrows,
} from "node:assert/strict";
import { commands, tensor, tidy } from "../../engine/mod.ts";
import { applySpecAugment, drawSpecAugment, maskBand, specAugment } from "../../kernels/specaugment.ts";
import { randn, Random } from "../harness.ts";

// Columns torchaudio 0.13's mask_along_axis zeroes for chosen uniforms (tests/fixtures/mel/make_mask_cases.py).
const cases: { u1: number; u2: number; param: number; size: number; masked: number[] }[] = JSON.parse(
  await Deno.readTextFile(new URL("../fixtures/mel/mask_cases.json", import.meta.url)),
);

Deno.test("maskBand reproduces torchaudio's band arithmetic, truncation toward zero included", () => {
  for (const c of cases) {
    const [s, e] = maskBand(c.u1, c.u2, c.param, c.size);
    const cols = [];
    for (let i = Math.max(s, 0); i < Math.min(e, c.size); i++) cols.push(i);
    assertDeepEqual(cols, c.masked, `u1 ${c.u1} u2 ${c.u2} param ${c.param} size ${c.size}`);
  }
  assertDeepEqual(maskBand(0.5, 0.5, 0, 100), [0, 0]);
});

/** Host reference: cells of example b inside any of its bands take `value`. */
function applyRef(
  x: Float64Array,
  shape: number[],
  bands: Int32Array,
  fm: number,
  tm: number,
  value: number,
): Float64Array {
  const [batch, nf, nt] = [shape[0], shape[shape.length - 2], shape[shape.length - 1]];
  const per = 2 * (fm + tm);
  const out = x.slice();
  for (let b = 0; b < batch; b++) {
    for (let f = 0; f < nf; f++) {
      for (let t = 0; t < nt; t++) {
        let hit = false;
        for (let i = 0; i < fm; i++) hit ||= f >= bands[b * per + 2 * i] && f < bands[b * per + 2 * i + 1];
        for (let i = 0; i < tm; i++) {
          hit ||= t >= bands[b * per + 2 * (fm + i)] && t < bands[b * per + 2 * (fm + i) + 1];
        }
        if (hit) out[(b * nf + f) * nt + t] = value;
      }
    }
  }
  return out;
}

Deno.test("specAugment: per-example bands on the GPU equal the host reference", async () => {
  const rng = new Random(5);
  const shape = [4, 1, 37, 53];
  const frames = [53, 20, 41, 7];
  const x = randn(rng, shape.reduce((a, b) => a * b, 1));
  for (
    const opts of [{}, { freqMasks: 2, timeMasks: 3, freqMaskParam: 9, timeMaskParam: 12, maskValue: -1.5 }]
  ) {
    const bands = drawSpecAugment(new Random(9), 37, frames, opts);
    const got = await tidy(() =>
      specAugment(tensor(Float32Array.from(x), shape), frames, new Random(9), opts)
    )
      .f32();
    const fm = (opts as { freqMasks?: number }).freqMasks ?? 1;
    const tm = (opts as { timeMasks?: number }).timeMasks ?? 1;
    const want = applyRef(Float64Array.from(Float32Array.from(x)), shape, bands, fm, tm, opts.maskValue ?? 0);
    assertDeepEqual(Array.from(got), Array.from(Float32Array.from(want)));
  }
});

Deno.test("specAugment: widths below the parameters, time bands within each example's frames", () => {
  const frames = [300, 120, 35, 10, 1];
  const rng = new Random(1);
  let widest = 0;
  for (let rep = 0; rep < 400; rep++) {
    const bands = drawSpecAugment(rng, 128, frames);
    frames.forEach((nFrames, b) => {
      const [fs, fe, ts, te] = bands.subarray(4 * b, 4 * b + 4);
      if (!(fs >= 0 && fe <= 128 && fe - fs >= 0 && fe - fs < 15)) throw new Error(`freq band ${fs}..${fe}`);
      if (!(te - ts >= 0 && te - ts < 35)) throw new Error(`time band width ${te - ts}`);
      // Bands start inside the example's frames unless it has fewer frames than the drawn width (torchaudio).
      if (nFrames >= 35 && !(ts >= 0 && te <= nFrames)) {
        throw new Error(`time band ${ts}..${te} of ${nFrames}`);
      }
      widest = Math.max(widest, te - ts);
    });
  }
  assertEquals(widest, 34);
});

Deno.test("specAugment: seeded draws repeat, other seeds differ", () => {
  const a = drawSpecAugment(new Random(3), 128, [100, 200, 300]);
  const b = drawSpecAugment(new Random(3), 128, [100, 200, 300]);
  const c = drawSpecAugment(new Random(4), 128, [100, 200, 300]);
  assertDeepEqual(a, b);
  assertEquals(a.join(",") === c.join(","), false);
});

Deno.test("specAugment: 3-D input, no leaks, bad input named", async () => {
  const live = commands().pool.liveCount;
  const x = new Float32Array(2 * 5 * 6).fill(1);
  const bands = Int32Array.from([1, 3, 0, 2, 0, 0, 4, 9]);
  const y = tidy(() => applySpecAugment(tensor(x, [2, 5, 6]), bands));
  const got = await y.f32();
  y.dispose();
  const want = applyRef(Float64Array.from(x), [2, 5, 6], bands, 1, 1, 0);
  assertDeepEqual(Array.from(got), Array.from(want));
  assertEquals(commands().pool.liveCount, live);
  tidy(() => {
    const t = tensor(x, [2, 1, 5, 6]);
    assertThrows(() => specAugment(t, [6], new Random(1)), /1 frame counts for a batch of 2/);
    assertThrows(() => specAugment(t, [6, 7], new Random(1)), /frames\[1\] = 7 is outside \[0, 6\]/);
    assertThrows(() => applySpecAugment(t, new Int32Array(3)), /3 band ints for a batch of 2/);
    assertThrows(() => applySpecAugment(tensor(x, [60]), bands), /expected f32 features/);
  });
});

Deno.test("specAugment: with a stream per example, an example's bands do not depend on its neighbours", () => {
  const perExample = (first: number) => (b: number) => new Random(1000 + first + b);
  const whole = drawSpecAugment(perExample(0), 128, [100, 200, 300, 250]);
  const shard = drawSpecAugment(perExample(2), 128, [300, 250]);
  assertDeepEqual([...shard], [...whole.subarray(2 * 4)]);
  const once = drawSpecAugment(new Random(1000), 128, [100]);
  assertDeepEqual([...once], [...whole.subarray(0, 4)]);
});
