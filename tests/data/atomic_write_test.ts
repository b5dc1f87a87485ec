import * as assert from "node:assert/strict";
import { copyFileAtomic, temporaryPathFor, writeFileAtomic } from "../../data/atomic_write.ts";

/** A fresh folder, removed with everything in it when the test ends. */
async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "atomic_write_test_" });
  await fn(dir).finally(() => Deno.remove(dir, { recursive: true }));
}

const names = (dir: string) => [...Deno.readDirSync(dir)].map((e) => e.name).sort();

Deno.test("writeFileAtomic writes strings, bytes and streams, replacing the target", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/a.txt`;
    await writeFileAtomic(path, "héllo\n");
    assert.equal(await Deno.readTextFile(path), "héllo\n");
    await writeFileAtomic(path, new Uint8Array([1, 2, 3]));
    assert.deepEqual(await Deno.readFile(path), new Uint8Array([1, 2, 3]));
    // A stream larger than one write, in mixed pieces.
    const big = new Uint8Array(3 << 20).map((_, i) => i % 251);
    await writeFileAtomic(path, async (writer) => {
      await writer.write("head:");
      for (let i = 0; i < big.length; i += 100_000) await writer.write(big.subarray(i, i + 100_000));
    }, { fsync: true });
    const back = await Deno.readFile(path);
    assert.equal(new TextDecoder().decode(back.subarray(0, 5)), "head:");
    assert.deepEqual(back.subarray(5), big);
    await writeFileAtomic(path, "");
    assert.equal(await Deno.readTextFile(path), "");
    assert.deepEqual(names(dir), ["a.txt"]);
  });
});

Deno.test("writeFileAtomic: a failing writer leaves the old content and no temporary file", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/model.bin`;
    await writeFileAtomic(path, "old");
    const failure = new RangeError("the stream broke");
    await assert.rejects(
      writeFileAtomic(path, async (writer) => {
        await writer.write("new data that must never show up");
        throw failure;
      }, { fsync: true }),
      (e) => e === failure && failure.message === "the stream broke", // the writer's own error, unchanged
    );
    assert.equal(await Deno.readTextFile(path), "old");
    assert.deepEqual(names(dir), ["model.bin"]);

    // Also when there was no file before: none is left.
    await assert.rejects(
      writeFileAtomic(`${dir}/fresh.bin`, () => Promise.reject(new Error("no"))),
      /^Error: no$/,
    );
    assert.deepEqual(names(dir), ["model.bin"]);
  });
});

Deno.test("writeFileAtomic: file-system errors name the path and keep their class", async () => {
  await withDir(async (dir) => {
    const missing = `${dir}/no/such/folder/out.json`;
    await assert.rejects(writeFileAtomic(missing, "{}"), (e: Error) => {
      assert.ok(e instanceof Deno.errors.NotFound);
      assert.ok(e.message.includes(missing), e.message);
      return true;
    });
    // Renaming over a folder fails: the folder stays, the temporary file goes.
    const folder = `${dir}/taken`;
    await Deno.mkdir(`${folder}/inside`, { recursive: true });
    await assert.rejects(writeFileAtomic(folder, "x"), (e: Error) => {
      assert.ok(e.message.includes(folder), e.message);
      return true;
    });
    assert.deepEqual(names(dir), ["taken"]);
    assert.ok(Deno.statSync(folder).isDirectory);
  });
});

Deno.test("writeFileAtomic: concurrent writers to distinct files, and to one file", async () => {
  await withDir(async (dir) => {
    const n = 24;
    await Promise.all(
      Array.from({ length: n }, (_, i) =>
        writeFileAtomic(`${dir}/f${i}.txt`, async (writer) => {
          for (let k = 0; k < 50; k++) await writer.write(`${i}:${k}\n`);
        })),
    );
    for (let i = 0; i < n; i++) {
      const lines = (await Deno.readTextFile(`${dir}/f${i}.txt`)).trimEnd().split("\n");
      assert.deepEqual(lines, Array.from({ length: 50 }, (_, k) => `${i}:${k}`));
    }
    // Racing writers of one file: the result is one of them, whole.
    const contents = Array.from({ length: 8 }, (_, i) => String(i).repeat(10_000 + i));
    await Promise.all(contents.map((c) => writeFileAtomic(`${dir}/shared.txt`, c)));
    assert.ok(contents.includes(await Deno.readTextFile(`${dir}/shared.txt`)));
    assert.equal(names(dir).filter((name) => name.endsWith(".tmp")).length, 0);
    assert.equal(names(dir).length, n + 1);
  });
});

Deno.test("writeFileAtomic: mode and mtime; temporary names are unique and end in .tmp", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/script.sh`;
    await writeFileAtomic(path, "#!/bin/sh\n", { mode: 0o700, mtime: 1_000_000_000 });
    const stat = await Deno.stat(path);
    if (Deno.build.os !== "windows") assert.equal(stat.mode! & 0o777, 0o700);
    assert.equal(stat.mtime!.getTime(), 1_000_000_000_000);
    const a = temporaryPathFor(path);
    assert.ok(a.startsWith(`${path}.${Deno.pid}-`) && a.endsWith(".tmp"), a);
    assert.notEqual(a, temporaryPathFor(path));
  });
});

Deno.test("copyFileAtomic copies whole, and names a missing source", async () => {
  await withDir(async (dir) => {
    const bytes = new Uint8Array((1 << 20) * 2 + 17).map((_, i) => (i * 7) % 256);
    await Deno.writeFile(`${dir}/src`, bytes);
    await writeFileAtomic(`${dir}/dst`, "old");
    await copyFileAtomic(`${dir}/src`, `${dir}/dst`, { fsync: true });
    assert.deepEqual(await Deno.readFile(`${dir}/dst`), bytes);
    await assert.rejects(copyFileAtomic(`${dir}/absent`, `${dir}/dst`), (e: Error) => {
      assert.ok(e instanceof Deno.errors.NotFound);
      assert.ok(e.message.includes(`${dir}/absent`), e.message);
      return true;
    });
    assert.deepEqual(await Deno.readFile(`${dir}/dst`), bytes);
    assert.deepEqual(names(dir), ["dst", "src"]);
  });
});
