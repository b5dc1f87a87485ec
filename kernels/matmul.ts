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
 * The kernel's WGSL is generated in kernels/matmul_wgsl.ts; its uniforms and bindings are declared here.
 */
import { record } from "../engine/autograd.ts";
import { launch, program, variants } from "../engine/kernel.ts";
import { empty, shapeString, type Tensor } from "../engine/tensor.ts";
import { sumTo } from "./reduce.ts";
import { SHARED_WG, sharedTileBody, sharedTileGrid, sharedTileHelpers } from "./matmul_shared.ts";
import { loaders, type MatmulVariant, registerTileBody, TM, TN, WGX, WGY } from "./matmul_wgsl.ts";
import { gpu } from "../engine/device.ts";

export type MatmulStrategy = "registers" | "shared";
let strategyOverride: MatmulStrategy | null = null;

/**
 * Register tiles without barriers on the CPU adapter (where barriers are slow), shared-memory tiles on a GPU.
 * `SPEECH_MATMUL=registers|shared` or {@link setMatmulStrategy} overrides the choice (tests run both).
 */
export function matmulStrategy(): MatmulStrategy {
  if (strategyOverride) return strategyOverride;
  const env = strategyFromEnv();
  if (env === "registers" || env === "shared") return env;
  return gpu().isCpuAdapter ? "registers" : "shared";
}

/** `SPEECH_MATMUL`, when there is an environment to read (not in a browser) and leave to read it. */
function strategyFromEnv(): string | undefined {
  if (typeof Deno === "undefined") return undefined;
  try {
    return Deno.env.get("SPEECH_MATMUL");
  } catch {
    return undefined; // no --allow-env: the automatic choice
  }
}

/** Forces a matmul strategy (null: back to the automatic choice). */
export function setMatmulStrategy(s: MatmulStrategy | null): void {
  strategyOverride = s;
}

const UNIFORMS = { M: "u32", N: "u32", K: "u32", strideA: "u32", strideB: "u32" } as const;

/** The register-tiled kernel of one variant (WGSL generation: kernels/matmul_wgsl.ts). */
const registerTileProgram = variants(
  (transA: boolean, transB: boolean, vecA: boolean, vecB: boolean, vecC: boolean) => {
    const v: MatmulVariant = { transA, transB, vecA, vecB, vecC };
    const vec = (on: boolean) => on ? "vec4<f32>" : "f32";
    return program({
      name: `matmul:${+transA}${+transB}${+vecA}${+vecB}${+vecC}`,
      uniforms: UNIFORMS,
      inputs: { A: vec(vecA), B: vec(vecB) },
      outputs: { C: vec(vecC) },
      workgroupSize: [WGX, WGY, 1],
      helpers: loaders(v),
      body: registerTileBody(v),
    });
  },
);

/** The shared-memory kernel (kernels/matmul_shared.ts): same uniforms and bindings. */
const sharedTileProgram = variants((transA: boolean, transB: boolean) =>
  program({
    name: `matmul-shared:${+transA}${+transB}`,
    uniforms: UNIFORMS,
    inputs: { A: "f32", B: "f32" },
    outputs: { C: "f32" },
    workgroupSize: [SHARED_WG, SHARED_WG, 1],
    helpers: sharedTileHelpers(),
    body: sharedTileBody(transA, transB),
  })
);

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
  const uniforms = { M, N, K, strideA: broadcastA ? 0 : M * K, strideB: broadcastB ? 0 : K * N };
  const tensors = { inputs: { A: a, B: b }, outputs: { C: out } };
  if (matmulStrategy() === "shared") {
    launch(sharedTileProgram(transA, transB), {
      uniforms,
      ...tensors,
      workgroups: sharedTileGrid(M, N, batch),
    });
    return out;
  }
  const vecA = (transA ? M : K) % 4 === 0;
  const vecB = (transB ? K : N) % 4 === 0;
  const vecC = N % 4 === 0;
  const gx = Math.ceil(N / (TN * WGX));
  const gy = Math.ceil(M / (TM * WGY));
  launch(registerTileProgram(transA, transB, vecA, vecB, vecC), {
    uniforms,
    ...tensors,
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
