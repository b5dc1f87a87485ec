/**
 * The conv2d forward kernel (host side: kernels/conv2d.ts), an implicit GEMM with register tiling and no
 * workgroup memory.
 *
 * Each invocation owns TC output channels x TP neighbouring output columns of one output row. For every input
 * channel and kernel row it loads the one input-row segment all TP x kW taps need (with stride s that is
 * (TP - 1) s + kW values) and TC/4 vec4s of weights per tap, then does TP x kW vec4 FMAs. Weights are first
 * repacked to [Cin kH kW, Cout padded to TC] (kernels/conv2d_repack.ts) so the TC channels of a tap are
 * contiguous vec4s. Input columns outside [0, W) are clamped for the load and read as zero; each output
 * accumulates (fma, f32) kernel row by kernel row, then input channel, then tap, and adds the bias last.
 *
 * The WGSL is unrolled over the kernel size and the stride, which are in the program's name.
 */
import { launch } from "../engine/kernel.ts";
import type { Tensor } from "../engine/tensor.ts";
import { type Geometry, range } from "./conv2d_geometry.ts";
import * as conv from "./conv2d_wgsl_common.ts";

/** Forward tile: output channels x output columns per invocation. */
export const FWD_TC = 8;
const FWD_TP = 8;

/** Per kernel row: the input-row segment, the weights of its taps, and the TP x kW FMAs. */
function kernelRow(kh: number, kH: number, kW: number, sW: number, L: number): string[] {
  const Q = FWD_TC / 4;
  const S: string[] = [];
  S.push(`  if (ih0 + ${kh} >= 0 && ih0 + ${kh} < i32(u.H)) {
    var row = (n * u.Cin * u.H + u32(ih0 + ${kh})) * u.W;
    var wk = ${kh * kW}u * u.cp4 + ct * ${Q}u;
    for (var ci = 0u; ci < u.Cin; ci++) {`);
  S.push(...conv.segmentLoads("      ", L, "xs", "row"));
  for (const kw of range(kW)) {
    for (const q of range(Q)) S.push(`      let w${kw}_${q} = wf[wk + ${kw}u * u.cp4 + ${q}u];`);
  }
  for (const kw of range(kW)) {
    for (const j of range(FWD_TP)) {
      for (const q of range(Q)) {
        S.push(`      a${j}_${q} = fma(vec4<f32>(s${j * sW + kw}), w${kw}_${q}, a${j}_${q});`);
      }
    }
  }
  S.push(`      row += u.H * u.W;
      wk += ${kH * kW}u * u.cp4;
    }
  }`);
  return S;
}

function forwardBody(kH: number, kW: number, sH: number, sW: number, hasBias: boolean): string {
  const TC = FWD_TC, TP = FWD_TP, Q = TC / 4;
  const L = (TP - 1) * sW + kW;
  const S: string[] = [];
  S.push(conv.indexPrologue([["pb", "u.nPB"], ["oh", "u.OH"], ["ct", "u.coTiles"]], "n"));
  S.push(`  let ow0 = pb * ${TP}u;
  let co0 = ct * ${TC}u;
  let iw0 = i32(ow0 * ${sW}u) - u.pW;
  let ih0 = i32(oh * ${sH}u) - u.pH;
  let wmax = i32(u.W) - 1;`);
  S.push(...conv.clampedColumns("  ", L, (t) => `iw0 + ${t}`, "wmax"));
  S.push(...conv.tileAccumulators(TP, Q));
  for (const kh of range(kH)) S.push(...kernelRow(kh, kH, kW, sW, L));
  S.push(...conv.channelWrites(Q, "co0", "u.Cout", (q, c, co) => [
    `    let co = ${co};
    let b = ${hasBias ? "bs[co]" : "0.0"};
    let yb = ((n * u.Cout + co) * u.OH + oh) * u.OW + ow0;`,
    ...range(TP).map((j) => `    if (ow0 + ${j}u < u.OW) { ys[yb + ${j}u] = a${j}_${q}[${c}] + b; }`),
  ]));
  return S.join("\n");
}

const UNIFORMS = {
  ...conv.SHAPE_UNIFORMS,
  cp4: "u32",
  pH: "i32",
  pW: "i32",
  nPB: "u32",
  coTiles: "u32",
  total: "u32",
} as const;

const withBias = conv.unrolledProgram(
  "fwd",
  { uniforms: UNIFORMS, inputs: { xs: "f32", wf: "vec4<f32>", bs: "f32" }, outputs: { ys: "f32" } },
  (kH, kW, sH, sW) => forwardBody(kH, kW, sH, sW, true),
  ":1",
);

const withoutBias = conv.unrolledProgram(
  "fwd",
  { uniforms: UNIFORMS, inputs: { xs: "f32", wf: "vec4<f32>" }, outputs: { ys: "f32" } },
  (kH, kW, sH, sW) => forwardBody(kH, kW, sH, sW, false),
  ":0",
);

/** One forward launch: x [n, Cin, H, W] (a batch chunk) and the repacked weight `wf` into out [n, Cout, OH, OW]. */
export function forwardLaunch(x: Tensor, wf: Tensor, bias: Tensor | null, out: Tensor, g: Geometry): void {
  const nPB = Math.ceil(g.OW / FWD_TP);
  const coTiles = Math.ceil(g.Cout / FWD_TC);
  const total = x.shape[0] * g.OH * nPB * coTiles;
  const { kH, kW, sH, sW } = g;
  const uniforms = {
    ...conv.shapeValues(g),
    cp4: wf.shape[1] / 4,
    pH: g.pH,
    pW: g.pW,
    nPB,
    coTiles,
    total,
  };
  const outputs = { ys: out };
  if (bias) {
    launch(withBias(kH, kW, sH, sW), {
      uniforms,
      inputs: { xs: x, wf, bs: bias },
      outputs,
      invocations: total,
    });
  } else {
    launch(withoutBias(kH, kW, sH, sW), { uniforms, inputs: { xs: x, wf }, outputs, invocations: total });
  }
}
