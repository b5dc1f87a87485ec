/**
 * Batched matrix multiply, C[b] = op(A[b]) * op(B[b]) with op = identity or transpose.
 *
 * Register tiling without workgroup memory: each invocation computes a TM x TN (16 x 12) block of C in registers
 * (vec4 accumulators), stepping K four at a time with vec4 loads along whichever axis of each operand is
 * contiguous. On the CPU adapter this is what the SIMD compiler handles well (no barriers; measured ~16 GFLOP/s
 * against 2.5-6 for shared-memory tiles); on a real GPU the same kernel is sound, with each invocation's loads
 * coalescing across its neighbours. Operands whose contiguous axis is not a multiple of 4 are read with scalar
 * loads assembled into vec4s, so odd shapes take the same code path, just slower. Rows and columns past the
 * edge clamp their reads to valid memory and skip their writes; the K remainder (< 4) runs a scalar tail.
 */
import { record } from "../engine/autograd.ts";
import { launch } from "../engine/kernel.ts";
import { empty, shapeString, type Tensor } from "../engine/tensor.ts";
import { sumTo } from "./reduce.ts";
import { sharedTileGrid, sharedTileSource } from "./matmul_shared.ts";
import { gpu } from "../engine/device.ts";

export type MatmulStrategy = "registers" | "shared";
let strategyOverride: MatmulStrategy | null = null;

/**
 * Register tiles without barriers on the CPU adapter (where barriers are slow), shared-memory tiles on a GPU.
 * `SPEECH_MATMUL=registers|shared` or {@link setMatmulStrategy} overrides the choice (tests run both).
 */
export function matmulStrategy(): MatmulStrategy {
  if (strategyOverride) return strategyOverride;
  const env = Deno.env.get("SPEECH_MATMUL");
  if (env === "registers" || env === "shared") return env;
  return gpu().isCpuAdapter ? "registers" : "shared";
}

/** Forces a matmul strategy (null: back to the automatic choice). */
export function setMatmulStrategy(s: MatmulStrategy | null): void {
  strategyOverride = s;
}

// Measured on the CPU adapter (1024^3, GFLOP/s): 8x8 19-20, 16x8 24, 16x12 25, 24x8 20, 16x16 20, 32x4 17.
// Larger tiles amortise more loads per FMA until the accumulators spill.
const TM = 16;
const TN = 12;
const WGX = 8;
const WGY = 8;

interface Variant {
  transA: boolean;
  transB: boolean;
  vecA: boolean;
  vecB: boolean;
  vecC: boolean;
}

