/**
 * Kernel programs: the one description of a kernel launch. A program names its uniforms (in order, with WGSL
 * types), its read-only inputs and its read-write outputs (in order, with element types), its workgroup size
 * and its WGSL body; the engine generates everything else — the `struct P` of the uniforms, the
 * `@group(0) @binding(k)` declarations, the entry point — and packs the uniform values given by name into the
 * parameter block with WGSL's layout rules. A parameter can therefore never be bound or packed at the wrong
 * position: names are matched, and a missing or extra name is an error naming the kernel.
 *
 * Generated layout (what engine/commands.ts expects):
 *
 * - binding 0: `var<uniform> u: P` (only when the program has uniforms; engine/commands.ts rewrites it to
 *   read-only storage on the CPU adapter, which matches `var<uniform>` followed by ` u:`);
 * - bindings 1..: the inputs (`var<storage, read> name: array<T>`), then the outputs
 *   (`var<storage, read_write> name: array<T>`), each in declaration order;
 * - `helpers` (functions, constants, workgroup variables), then
 *   `@compute @workgroup_size(..) fn main(FLAT_ARGS, lid)`; with a 1-D workgroup size the body starts with
 *   `let gidx = <flat invocation index>;` (matching {@link grid1d}-style grids).
 *
 * The program's `name` is its pipeline cache key (and its profiler key: engine/profiler.ts maps the part before
 * the first ':' to a kernel family). Programs whose WGSL depends on a variant are made by a function of the
 * variant ({@link variants}) with the variant in the name; two programs of one name with different WGSL are an
 * error at their first launch.
 */
import { commands } from "./commands.ts";
import { profiling } from "./profiler.ts";
import type { Tensor } from "./tensor.ts";

/** WGSL entry-point arguments and the flat index matching `grid1d` (engine/kernel.ts). */
export const FLAT_ARGS =
  "@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>";
export const flatIndex = (wg: number): string => `gid.x + gid.y * nwg.x * ${wg}u`;

type Scalar = "u32" | "i32" | "f32";
/**
 * A uniform's WGSL type: a scalar, a vector of 2-4 scalars, or a fixed array of 4-vectors (uniform arrays need
 * a 16-byte stride), e.g. `"array<vec4<u32>, 2>"`.
 */
export type UniformType = Scalar | `vec${2 | 3 | 4}<${Scalar}>` | `array<vec4<${Scalar}>, ${number}>`;

/** The value given for a uniform: a number for a scalar, the components (flattened) otherwise. */
export type UniformValue<T extends UniformType> = T extends Scalar ? number : readonly number[];

/** A storage binding's element type, e.g. "f32", "i32", "vec4<f32>", "atomic<u32>". */
export type ElementType = string;

export interface ProgramDef<
  U extends Record<string, UniformType> = Record<string, UniformType>,
  I extends Record<string, ElementType> = Record<string, ElementType>,
  O extends Record<string, ElementType> = Record<string, ElementType>,
> {
  /** Pipeline cache key and profiler key: must determine the WGSL completely (include the variant). */
  name: string;
  /** Uniforms in struct order; read in WGSL as `u.<name>`. */
  uniforms?: U;
  /** Read-only storage arrays, bound in this order after the uniforms. */
  inputs?: I;
  /** Read-write storage arrays, bound in this order after the inputs. */
  outputs: O;
  /** Invocations per workgroup: a number (1-D, the body gets `gidx`) or [x, y, z]. */
  workgroupSize: number | readonly [number, number, number];
  /** WGSL placed before the entry point: functions, constants, `var<workgroup>` declarations. */
  helpers?: string;
  /** The body of `main` (has `gid`, `nwg`, `lid`, and `gidx` for a 1-D workgroup size). */
  body: string;
}

/** A kernel program (see the module comment). Create with {@link program}. */
export interface Program<
  U extends Record<string, UniformType> = Record<string, UniformType>,
  I extends Record<string, ElementType> = Record<string, ElementType>,
  O extends Record<string, ElementType> = Record<string, ElementType>,
