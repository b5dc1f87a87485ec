/**
 * Batched discrete Fourier transforms on the GPU: a mixed-radix Stockham FFT (radices 8, 4, 2, 3, 5, 7), a real
 * FFT that runs a half-length complex FFT on packed sample pairs and splits the result with one post-twiddle
 * pass, and Bluestein's chirp-z algorithm for lengths with other prime factors.
 *
 * Every Stockham stage is one dispatch over all transforms of the batch: it reads one buffer and writes another
 * (the autosort ordering needs no bit reversal and no workgroup barriers, which are slow on the CPU adapter).
 * Twiddles are tables of exp(-2 pi i e / T) computed in float64 on the host and uploaded once per length.
 *
 * Complex values are stored interleaved (re, im) along a trailing axis of 2. None of these ops record a
 * backward: the transforms feed feature extraction, whose inputs (waveforms) are never trainable. The DFT is
 * linear, so a backward would be the adjoint transform if one were ever needed.
 *
 * Every kernel is a program (engine/program.ts), its uniforms and bindings declared once by name; the stage
 * constants (length, sub-transform size, radix, twiddle step) are baked into its WGSL as variants.
 */
import { type ElementType, launch, type Program, program, variants } from "../engine/kernel.ts";
import { keep } from "../engine/scope.ts";
import { empty, shapeString, Tensor, tensor } from "../engine/tensor.ts";
import { matmul } from "./matmul.ts";

const WG = 64;

/** Radices with a generated butterfly, tried in this order when factoring a length (fewer stages first). */
const RADICES = [8, 4, 2, 3, 5, 7] as const;

/**
 * The Stockham stage radices for a length whose prime factors are all 2, 3, 5 or 7 (eights, then fours first), or null for
 * any other length. Length 1 has no stages.
 */
export function fftFactors(n: number): number[] | null {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`fft: invalid length ${n}`);
  const out: number[] = [];
  let rest = n;
  for (const r of RADICES) {
    while (rest % r === 0) {
      out.push(r);
      rest /= r;
    }
  }
  return rest === 1 ? out : null;
}

/** exp(-2 pi i e / t) for e in [0, t), interleaved, in float64. */
function twiddleTable(t: number): Float64Array {
  const w = new Float64Array(2 * t);
  for (let e = 0; e < t; e++) {
    // Reduce the angle to the first octant's accuracy by symmetry of cos/sin around quarter turns.
    const a = -2 * Math.PI * e / t;
    w[2 * e] = Math.cos(a);
    w[2 * e + 1] = Math.sin(a);
  }
  // Exact values at the quarter turns, where cos/sin of a rounded angle are off by ~1e-16.
  for (let q = 0; q < 4; q++) {
    if ((q * t) % 4 !== 0) continue;
    const e = (q * t) / 4;
    w[2 * e] = [1, 0, -1, 0][q];
    w[2 * e + 1] = [0, -1, 0, 1][q];
  }
  return w;
}

/** A WGSL expression for v * (c + i s), with the trivial constants folded. */
function cmulConst(v: string, c: number, s: number): string {
  const eps = 1e-15;
  const isZ = (x: number) => Math.abs(x) < eps;
  if (isZ(s) && Math.abs(c - 1) < eps) return v;
  if (isZ(s) && Math.abs(c + 1) < eps) return `(-${v})`;
  if (isZ(c) && Math.abs(s + 1) < eps) return `vec2<f32>(${v}.y, -${v}.x)`;
  if (isZ(c) && Math.abs(s - 1) < eps) return `vec2<f32>(-${v}.y, ${v}.x)`;
  const lit = (x: number) => {
    const t = x.toPrecision(17);
    return t.includes(".") || t.includes("e") ? t : `${t}.0`;
  };
  return `vec2<f32>(${v}.x * ${lit(c)} - ${v}.y * ${lit(s)}, ${v}.x * ${lit(s)} + ${v}.y * ${lit(c)})`;
}

