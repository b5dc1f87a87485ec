import assert from "node:assert/strict";
import {
  loadSafetensorsFile,
  readSafetensors,
  type SafeTensor,
  SafetensorsError,
  saveSafetensorsFile,
  writeSafetensors,
} from "../../model/safetensors.ts";

const FIXTURES = new URL("../fixtures/torch/", import.meta.url);

/** Deterministic pseudo-random numbers (xorshift32) so failures reproduce. */
function randomFloats(n: number, seed: number): Float32Array {
  let s = seed >>> 0 || 1;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    out[i] = (s / 0xffffffff) * 8 - 4;
  }
  return out;
}

function sampleTensors(): Record<string, SafeTensor> {
  return {
    "z.weight": { dtype: "F32", shape: [3, 5, 7], data: randomFloats(105, 7) },
    "a.bias": { dtype: "F64", shape: [5], data: Float64Array.from([1e-300, -2.5, Math.PI, 0, -0]) },
    "m.half": {
      dtype: "F16",
      shape: [2, 3],
      data: Float32Array.from([0, 1, -2, 0.5, 65504, 6.103515625e-5]),
    },
    "i.count": { dtype: "I32", shape: [4], data: Int32Array.from([0, -1, 2147483647, -2147483648]) },
    "i.long": { dtype: "I64", shape: [2, 2], data: Int32Array.from([7, -8, 2147483647, -2147483648]) },
    "u.bytes": { dtype: "U8", shape: [3], data: Uint8Array.from([0, 128, 255]) },
    "b.mask": { dtype: "BOOL", shape: [2], data: Uint8Array.from([1, 0]) },
    "s.scalar": { dtype: "F32", shape: [], data: Float32Array.from([42.5]) },
    "e.empty": { dtype: "F32", shape: [0, 4], data: new Float32Array(0) },
  };
}

/** Builds a file from a raw header object and data bytes, to make corrupt files on purpose. */
function rawFile(header: unknown, data: Uint8Array, pad = 0): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(header) + " ".repeat(pad));
  const out = new Uint8Array(8 + json.byteLength + data.byteLength);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.byteLength), true);
  out.set(json, 8);
  out.set(data, 8 + json.byteLength);
  return out;
}

function assertSafetensorsError(fn: () => unknown, pattern: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof SafetensorsError, `expected SafetensorsError, got ${e}`);
    assert.match((e as Error).message, pattern);
    return true;
  });
}

Deno.test("safetensors: round trip keeps every dtype, shape and value", () => {
  const tensors = sampleTensors();
  const bytes = writeSafetensors(tensors, { format: "pt", note: "ünïcode" });
  const { tensors: back, metadata } = readSafetensors(bytes, "roundtrip");
  assert.deepEqual(metadata, { format: "pt", note: "ünïcode" });
  assert.equal(back.size, Object.keys(tensors).length);
  for (const [name, t] of Object.entries(tensors)) {
    const got = back.get(name);
    assert.ok(got, name);
    assert.equal(got.dtype, t.dtype, name);
    assert.deepEqual(got.shape, t.shape, name);
    assert.equal(got.data.constructor, t.data.constructor, name);
    assert.deepEqual(Array.from(got.data), Array.from(t.data), name);
  }
  assert.ok(Object.is(back.get("a.bias")!.data[4], -0));
  assert.deepEqual(Array.from(back.get("i.long")!.int64!), [7n, -8n, 2147483647n, -2147483648n]);
});

Deno.test("safetensors: layout is sorted by name, header padded to 8, offsets contiguous", () => {
  const bytes = writeSafetensors(sampleTensors(), { k: "v" });
  const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
  assert.equal(n % 8, 0);
  const text = new TextDecoder().decode(bytes.subarray(8, 8 + n));
  assert.equal(text.trimEnd().length, JSON.stringify(JSON.parse(text)).length);
  const header = JSON.parse(text);
  const keys = Object.keys(header);
  assert.equal(keys[0], "__metadata__");
  const names = keys.slice(1);
  assert.deepEqual(names, [...names].sort());
  let offset = 0;
  for (const name of names) {
    assert.equal(header[name].data_offsets[0], offset, name);
    offset = header[name].data_offsets[1];
  }
  assert.equal(8 + n + offset, bytes.byteLength);
  // No metadata: no __metadata__ key at all.
  const plainBytes = writeSafetensors({ x: sampleTensors()["s.scalar"] });
  const plainLength = Number(new DataView(plainBytes.buffer).getBigUint64(0, true));
  const plain = JSON.parse(new TextDecoder().decode(plainBytes.subarray(8, 8 + plainLength)));
  assert.deepEqual(Object.keys(plain), ["x"]);
});