> extends Readonly<ProgramDef<U, I, O>> {
  readonly uniforms: U;
  readonly inputs: I;
  readonly layout: UniformLayout;
  /** The generated WGSL (built once). */
  wgsl(): string;
}

/** Where each uniform lives in the parameter block. */
export interface UniformLayout {
  fields: readonly { name: string; type: UniformType; scalar: Scalar; offset: number; count: number }[];
  /** Bytes of the packed block (a multiple of 16, at least 16); 0 when there are no uniforms. */
  size: number;
}

/** The tensors and uniform values of one launch of `P`. */
export interface LaunchArgs<P extends Program> {
  uniforms?: P extends Program<infer U, infer _I, infer _O> ? { [K in keyof U]: UniformValue<U[K]> } : never;
  inputs?: P extends Program<infer _U, infer I, infer _O> ? { [K in keyof I]: Tensor } : never;
  outputs: P extends Program<infer _U, infer _I, infer O> ? { [K in keyof O]: Tensor } : never;
  /** The workgroup grid; or give `invocations` (1-D programs) and the engine computes it. */
  workgroups?: readonly [number, number, number];
  /** 1-D programs: the number of invocations needed (the grid folds into y past 65535 workgroups). */
  invocations?: number;
}

/** The largest parameter block: one slot of the recorder's uniform arena (engine/commands.ts). */
const MAX_UNIFORM_BYTES = 256;
const IDENT = /^[A-Za-z_][A-Za-z0-9_]*$/;

function parseUniform(kernel: string, name: string, type: string) {
  let m = /^(u32|i32|f32)$/.exec(type);
  if (m) return { scalar: m[1] as Scalar, count: 1, align: 4, size: 4 };
  m = /^vec([234])<(u32|i32|f32)>$/.exec(type);
  if (m) {
    const n = Number(m[1]);
    return { scalar: m[2] as Scalar, count: n, align: n === 2 ? 8 : 16, size: 4 * n };
  }
  m = /^array<vec4<(u32|i32|f32)>,\s*(\d+)>$/.exec(type);
  if (m && Number(m[2]) > 0) {
    const n = Number(m[2]);
    return { scalar: m[1] as Scalar, count: 4 * n, align: 16, size: 16 * n };
  }
  throw new TypeError(`${kernel}: uniform '${name}' has unsupported type '${type}'`);
}

/** The WGSL layout of the uniform struct (offsets and size as WGSL computes them). */
function layoutOf(kernel: string, uniforms: Record<string, UniformType>): UniformLayout {
  const fields: UniformLayout["fields"][number][] = [];
  let offset = 0;
  let align = 16;
  for (const [name, type] of Object.entries(uniforms)) {
    const t = parseUniform(kernel, name, type);
    offset = Math.ceil(offset / t.align) * t.align;
    fields.push({ name, type, scalar: t.scalar, offset, count: t.count });
    offset += t.size;
    align = Math.max(align, t.align);
  }
  if (fields.length === 0) return { fields, size: 0 };
  const size = Math.ceil(offset / align) * align;
  if (size > MAX_UNIFORM_BYTES) {
    throw new RangeError(`${kernel}: ${size} bytes of uniforms exceed the ${MAX_UNIFORM_BYTES}-byte block`);
  }
  return { fields, size };
}

function checkNames(kernel: string, what: string, names: string[]): void {
  const seen = new Set<string>();
  for (const n of names) {
    if (!IDENT.test(n)) throw new TypeError(`${kernel}: ${what} name '${n}' is not a WGSL identifier`);
    if (n === "u" || n === "main" || n === "gid" || n === "nwg" || n === "lid" || n === "gidx") {
      throw new TypeError(`${kernel}: ${what} name '${n}' is reserved`);
    }
    if (seen.has(n)) throw new TypeError(`${kernel}: binding name '${n}' is declared twice`);
    seen.add(n);
  }
}