/**
 * One radix-R Stockham stage (forward transform) of length n after sub-transforms of size ns, with the twiddle
 * index step baked in: every division is by a constant, which the CPU adapter's compiler turns into a
 * multiply and shift (a division by a runtime value is scalarised there and costs more than the butterfly).
 * With a signal source (first stage only, ns = 1) the inputs are the source's and there is no twiddle table.
 */
function stageBody(n: number, ns: number, R: number, step: number, source: boolean): string {
  const q = n / R;
  const L: string[] = [];
  L.push(`
  let i = gidx;
  if (i >= u.count) { return; }
  let b = i / ${q}u;
  let j = i - b * ${q}u;
  let base = b * ${n}u;
  let k = j % ${ns}u;`);
  for (let r = 0; r < R; r++) {
    // A real signal source gives the packed pair (s[2e], s[2e + 1]) of complex element e.
    L.push(
      source
        ? `  let x${r} = vec2<f32>(load_real(b, 2u * (j + ${r * q}u)), load_real(b, 2u * (j + ${
          r * q
        }u) + 1u));`
        : `  let x${r} = src[base + j + ${r * q}u];`,
    );
  }
  if (ns === 1) {
    L.push(source ? `  _ = k;` : `  _ = tw[0]; _ = k;`);
    for (let r = 0; r < R; r++) L.push(`  let v${r} = x${r};`);
  } else {
    L.push(`  let v0 = x0;`);
    for (let r = 1; r < R; r++) L.push(`  let v${r} = cmul(x${r}, tw[k * ${r * step}u]);`);
  }
  for (let kk = 0; kk < R; kk++) {
    const terms: string[] = [];
    for (let r = 0; r < R; r++) {
      const e = (r * kk) % R;
      const a = -2 * Math.PI * e / R;
      terms.push(cmulConst(`v${r}`, Math.cos(a), Math.sin(a)));
    }
    L.push(`  let y${kk} = ${terms.join(" + ")};`);
  }
  L.push(`  let o = base + (j / ${ns}u) * ${ns * R}u + k;`);
  for (let r = 0; r < R; r++) L.push(`  dst[o + ${r * ns}u] = y${r};`);
  return L.join("\n");
}

const CMUL = /* wgsl */ `
fn cmul(a: vec2<f32>, b: vec2<f32>) -> vec2<f32> { return vec2<f32>(a.x * b.x - a.y * b.y, a.x * b.y + a.y * b.x); }`;

/** A Stockham stage reading complex values `src` and the twiddle table `tw`. */
const stageProgram = variants((n: number, ns: number, R: number, step: number) =>
  program({
    name: `fft-stage:${n}:${ns}:${R}:${step}`,
    uniforms: { count: "u32" },
    inputs: { src: "vec2<f32>", tw: "vec2<f32>" },
    outputs: { dst: "vec2<f32>" },
    workgroupSize: STAGE_WG,
    helpers: CMUL,
    body: stageBody(n, ns, R, step, false),
  })
);

/** Memoizes per signal kind a function of the variant (kinds are module constants, compared by identity). */
function perKind<A extends readonly (string | number | boolean)[], P extends Program>(
  make: (kind: SignalKind, ...variant: A) => P,
): (kind: SignalKind, ...variant: A) => P {
  const byKind = new WeakMap<SignalKind, (...variant: A) => P>();
  return (kind, ...variant) => {
    let f = byKind.get(kind);
    if (!f) byKind.set(kind, f = variants((...v: A) => make(kind, ...v)));
    return f(...variant);
  };
}

/** A first Stockham stage reading real samples straight from a signal source (no twiddles: ns = 1). */
const sourceStageProgram = perKind((kind: SignalKind, n: number, R: number): Program =>
  program({
    name: `fft-stage:${n}:1:${R}:${n / R}:${kind.key}`,
    uniforms: { count: "u32" },
    inputs: kind.inputs,
    outputs: { dst: "vec2<f32>" },
    workgroupSize: STAGE_WG,
    helpers: `${CMUL}\n${kind.helpers}`,
    body: stageBody(n, 1, R, n / R, true),
  })
);

