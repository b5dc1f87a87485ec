import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { join } from "node:path";
import {
  DownloadError,
  downloadLibriSpeech,
  type DownloadOptions,
  LIBRISPEECH_SUBSETS,
} from "../../data/download.ts";
import { LibriSpeechCorpus } from "../../data/librispeech.ts";

const SPEECH = new URL("../../../shared/speech/", import.meta.url).pathname;
const SAMPLE = SPEECH + "librispeech-test-clean-sample/librispeech/";
const hasShared = await Deno.stat(SPEECH).then(() => true, () => false);
const hasTarCli = await new Deno.Command("tar", { args: ["--version"], stdout: "null", stderr: "null" })
  .output()
  .then((o) => o.success, () => false);
const ignore = !hasShared || !hasTarCli;

const md5 = (bytes: Uint8Array) => createHash("md5").update(bytes).digest("hex");

const SAMPLE_FILES = [
  "1089/134686/1089-134686-0000.flac",
  "1089/134686/1089-134686-0001.flac",
  "1089/134686/1089-134686.trans.txt",
  "1089/134691/1089-134691-0000.flac",
  "1089/134691/1089-134691-0001.flac",
  "1089/134691/1089-134691.trans.txt",
];

/** A test-clean archive in openslr's layout, made with the tar CLI from the shared LibriSpeech sample. */
async function makeArchive(
  work: string,
  name: string,
  cut?: (tar: Uint8Array<ArrayBuffer>) => Uint8Array<ArrayBuffer>,
): Promise<Uint8Array> {
  const src = join(work, `src-${name}`);
  for (const file of SAMPLE_FILES) {
    await Deno.mkdir(join(src, "LibriSpeech/test-clean", file, ".."), { recursive: true });
    await Deno.copyFile(SAMPLE + file, join(src, "LibriSpeech/test-clean", file));
  }
  await Deno.writeTextFile(join(src, "LibriSpeech/SPEAKERS.TXT"), "1089 | M | test-clean | 19.68 | Dan\n");
  const tar = await new Deno.Command("tar", {
    args: ["-cf", "-", "--format=gnu", "--sort=name", "-C", src, "LibriSpeech"],
    stdout: "piped",
  }).output();
  assert.ok(tar.success);
  const tarBytes = cut ? cut(tar.stdout) : tar.stdout;
  const gz = new Blob([tarBytes]).stream().pipeThrough(new CompressionStream("gzip"));
  return new Uint8Array(await new Response(gz).arrayBuffer());
}

interface ServerPlan {
  body: Uint8Array;
  /** Answer every request with the whole file (status 200), as a server without Range support does. */
  ignoreRange?: boolean;
  /** For the first requests, send only this many bytes of the answer, then drop the connection. */
  breakAfter?: number[];
  /** Statuses to answer the first requests with, before serving normally. */
  failFirst?: number[];
}

/** A local HTTP server for `/test-clean.tar.gz`, with Range support and scripted failures. */
function serve(plan: ServerPlan) {
  const requests: (string | null)[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (request) => {
    const range = request.headers.get("range");
    requests.push(range);
    if (new URL(request.url).pathname !== "/test-clean.tar.gz") {
      return new Response("no such file", { status: 404 });
    }
    const fail = plan.failFirst?.shift();
    if (fail) return new Response("busy", { status: fail });
    const size = plan.body.length;
    let start = 0;
    const headers = new Headers({ "content-type": "application/gzip" });
    let status = 200;
    const match = range ? /^bytes=(\d+)-$/.exec(range) : null;
    if (match && !plan.ignoreRange) {
      start = Number(match[1]);
      if (start >= size) {
        return new Response(null, { status: 416, headers: { "content-range": `bytes */${size}` } });
      }
      status = 206;
      headers.set("content-range", `bytes ${start}-${size - 1}/${size}`);
    }
    headers.set("content-length", String(size - start));
    const cutAt = plan.breakAfter?.shift();
    const end = cutAt === undefined ? size : Math.min(size, start + cutAt);
    let at = start;
    // Closing early with a larger Content-Length drops the connection mid-body.
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (at >= end) return controller.close();
        const next = Math.min(end, at + 16384);
        controller.enqueue(plan.body.slice(at, next));
        at = next;
      },
    });
    return new Response(body, { status, headers });
  });
  const base = `http://127.0.0.1:${server.addr.port}`;
  return { base, url: `${base}/test-clean.tar.gz`, requests, close: () => server.shutdown() };
}