/** Generates the WGSL of a program definition (exported for tests and docs). */
export function generateWgsl(def: ProgramDef): string {
  const L: string[] = [];
  const uniforms = Object.entries(def.uniforms ?? {});
  if (uniforms.length > 0) {
    L.push("struct P {");
    for (const [name, type] of uniforms) L.push(`  ${name}: ${type},`);
    L.push("};");
    L.push("@group(0) @binding(0) var<uniform> u: P;");
  }
  let binding = 1;
  for (const [name, type] of Object.entries(def.inputs ?? {})) {
    L.push(`@group(0) @binding(${binding++}) var<storage, read> ${name}: array<${type}>;`);
  }
  for (const [name, type] of Object.entries(def.outputs)) {
    L.push(`@group(0) @binding(${binding++}) var<storage, read_write> ${name}: array<${type}>;`);
  }
  if (def.helpers) L.push(def.helpers.trim());
  const wg = def.workgroupSize;
  const size = typeof wg === "number" ? `${wg}` : wg.join(", ");
  L.push(
    `@compute @workgroup_size(${size}) fn main(${FLAT_ARGS}, @builtin(local_invocation_id) lid: vec3<u32>) {`,
  );
  if (typeof wg === "number") L.push(`  let gidx = ${flatIndex(wg)};`);
  L.push(def.body.replace(/^\n+|\s+$/g, ""));
  L.push("}");
  return L.join("\n") + "\n";
}

/** Makes a program from its definition (validates names and the uniform layout now). */
export function program<
  const U extends Record<string, UniformType> = Record<never, UniformType>,
  const I extends Record<string, ElementType> = Record<never, ElementType>,
  const O extends Record<string, ElementType> = Record<string, ElementType>,
>(def: ProgramDef<U, I, O>): Program<U, I, O> {
  const kernel = def.name;
  const uniforms = (def.uniforms ?? {}) as U;
  const inputs = (def.inputs ?? {}) as I;
  checkNames(kernel, "uniform", Object.keys(uniforms));
  checkNames(kernel, "binding", [...Object.keys(inputs), ...Object.keys(def.outputs)]);
  if (Object.keys(def.outputs).length === 0) throw new TypeError(`${kernel}: a program needs an output`);
  const layout = layoutOf(kernel, uniforms);
  let source: string | null = null;
  return {
    ...def,
    uniforms,
    inputs,
    layout,
    wgsl: () => (source ??= generateWgsl(def)),
  };
}

/**
 * Memoizes a function from a variant to its program, so each variant's program (and WGSL) is built once:
 * `const unaryFwd = variants((op: UnaryOp) => program({ name: `unary:${op}`, ... }))`.
 */
export function variants<A extends readonly (string | number | boolean)[], P extends Program>(
  make: (...variant: A) => P,
): (...variant: A) => P {
  const cache = new Map<string, P>();
  return (...variant: A) => {
    const k = variant.join("\u0000");
    let p = cache.get(k);
    if (!p) cache.set(k, p = make(...variant));
    return p;
  };
}

/** Packs named uniform values into the parameter block (null when the program has none). */
export function packUniforms(
  p: Program,
  values: Record<string, number | readonly number[]> = {},
): ArrayBuffer | null {
  const kernel = p.name;
  for (const key of Object.keys(values)) {
    if (!(key in p.uniforms)) throw new TypeError(`${kernel}: unknown uniform '${key}'`);
  }
  if (p.layout.size === 0) return null;
  const buf = new ArrayBuffer(p.layout.size);
  const view = new DataView(buf);
  for (const f of p.layout.fields) {
    const v = values[f.name];
    if (v === undefined) throw new TypeError(`${kernel}: missing uniform '${f.name}'`);
    const words: readonly number[] = typeof v === "number" ? [v] : v;
    if (typeof v === "number" ? f.count !== 1 : words.length !== f.count) {
      throw new TypeError(
        `${kernel}: uniform '${f.name}' (${f.type}) takes ${
          f.count === 1 ? "a number" : `${f.count} numbers`
        }`,
      );
    }
    for (let i = 0; i < words.length; i++) {
      const w = words[i];
      const at = f.offset + 4 * i;
      if (f.scalar === "f32") {
        if (typeof w !== "number") throw new TypeError(`${kernel}: uniform '${f.name}' is not a number`);
        view.setFloat32(at, w, true);
      } else {
        if (!Number.isInteger(w)) {
          throw new TypeError(`${kernel}: uniform '${f.name}' (${f.type}) needs integers, got ${w}`);
        }
        if (f.scalar === "u32") view.setUint32(at, w >>> 0, true);
        else view.setInt32(at, w | 0, true);
      }
    }
  }
  return buf;
}