const STAGE_WG = 64;

/** Host-side constants of one transform length, uploaded once and kept for the process. */
interface Plan {
  n: number;
  /** Stockham radices, or null for the Bluestein path. */
  radices: number[] | null;
  /** Twiddles exp(-2 pi i e / n), e in [0, n) (for the real-FFT split: the length-2n table). */
  twiddles: Tensor;
  bluestein?: {
    /** The power-of-two convolution length. */
    m: number;
    /** The plan of length m. */
    inner: Plan;
    /** exp(-i pi k^2 / n), k in [0, n). */
    chirp: Tensor;
    /** FFT (length m) of the wrapped conjugate chirp. */
    kernelSpectrum: Tensor;
  };
}

const plans = new Map<number, Plan>();

function upload(values: Float64Array, shape: number[]): Tensor {
  return keep(tensor(Float32Array.from(values), shape));
}

/** In-place iterative radix-2 FFT in float64 (host side, power-of-two lengths). */
function hostFft(re: Float64Array, im: Float64Array): void {
  const n = re.length;
  for (let i = 1, j = 0; i < n; i++) {
    let bit = n >> 1;
    for (; j & bit; bit >>= 1) j ^= bit;
    j ^= bit;
    if (i < j) {
      [re[i], re[j]] = [re[j], re[i]];
      [im[i], im[j]] = [im[j], im[i]];
    }
  }
  const w = twiddleTable(n);
  for (let len = 2; len <= n; len <<= 1) {
    const stride = n / len;
    for (let s = 0; s < n; s += len) {
      for (let k = 0; k < len / 2; k++) {
        const wr = w[2 * k * stride], wi = w[2 * k * stride + 1];
        const a = s + k, b = s + k + len / 2;
        const tr = re[b] * wr - im[b] * wi;
        const ti = re[b] * wi + im[b] * wr;
        re[b] = re[a] - tr;
        im[b] = im[a] - ti;
        re[a] += tr;
        im[a] += ti;
      }
    }
  }
}

function plan(n: number): Plan {
  let p = plans.get(n);
  if (p) return p;
  const radices = fftFactors(n);
  p = { n, radices, twiddles: upload(twiddleTable(n), [n, 2]) };
  if (!radices) {
    let m = 1;
    while (m < 2 * n - 1) m *= 2;
    const chirp = new Float64Array(2 * n);
    for (let k = 0; k < n; k++) {
      // k^2 mod 2n keeps the angle small, so it is exact in float64 for any practical n.
      const e = Number((BigInt(k) * BigInt(k)) % BigInt(2 * n));
      chirp[2 * k] = Math.cos(Math.PI * e / n);
      chirp[2 * k + 1] = -Math.sin(Math.PI * e / n);
    }
    const re = new Float64Array(m), im = new Float64Array(m);
    for (let k = 0; k < n; k++) {
      re[k] = chirp[2 * k];
      im[k] = -chirp[2 * k + 1];
      if (k > 0) {
        re[m - k] = re[k];
        im[m - k] = im[k];
      }
    }
    hostFft(re, im);
    const spectrum = new Float64Array(2 * m);
    for (let k = 0; k < m; k++) {
      spectrum[2 * k] = re[k];
      spectrum[2 * k + 1] = im[k];
    }
    p.bluestein = {
      m,
      inner: plan(m),
      chirp: upload(chirp, [n, 2]),
      kernelSpectrum: upload(spectrum, [m, 2]),
    };
  }
  plans.set(n, p);
  return p;
}