function options(
  archive: Uint8Array,
  base: string,
  notes: string[],
  extra: DownloadOptions = {},
): DownloadOptions {
  return { base, md5: md5(archive), retryDelayMs: 0, onNote: (m) => notes.push(m), ...extra };
}

/** The downloaded corpus lists the 4 utterances and holds the original bytes. */
async function assertCorpus(root: string): Promise<void> {
  const corpus = await LibriSpeechCorpus.open(root, { subset: "test-clean" });
  assert.deepEqual(corpus.utterances.map((u) => u.fileId), [
    "1089-134686-0000",
    "1089-134686-0001",
    "1089-134691-0000",
    "1089-134691-0001",
  ]);
  for (const file of SAMPLE_FILES) {
    const got = await Deno.readFile(join(root, "LibriSpeech/test-clean", file));
    assert.equal(md5(got), md5(await Deno.readFile(SAMPLE + file)), file);
  }
  assert.equal(
    await Deno.readTextFile(join(root, "LibriSpeech/SPEAKERS.TXT")),
    "1089 | M | test-clean | 19.68 | Dan\n",
  );
  const left = [...Deno.readDirSync(join(root, "LibriSpeech"))].map((e) => e.name).sort();
  assert.deepEqual(left, ["SPEAKERS.TXT", "test-clean"]);
}

Deno.test("the published subsets and their MD5 sums", async () => {
  assert.deepEqual(Object.keys(LIBRISPEECH_SUBSETS), [
    "dev-clean",
    "dev-other",
    "test-clean",
    "test-other",
    "train-clean-100",
    "train-clean-360",
    "train-other-500",
  ]);
  assert.equal(LIBRISPEECH_SUBSETS["dev-clean"].md5, "42e2234ba48799c1f50f24a7926300a1");
  assert.equal(LIBRISPEECH_SUBSETS["dev-other"].md5, "c8d0bcc9cca99d4f8b62fcc847357931");
  assert.equal(LIBRISPEECH_SUBSETS["test-clean"].md5, "32fa31d27d2e1cad72775fee3f4849a9");
  assert.equal(LIBRISPEECH_SUBSETS["test-other"].md5, "fb5a50374b501bb3bac4815ee91d3135");
  assert.equal(LIBRISPEECH_SUBSETS["train-clean-100"].md5, "2a93770f6d5c6c964bc36631d331a522");
  assert.equal(LIBRISPEECH_SUBSETS["train-clean-360"].md5, "c0e676e450a7ff2f54aeade5171606fa");
  assert.equal(LIBRISPEECH_SUBSETS["train-other-500"].md5, "d1a0fd59409feb2c614ce4d30c387708");
  await assert.rejects(downloadLibriSpeech("train-clean-960", "/nonexistent"), {
    name: "DownloadError",
    message:
      `unknown LibriSpeech subset "train-clean-960": expected one of dev-clean, dev-other, test-clean, ` +
      `test-other, train-clean-100, train-clean-360, train-other-500`,
  });
});

interface Work {
  work: string;
  /** The test-clean archive, made in `work`. */
  archive: Uint8Array;
  /** Where the corpus is downloaded to, inside `work`. */
  root: string;
  notes: string[];
}

/** A download test, skipped without the shared sample or the tar CLI, in a temp dir it removes after. */
function downloadTest(name: string, fn: (w: Work) => Promise<void>): void {
  Deno.test({
    name,
    ignore,
    fn: async () => {
      const work = await Deno.makeTempDir({ prefix: "download_test_" });
      try {
        const archive = await makeArchive(work, "a");
        await fn({ work, archive, root: join(work, "root"), notes: [] });
      } finally {
        await Deno.remove(work, { recursive: true });
      }
    },
  });
}

/** Runs `fn` against `serve(plan)`, and shuts the server down after. */
async function withServer(plan: ServerPlan, fn: (server: ReturnType<typeof serve>) => Promise<void>) {
  const server = serve(plan);
  try {
    await fn(server);
  } finally {
    await server.close();
  }
}

