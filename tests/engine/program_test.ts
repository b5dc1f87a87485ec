/** Kernel programs (engine/program.ts): generated WGSL, uniform packing, and the errors of a bad launch. */
import { deepStrictEqual as assertEquals, throws } from "node:assert/strict";
import "../harness.ts";
import { generateWgsl, launch, packUniforms, program } from "../../engine/kernel.ts";
import { empty, tensor } from "../../engine/tensor.ts";
import { binaryProgram } from "../../kernels/elementwise.ts";

/** Asserts that `fn` throws an `E` whose message contains `text`. */
function assertThrows(fn: () => unknown, E: new (...a: never[]) => Error, text: string): void {
  throws(fn, (e: unknown) => {
    if (!(e instanceof E) || !e.message.includes(text)) {
      throw new Error(`expected ${E.name} with "${text}", got ${e}`);
    }
    return true;
  });
}

const HEADER = `struct P {
  n: u32,
  rank: u32,
  asize: u32,
  bsize: u32,
  shape: array<vec4<u32>, 2>,
  astr: array<vec4<u32>, 2>,
  bstr: array<vec4<u32>, 2>,
};
@group(0) @binding(0) var<uniform> u: P;
@group(0) @binding(1) var<storage, read> as_: array<f32>;
@group(0) @binding(2) var<storage, read> bs: array<f32>;
@group(0) @binding(3) var<storage, read_write> o: array<f32>;
`;

const ENTRY = `@compute @workgroup_size(256) fn main(@builtin(global_invocation_id) gid: vec3<u32>, ` +
  `@builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let gidx = gid.x + gid.y * nwg.x * 256u;
  if (gidx >= u.n) { return; }
  let x = as_[gidx];
  let y = bs[gidx % u.bsize];
  o[gidx] = x + y;
}
`;

Deno.test("binary add (bias broadcast): generated WGSL", () => {
  const p = binaryProgram("add", "direct", "mod");
  assertEquals(p.name, "binary:add:direct:mod");
  const wgsl = p.wgsl();
  assertEquals(wgsl.slice(0, HEADER.length), HEADER);
  assertEquals(wgsl.slice(wgsl.length - ENTRY.length), ENTRY);
  // The helper sits between the bindings and the entry point.
  assertEquals(
    wgsl.slice(HEADER.length).startsWith("fn strided_index(flat: u32, str: array<vec4<u32>, 2>)"),
    true,
  );
  // One program per variant, built once.
  assertEquals(binaryProgram("add", "direct", "mod") === p, true);
  assertEquals(binaryProgram("add", "mod", "direct").name, "binary:add:mod:direct");
});

Deno.test("binary add: packed uniforms follow the struct, not the order of the keys", () => {
  const p = binaryProgram("add", "direct", "mod");
  assertEquals(p.layout.size, 112);
  assertEquals(p.layout.fields.map((f) => [f.name, f.offset]), [
    ["n", 0],
    ["rank", 4],
    ["asize", 8],
    ["bsize", 12],
    ["shape", 16],
    ["astr", 48],
    ["bstr", 80],
  ]);
  const buf = packUniforms(p, {
    bstr: [0, 1, 0, 0, 0, 0, 0, 0],
    astr: [3, 1, 0, 0, 0, 0, 0, 0],
    shape: [2, 3, 1, 1, 1, 1, 1, 1],
    bsize: 3,
    asize: 6,
    rank: 2,
    n: 6,
  })!;
  const words = Array.from(new Uint32Array(buf));
  assertEquals(words.slice(0, 4), [6, 2, 6, 3]); // n rank asize bsize
  assertEquals(words.slice(4, 12), [2, 3, 1, 1, 1, 1, 1, 1]); // shape
  assertEquals(words.slice(12, 20), [3, 1, 0, 0, 0, 0, 0, 0]); // astr
  assertEquals(words.slice(20), [0, 1, 0, 0, 0, 0, 0, 0]); // bstr
});

