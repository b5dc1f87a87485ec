import assert from "node:assert/strict";
import { join } from "node:path";
import { extractTar, readTar, safeRelativePath, TarFormatError, TarPathError } from "../../data/tar.ts";

const hasTarCli = await new Deno.Command("tar", { args: ["--version"], stdout: "null", stderr: "null" })
  .output()
  .then((o) => o.success, () => false);

const encoder = new TextEncoder();

/** Feeds `bytes` in chunks of `chunkSize`, to cross block boundaries at odd places. */
function streamOf(bytes: Uint8Array, chunkSize = 777): ReadableStream<Uint8Array> {
  let at = 0;
  return new ReadableStream({
    pull(controller) {
      if (at >= bytes.length) return controller.close();
      controller.enqueue(bytes.slice(at, at + chunkSize));
      at += chunkSize;
    },
  });
}

interface HeaderFields {
  name: string;
  size?: number;
  typeflag?: string;
  linkname?: string;
  /** Write the size in GNU base-256 instead of octal. */
  base256?: boolean;
  corruptChecksum?: boolean;
}

/** A ustar header block made by hand, for cases the tar CLI will not produce. */
function header(fields: HeaderFields): Uint8Array {
  const block = new Uint8Array(512);
  const put = (text: string, at: number) => block.set(encoder.encode(text), at);
  put(fields.name, 0);
  put("0000644\0", 100);
  put("0001750\0", 108);
  put("0001750\0", 116);
  const size = fields.size ?? 0;
  if (fields.base256) {
    block[124] = 0x80;
    for (let i = 135, v = size; i > 124; i--, v = Math.floor(v / 256)) block[i] = v % 256;
  } else put(size.toString(8).padStart(11, "0") + "\0", 124);
  put("14530000000\0", 136);
  put(fields.typeflag ?? "0", 156);
  if (fields.linkname) put(fields.linkname, 157);
  put("ustar\x0000", 257);
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 32 : block[i];
  if (fields.corruptChecksum) sum += 1;
  put(sum.toString(8).padStart(6, "0") + "\0 ", 148);
  return block;
}

function archive(...parts: (Uint8Array | string)[]): Uint8Array {
  const blocks: Uint8Array[] = [];
  for (const part of parts) {
    const bytes = typeof part === "string" ? encoder.encode(part) : part;
    const padded = new Uint8Array(Math.ceil(bytes.length / 512) * 512);
    padded.set(bytes);
    blocks.push(padded);
  }
  blocks.push(new Uint8Array(1024));
  const out = new Uint8Array(blocks.reduce((n, b) => n + b.length, 0));
  let at = 0;
  for (const b of blocks) {
    out.set(b, at);
    at += b.length;
  }
  return out;
}

async function members(bytes: Uint8Array) {
  const out: { path: string; type: string; size: number; offset: number; text: string }[] = [];
  for await (const member of readTar(streamOf(bytes))) {
    const chunks: Uint8Array[] = [];
    for await (const chunk of member.body()) chunks.push(chunk.slice());
    const text = new TextDecoder().decode(new Uint8Array(chunks.flatMap((c) => [...c])));
    out.push({ path: member.path, type: member.type, size: member.size, offset: member.offset, text });
  }
  return out;
}

Deno.test("readTar reads hand-made ustar entries, base-256 sizes, links", async () => {
  const bytes = archive(
    header({ name: "dir/", typeflag: "5" }),
    header({ name: "dir/a.txt", size: 5 }),
    "hello",
    header({ name: "dir/b.txt", size: 600, base256: true }),
    "x".repeat(600),
    header({ name: "dir/link", typeflag: "2", linkname: "a.txt" }),
  );
  assert.deepEqual(await members(bytes), [
    { path: "dir/", type: "directory", size: 0, offset: 0, text: "" },
    { path: "dir/a.txt", type: "file", size: 5, offset: 512, text: "hello" },
    { path: "dir/b.txt", type: "file", size: 600, offset: 1536, text: "x".repeat(600) },
    { path: "dir/link", type: "symlink", size: 0, offset: 3072, text: "" },
  ]);
});

Deno.test("readTar skips bodies the consumer does not read", async () => {
  const bytes = archive(
    header({ name: "a", size: 1000 }),
    "a".repeat(1000),
    header({ name: "b", size: 2 }),
    "bb",
  );
  const seen: string[] = [];
  for await (const member of readTar(streamOf(bytes, 100))) seen.push(`${member.path}@${member.offset}`);
  assert.deepEqual(seen, ["a@0", "b@1536"]);
});

Deno.test("readTar errors name the byte offset", async () => {
  const full = archive(
    header({ name: "a.txt", size: 1000 }),
    "a".repeat(1000),
    header({ name: "b.txt", size: 3 }),
    "bbb",
  );
  await assert.rejects(members(full.slice(0, 700)), {
    name: "TarFormatError",
    message:
      `truncated tar archive: the stream ended at byte 700, inside the data of "a.txt" (header at byte 0)`,
  });
  await assert.rejects(members(full.slice(0, 1600)), {
    message: "truncated tar archive: the stream ended at byte 1600, inside a header",
  });
  await assert.rejects(members(full.slice(0, 2049)), {
    message:
      `truncated tar archive: the stream ended at byte 2049, inside the data of "b.txt" (header at byte 1536)`,
  });
  await assert.rejects(members(full.slice(0, 2100)), {
    message:
      `truncated tar archive: the stream ended at byte 2100, in the padding after "b.txt" (header at byte 1536)`,
  });
  await assert.rejects(members(full.slice(0, 2560)), {
    message: "truncated tar archive: the stream ended at byte 2560, before the end-of-archive marker",
  });
  await assert.rejects(
    members(archive(header({ name: "ok" }), header({ name: "bad", corruptChecksum: true }))),
    {
      message:
        /^bad tar header checksum at byte 512 \(stored \d+, computed \d+\): not a tar archive, or corrupt$/,
    },
  );
  await assert.rejects(members(encoder.encode("<html>404 not found</html>".padEnd(600))), (e: Error) => {
    assert.ok(e instanceof TarFormatError);
    assert.equal(e.offset, 0);
    return true;
  });
});