function source(v: Variant): string {
  const L: string[] = [];
  const aType = v.vecA ? "vec4<f32>" : "f32";
  const bType = v.vecB ? "vec4<f32>" : "f32";
  const cType = v.vecC ? "vec4<f32>" : "f32";
  L.push(`
struct P { M: u32, N: u32, K: u32, strideA: u32, strideB: u32 };
@group(0) @binding(0) var<uniform> u: P;
@group(0) @binding(1) var<storage, read> A: array<${aType}>;
@group(0) @binding(2) var<storage, read> B: array<${bType}>;
@group(0) @binding(3) var<storage, read_write> C: array<${cType}>;`);
  // Scalar element accessors (element offsets), used by the tail loop and the scalar variants.
  L.push(
    v.vecA
      ? `fn ld_a1(i: u32) -> f32 { return A[i / 4u][i % 4u]; }`
      : `fn ld_a1(i: u32) -> f32 { return A[i]; }`,
  );
  L.push(
    v.vecB
      ? `fn ld_b1(i: u32) -> f32 { return B[i / 4u][i % 4u]; }`
      : `fn ld_b1(i: u32) -> f32 { return B[i]; }`,
  );
  // Four consecutive elements starting at element offset i (i % 4 == 0 in the vec4 variants).
  L.push(
    v.vecA
      ? `fn ld_a4(i: u32) -> vec4<f32> { return A[i / 4u]; }`
      : `fn ld_a4(i: u32) -> vec4<f32> { return vec4<f32>(A[i], A[i + 1u], A[i + 2u], A[i + 3u]); }`,
  );
  L.push(
    v.vecB
      ? `fn ld_b4(i: u32) -> vec4<f32> { return B[i / 4u]; }`
      : `fn ld_b4(i: u32) -> vec4<f32> { return vec4<f32>(B[i], B[i + 1u], B[i + 2u], B[i + 3u]); }`,
  );
  L.push(`
@compute @workgroup_size(${WGX}, ${WGY}) fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let m0 = gid.y * ${TM}u;
  let n0 = gid.x * ${TN}u;
  if (m0 >= u.M || n0 >= u.N) { return; }
  let batch = gid.z;
  let offA = batch * u.strideA;
  let offB = batch * u.strideB;
  let K = u.K;
  let K4 = K & ~3u;`);
  // Row / column indices clamped to valid memory.
  for (let i = 0; i < TM; i++) L.push(`  let r${i} = min(m0 + ${i}u, u.M - 1u);`);
  for (let j = 0; j < TN; j++) L.push(`  let c${j} = min(n0 + ${j}u, u.N - 1u);`);
  if (v.transA) {
    // A stored [K, M]; a vec4 run along M starting at m0 + 4q, clamped to stay inside the row.
    for (let q = 0; q < TM / 4; q++) {
      L.push(
        `  let am${q} = select(min(m0 + ${4 * q}u, u.M - 4u), m0 + ${4 * q}u, m0 + ${4 * q + 3}u < u.M);`,
      );
    }
  }
  if (!v.transB) {
    for (let q = 0; q < TN / 4; q++) {
      L.push(
        `  let bn${q} = select(min(n0 + ${4 * q}u, u.N - 4u), n0 + ${4 * q}u, n0 + ${4 * q + 3}u < u.N);`,
      );
    }
  }
  for (let i = 0; i < TM; i++) {
    for (let q = 0; q < TN / 4; q++) L.push(`  var acc${i}_${q} = vec4<f32>(0.0);`);
  }
  L.push(`  for (var k = 0u; k < K4; k += 4u) {`);
  // Load A: av[i][kk] = op(A)[m0+i][k+kk].
  if (!v.transA) {
    for (let i = 0; i < TM; i++) L.push(`    let ar${i} = ld_a4(offA + r${i} * K + k);`);
  } else {
    for (let kk = 0; kk < 4; kk++) {
      for (let q = 0; q < TM / 4; q++) {
        // Scalar rows when M is not a multiple of 4 (the run could cross a row end).
        L.push(
          v.vecA
            ? `    let ac${kk}_${q} = ld_a4(offA + (k + ${kk}u) * u.M + am${q});`
            : `    let ac${kk}_${q} = vec4<f32>(${
              [0, 1, 2, 3].map((c) => `ld_a1(offA + (k + ${kk}u) * u.M + r${4 * q + c})`).join(", ")
            });`,
        );
      }
    }
  }
  if (!v.transB) {
    for (let kk = 0; kk < 4; kk++) {
      for (let q = 0; q < TN / 4; q++) {
        L.push(
          v.vecB
            ? `    let bv${kk}_${q} = ld_b4(offB + (k + ${kk}u) * u.N + bn${q});`
            : `    let bv${kk}_${q} = vec4<f32>(${
              [0, 1, 2, 3].map((c) => `ld_b1(offB + (k + ${kk}u) * u.N + c${4 * q + c})`).join(", ")
            });`,
        );
      }
    }
  } else {
    for (let j = 0; j < TN; j++) L.push(`    let br${j} = ld_b4(offB + c${j} * K + k);`);
    for (let kk = 0; kk < 4; kk++) {
      for (let q = 0; q < TN / 4; q++) {
        L.push(
          `    let bv${kk}_${q} = vec4<f32>(${[0, 1, 2, 3].map((c) => `br${4 * q + c}[${kk}]`).join(", ")});`,
        );
      }
    }
  }
  for (let kk = 0; kk < 4; kk++) {
    for (let i = 0; i < TM; i++) {
      const a = v.transA ? `ac${kk}_${Math.floor(i / 4)}[${i % 4}]` : `ar${i}[${kk}]`;
      for (let q = 0; q < TN / 4; q++) {
        L.push(`    acc${i}_${q} = fma(vec4<f32>(${a}), bv${kk}_${q}, acc${i}_${q});`);
      }
    }
  }
  L.push(`  }`);
  // Tail: the last K % 4 steps, scalar loads.
  L.push(`  for (var k = K4; k < K; k++) {`);
  for (let i = 0; i < TM; i++) {
    L.push(
      v.transA
        ? `    let a${i} = ld_a1(offA + k * u.M + r${i});`
        : `    let a${i} = ld_a1(offA + r${i} * K + k);`,
    );
  }
  for (let q = 0; q < TN / 4; q++) {
    const el = (c: number) =>
      v.transB ? `ld_b1(offB + c${4 * q + c} * K + k)` : `ld_b1(offB + k * u.N + c${4 * q + c})`;
    L.push(`    let bt${q} = vec4<f32>(${[0, 1, 2, 3].map(el).join(", ")});`);
  }
  for (let i = 0; i < TM; i++) {
    for (let q = 0; q < TN / 4; q++) {
      L.push(`    acc${i}_${q} = fma(vec4<f32>(a${i}), bt${q}, acc${i}_${q});`);
    }
  }
  L.push(`  }`);
  // Write the block, skipping rows/columns past the edge.
  L.push(`  let offC = batch * u.M * u.N;`);
  for (let i = 0; i < TM; i++) {
    L.push(`  if (m0 + ${i}u < u.M) {`);
    for (let q = 0; q < TN / 4; q++) {
      const n = `n0 + ${4 * q}u`;
      if (v.vecC) {
        L.push(`    if (${n} < u.N) { C[(offC + (m0 + ${i}u) * u.N + ${n}) / 4u] = acc${i}_${q}; }`);
      } else {
        for (let c = 0; c < 4; c++) {
          L.push(
            `    if (${n} + ${c}u < u.N) { C[offC + (m0 + ${i}u) * u.N + ${n} + ${c}u] = acc${i}_${q}[${c}]; }`,
          );
        }
      }
    }
    L.push(`  }`);
  }
  L.push(`}`);
  return L.join("\n");
}