/** Runs the Stockham stages of a smooth length over `batch` transforms; returns the tensor holding the result. */
function stockham(
  x: Tensor | RealSignalSource,
  batch: number,
  n: number,
  radices: number[],
  tw: Tensor,
  twStride: number,
): Tensor {
  let src: Tensor | RealSignalSource = x;
  let ns = 1;
  for (let s = 0; s < radices.length; s++) {
    const R = radices[s];
    const dst = empty([batch, n, 2], "f32", `fft stage ${s}`);
    const count = batch * n / R;
    const step = (n / (ns * R)) * twStride;
    if (src instanceof Tensor) {
      launch(stageProgram(n, ns, R, step), {
        uniforms: { count },
        inputs: { src, tw },
        outputs: { dst },
        invocations: count,
      });
    } else {
      // A source feeds only the first stage (ns = 1, step = n / R with twStride 1).
      if (ns !== 1 || twStride !== 1) throw new Error("fft: a signal source feeds only the first stage");
      launch(sourceStageProgram(src.kind, n, R), {
        uniforms: { count },
        inputs: src.tensors,
        outputs: { dst },
        invocations: count,
      });
    }
    if (src !== x && src instanceof Tensor) src.dispose();
    src = dst;
    ns *= R;
  }
  // At least one stage ran (callers pass a source only then), so src is the last stage's output.
  return src as Tensor;
}

const bluesteinPre = program({
  name: "fft-bluestein-pre",
  uniforms: { n: "u32", m: "u32", count: "u32" },
  inputs: { x: "vec2<f32>", chirp: "vec2<f32>" },
  outputs: { a: "vec2<f32>" },
  workgroupSize: WG,
  body: `
  let i = gidx;
  if (i >= u.count) { return; }
  let b = i / u.m;
  let k = i - b * u.m;
  if (k >= u.n) { a[i] = vec2<f32>(0.0); return; }
  let v = x[b * u.n + k];
  let w = chirp[k];
  a[i] = vec2<f32>(v.x * w.x - v.y * w.y, v.x * w.y + v.y * w.x);`,
});

// conj(A * K): the inverse transform is then conj(FFT(conj(.))), so only forward stages are needed.
const bluesteinMul = program({
  name: "fft-bluestein-mul",
  uniforms: { m: "u32", count: "u32" },
  inputs: { a: "vec2<f32>", ks: "vec2<f32>" },
  outputs: { o: "vec2<f32>" },
  workgroupSize: WG,
  body: `
  let i = gidx;
  if (i >= u.count) { return; }
  let v = a[i];
  let w = ks[i % u.m];
  o[i] = vec2<f32>(v.x * w.x - v.y * w.y, -(v.x * w.y + v.y * w.x));`,
});

const bluesteinPost = program({
  name: "fft-bluestein-post",
  uniforms: { n: "u32", m: "u32", count: "u32", inv: "f32" },
  inputs: { y: "vec2<f32>", chirp: "vec2<f32>" },
  outputs: { o: "vec2<f32>" },
  workgroupSize: WG,
  body: `
  let i = gidx;
  if (i >= u.count) { return; }
  let b = i / u.n;
  let k = i - b * u.n;
  let v = y[b * u.m + k] * vec2<f32>(u.inv, -u.inv);
  let w = chirp[k];
  o[i] = vec2<f32>(v.x * w.x - v.y * w.y, v.x * w.y + v.y * w.x);`,
});

function bluestein(x: Tensor, batch: number, p: Plan): Tensor {
  const { m, inner, chirp, kernelSpectrum } = p.bluestein!;
  const n = p.n;
  const a = empty([batch, m, 2], "f32", "bluestein a");
  launch(bluesteinPre, {
    uniforms: { n, m, count: batch * m },
    inputs: { x, chirp },
    outputs: { a },
    invocations: batch * m,
  });
  const fa = stockham(a, batch, m, inner.radices!, inner.twiddles, 1);
  const prod = empty([batch, m, 2], "f32", "bluestein product");
  launch(bluesteinMul, {
    uniforms: { m, count: batch * m },
    inputs: { a: fa, ks: kernelSpectrum },
    outputs: { o: prod },
    invocations: batch * m,
  });
  const conv = stockham(prod, batch, m, inner.radices!, inner.twiddles, 1);
  const out = empty([...x.shape], "f32", "fft");
  launch(bluesteinPost, {
    uniforms: { n, m, count: batch * n, inv: 1 / m },
    inputs: { y: conv, chirp },
    outputs: { o: out },
    invocations: batch * n,
  });
  for (const t of [a, fa, prod, conv]) if (t !== x && !t.isDisposed) t.dispose();
  return out;
}

