import { equal as assertEquals, throws as assertThrows } from "node:assert/strict";
import { commands, type Tensor, tensor, tidy } from "../../engine/mod.ts";
import { dftMatmul, fft, fftFactors, powerSpectrum, rfft } from "../../kernels/fft.ts";
import { assertClose, randn, Random } from "../harness.ts";

const rng = new Random(11);

/** Float64 DFT of `batch` complex signals (interleaved), X[k] = sum_j x[j] exp(-2 pi i jk / n). */
function dftRef(x: Float64Array, batch: number, n: number): Float64Array {
  const out = new Float64Array(batch * n * 2);
  for (let b = 0; b < batch; b++) {
    for (let k = 0; k < n; k++) {
      let re = 0, im = 0;
      for (let j = 0; j < n; j++) {
        const a = -2 * Math.PI * ((j * k) % n) / n;
        const c = Math.cos(a), s = Math.sin(a);
        const xr = x[2 * (b * n + j)], xi = x[2 * (b * n + j) + 1];
        re += xr * c - xi * s;
        im += xr * s + xi * c;
      }
      out[2 * (b * n + k)] = re;
      out[2 * (b * n + k) + 1] = im;
    }
  }
  return out;
}

/** Float64 one-sided DFT of real signals: [batch, n/2+1, 2]. */
function rdftRef(x: Float64Array, batch: number, n: number): Float64Array {
  const c = new Float64Array(batch * n * 2);
  for (let i = 0; i < batch * n; i++) c[2 * i] = x[i];
  const full = dftRef(c, batch, n);
  const nf = Math.floor(n / 2) + 1;
  const out = new Float64Array(batch * nf * 2);
  for (let b = 0; b < batch; b++) {
    out.set(full.subarray(2 * b * n, 2 * (b * n + nf)), 2 * b * nf);
  }
  return out;
}

const rounded = (a: Float64Array) => Float64Array.from(Float32Array.from(a));

/** Reads a result back and frees it. */
async function take(t: Tensor): Promise<Float32Array> {
  const v = await t.f32();
  t.dispose();
  return v;
}

Deno.test("fftFactors: eights and fours first, null for other primes", () => {
  assertEquals(fftFactors(400)!.join(","), "8,2,5,5");
  assertEquals(fftFactors(200)!.join(","), "8,5,5");
  assertEquals(fftFactors(512)!.join(","), "8,8,8");
  assertEquals(fftFactors(16)!.join(","), "8,2");
  assertEquals(fftFactors(1)!.length, 0);
  assertEquals(fftFactors(7 * 9)!.join(","), "3,3,7");
  assertEquals(fftFactors(11), null);
  assertThrows(() => fftFactors(0), /invalid length 0/);
});

for (const n of [400, 512, 256, 200, 125, 7, 1, 11, 97, 210]) {
  Deno.test(`fft: complex length ${n} against a float64 DFT`, async () => {
    const batch = 3;
    const x = rounded(randn(rng, batch * n * 2));
    const got = await take(tidy(() => fft(tensor(Float32Array.from(x), [batch, n, 2]))));
    assertClose(got, dftRef(x, batch, n), 2e-6, `fft ${n}`);
  });
}

for (const n of [400, 512, 256, 200, 125, 7, 1, 2, 22, 97]) {
  Deno.test(`rfft and power spectrum: real length ${n} against a float64 DFT`, async () => {
    const batch = 5;
    const x = rounded(randn(rng, batch * n));
    const want = rdftRef(x, batch, n);
    const [spec, power] = tidy(() => {
      const t = tensor(Float32Array.from(x), [batch, n]);
      return [rfft(t), powerSpectrum(t)];
    });
    const nf = Math.floor(n / 2) + 1;
    assertEquals(spec.shape.join(","), `${batch},${nf},2`);
    assertEquals(power.shape.join(","), `${batch},${nf}`);
    assertClose(await spec.f32(), want, 2e-6, `rfft ${n}`);
    const wantPower = new Float64Array(batch * nf).map((_, i) => want[2 * i] ** 2 + want[2 * i + 1] ** 2);
    assertClose(await power.f32(), wantPower, 4e-6, `power ${n}`);
    spec.dispose();
    power.dispose();
  });
}

Deno.test("dftMatmul: the matmul reference matches the float64 DFT (length 400, odd 125)", async () => {
  for (const n of [400, 125]) {
    const batch = 7;
    const x = rounded(randn(rng, batch * n));
    const got = await take(tidy(() => dftMatmul(tensor(Float32Array.from(x), [batch, n]))));
    assertClose(got, rdftRef(x, batch, n), 2e-6, `dftMatmul ${n}`);
  }
});

Deno.test("fft: leading batch axes are kept and intermediates are freed", async () => {
  const x = rounded(randn(rng, 2 * 3 * 200));
  // The first call uploads the length's constant tables, which live for the process.
  tidy(() => rfft(tensor(Float32Array.from(x), [6, 200]))).dispose();
  const live = commands().pool.liveCount;
  const y = tidy(() => rfft(tensor(Float32Array.from(x), [2, 3, 200])));
  assertEquals(y.shape.join(","), "2,3,101,2");
  assertClose(await y.f32(), rdftRef(x, 6, 200), 2e-6, "rfft [2,3,200]");
  y.dispose();
  assertEquals(commands().pool.liveCount, live);
});

Deno.test("fft: bad shapes are named", () => {
  assertThrows(() => tidy(() => fft(tensor(new Float32Array(6), [2, 3]))), /fft: expected complex values/);
  assertThrows(() => tidy(() => rfft(tensor(new Float32Array(0), [2, 0]))), /rfft: length 0/);
});