downloadTest(
  "download: fetch, check MD5, extract while streaming; a second call does nothing",
  async ({ archive, root, notes }) => {
    const progress: [number, number | undefined][] = [];
    await withServer({ body: archive }, async (server) => {
      const result = await downloadLibriSpeech(
        "test-clean",
        root,
        options(archive, server.base, notes, { onProgress: (b, t) => progress.push([b, t]) }),
      );
      assert.equal(result.dir, join(root, "LibriSpeech/test-clean"));
      assert.equal(result.downloaded, true);
      assert.equal(result.archiveBytes, archive.length);
      assert.equal(result.md5, md5(archive));
      assert.equal(result.extracted?.files, 7);
      assert.deepEqual(server.requests, [null]);
      assert.deepEqual(notes, []);
      assert.deepEqual(progress.at(-1), [archive.length, archive.length]);
      assert.ok(progress.length > 1 && progress.every(([b], i) => i === 0 || b > progress[i - 1][0]));
      await assertCorpus(root);

      const again = await downloadLibriSpeech("test-clean", root, options(archive, server.base, notes));
      assert.deepEqual(again, {
        dir: join(root, "LibriSpeech/test-clean"),
        downloaded: false,
        archiveBytes: 0,
      });
      assert.equal(server.requests.length, 1);

      // keepArchive leaves the verified archive, which a later forced call extracts without the network.
      await downloadLibriSpeech(
        "test-clean",
        root,
        options(archive, server.base, notes, { force: true, keepArchive: true }),
      );
      assert.equal(md5(await Deno.readFile(join(root, "LibriSpeech/test-clean.tar.gz"))), md5(archive));
      assert.equal(server.requests.length, 2);
      const offline = await downloadLibriSpeech(
        "test-clean",
        root,
        options(archive, "http://127.0.0.1:9", notes, {
          force: true,
        }),
      );
      assert.equal(offline.md5, md5(archive));
      assert.deepEqual(notes, [
        `using the archive already at ${join(root, "LibriSpeech/test-clean.tar.gz")}`,
      ]);
      await assertCorpus(root);
    });
  },
);

downloadTest(
  "download: a connection dropped mid-transfer resumes with a Range request",
  async ({ archive, root, notes }) => {
    const cut = Math.floor(archive.length * 0.4);
    await withServer({ body: archive, breakAfter: [cut, 50000] }, async (server) => {
      const result = await downloadLibriSpeech("test-clean", root, options(archive, server.base, notes));
      assert.equal(result.md5, md5(archive));
      assert.deepEqual(server.requests, [null, `bytes=${cut}-`, `bytes=${cut + 50000}-`]);
      assert.equal(notes.length, 2);
      assert.match(
        notes[0],
        new RegExp(`^connection to ${server.url} lost at byte ${cut} \\(.+\\); resuming$`),
      );
      await assertCorpus(root);
    });
  },
);

downloadTest(
  "download: a .part left by an earlier run is resumed from its length",
  async ({ archive, root, notes }) => {
    const part = join(root, "LibriSpeech/test-clean.tar.gz.part");
    await withServer({ body: archive }, async (server) => {
      await Deno.mkdir(join(root, "LibriSpeech"), { recursive: true });
      await Deno.writeFile(part, archive.slice(0, 123457));
      const progress: number[] = [];
      const result = await downloadLibriSpeech(
        "test-clean",
        root,
        options(archive, server.base, notes, { onProgress: (b) => progress.push(b) }),
      );
      assert.equal(result.md5, md5(archive));
      assert.deepEqual(server.requests, ["bytes=123457-"]);
      assert.deepEqual(notes, [`resuming ${server.url} from byte 123457 (${part})`]);
      assert.equal(progress.at(-1), archive.length);
      await assert.rejects(Deno.stat(part), Deno.errors.NotFound);
      await assertCorpus(root);

      // A .part that is already whole: the server answers 416 and the MD5 decides.
      await Deno.writeFile(part, archive);
      await downloadLibriSpeech("test-clean", root, options(archive, server.base, notes, { force: true }));
      assert.deepEqual(server.requests.at(-1), `bytes=${archive.length}-`);
      await assertCorpus(root);
    });
  },
);