/** Length 1: the transform is the identity (a copy, so the result is always a new tensor). */
const fftCopy = program({
  name: "fft-copy",
  uniforms: { count: "u32" },
  inputs: { a: "f32" },
  outputs: { o: "f32" },
  workgroupSize: WG,
  body: `
  let i = gidx;
  if (i < u.count) { o[i] = a[i]; }`,
});

/** Complex FFT of `batch` transforms of length n stored in x (batch * n complex values); always a new tensor. */
function complexFft(x: Tensor, batch: number, n: number): Tensor {
  const p = plan(n);
  if (!p.radices) return bluestein(x, batch, p);
  if (p.radices.length === 0) {
    const out = empty([...x.shape], "f32", "fft");
    launch(fftCopy, {
      uniforms: { count: x.size },
      inputs: { a: x },
      outputs: { o: out },
      invocations: x.size,
    });
    return out;
  }
  return stockham(x, batch, n, p.radices, p.twiddles, 1);
}

function checkComplex(x: Tensor, op: string): number {
  if (x.dtype !== "f32") throw new TypeError(`${op}: expected an f32 tensor, got ${x.dtype}`);
  if (x.rank < 2 || x.shape[x.rank - 1] !== 2) {
    throw new RangeError(`${op}: expected complex values [..., n, 2], got ${shapeString(x.shape)}`);
  }
  return x.shape[x.rank - 2];
}

/**
 * Forward complex DFT along the second-last axis of x [..., n, 2] (interleaved re, im):
 * X[k] = sum_j x[j] exp(-2 pi i jk / n), any n >= 1 (Stockham for 2/3/5/7-smooth n, Bluestein otherwise).
 */
export function fft(x: Tensor): Tensor {
  const n = checkComplex(x, "fft");
  if (n === 0) throw new RangeError("fft: length 0");
  const y = complexFft(x, x.size / (2 * n), n);
  if (y.shape.length === x.shape.length && y.shape.every((d, i) => d === x.shape[i])) return y;
  const v = y.view(x.shape);
  y.dispose();
  return v;
}

/** What the real-FFT finishing pass writes per bin. */
type RealOut = "complex" | "power";

/** The element type written per bin. */
function binType(out: RealOut): "vec2<f32>" | "f32" {
  return out === "complex" ? "vec2<f32>" : "f32";
}

/** The real-FFT split of a length-2m transform from its length-m half-FFT z, with the length-2m twiddles. */
const splitProgram = variants((out: RealOut, m: number) => {
  const store = out === "complex" ? "o[i] = X;" : "o[i] = dot(X, X);";
  const nf = m + 1;
  return program({
    name: `rfft-split:${out}:${m}`,
    uniforms: { count: "u32" },
    inputs: { z: "vec2<f32>", tw: "vec2<f32>" },
    outputs: { o: binType(out) },
    workgroupSize: WG,
    body: `
  let i = gidx;
  if (i >= u.count) { return; }
  let b = i / ${nf}u;
  let k = i - b * ${nf}u;
  let zk = z[b * ${m}u + select(k, 0u, k == ${m}u)];
  let zr = z[b * ${m}u + select(${m}u - k, 0u, k == 0u)];
  let zc = vec2<f32>(zr.x, -zr.y);
  let even = 0.5 * (zk + zc);
  let d = 0.5 * (zk - zc);
  let odd = vec2<f32>(d.y, -d.x);
  let w = tw[k];
  let X = even + vec2<f32>(odd.x * w.x - odd.y * w.y, odd.x * w.y + odd.y * w.x);
  ${store}`,
  });
});

