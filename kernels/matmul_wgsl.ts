/**
 * The WGSL of the register-tiled matmul kernel (kernels/matmul.ts), generated apart from the host code so that
 * each stage of the kernel reads on its own: the element loaders, the per-invocation setup (clamped row and
 * column indices, accumulators), the tile loads of one K step of four, the inner product over that step, the
 * scalar K tail and the edge-checked stores. The generated text is exactly the kernel that was measured (see
 * the tile sizes below): these functions only split its generation, and the bindings, the uniform struct and
 * the entry point are declared by the program in matmul.ts. Performance-critical: any change here is a change
 * to the hot loop and needs a measurement (1024^3 on the CPU adapter).
 *
 * Names the body relies on: uniforms `u.M`, `u.N`, `u.K`, `u.strideA`, `u.strideB`; storage arrays `A`, `B`
 * (read) and `C` (written), of vec4<f32> when the variant's `vecA` / `vecB` / `vecC` is set, else f32; the
 * builtin `gid` (x: column tile, y: row tile, z: batch entry).
 */

// Measured on the CPU adapter (1024^3, GFLOP/s): 8x8 19-20, 16x8 24, 16x12 25, 24x8 20, 16x16 20, 32x4 17.
// Larger tiles amortise more loads per FMA until the accumulators spill.
/** Rows of C per invocation. */
export const TM = 16;
/** Columns of C per invocation (a multiple of 4: vec4 accumulators). */
export const TN = 12;
/** Workgroup size (x: columns, y: rows). */
export const WGX = 8;
export const WGY = 8;

/** What the WGSL depends on: the transposes and which operands are read and written as vec4s. */
export interface MatmulVariant {
  transA: boolean;
  transB: boolean;
  /** A's contiguous axis is a multiple of 4 (vec4 storage). */
  vecA: boolean;
  /** B's contiguous axis is a multiple of 4. */
  vecB: boolean;
  /** N is a multiple of 4 (C stored as vec4s). */
  vecC: boolean;
}

const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i);
const FOUR = range(4);

/** Scalar (`ld_a1`, `ld_b1`) and four-element (`ld_a4`, `ld_b4`) loaders at element offsets. */
export function loaders(v: MatmulVariant): string {
  const L: string[] = [];
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
  return L.join("\n");
}

/** The invocation's tile origin, batch offsets, clamped indices, vec4 run starts and zeroed accumulators. */
function setup(v: MatmulVariant): string[] {
  const L: string[] = [];
  L.push(`
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
  return L;
}

/** One K step's A tile: `ar{i}` (row i, k..k+3) or, transposed, `ac{kk}_{q}` (step kk, rows 4q..4q+3). */
function loadTileA(v: MatmulVariant): string[] {
  const L: string[] = [];
  // Load A: av[i][kk] = op(A)[m0+i][k+kk].
  if (!v.transA) {
    for (let i = 0; i < TM; i++) L.push(`    let ar${i} = ld_a4(offA + r${i} * K + k);`);
    return L;
  }
  for (let kk = 0; kk < 4; kk++) {
    for (let q = 0; q < TM / 4; q++) {
      // Scalar rows when M is not a multiple of 4 (the run could cross a row end).
      L.push(
        v.vecA
          ? `    let ac${kk}_${q} = ld_a4(offA + (k + ${kk}u) * u.M + am${q});`
          : `    let ac${kk}_${q} = vec4<f32>(${
            FOUR.map((c) => `ld_a1(offA + (k + ${kk}u) * u.M + r${4 * q + c})`).join(", ")
          });`,
      );
    }
  }
  return L;
}

/** One K step's B tile as `bv{kk}_{q}` (step kk, columns 4q..4q+3). */
function loadTileB(v: MatmulVariant): string[] {
  const L: string[] = [];
  if (!v.transB) {
    for (let kk = 0; kk < 4; kk++) {
      for (let q = 0; q < TN / 4; q++) {
        L.push(
          v.vecB
            ? `    let bv${kk}_${q} = ld_b4(offB + (k + ${kk}u) * u.N + bn${q});`
            : `    let bv${kk}_${q} = vec4<f32>(${
              FOUR.map((c) => `ld_b1(offB + (k + ${kk}u) * u.N + c${4 * q + c})`).join(", ")
            });`,
        );
      }
    }
    return L;
  }
  for (let j = 0; j < TN; j++) L.push(`    let br${j} = ld_b4(offB + c${j} * K + k);`);
  for (let kk = 0; kk < 4; kk++) {
    for (let q = 0; q < TN / 4; q++) {
      L.push(`    let bv${kk}_${q} = vec4<f32>(${FOUR.map((c) => `br${4 * q + c}[${kk}]`).join(", ")});`);
    }
  }
  return L;
}

/** The TM x TN x 4 FMAs of one K step into the accumulators. */
function innerProduct(v: MatmulVariant): string[] {
  const L: string[] = [];
  for (let kk = 0; kk < 4; kk++) {
    for (let i = 0; i < TM; i++) {
      const a = v.transA ? `ac${kk}_${Math.floor(i / 4)}[${i % 4}]` : `ar${i}[${kk}]`;
      for (let q = 0; q < TN / 4; q++) {
        L.push(`    acc${i}_${q} = fma(vec4<f32>(${a}), bv${kk}_${q}, acc${i}_${q});`);
      }
    }
  }
  return L;
}

/** The K loop, four steps at a time. */
function mainLoop(v: MatmulVariant): string[] {
  return [
    `  for (var k = 0u; k < K4; k += 4u) {`,
    ...loadTileA(v),
    ...loadTileB(v),
    ...innerProduct(v),
    `  }`,
  ];
}

/** The last K % 4 steps, scalar loads. */
function tailLoop(v: MatmulVariant): string[] {
  const L: string[] = [];
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
    L.push(`    let bt${q} = vec4<f32>(${FOUR.map(el).join(", ")});`);
  }
  for (let i = 0; i < TM; i++) {
    for (let q = 0; q < TN / 4; q++) {
      L.push(`    acc${i}_${q} = fma(vec4<f32>(a${i}), bt${q}, acc${i}_${q});`);
    }
  }
  L.push(`  }`);
  return L;
}

/** Writes the block, skipping rows and columns past the edge. */
function stores(v: MatmulVariant): string[] {
  const L: string[] = [];
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
  return L;
}

/** The body of `main` of the register-tiled kernel for one variant. */
export function registerTileBody(v: MatmulVariant): string {
  return [...setup(v), ...mainLoop(v), ...tailLoop(v), ...stores(v)].join("\n");
}