downloadTest(
  "download: a server that ignores Range makes a clean restart from byte 0",
  async ({ archive, root, notes }) => {
    const cut = Math.floor(archive.length * 0.6);
    await withServer({ body: archive, ignoreRange: true, breakAfter: [cut] }, async (server) => {
      const result = await downloadLibriSpeech("test-clean", root, options(archive, server.base, notes));
      assert.equal(result.md5, md5(archive));
      assert.equal(result.archiveBytes, archive.length);
      assert.deepEqual(server.requests, [null, `bytes=${cut}-`]);
      assert.equal(notes[1], `${server.url} ignored the range request: starting over from byte 0`);
      await assertCorpus(root);
    });
  },
);

downloadTest(
  "download: MD5 mismatch names expected and got, and leaves nothing behind",
  async ({ archive, root }) => {
    const wrong = "0123456789abcdef0123456789abcdef";
    await withServer({ body: archive }, async (server) => {
      await assert.rejects(
        downloadLibriSpeech("test-clean", root, options(archive, server.base, [], { md5: wrong })),
        (error: Error) => {
          assert.ok(error instanceof DownloadError);
          assert.equal(
            error.message,
            `MD5 mismatch for ${server.url}: expected ${wrong}, got ${
              md5(archive)
            } (${archive.length} bytes); ` +
              `${
                join(root, "LibriSpeech/test-clean.tar.gz.part")
              } was deleted, so the next try starts afresh`,
          );
          return true;
        },
      );
      assert.deepEqual([...Deno.readDirSync(join(root, "LibriSpeech"))], []);
    });
  },
);

downloadTest("download: truncated archives and HTTP errors are named", async ({ work, archive, root }) => {
  const part = join(root, "LibriSpeech/test-clean.tar.gz.part");

  // The gzip stream itself is cut short.
  const shortGzip = archive.slice(0, 200000);
  await withServer({ body: shortGzip }, async (server) => {
    await assert.rejects(
      downloadLibriSpeech("test-clean", root, options(shortGzip, server.base, [], { md5: null })),
      {
        name: "DownloadError",
        message: `truncated or corrupt archive ${server.url}: corrupt gzip stream does not have a matching ` +
          `checksum, after 200000 compressed bytes; ${part} was deleted, so the next try starts afresh`,
      },
    );
    assert.deepEqual([...Deno.readDirSync(join(root, "LibriSpeech"))], []);
  });

  // A whole gzip stream around a tar cut inside the third file's data.
  const shortTar = await makeArchive(work, "b", (tar) => tar.slice(0, 7 * 512 + 5000));
  await withServer({ body: shortTar }, async (server) => {
    await assert.rejects(
      downloadLibriSpeech("test-clean", root, options(shortTar, server.base, [], { md5: null })),
      {
        name: "DownloadError",
        message:
          `truncated or corrupt archive ${server.url}: truncated tar archive: the stream ended at byte ` +
          `8584, inside the data of "LibriSpeech/test-clean/1089/134686/1089-134686-0000.flac" (header at byte ` +
          `3072), after ${shortTar.length} compressed bytes; ${part} was deleted, so the next try starts afresh`,
      },
    );
  });

  await withServer({ body: archive, failFirst: [503, 404] }, async (server) => {
    await assert.rejects(downloadLibriSpeech("test-clean", root, options(archive, server.base, [])), {
      name: "DownloadError",
      message: `HTTP 404 Not Found for ${server.url}`,
    });
    assert.equal(server.requests.length, 2); // the 503 was retried
    assert.deepEqual([...Deno.readDirSync(join(root, "LibriSpeech"))], []);
    await assert.rejects(
      downloadLibriSpeech("test-clean", root, options(archive, server.base + "/nope", [])),
      {
        message: `HTTP 404 Not Found for ${server.base}/nope/test-clean.tar.gz`,
      },
    );
    const result = await downloadLibriSpeech("test-clean", root, options(archive, server.base + "/", []));
    assert.equal(result.md5, md5(archive));
    await assertCorpus(root);
  });
});