/** The first nf bins of odd-length complex transforms z (n per signal). */
const takeProgram = variants((out: RealOut) =>
  program({
    name: `rfft-take:${out}`,
    uniforms: { n: "u32", nf: "u32", count: "u32" },
    inputs: { z: "vec2<f32>" },
    outputs: { o: binType(out) },
    workgroupSize: WG,
    body: `
  let i = gidx;
  if (i >= u.count) { return; }
  let b = i / u.nf;
  let k = i - b * u.nf;
  let v = z[b * u.n + k];
  ${out === "complex" ? "o[i] = v;" : "o[i] = dot(v, v);"}`,
  })
);

const realToComplex = program({
  name: "rfft-r2c",
  uniforms: { count: "u32" },
  inputs: { a: "f32" },
  outputs: { o: "vec2<f32>" },
  workgroupSize: WG,
  body: `
  let i = gidx;
  if (i < u.count) { o[i] = vec2<f32>(a[i], 0.0); }`,
});

/**
 * The one-sided spectrum of `batch` real signals of length n stored in x: complex bins [batch, n/2+1, 2], or
 * their squared magnitudes [batch, n/2+1] with `out: "power"`. Even n runs a length-n/2 complex FFT of the
 * samples read as (even, odd) pairs, then splits it with exp(-2 pi i k / n); odd n transforms (x, 0).
 */
export function realFftRaw(input: Tensor | RealSignalSource, batch: number, n: number, out: RealOut): Tensor {
  const nf = Math.floor(n / 2) + 1;
  const shape = out === "complex" ? [batch, nf, 2] : [batch, nf];
  const res = empty(shape, "f32", out === "complex" ? "rfft" : "power spectrum");
  const fused = !(input instanceof Tensor) && n % 2 === 0 && (plan(n / 2).radices?.length ?? 0) > 0;
  const x = input instanceof Tensor || fused ? input : materialize(input, batch, n);
  if (n % 2 === 0) {
    const m = n / 2;
    const p2 = plan(m);
    // A signal source feeds the first Stockham stage directly: the frames are never written out.
    const z = fused ? stockham(x, batch, m, p2.radices!, p2.twiddles, 1) : complexFft(x as Tensor, batch, m);
    const p = plan(n);
    launch(splitProgram(out, m), {
      uniforms: { count: batch * nf },
      inputs: { z, tw: p.twiddles },
      outputs: { o: res },
      invocations: batch * nf,
    });
    z.dispose();
  } else {
    const c = empty([batch, n, 2], "f32", "rfft complex input");
    launch(realToComplex, {
      uniforms: { count: batch * n },
      inputs: { a: x as Tensor },
      outputs: { o: c },
      invocations: batch * n,
    });
    const z = complexFft(c, batch, n);
    c.dispose();
    launch(takeProgram(out), {
      uniforms: { n, nf, count: batch * nf },
      inputs: { z },
      outputs: { o: res },
      invocations: batch * nf,
    });
    z.dispose();
  }
  if (x !== input) (x as Tensor).dispose();
  return res;
}

/**
 * What a family of real signal sources reads and how to load a sample: shared by every source of the family
 * (a module constant; programs are memoized per kind).
 */
export interface SignalKind {
  /** Pipeline-key fragment; must determine `inputs` and `helpers` completely. */
  key: string;
  /** The read-only storage arrays the loader reads, bound before the reading kernel's own bindings. */
  inputs: Record<string, ElementType>;
  /** WGSL defining `fn load_real(b: u32, s: u32) -> f32`: sample s of signal b. */
  helpers: string;
}

/**
 * Real signals defined by a WGSL loader instead of a tensor (e.g. windowed frames cut from waveforms), so that
 * the FFT's first stage reads them straight from their origin.
 */