/** The buffers of a launch in binding order, checking that each declared binding gets a tensor. */
export function bindTensors(
  p: Program,
  inputs: Record<string, Tensor> = {},
  outputs: Record<string, Tensor> = {},
): Tensor[] {
  const kernel = p.name;
  const out: Tensor[] = [];
  const take = (what: string, declared: Record<string, ElementType>, given: Record<string, Tensor>) => {
    for (const key of Object.keys(given)) {
      if (!(key in declared)) throw new TypeError(`${kernel}: unknown ${what} '${key}'`);
    }
    for (const [name, type] of Object.entries(declared)) {
      const t = given[name];
      if (!t) throw new TypeError(`${kernel}: no tensor given for ${what} '${name}'`);
      const want = /f32/.test(type) ? "f32" : /[iu]32/.test(type) ? "i32" : null;
      if (want && t.dtype !== want) {
        throw new TypeError(`${kernel}: ${what} '${name}' (${type}) needs an ${want} tensor, got ${t.dtype}`);
      }
      out.push(t);
    }
  };
  take("input", p.inputs, inputs);
  take("output", p.outputs, outputs);
  return out;
}

/** The workgroup grid of a launch: `workgroups`, or `invocations` folded like `grid1d`. */
function gridOf(p: Program, workgroups?: readonly [number, number, number], invocations?: number) {
  if (workgroups) {
    if (invocations !== undefined) throw new TypeError(`${p.name}: give workgroups or invocations, not both`);
    return workgroups;
  }
  if (invocations === undefined) throw new TypeError(`${p.name}: no workgroups or invocations given`);
  if (typeof p.workgroupSize !== "number") {
    throw new TypeError(`${p.name}: invocations needs a 1-D workgroup size; give workgroups`);
  }
  const groups = Math.max(1, Math.ceil(invocations / p.workgroupSize));
  if (groups <= 65535) return [groups, 1, 1] as const;
  const y = Math.ceil(groups / 65535);
  return [Math.ceil(groups / y), y, 1] as const;
}

/** Names whose WGSL has been compiled, to catch two different programs sharing a cache key. */
const compiled = new Map<string, string>();
const checked = new WeakSet<Program>();

/** Records one launch of a program (while profiling, also counts and times it under its name). */
export function launchProgram<P extends Program>(p: P, args: LaunchArgs<P>): void {
  const tensors = bindTensors(p, args.inputs, args.outputs);
  const params = packUniforms(p, args.uniforms);
  const grid = gridOf(p, args.workgroups, args.invocations);
  if (!checked.has(p)) {
    const code = p.wgsl();
    const prev = compiled.get(p.name);
    if (prev !== undefined && prev !== code) {
      throw new Error(
        `${p.name}: two programs of this name have different WGSL (put the variant in the name)`,
      );
    }
    compiled.set(p.name, code);
    checked.add(p);
  }
  const rec = commands();
  if (profiling) rec.profileLaunch(p.name);
  const pipeline = rec.pipeline(p.name, p.wgsl);
  rec.dispatch(pipeline, tensors.map((t) => t.buffer), params, grid, p.name);
}
