/**
 * The matmul path for real GPUs: 64x64 output tiles per workgroup of 16x16 threads, staged through workgroup
 * memory 16 deep along K, each thread accumulating 4x4 outputs strided by 16 so that neighbouring threads
 * read neighbouring shared-memory words and write neighbouring output columns. On a GPU the barriers are cheap
 * and the staging turns every global read into a coalesced one; on the CPU adapter barriers are slow
 * (2.5-6 GFLOP/s there), which is why matmul.ts uses register tiles instead and picks this path only on a GPU.
 * Operands of any shape: tiles past an edge load zeros and skip their writes.
 */
const BM = 64;
const BN = 64;
const BK = 16;
const T = 16;

/** Invocations per workgroup along x and along y. */
export const SHARED_WG = T;

/** The workgroup tiles of A and B. */
export function sharedTileHelpers(): string {
  return `
var<workgroup> As: array<array<f32, ${BM}>, ${BK}>;
var<workgroup> Bs: array<array<f32, ${BN}>, ${BK}>;`;
}

/**
 * The body of `main` for C = op(A) op(B) (workgroup size {@link SHARED_WG} x {@link SHARED_WG}); same uniforms
 * and bindings as the register-tiled kernel, declared by the program in matmul.ts.
 */
export function sharedTileBody(transA: boolean, transB: boolean): string {
  // Element (m, k) of op(A) and (k, n) of op(B) in their storage.
  const aAt = transA ? "offA + k * u.M + m" : "offA + m * u.K + k";
  const bAt = transB ? "offB + n * u.K + k" : "offB + k * u.N + n";
  // Which tile element load e covers: the storage-contiguous axis varies fastest (coalesced reads).
  const aIdx = transA ? `let k = e / ${BM}u; let m = e % ${BM}u;` : `let m = e / ${BK}u; let k = e % ${BK}u;`;
  const bIdx = transB ? `let n = e / ${BK}u; let k = e % ${BK}u;` : `let k = e / ${BN}u; let n = e % ${BN}u;`;
  return /* wgsl */ `
  // The workgroup and the flat local index (global id = workgroup id * size + local id).
  let wg = vec3<u32>(gid.x / ${T}u, gid.y / ${T}u, gid.z);
  let li = lid.y * ${T}u + lid.x;
  let mBase = wg.y * ${BM}u;
  let nBase = wg.x * ${BN}u;
  let offA = wg.z * u.strideA;
  let offB = wg.z * u.strideB;
  var acc: array<array<f32, 4>, 4>;
  for (var k0 = 0u; k0 < u.K; k0 += ${BK}u) {
    for (var q = 0u; q < ${(BM * BK) / (T * T)}u; q++) {
      let e = li + q * ${T * T}u;
      ${aIdx}
      let gm = mBase + m;
      let gk = k0 + k;
      var v = 0.0;
      if (gm < u.M && gk < u.K) { let m = gm; let k = gk; v = A[${aAt}]; }
      As[k][m] = v;
    }
    for (var q = 0u; q < ${(BN * BK) / (T * T)}u; q++) {
      let e = li + q * ${T * T}u;
      ${bIdx}
      let gn = nBase + n;
      let gk = k0 + k;
      var v = 0.0;
      if (gn < u.N && gk < u.K) { let n = gn; let k = gk; v = B[${bAt}]; }
      Bs[k][n] = v;
    }
    workgroupBarrier();
    for (var kk = 0u; kk < ${BK}u; kk++) {
      var a: array<f32, 4>;
      var b: array<f32, 4>;
      for (var i = 0u; i < 4u; i++) { a[i] = As[kk][lid.y + ${T}u * i]; b[i] = Bs[kk][lid.x + ${T}u * i]; }
      for (var i = 0u; i < 4u; i++) {
        for (var j = 0u; j < 4u; j++) { acc[i][j] = fma(a[i], b[j], acc[i][j]); }
      }
    }
    workgroupBarrier();
  }
  let offC = wg.z * u.M * u.N;
  for (var i = 0u; i < 4u; i++) {
    let m = mBase + lid.y + ${T}u * i;
    for (var j = 0u; j < 4u; j++) {
      let n = nBase + lid.x + ${T}u * j;
      if (m < u.M && n < u.N) { C[offC + m * u.N + n] = acc[i][j]; }
    }
  }
`;
}

/** Workgroup counts for an M x N output per batch entry. */
export function sharedTileGrid(M: number, N: number, batch: number): [number, number, number] {
  return [Math.ceil(N / BN), Math.ceil(M / BM), batch];
}
