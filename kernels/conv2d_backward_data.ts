/**
 * The conv2d input-gradient kernel (backward data; host side: kernels/conv2d.ts): the transposed convolution
 * in gather form, register-tiled with no workgroup memory.
 *
 * With stride s, input column iw receives only the taps kw = (iw + p) mod s (+ s m), so an invocation takes TP
 * columns of one phase (iw = ph + s j): they share their taps, and the output columns they read are
 * consecutive, one segment of TP + ceil(kW/s) - 1. Rows do the same with a runtime check per kernel row.
 * Weights are repacked to [Cout kH kW, Cin padded to TC] (kernels/conv2d_repack.ts). Each input gradient
 * accumulates (fma, f32) kernel row by kernel row, then output channel, then tap.
 *
 * The WGSL is unrolled over the kernel size and the stride, which are in the program's name.
 */
import { launch } from "../engine/kernel.ts";
import type { Tensor } from "../engine/tensor.ts";
import { type Geometry, range } from "./conv2d_geometry.ts";
import * as conv from "./conv2d_wgsl_common.ts";

/** Input-gradient tile: input channels x input columns (of one stride phase) per invocation. */
export const GIN_TC = 8;
const GIN_TP = 8;

/** Per kernel row: the gradient-row segment, the taps of this phase, and the TP x M FMAs. */
function kernelRow(
  kh: number,
  kH: number,
  kW: number,
  sH: number,
  sW: number,
  M: number,
  L: number,
): string[] {
  const Q = GIN_TC / 4;
  const S: string[] = [];
  S.push(`  {
    let num = i32(ih + u.pH) - ${kh};
    if (num >= 0 && num % ${sH} == 0 && num / ${sH} < i32(u.OH)) {
      var row = (n * u.Cout * u.OH + u32(num / ${sH})) * u.OW;
      var wk = ${kh * kW}u * u.cp4 + ct * ${Q}u;
      for (var co = 0u; co < u.Cout; co++) {`);
  S.push(...conv.segmentLoads("        ", L, "gy", "row"));
  for (const m of range(M)) {
    for (const q of range(Q)) {
      // Every phase uses all M taps when s divides kW (always with stride 1): no mask needed then.
      const load = `wg[wk + kc${m} * u.cp4 + ${q}u]`;
      S.push(
        `        let w${m}_${q} = ${kW % sW === 0 ? load : `select(vec4<f32>(0.0), ${load}, kv${m})`};`,
      );
    }
  }
  for (const m of range(M)) {
    for (const j of range(GIN_TP)) {
      for (const q of range(Q)) {
        S.push(`        a${j}_${q} = fma(vec4<f32>(s${M - 1 - m + j}), w${m}_${q}, a${j}_${q});`);
      }
    }
  }
  S.push(`        row += u.OH * u.OW;
        wk += ${kH * kW}u * u.cp4;
      }
    }
  }`);
  return S;
}

function gradInputBody(kH: number, kW: number, sH: number, sW: number): string {
  const TC = GIN_TC, TP = GIN_TP, Q = TC / 4;
  const M = Math.ceil(kW / sW);
  const L = TP + M - 1;
  const S: string[] = [];
  S.push(conv.indexPrologue([["blk", "u.nb"], ["ph", `${sW}u`], ["ih", "u.H"], ["ct", "u.ciTiles"]], "n"));
  S.push(`  let iwFirst = ph + ${sW}u * blk * ${TP}u;
  if (iwFirst >= u.W) { return; }
  let ci0 = ct * ${TC}u;
  // Taps kw = kwStart + s m reach this phase; output column (iw + p - kw) / s = c0 + j - m.
  let kwStart = (ph + u.pW) % ${sW}u;
  let owBase = i32((iwFirst + u.pW - kwStart) / ${sW}u);
  let owmax = i32(u.OW) - 1;`);
  S.push(...conv.clampedColumns("  ", L, (t) => `owBase + ${t - (M - 1)}`, "owmax"));
  for (const m of range(M)) {
    S.push(
      `  let kw${m} = kwStart + ${sW * m}u; let kv${m} = kw${m} < ${kW}u; let kc${m} = min(kw${m}, ${
        kW - 1
      }u);`,
    );
  }
  S.push(...conv.tileAccumulators(TP, Q));
  for (const kh of range(kH)) S.push(...kernelRow(kh, kH, kW, sH, sW, M, L));
  for (const q of range(Q)) {
    for (const c of range(4)) {
      S.push(`  if (ci0 + ${4 * q + c}u < u.Cin) {
    let xb = ((n * u.Cin + ci0 + ${4 * q + c}u) * u.H + ih) * u.W + iwFirst;`);
      for (const j of range(TP)) {
        S.push(`    if (iwFirst + ${sW * j}u < u.W) { gx[xb + ${sW * j}u] = a${j}_${q}[${c}]; }`);
      }
      S.push(`  }`);
    }
  }
  return S.join("\n");
}

const gradInputProgram = conv.unrolledProgram(
  "gin",
  {
    uniforms: {
      ...conv.SHAPE_UNIFORMS,
      cp4: "u32",
      pH: "u32",
      pW: "u32",
      nb: "u32",
      ciTiles: "u32",
      total: "u32",
    },
    inputs: { gy: "f32", wg: "vec4<f32>" },
    outputs: { gx: "f32" },
  },
  gradInputBody,
);

/** One input-gradient launch: gy [n, Cout, OH, OW] (a batch chunk) and the repacked weight into out. */
export function gradInputLaunch(gy: Tensor, wg: Tensor, out: Tensor, g: Geometry): void {
  const nb = Math.ceil(Math.ceil(g.W / g.sW) / GIN_TP);
  const ciTiles = Math.ceil(g.Cin / GIN_TC);
  const total = gy.shape[0] * ciTiles * g.H * g.sW * nb;
  launch(gradInputProgram(g.kH, g.kW, g.sH, g.sW), {
    uniforms: {
      ...conv.shapeValues(g),
      cp4: wg.shape[1] / 4,
      pH: g.pH,
      pW: g.pW,
      nb,
      ciTiles,
      total,
    },
    inputs: { gy, wg },
    outputs: { gx: out },
    invocations: total,
  });
}
