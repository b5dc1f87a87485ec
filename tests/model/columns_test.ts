import assert from "node:assert/strict";
import { Columns } from "../../model/columns.ts";

Deno.test("columns: rows added one at a time keep their values across growth", () => {
  const t = new Columns({ id: "i32", score: "f64", small: "u8" }, 2);
  for (let i = 0; i < 1000; i++) {
    const r = t.addRow();
    assert.equal(r, i);
    t.cols.id[r] = i * 3;
    t.cols.score[r] = i / 7;
    t.cols.small[r] = i & 255;
  }
  assert.equal(t.length, 1000);
  assert.ok(t.capacity >= 1000);
  for (let i = 0; i < 1000; i++) {
    assert.equal(t.cols.id[i], i * 3);
    assert.equal(t.cols.score[i], i / 7);
    assert.equal(t.cols.small[i], i & 255);
  }
  assert.ok(t.cols.id instanceof Int32Array);
  assert.ok(t.cols.score instanceof Float64Array);
  assert.ok(t.cols.small instanceof Uint8Array);
});

Deno.test("columns: capacity doubles (amortised), all columns together", () => {
  const t = new Columns({ a: "f32", b: "u32" }, 4);
  const capacities = new Set<number>();
  for (let i = 0; i < 100; i++) {
    t.addRow();
    capacities.add(t.capacity);
    assert.equal(t.cols.a.length, t.capacity);
    assert.equal(t.cols.b.length, t.capacity);
  }
  assert.deepEqual([...capacities], [4, 8, 16, 32, 64, 128]);
});

Deno.test("columns: a zero initial capacity grows", () => {
  const t = new Columns({ a: "i16" }, 0);
  assert.equal(t.capacity, 0);
  t.cols.a; // empty
  const r = t.addRow();
  t.cols.a[r] = -5;
  assert.equal(t.capacity, 1);
  t.addRow();
  assert.equal(t.capacity, 2);
  assert.deepEqual([...t.view("a")], [-5, 0]);
});

Deno.test("columns: wide columns hold several values per row", () => {
  const t = new Columns({ words: { type: "i32", width: 3 }, prob: "f32" }, 1);
  for (let i = 0; i < 10; i++) {
    const r = t.addRow();
    for (let k = 0; k < 3; k++) t.cols.words[r * 3 + k] = i * 10 + k;
    t.cols.prob[r] = i;
  }
  assert.equal(t.cols.words.length, t.capacity * 3);
  assert.equal(t.view("words").length, 30);
  assert.deepEqual([...t.view("words").subarray(27)], [90, 91, 92]);
  assert.deepEqual([...t.toArray("prob")], [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
});

Deno.test("columns: view shares memory, toArray copies and is right-sized", () => {
  const t = new Columns({ x: "f64" });
  for (let i = 0; i < 5; i++) {
    const r = t.addRow();
    t.cols.x[r] = i;
  }
  const v = t.view("x");
  const c = t.toArray("x");
  assert.equal(v.length, 5);
  assert.equal(c.length, 5);
  assert.equal(c.buffer.byteLength, 5 * 8);
  t.cols.x[0] = 42;
  assert.equal(v[0], 42);
  assert.equal(c[0], 0);
});

Deno.test("columns: the cols object stays the same, its arrays are replaced on growth", () => {
  const t = new Columns({ x: "i32" }, 1);
  const cols = t.cols;
  const first = t.cols.x;
  t.addRow();
  t.addRow();
  assert.equal(t.cols, cols);
  assert.notEqual(t.cols.x, first);
});

Deno.test("columns: reserve grows at least to the request, at least doubling", () => {
  const t = new Columns({ x: "i32" }, 4);
  t.reserve(3);
  assert.equal(t.capacity, 4);
  t.reserve(5);
  assert.equal(t.capacity, 8);
  t.reserve(100);
  assert.equal(t.capacity, 100);
});

Deno.test("columns: reserve without preserve skips the copy; length may be set after reserving", () => {
  const t = new Columns({ x: "i32" }, 2);
  const first = t.addRow();
  t.cols.x[first] = 7;
  t.reserve(10, { preserve: false });
  assert.equal(t.cols.x[0], 0);
  t.clear();
  assert.equal(t.length, 0);
  for (let i = 0; i < 10; i++) t.cols.x[i] = i;
  t.length = 10;
  assert.deepEqual([...t.view("x")], [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  const r = t.addRow(); // grows, keeping the 10 rows
  t.cols.x[r] = 10;
  assert.deepEqual([...t.view("x")], [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
});

Deno.test("columns: bad specs are refused", () => {
  assert.throws(() => new Columns({ x: { type: "i32", width: 0 } }), RangeError);
  assert.throws(() => new Columns({ x: "i64" as "i32" }), TypeError);
  assert.throws(() => new Columns({ x: "i32" }, -1), RangeError);
});