export interface RealSignalSource {
  kind: SignalKind;
  /** A tensor for each of `kind.inputs`, by name. */
  tensors: Record<string, Tensor>;
}

const materializeProgram = perKind((kind: SignalKind, n: number): Program =>
  program({
    name: `signal-materialize:${n}:${kind.key}`,
    uniforms: { count: "u32" },
    inputs: kind.inputs,
    outputs: { o: "f32" },
    workgroupSize: WG,
    helpers: kind.helpers,
    body: `
  let i = gidx;
  if (i >= u.count) { return; }
  let b = i / ${n}u;
  o[i] = load_real(b, i - b * ${n}u);`,
  })
);

/** Writes a signal source out as a [batch, n] tensor (for paths that cannot read it in their first stage). */
export function materialize(source: RealSignalSource, batch: number, n: number): Tensor {
  const out = empty([batch, n], "f32", "signals");
  const count = batch * n;
  launch(materializeProgram(source.kind, n), {
    uniforms: { count },
    inputs: source.tensors,
    outputs: { o: out },
    invocations: count,
  });
  return out;
}

function checkReal(x: Tensor, op: string): number {
  if (x.dtype !== "f32") throw new TypeError(`${op}: expected an f32 tensor, got ${x.dtype}`);
  if (x.rank < 1) throw new RangeError(`${op}: expected [..., n], got a scalar`);
  const n = x.shape[x.rank - 1];
  if (n === 0) throw new RangeError(`${op}: length 0`);
  return n;
}

/** One-sided DFT of real signals along the last axis: x [..., n] -> [..., n/2+1, 2] (like torch.fft.rfft). */
export function rfft(x: Tensor): Tensor {
  const n = checkReal(x, "rfft");
  const lead = x.shape.slice(0, -1);
  const batch = x.size / n;
  const r = realFftRaw(x, batch, n, "complex");
  const v = r.view([...lead, Math.floor(n / 2) + 1, 2]);
  r.dispose();
  return v;
}

/** |rfft(x)|^2 along the last axis: x [..., n] -> [..., n/2+1]. */
export function powerSpectrum(x: Tensor): Tensor {
  const n = checkReal(x, "powerSpectrum");
  const lead = x.shape.slice(0, -1);
  const r = realFftRaw(x, x.size / n, n, "power");
  const v = r.view([...lead, Math.floor(n / 2) + 1]);
  r.dispose();
  return v;
}

const dftMatrices = new Map<number, Tensor>();

/** The real-to-one-sided DFT matrix [n, 2 * (n/2+1)], columns (re, im) per bin, computed in float64. */
function dftMatrix(n: number): Tensor {
  let t = dftMatrices.get(n);
  if (t) return t;
  const nf = Math.floor(n / 2) + 1;
  const w = twiddleTable(n);
  const m = new Float64Array(n * 2 * nf);
  for (let j = 0; j < n; j++) {
    for (let k = 0; k < nf; k++) {
      const e = (j * k) % n;
      m[j * 2 * nf + 2 * k] = w[2 * e];
      m[j * 2 * nf + 2 * k + 1] = w[2 * e + 1];
    }
  }
  t = upload(m, [n, 2 * nf]);
  dftMatrices.set(n, t);
  return t;
}

/**
 * The same one-sided DFT as {@link rfft}, as one matmul with the dense DFT matrix: O(n^2) per signal, the
 * reference and point of comparison for the FFT path.
 */
export function dftMatmul(x: Tensor): Tensor {
  const n = checkReal(x, "dftMatmul");
  const lead = x.shape.slice(0, -1);
  const batch = x.size / n;
  const x2 = x.view([batch, n]);
  const y = matmul(x2, dftMatrix(n));
  x2.dispose();
  const v = y.view([...lead, Math.floor(n / 2) + 1, 2]);
  y.dispose();
  return v;
}
