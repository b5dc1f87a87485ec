/**
 * WGSL generator pieces shared by the conv2d kernels (kernels/conv2d_forward.ts, kernels/conv2d_backward_data.ts,
 * kernels/conv2d_backward_weight.ts): the shape uniforms, the program variants unrolled over kernel size and
 * stride, the invocation-index prologue, and the clamped, zero-masked loads of one row segment.
 */
import { type ElementType, type Program, program, type UniformType, variants } from "../engine/kernel.ts";
import { type Geometry, range, WG } from "./conv2d_geometry.ts";

/** The shape uniforms every conv2d kernel starts its parameter block with, in struct order. */
export const SHAPE_UNIFORMS = {
  Cin: "u32",
  H: "u32",
  W: "u32",
  Cout: "u32",
  OH: "u32",
  OW: "u32",
} as const;

/** The values of {@link SHAPE_UNIFORMS} for a launch. */
export function shapeValues(g: Geometry): Record<keyof typeof SHAPE_UNIFORMS, number> {
  return { Cin: g.Cin, H: g.H, W: g.W, Cout: g.Cout, OH: g.OH, OW: g.OW };
}

/** Bindings of an unrolled conv2d program. */
export interface UnrolledDef<
  U extends Record<string, UniformType>,
  I extends Record<string, ElementType>,
  O extends Record<string, ElementType>,
> {
  uniforms: U;
  inputs: I;
  outputs: O;
}

/**
 * The memoized programs `conv2d:<kind>:kH:kW:sH:sW<suffix>` of one kernel, its WGSL body unrolled over the
 * kernel size and the stride.
 */
export function unrolledProgram<
  const U extends Record<string, UniformType>,
  const I extends Record<string, ElementType>,
  const O extends Record<string, ElementType>,
>(
  kind: string,
  def: UnrolledDef<U, I, O>,
  body: (kH: number, kW: number, sH: number, sW: number) => string,
  suffix = "",
): (kH: number, kW: number, sH: number, sW: number) => Program<U, I, O> {
  return variants((kH: number, kW: number, sH: number, sW: number) =>
    program({
      name: `conv2d:${kind}:${kH}:${kW}:${sH}:${sW}${suffix}`,
      uniforms: def.uniforms,
      inputs: def.inputs,
      outputs: def.outputs,
      workgroupSize: WG,
      body: body(kH, kW, sH, sW),
    })
  );
}

/**
 * The start of a body (leading newline included): `i` = gidx, the bounds check against `u.total`, and `i`
 * split into mixed-radix digits, least significant first (`[name, radix]`), the remaining quotient named `last`.
 */
export function indexPrologue(digits: readonly (readonly [string, string])[], last: string): string {
  const S = ["", "  let i = gidx;", "  if (i >= u.total) { return; }"];
  digits.forEach(([name, radix], k) => {
    const from = k === 0 ? "i" : "t";
    S.push(`  let ${name} = ${from} % ${radix};`);
    if (k === digits.length - 1) S.push(`  let ${last} = ${from} / ${radix};`);
    else S.push(k === 0 ? `  var t = i / ${radix};` : `  t = t / ${radix};`);
  });
  return S.join("\n");
}

/**
 * Per segment position t < L: the column `at(t)` clamped to [0, max] (`c<t>`) and whether it was inside
 * (`v<t>`).
 */
export function clampedColumns(indent: string, L: number, at: (t: number) => string, max: string): string[] {
  return range(L).map((t) => {
    const col = at(t);
    return `${indent}let c${t} = u32(clamp(${col}, 0, ${max})); let v${t} = ${col} >= 0 && ${col} <= ${max};`;
  });
}

/** Per segment position t < L: `s<t>` = buf[base + c<t>], or 0 where the column was outside. */
export function segmentLoads(indent: string, L: number, buf: string, base: string): string[] {
  return range(L).map((t) => `${indent}let s${t} = select(0.0, ${buf}[${base} + c${t}], v${t});`);
}

/** The TP x Q vec4 accumulators `a<j>_<q>`, zeroed. */
export function tileAccumulators(TP: number, Q: number): string[] {
  return range(TP).flatMap((j) => range(Q).map((q) => `  var a${j}_${q} = vec4<f32>(0.0);`));
}

/**
 * The write-out of a tile of Q vec4 channels: per channel 4q + c, `lines(q, c, ch)` (ch: the channel as a WGSL
 * expression, `first` + 4q + c) inside `if (ch < count) { ... }`.
 */
export function channelWrites(
  Q: number,
  first: string,
  count: string,
  lines: (q: number, c: number, ch: string) => string[],
): string[] {
  return range(Q).flatMap((q) =>
    range(4).flatMap((c) => {
      const ch = `${first} + ${4 * q + c}u`;
      return [`  if (${ch} < ${count}) {`, ...lines(q, c, ch), `  }`];
    })
  );
}
