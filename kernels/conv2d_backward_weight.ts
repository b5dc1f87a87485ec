/**
 * The conv2d weight- and bias-gradient kernels (backward weight; host side: kernels/conv2d.ts): reductions
 * over N x OH x OW, register-tiled with no workgroup memory and no atomics.
 *
 * The rows (n, oh) are cut into chunks of whole rows (about GW_CHUNK_POSITIONS output positions); an
 * invocation owns TC output channels x one input channel x all kH x kW taps over one chunk and writes a
 * partial sum at its chunk's row of `part`; the caller sums the partials over the chunks. The bias gradient
 * uses the same chunks. Within a chunk the sums
 * run row by row, then over TQ-column steps (fma, f32).
 *
 * The weight-gradient WGSL is unrolled over the kernel size and the stride, which are in the program's name.
 */
import { launch, program } from "../engine/kernel.ts";
import type { Tensor } from "../engine/tensor.ts";
import { type Geometry, range, WG } from "./conv2d_geometry.ts";
import {
  channelWrites,
  clampedColumns,
  indexPrologue,
  segmentLoads,
  SHAPE_UNIFORMS,
  shapeValues,
  unrolledProgram,
} from "./conv2d_wgsl_common.ts";

/** Weight-gradient tile: output channels per invocation, and output columns per inner step. */
const GW_TC = 8;
const GW_TQ = 4;
/** Output positions summed by one weight-gradient invocation (whole rows, at least one). */
const GW_CHUNK_POSITIONS = 2048;

/** Rows (n, oh) of one partial sum. */
export function rowsPerChunk(OW: number): number {
  return Math.max(1, Math.ceil(GW_CHUNK_POSITIONS / OW));
}

/** One TQ-column step of one row: the gradients of TC channels x TQ columns, and the FMAs of every tap. */
function columnStep(kH: number, kW: number, sW: number): string[] {
  const TQ = GW_TQ, Q = GW_TC / 4;
  const L = (TQ - 1) * sW + kW;
  const S: string[] = [];
  S.push(`    for (var ow0 = 0u; ow0 < u.OW; ow0 += ${TQ}u) {
      let iw0 = i32(ow0 * ${sW}u) - u.pW;`);
  for (const j of range(TQ)) {
    S.push(`      let oc${j} = min(ow0 + ${j}u, u.OW - 1u);`);
    for (const q of range(Q)) {
      S.push(
        `      let g${j}_${q} = select(vec4<f32>(0.0), cm${q}, ow0 + ${j}u < u.OW) * vec4<f32>(${
          range(4).map((c) => `gy[gb${4 * q + c} + oc${j}]`).join(", ")
        });`,
      );
    }
  }
  S.push(...clampedColumns("      ", L, (t) => `iw0 + ${t}`, "wmax"));
  for (const kh of range(kH)) {
    S.push(`      if (rv${kh}) {`);
    S.push(...segmentLoads("        ", L, "xs", `xr${kh}`));
    for (const kw of range(kW)) {
      for (const j of range(TQ)) {
        for (const q of range(Q)) {
          S.push(
            `        a${kh}_${kw}_${q} = fma(g${j}_${q}, vec4<f32>(s${j * sW + kw}), a${kh}_${kw}_${q});`,
          );
        }
      }
    }
    S.push(`      }`);
  }
  S.push(`    }`);
  return S;
}