/** Records C = op(A) op(B) on raw batched operands; `batchA`/`batchB` 0 means broadcast. */
function gemm(
  a: Tensor,
  b: Tensor,
  batch: number,
  M: number,
  N: number,
  K: number,
  transA: boolean,
  transB: boolean,
  broadcastA: boolean,
  broadcastB: boolean,
  outShape: number[],
): Tensor {
  const out = empty(outShape, "f32", "matmul");
  if (M === 0 || N === 0 || batch === 0) return out;
  if (batch > 65535) throw new RangeError(`matmul: batch ${batch} exceeds 65535`);
  const params = [M, N, K, broadcastA ? 0 : M * K, broadcastB ? 0 : K * N];
  if (matmulStrategy() === "shared") {
    launch({
      key: `matmul-shared:${+transA}${+transB}`,
      wgsl: () => sharedTileSource(transA, transB),
      tensors: [a, b, out],
      params,
      workgroups: sharedTileGrid(M, N, batch),
    });
    return out;
  }
  const v: Variant = {
    transA,
    transB,
    vecA: (transA ? M : K) % 4 === 0,
    vecB: (transB ? K : N) % 4 === 0,
    vecC: N % 4 === 0,
  };
  const key = `matmul:${+transA}${+transB}${+v.vecA}${+v.vecB}${+v.vecC}`;
  const gx = Math.ceil(N / (TN * WGX));
  const gy = Math.ceil(M / (TM * WGY));
  launch({
    key,
    wgsl: () => source(v),
    tensors: [a, b, out],
    params,
    workgroups: [gx, gy, batch],
  });
  return out;
}

export interface MatmulOptions {
  /** Use A's last two axes transposed ([..., K, M] storage). */
  transA?: boolean;
  /** Use B's last two axes transposed ([..., N, K] storage). */
  transB?: boolean;
}