Deno.test("f32 uniforms pack as floats, i32 as signed ints; vectors align to WGSL's rules", () => {
  const p = program({
    name: "test:layout",
    uniforms: { s: "f32", k: "i32", v: "vec4<f32>", w: "vec2<u32>", t: "u32" },
    outputs: { o: "f32" },
    workgroupSize: 64,
    body: "  o[gidx] = u.s;",
  });
  assertEquals(p.layout.fields.map((f) => f.offset), [0, 4, 16, 32, 40]);
  assertEquals(p.layout.size, 48);
  const buf = packUniforms(p, { s: 0.5, k: -3, v: [1, 2, 3, 4], w: [7, 8], t: 9 })!;
  const f = new Float32Array(buf);
  const i = new Int32Array(buf);
  assertEquals([f[0], i[1], i[2], i[3]], [0.5, -3, 0, 0]);
  assertEquals(Array.from(f.slice(4, 8)), [1, 2, 3, 4]);
  assertEquals(Array.from(i.slice(8, 12)), [7, 8, 9, 0]);
  // No uniforms: no struct, no binding 0, no parameter block.
  const bare = program({
    name: "test:bare",
    outputs: { o: "i32" },
    workgroupSize: [8, 8, 1],
    body: "  o[0] = 1;",
  });
  assertEquals(
    generateWgsl(bare).split("\n")[0],
    "@group(0) @binding(1) var<storage, read_write> o: array<i32>;",
  );
  assertEquals(packUniforms(bare, {}), null);
});

Deno.test("a missing or extra uniform, a missing binding or a wrong dtype is an error naming kernel and key", () => {
  const p = binaryProgram("mul", "direct", "direct");
  const words = (v: number) => new Array<number>(8).fill(v);
  const ok = { n: 4, rank: 1, asize: 4, bsize: 4, shape: words(1), astr: words(0), bstr: words(0) };
  const { rank: _, ...missing } = ok;
  assertThrows(() => packUniforms(p, missing), TypeError, "binary:mul:direct:direct: missing uniform 'rank'");
  assertThrows(
    () => packUniforms(p, { ...ok, scale: 2 }),
    TypeError,
    "binary:mul:direct:direct: unknown uniform 'scale'",
  );
  assertThrows(() => packUniforms(p, { ...ok, n: 2.5 }), TypeError, "uniform 'n' (u32) needs integers");
  assertThrows(
    () => packUniforms(p, { ...ok, shape: [1, 2] }),
    TypeError,
    "uniform 'shape' (array<vec4<u32>, 2>) takes 8",
  );

  const a = tensor(new Float32Array([1, 2, 3, 4]), [4]);
  const o = empty([4], "f32");
  const idx = empty([4], "i32");
  const args = { uniforms: ok, inputs: { as_: a }, outputs: { o }, invocations: 4 };
  assertThrows(
    () => launch(p, args as unknown as Parameters<typeof launch<typeof p>>[1]),
    TypeError,
    "binary:mul:direct:direct: no tensor given for input 'bs'",
  );
  assertThrows(
    () =>
      launch(
        p,
        { ...args, inputs: { as_: a, bs: a, cs: a } } as unknown as Parameters<typeof launch<typeof p>>[1],
      ),
    TypeError,
    "binary:mul:direct:direct: unknown input 'cs'",
  );
  assertThrows(
    () => launch(p, { ...args, inputs: { as_: a, bs: idx } }),
    TypeError,
    "binary:mul:direct:direct: input 'bs' (f32) needs an f32 tensor, got i32",
  );
  a.dispose();
  o.dispose();
  idx.dispose();
});

Deno.test("a program runs on the GPU; a second program with the same name but other WGSL is refused", async () => {
  const axpy = program({
    name: "test:axpy",
    uniforms: { n: "u32", alpha: "f32" },
    inputs: { x: "f32", y: "f32" },
    outputs: { o: "f32" },
    workgroupSize: 64,
    body: `
  if (gidx >= u.n) { return; }
  o[gidx] = u.alpha * x[gidx] + y[gidx];`,
  });
  const x = tensor(new Float32Array([1, 2, 3]), [3]);
  const y = tensor(new Float32Array([10, 20, 30]), [3]);
  const o = empty([3], "f32");
  launch(axpy, { uniforms: { n: 3, alpha: 0.5 }, inputs: { x, y }, outputs: { o }, invocations: 3 });
  assertEquals(Array.from(await o.data()), [10.5, 21, 31.5]);
  const other = program({ ...axpy, body: "  o[gidx] = x[gidx] + y[gidx] + u.alpha + f32(u.n);" });
  assertThrows(
    () => launch(other, { uniforms: { n: 3, alpha: 0 }, inputs: { x, y }, outputs: { o }, invocations: 3 }),
    Error,
    "test:axpy: two programs of this name have different WGSL",
  );
  x.dispose();
  y.dispose();
  o.dispose();
});