Deno.test("safeRelativePath rejects paths that leave the destination", () => {
  assert.equal(safeRelativePath("./LibriSpeech//dev-clean/./a.flac", 0), "LibriSpeech/dev-clean/a.flac");
  assert.equal(safeRelativePath("./", 0), "");
  assert.equal(safeRelativePath("a..b/c..", 0), "a..b/c..");
  for (const bad of ["../x", "a/../../x", "a/..", "/etc/passwd", "C:/x", "a\\..\\b", "a\0b"]) {
    assert.throws(() => safeRelativePath(bad, 1024), (e: Error) => e instanceof TarPathError, bad);
  }
  assert.throws(() => safeRelativePath("a/../../x", 1024), {
    message: `unsafe path "a/../../x" in the tar entry at byte 1024: it would leave the destination folder`,
  });
});

Deno.test("extractTar writes files and folders, skips links, rejects traversal without writing", async () => {
  const dest = await Deno.makeTempDir({ prefix: "tar_test_" });
  const skipped: string[] = [];
  const summary = await extractTar(
    streamOf(archive(
      header({ name: "top/", typeflag: "5" }),
      header({ name: "top/sub/a.txt", size: 5 }),
      "hello",
      header({ name: "top/link", typeflag: "2", linkname: "/etc/passwd" }),
      header({ name: "top/empty/", typeflag: "5" }),
    )),
    dest,
    { onSkip: (_, reason) => skipped.push(reason) },
  );
  assert.deepEqual(summary, { files: 1, directories: 2, bytes: 5, skipped: 1 });
  assert.deepEqual(skipped, [
    `skipped symlink entry "top/link" (type "2") at byte 1536: only files and folders are extracted`,
  ]);
  assert.equal(await Deno.readTextFile(join(dest, "top/sub/a.txt")), "hello");
  assert.ok((await Deno.stat(join(dest, "top/empty"))).isDirectory);
  assert.equal((await Deno.stat(join(dest, "top/sub/a.txt"))).mtime?.getTime(), 0o14530000000 * 1000);
  await assert.rejects(
    extractTar(streamOf(archive(header({ name: "../evil.txt", size: 4 }), "evil")), join(dest, "x")),
    {
      name: "TarPathError",
      message: `unsafe path "../evil.txt" in the tar entry at byte 0: it would leave the ` +
        `destination folder`,
    },
  );
  await assert.rejects(Deno.stat(join(dest, "evil.txt")), Deno.errors.NotFound);

  // A stream cut inside a file leaves neither the file nor its temporary.
  const cut = archive(header({ name: "c/big.bin", size: 5000 }), "z".repeat(5000)).slice(0, 3000);
  await assert.rejects(extractTar(streamOf(cut), dest), { name: "TarFormatError" });
  assert.deepEqual([...Deno.readDirSync(join(dest, "c"))], []);
  await Deno.remove(dest, { recursive: true });
});

Deno.test({
  name: "extractTar reads what GNU tar writes: ustar prefix, GNU long names, pax, gzip",
  ignore: !hasTarCli,
  fn: async () => {
    const work = await Deno.makeTempDir({ prefix: "tar_cli_test_" });
    const src = join(work, "src");
    const longDir = "d".repeat(60) + "/" + "e".repeat(60);
    const longName = "n".repeat(120) + ".txt";
    const files: Record<string, string> = {
      "short.txt": "short\n",
      [`${longDir}/prefixed.txt`]: "needs the ustar prefix\n",
      [longName]: "a name over 100 bytes\n",
      "ünïcödé ✓.txt": "utf-8 name\n",
      "empty.txt": "",
      "block.bin": "b".repeat(512),
    };
    for (const [path, text] of Object.entries(files)) {
      await Deno.mkdir(join(src, path, ".."), { recursive: true });
      await Deno.writeTextFile(join(src, path), text);
    }
    for (const format of ["ustar", "gnu", "pax"]) {
      const names = Object.keys(files).filter((name) => format !== "ustar" || name !== longName);
      const tarPath = join(work, `${format}.tar.gz`);
      const made = await new Deno.Command("tar", {
        args: ["-czf", tarPath, `--format=${format}`, "-C", src, ...names],
        stderr: "piped",
      }).output();
      assert.ok(made.success, new TextDecoder().decode(made.stderr));
      const dest = join(work, `out-${format}`);
      const file = await Deno.open(tarPath);
      const summary = await extractTar(file.readable.pipeThrough(new DecompressionStream("gzip")), dest);
      assert.equal(summary.files, names.length, format);
      for (const name of names) assert.equal(await Deno.readTextFile(join(dest, name)), files[name], name);
    }
    await Deno.remove(work, { recursive: true });
  },
});