Deno.test("safetensors: F16 rounds to nearest even and decodes subnormals, infinities, NaN", () => {
  const values = Float32Array.from([
    1 + 2 ** -11,
    1 + 3 * 2 ** -11,
    2 ** -24,
    2 ** -25,
    70000,
    -Infinity,
    NaN,
    1e-8,
  ]);
  const { tensors } = readSafetensors(writeSafetensors({ h: { dtype: "F16", shape: [8], data: values } }));
  const got = Array.from(tensors.get("h")!.data);
  assert.deepEqual(got, [1, 1 + 2 * 2 ** -10, 2 ** -24, 0, Infinity, -Infinity, NaN, 0]);
});

Deno.test("safetensors: I64 outside the Int32 range errors unless allowed, with exact values kept", () => {
  const exact = BigInt64Array.from([1n, 2n ** 40n, -(2n ** 40n)]);
  const bytes = writeSafetensors({
    big: { dtype: "I64", shape: [3], data: new Int32Array(3), int64: exact },
  });
  assertSafetensorsError(
    () => readSafetensors(bytes, "big.safetensors"),
    /big\.safetensors.*"big" element 1/,
  );
  const { tensors } = readSafetensors(bytes, "big", { allowInt64OutOfRange: true });
  const t = tensors.get("big")!;
  assert.deepEqual(Array.from(t.data), [1, 2147483647, -2147483648]);
  assert.deepEqual(Array.from(t.int64!), Array.from(exact));
});

Deno.test("safetensors: reads a file written by the Python fixture writer", async () => {
  const { tensors, metadata } = await loadSafetensorsFile(
    new URL("python_writer.safetensors", FIXTURES).pathname,
  );
  assert.equal(metadata.writer, "tests/fixtures/torch/st_io.py");
  const f32 = tensors.get("f32")!;
  assert.deepEqual(f32.shape, [2, 3]);
  assert.deepEqual(Array.from(f32.data), [0, 1.5, -2, 3.25, 1e-3, -7].map(Math.fround));
  assert.deepEqual(Array.from(tensors.get("f64")!.data), [Math.PI, -1e-300, 1e300]);
  assert.deepEqual(Array.from(tensors.get("f16")!.data), [0.5, -1.5, 65504]);
  assert.deepEqual(Array.from(tensors.get("i32")!.data), [-2147483648, 0, 2147483647]);
  assert.deepEqual(Array.from(tensors.get("i64")!.data), [-5, 0, 123456789]);
  assert.deepEqual(Array.from(tensors.get("u8")!.data), [0, 7, 255]);
  assert.deepEqual(Array.from(tensors.get("bool")!.data), [1, 0, 1, 1]);
  assert.deepEqual(tensors.get("scalar")!.shape, []);
  assert.deepEqual(Array.from(tensors.get("scalar")!.data), [2.5]);
  // Our writer reproduces the Python writer's bytes exactly (same order, same padding).
  const original = await Deno.readFile(new URL("python_writer.safetensors", FIXTURES));
  assert.deepEqual(writeSafetensors(tensors, metadata), original);
});