/**
 * Batched matmul over the last two axes, with PyTorch's `torch.matmul` batching for rank >= 2 operands: the
 * batch axes must be equal, or one operand has no batch (or a batch of 1) and is shared by all.
 */
export function matmul(a: Tensor, b: Tensor, opts: MatmulOptions = {}): Tensor {
  const transA = opts.transA ?? false;
  const transB = opts.transB ?? false;
  if (a.rank < 2 || b.rank < 2) {
    throw new RangeError(
      `matmul: operands need rank >= 2, got ${shapeString(a.shape)} and ${shapeString(b.shape)}`,
    );
  }
  if (a.dtype !== "f32" || b.dtype !== "f32") throw new TypeError("matmul: expected f32 operands");
  const M = transA ? a.shape[a.rank - 1] : a.shape[a.rank - 2];
  const Ka = transA ? a.shape[a.rank - 2] : a.shape[a.rank - 1];
  const Kb = transB ? b.shape[b.rank - 1] : b.shape[b.rank - 2];
  const N = transB ? b.shape[b.rank - 2] : b.shape[b.rank - 1];
  const what = () =>
    `matmul: ${shapeString(a.shape)}${transA ? "^T" : ""} x ${shapeString(b.shape)}${transB ? "^T" : ""}`;
  if (Ka !== Kb) throw new RangeError(`${what()}: inner sizes ${Ka} and ${Kb} differ`);
  const batchA = a.shape.slice(0, -2);
  const batchB = b.shape.slice(0, -2);
  const nA = batchA.reduce((x, y) => x * y, 1);
  const nB = batchB.reduce((x, y) => x * y, 1);
  let batchShape: number[];
  if (
    nA === nB && (batchA.length === batchB.length || nA === 1) &&
    batchA.every((d, i) => batchB.length !== batchA.length || d === batchB[i])
  ) {
    batchShape = batchA.length >= batchB.length ? [...batchA] : [...batchB];
  } else if (nB === 1) {
    batchShape = [...batchA];
  } else if (nA === 1) {
    batchShape = [...batchB];
  } else {
    throw new RangeError(`${what()}: batch axes do not match`);
  }
  const batch = batchShape.reduce((x, y) => x * y, 1);
  const outShape = [...batchShape, M, N];
  let out: Tensor;
  if (!transA && nB === 1 && nA > 1) {
    // A shared B: fold A's batch into its rows, one GEMM of (batch*M) x K.
    out = gemm(a, b, 1, nA * M, N, Ka, false, transB, false, true, outShape);
  } else {
    out = gemm(a, b, batch, M, N, Ka, transA, transB, nA === 1 && batch > 1, nB === 1 && batch > 1, outShape);
  }
  return record(out, "matmul", [a, b], (g) => {
    let ga: Tensor | null = null;
    let gb: Tensor | null = null;
    if (a.requiresGrad) {
      const full = !transA
        ? matmul(g, b, { transB: !transB })
        : matmul(b, g, { transA: transB, transB: true });
      ga = reduceBatch(full, a);
    }
    if (b.requiresGrad && !transA && nB === 1 && nA > 1) {
      // Shared B: fold the batch into the rows, one GEMM instead of a batched one and a reduction.
      const a2 = a.view([nA * M, Ka]);
      const g2 = g.view([nA * M, N]);
      const full = !transB ? matmul(a2, g2, { transA: true }) : matmul(g2, a2, { transA: true });
      a2.dispose();
      g2.dispose();
      gb = reduceBatch(full, b);
    } else if (b.requiresGrad) {
      const full = !transB
        ? matmul(a, g, { transA: !transA })
        : matmul(g, a, { transA: true, transB: transA });
      gb = reduceBatch(full, b);
    }
    return [ga, gb];
  });
}

/** Sums a batched gradient over the batch axes its operand was broadcast along. */
function reduceBatch(full: Tensor, like: Tensor): Tensor {
  if (full.size === like.size) {
    const v = full.view(like.shape);
    full.dispose();
    return v;
  }
  const r = sumTo(full, like.shape.length === 2 ? [1, ...like.shape] : like.shape);
  full.dispose();
  const v = r.view(like.shape);
  r.dispose();
  return v;
}