function gradWeightBody(kH: number, kW: number, sH: number, sW: number): string {
  const TC = GW_TC, Q = TC / 4;
  const S: string[] = [];
  S.push(indexPrologue([["ct", "u.coTiles"], ["ci", "u.Cin"]], "ch"));
  S.push(`  let co0 = ct * ${TC}u;
  let r0 = ch * u.R;
  let r1 = min(r0 + u.R, u.rows);
  let wmax = i32(u.W) - 1;
  let plane = u.OH * u.OW;`);
  for (const q of range(Q)) {
    S.push(
      `  let cm${q} = vec4<f32>(${
        range(4).map((c) => `select(0.0, 1.0, co0 + ${4 * q + c}u < u.Cout)`).join(", ")
      });`,
    );
  }
  for (const c of range(TC)) S.push(`  let cc${c} = min(co0 + ${c}u, u.Cout - 1u);`);
  for (const kh of range(kH)) {
    for (const kw of range(kW)) for (const q of range(Q)) S.push(`  var a${kh}_${kw}_${q} = vec4<f32>(0.0);`);
  }
  S.push(`  for (var r = r0; r < r1; r++) {
    let n = r / u.OH;
    let oh = r % u.OH;
    let ih0 = i32(oh * ${sH}u) - u.pH;
    let gbase = n * u.Cout * plane + oh * u.OW;
    let xplane = (n * u.Cin + ci) * u.H;`);
  for (const c of range(TC)) S.push(`    let gb${c} = gbase + cc${c} * plane;`);
  for (const kh of range(kH)) {
    S.push(`    let rv${kh} = ih0 + ${kh} >= 0 && ih0 + ${kh} < i32(u.H);
    let xr${kh} = (xplane + u32(clamp(ih0 + ${kh}, 0, i32(u.H) - 1))) * u.W;`);
  }
  S.push(...columnStep(kH, kW, sW));
  S.push(`  }
  let K = u.Cin * ${kH * kW}u;
  let pb = (u.chunkBase + ch) * u.Cout * K + ci * ${kH * kW}u;`);
  S.push(
    ...channelWrites(
      Q,
      "co0",
      "u.Cout",
      (q, c, co) =>
        range(kH).flatMap((kh) =>
          range(kW).map((kw) => `    part[pb + (${co}) * K + ${kh * kW + kw}u] = a${kh}_${kw}_${q}[${c}];`)
        ),
    ),
  );
  return S.join("\n");
}

const gradWeightProgram = unrolledProgram(
  "gw",
  {
    uniforms: {
      ...SHAPE_UNIFORMS,
      pH: "i32",
      pW: "i32",
      rows: "u32",
      R: "u32",
      chunkBase: "u32",
      coTiles: "u32",
      total: "u32",
    },
    inputs: { xs: "f32", gy: "f32" },
    outputs: { part: "f32" },
  },
  gradWeightBody,
);

const gradBiasProgram = program({
  name: "conv2d:gb",
  uniforms: { Cout: "u32", OH: "u32", OW: "u32", rows: "u32", R: "u32", chunkBase: "u32", total: "u32" },
  inputs: { gy: "f32" },
  outputs: { part: "f32" },
  workgroupSize: WG,
  body: `
  let i = gidx;
  if (i >= u.total) { return; }
  let co = i % u.Cout;
  let ch = i / u.Cout;
  let r0 = ch * u.R;
  let r1 = min(r0 + u.R, u.rows);
  var acc = vec4<f32>(0.0);
  var tail = 0.0;
  let ow4 = u.OW & ~3u;
  for (var r = r0; r < r1; r++) {
    let base = ((r / u.OH) * u.Cout + co) * u.OH * u.OW + (r % u.OH) * u.OW;
    for (var ow = 0u; ow < ow4; ow += 4u) {
      acc += vec4<f32>(gy[base + ow], gy[base + ow + 1u], gy[base + ow + 2u], gy[base + ow + 3u]);
    }
    for (var ow = ow4; ow < u.OW; ow++) { tail += gy[base + ow]; }
  }
  part[(u.chunkBase + ch) * u.Cout + co] = acc.x + acc.y + acc.z + acc.w + tail;`,
});

/** Partial weight gradients of a batch chunk (x, gy) into rows chunkBase.. of part [chunks, Cout Cin kH kW]. */
export function gradWeightLaunch(x: Tensor, gy: Tensor, part: Tensor, chunkBase: number, g: Geometry): void {
  const rows = x.shape[0] * g.OH;
  const R = rowsPerChunk(g.OW);
  const coTiles = Math.ceil(g.Cout / GW_TC);
  const total = coTiles * g.Cin * Math.ceil(rows / R);
  launch(gradWeightProgram(g.kH, g.kW, g.sH, g.sW), {
    uniforms: { ...shapeValues(g), pH: g.pH, pW: g.pW, rows, R, chunkBase, coTiles, total },
    inputs: { xs: x, gy },
    outputs: { part },
    invocations: total,
  });
}

/** Partial bias gradients of a batch chunk gy into rows chunkBase.. of part [chunks, Cout]. */
export function gradBiasLaunch(gy: Tensor, part: Tensor, chunkBase: number, g: Geometry): void {
  const rows = gy.shape[0] * g.OH;
  const R = rowsPerChunk(g.OW);
  const total = Math.ceil(rows / R) * g.Cout;
  launch(gradBiasProgram, {
    uniforms: { Cout: g.Cout, OH: g.OH, OW: g.OW, rows, R, chunkBase, total },
    inputs: { gy },
    outputs: { part },
    invocations: total,
  });
}
