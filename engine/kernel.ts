/**
 * The one way kernels are launched: a cached pipeline, storage tensors bound in order after the parameter
 * block, and a workgroup grid that stays under the per-dimension limit (65535) by folding into y.
 *
 * New kernels are {@link Program}s (engine/program.ts: named uniforms, inputs and outputs; the engine generates
 * the struct, the bindings and the packing) launched with `launch(program, { uniforms, inputs, outputs, ... })`.
 * Every kernel is a program. The positional form `launch({ key, wgsl, tensors, params, workgroups })` stays for
 * one-off shaders written whole by hand (tests of the engine itself).
 */
import { commands } from "./commands.ts";
import { profiling } from "./profiler.ts";
import { type LaunchArgs, launchProgram, type Program } from "./program.ts";
import type { Tensor } from "./tensor.ts";

export {
  bindTensors,
  type ElementType,
  FLAT_ARGS,
  flatIndex,
  generateWgsl,
  type LaunchArgs,
  packUniforms,
  type Program,
  program,
  type ProgramDef,
  type UniformType,
  variants,
} from "./program.ts";

/** Marks a parameter word as f32 (plain numbers are packed as 32-bit integers). */
export class F32 {
  constructor(readonly value: number) {}
}
export const f32 = (value: number): F32 => new F32(value);

/** Packs parameter words (i32/u32 integers and {@link f32} floats) in order, 4 bytes each. */
export function packParams(words: readonly (number | F32)[]): ArrayBuffer {
  const buf = new ArrayBuffer(Math.max(16, Math.ceil(words.length / 4) * 16));
  const i32 = new Int32Array(buf);
  const fl = new Float32Array(buf);
  words.forEach((w, i) => {
    if (w instanceof F32) fl[i] = w.value;
    else i32[i] = w | 0;
  });
  return buf;
}

/**
 * Workgroup counts covering `n` invocations of `wgSize` each. Shaders get the flat invocation index as
 * `gid.x + gid.y * nwg.x * WG` (see {@link FLAT_INDEX}).
 */
export function grid1d(n: number, wgSize: number): [number, number, number] {
  const groups = Math.max(1, Math.ceil(n / wgSize));
  if (groups <= 65535) return [groups, 1, 1];
  const y = Math.ceil(groups / 65535);
  return [Math.ceil(groups / y), y, 1];
}

export interface Launch {
  /** Cache key of the pipeline: must determine the WGSL completely. */
  key: string;
  wgsl: () => string;
  /** Storage bindings 1..n, in order. */
  tensors: readonly Tensor[];
  params?: readonly (number | F32)[];
  workgroups: readonly [number, number, number];
}

/**
 * Records one kernel launch (while profiling, also counts and times it: engine/profiler.ts): a {@link Program}
 * with its named uniforms and tensors, or (not yet migrated kernels) a positional {@link Launch}.
 */
export function launch<P extends Program>(program: P, args: LaunchArgs<P>): void;
export function launch(l: Launch): void;
export function launch(l: Launch | Program, args?: LaunchArgs<Program>): void {
  if (args !== undefined) return launchProgram(l as Program, args);
  if (!("key" in l)) throw new TypeError(`${l.name}: launch(program, args) needs its arguments`);
  const rec = commands();
  if (profiling) rec.profileLaunch(l.key);
  const pipeline = rec.pipeline(l.key, l.wgsl);
  rec.dispatch(
    pipeline,
    l.tensors.map((t) => t.buffer),
    l.params ? packParams(l.params) : null,
    l.workgroups,
    l.key,
  );
}
