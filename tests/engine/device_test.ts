import { commands, GpuError, tensor } from "../../engine/mod.ts";
import { launch } from "../../engine/kernel.ts";
import "../harness.ts";
import * as assert from "node:assert/strict";

Deno.test("a GPU validation error becomes a GpuError that names the operation", async () => {
  const t = tensor([1, 2, 3], [3]);
  launch({
    key: "test:broken-shader",
    // Stores into a read-only binding: the WGSL compiler rejects it.
    wgsl: () => `
@group(0) @binding(1) var<storage, read> x: array<f32>;
@compute @workgroup_size(1) fn main() { x[0] = 1.0; }`,
    tensors: [t],
    workgroups: [1, 1, 1],
  });
  let error: unknown = null;
  for (let i = 0; i < 20 && !error; i++) {
    try {
      await commands().sync("checking a broken kernel");
      await new Promise((r) => setTimeout(r, 10));
    } catch (e) {
      error = e;
    }
  }
  assert.ok(error instanceof GpuError, `expected a GpuError, got ${error}`);
  assert.match((error as Error).message, /test:broken-shader/);
  t.dispose();
  // The engine keeps working after the error has been reported.
  const u = tensor([4, 5], [2]);
  assert.deepEqual(Array.from(await u.data()), [4, 5]);
  u.dispose();
});

Deno.test("an operand over the storage binding limit is refused with a clear error", () => {
  const t = tensor([1], [1]);
  const pipeline = commands().pipeline("test:noop", () => `
@group(0) @binding(1) var<storage, read_write> x: array<f32>;
@compute @workgroup_size(1) fn main() { x[0] = 1.0; }`);
  const fake = { size: 2 ** 31 } as GPUBuffer;
  assert.throws(
    () => commands().dispatch(pipeline, [fake], null, [1, 1, 1], "test:huge"),
    /test:huge: a 2147483648-byte operand exceeds this adapter's \d+-byte binding limit/,
  );
  t.dispose();
});