Deno.test("safetensors: corrupt files give errors naming the file and the fault", () => {
  const f = "bad.safetensors";
  const four = new Uint8Array(16);
  assertSafetensorsError(() => readSafetensors(new Uint8Array(5), f), /bad\.safetensors: truncated.*5 bytes/);
  const good = writeSafetensors(sampleTensors());
  assertSafetensorsError(
    () => readSafetensors(good.subarray(0, 40), f),
    /bad\.safetensors: truncated header/,
  );
  assertSafetensorsError(
    () => readSafetensors(good.subarray(0, good.byteLength - 3), f),
    /bad\.safetensors: tensor "z\.weight".*run past the end/,
  );
  const huge = new Uint8Array(16);
  new DataView(huge.buffer).setBigUint64(0, 1n << 60n, true);
  assertSafetensorsError(() => readSafetensors(huge, f), /header length .* exceeds/);
  const badJson = rawFile({}, new Uint8Array(0));
  badJson[8] = "[".charCodeAt(0);
  badJson[9] = "{".charCodeAt(0);
  assertSafetensorsError(() => readSafetensors(badJson, f), /bad\.safetensors: header is not valid JSON/);
  assertSafetensorsError(() => readSafetensors(rawFile([1, 2], new Uint8Array(0)), f), /not an object/);
  assertSafetensorsError(
    () => readSafetensors(rawFile({ x: { dtype: "Q8", shape: [4], data_offsets: [0, 4] } }, four), f),
    /bad\.safetensors: tensor "x" has unknown dtype "Q8"/,
  );
  assertSafetensorsError(
    () => readSafetensors(rawFile({ x: { dtype: "F32", shape: [3], data_offsets: [0, 16] } }, four), f),
    /tensor "x" shape \[3\] of F32 needs 12 bytes but data_offsets \[0, 16\] span 16/,
  );
  assertSafetensorsError(
    () => readSafetensors(rawFile({ x: { dtype: "F32", shape: [2, -1], data_offsets: [0, 8] } }, four), f),
    /tensor "x" has invalid shape/,
  );
  assertSafetensorsError(
    () => readSafetensors(rawFile({ x: { dtype: "F32", shape: [2], data_offsets: [8, 0] } }, four), f),
    /tensor "x" has invalid data_offsets/,
  );
  assertSafetensorsError(
    () => readSafetensors(rawFile({ x: { dtype: "F32", shape: [8], data_offsets: [0, 32] } }, four), f),
    /tensor "x" data_offsets \[0, 32\] run past the end of the data \(16 bytes/,
  );
  assertSafetensorsError(
    () =>
      readSafetensors(
        rawFile({
          a: { dtype: "F32", shape: [3], data_offsets: [0, 12] },
          b: { dtype: "F32", shape: [2], data_offsets: [8, 16] },
        }, four),
        f,
      ),
    /tensor "b" data_offsets \[8, 16\] overlap tensor "a" \[0, 12\]/,
  );
  assertSafetensorsError(
    () => readSafetensors(rawFile({ __metadata__: { n: 3 } }, new Uint8Array(0)), f),
    /__metadata__ value for "n" is number/,
  );
  assertSafetensorsError(
    () =>
      readSafetensors(
        rawFile({ m: { dtype: "BOOL", shape: [1], data_offsets: [0, 1] } }, Uint8Array.of(2)),
        f,
      ),
    /BOOL tensor "m" element 0 is 2/,
  );
  const badUtf8 = rawFile({}, new Uint8Array(0), 2);
  badUtf8[10] = 0xff;
  assertSafetensorsError(() => readSafetensors(badUtf8, f), /not valid UTF-8/);
  // Without a file name the message still says what is wrong.
  assertSafetensorsError(() => readSafetensors(new Uint8Array(3)), /^safetensors data: truncated/);
});

Deno.test("safetensors: header padding with spaces and unaligned data offsets are read", () => {
  const data = new Uint8Array(13);
  const dv = new DataView(data.buffer);
  data[0] = 9;
  dv.setFloat64(1, -1.25, true);
  dv.setFloat32(9, 3.5, true);
  const bytes = rawFile(
    {
      u: { dtype: "U8", shape: [1], data_offsets: [0, 1] },
      d: { dtype: "F64", shape: [1], data_offsets: [1, 9] },
      f: { dtype: "F32", shape: [1, 1], data_offsets: [9, 13] },
    },
    data,
    5,
  );
  const { tensors } = readSafetensors(bytes);
  assert.deepEqual([...tensors.keys()], ["u", "d", "f"]);
  assert.equal(tensors.get("d")!.data[0], -1.25);
  assert.equal(tensors.get("f")!.data[0], 3.5);
});

Deno.test("safetensors: writer rejects inconsistent tensors, naming them", () => {
  assertSafetensorsError(
    () => writeSafetensors({ w: { dtype: "F32", shape: [2, 2], data: new Float32Array(3) } }),
    /tensor "w" shape \[2, 2\] has 4 elements but its data has 3/,
  );
  assertSafetensorsError(
    () => writeSafetensors({ w: { dtype: "F64", shape: [1], data: new Float32Array(1) } }),
    /tensor "w" of dtype F64 needs its data in a Float64Array, got Float32Array/,
  );
  assertSafetensorsError(
    () => writeSafetensors({ w: { dtype: "BF16", shape: [1], data: new Float32Array(1) } }),
    /tensor "w" has unknown dtype "BF16"/,
  );
  assertSafetensorsError(
    () => writeSafetensors({ __metadata__: { dtype: "F32", shape: [1], data: new Float32Array(1) } }),
    /__metadata__/,
  );
});

Deno.test("safetensors: files are saved atomically and loaded with the path in errors", async () => {
  const dir = await Deno.makeTempDir({ prefix: "safetensors_test_" });
  try {
    const path = `${dir}/ck.safetensors`;
    await saveSafetensorsFile(path, sampleTensors(), { step: "1" });
    const first = await loadSafetensorsFile(path);
    assert.equal(first.metadata.step, "1");
    await saveSafetensorsFile(path, { only: sampleTensors()["s.scalar"] }, { step: "2" });
    const second = await loadSafetensorsFile(path);
    assert.deepEqual([...second.tensors.keys()], ["only"]);
    // A failed save leaves the previous file intact and no temporary file behind.
    await assert.rejects(
      saveSafetensorsFile(path, { bad: { dtype: "F32", shape: [2], data: new Float32Array(1) } }),
      SafetensorsError,
    );
    assert.equal((await loadSafetensorsFile(path)).metadata.step, "2");
    const names = [];
    for await (const e of Deno.readDir(dir)) names.push(e.name);
    assert.deepEqual(names, ["ck.safetensors"]);
    await Deno.writeFile(`${dir}/cut.safetensors`, (await Deno.readFile(path)).subarray(0, 20));
    await assert.rejects(loadSafetensorsFile(`${dir}/cut.safetensors`), /cut\.safetensors: truncated header/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
