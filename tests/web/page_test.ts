/// <reference lib="dom" />
/**
 * The page (web/index.html) in Debian's Chromium, headless, on WebGPU's SwiftShader CPU adapter (Dawn: another
 * WebGPU implementation than Deno's wgpu): a PyTorch-trained checkpoint and real spoken-digit clips go in
 * through the page's own inputs, and the transcripts must equal `deno task transcribe`'s and the
 * log-probabilities agree with the engine's in Deno within 1e-4 (relative). The server only serves files, and
 * the test checks that the page asks it for nothing while it works, and that a second visit takes the model
 * from Cache Storage. Skips, saying so, when no chromium is installed.
 */
import assert from "node:assert/strict";
import { basename } from "node:path";
import { initGpu, setQuiet } from "../../engine/device.ts";
import { loadAudio } from "../../data/audio.ts";
import { logProbsOf } from "../../model/inference.ts";
import { loadModel } from "../../cli/common.ts";
import { buildWeb } from "../../web/build.ts";
import { Browser, haveChromium, noteSkip, StaticServer } from "./browser.ts";
import type { Page } from "playwright-core";
import { cliTranscripts } from "./cli_transcripts.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const SPEECH = new URL("../../../shared/speech/", import.meta.url).pathname;
const TRAINED = `${ROOT}tests/fixtures/torch/pytorch_trained/`;
const CHECKPOINT = `${TRAINED}model.safetensors`;
/** A spoken "six" as MP3: the page hands it to the browser's decodeAudioData (our decoders read FLAC and WAV). */
const MP3 = `${ROOT}tests/fixtures/audio_codecs/six.mp3`;

/** Rows of greedy.tsv: three different digits, three speakers' worth of clips under a second each. */
const ROWS = [2, 3, 4];

const haveClips = (() => {
  try {
    return Deno.statSync(`${SPEECH}fsdd`).isDirectory;
  } catch {
    return false;
  }
})();
noteSkip("tests/web/page_test.ts");

function clips(): string[] {
  const rows = Deno.readTextFileSync(`${TRAINED}greedy.tsv`).trim().split("\n").slice(1);
  return ROWS.map((r) => SPEECH + rows[r].split("\t")[0]);
}

/** The engine's log-probabilities of each clip in Deno (lavapipe): valid rows only. */
async function denoLogProbs(files: string[]): Promise<Float32Array[]> {
  setQuiet(true);
  await initGpu();
  const model = await loadModel(CHECKPOINT);
  const out: Float32Array[] = [];
  for (const f of files) {
    const { waveform } = await loadAudio(f);
    const [u] = await logProbsOf(model, [waveform]);
    out.push(u.logProbs.slice(0, u.length * 29));
  }
  model.dispose();
  return out;
}

function relError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length, "log-probability counts differ");
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) {
    num += (a[i] - b[i]) ** 2;
    den += b[i] ** 2;
  }
  return Math.sqrt(num / den);
}

interface PageResult {
  name: string;
  text: string;
  words: { word: string; start: number; end: number; probability?: number }[];
  realTimeFactor: number;
  adapter: string;
  logProbs: number[];
  time: number;
  length: number;
}

const state = (page: Page) => page.evaluate(() => document.body.dataset.state);

/** Waits for the page to leave `busy` states; an "error" state fails with the page's message. */
async function settled(page: Page, want: string, timeout = 240_000): Promise<void> {
  await page.waitForFunction(
    (want) => document.body.dataset.state === want || document.body.dataset.state === "error",
    want,
    { timeout },
  );
  if ((await state(page)) === "error") {
    throw new Error(`the page failed: ${await page.textContent("#error")}`);
  }
}

async function transcribeInPage(page: Page, file: string): Promise<PageResult> {
  await page.setInputFiles("#audio", file);
  await page.waitForFunction(
    (name) =>
      document.body.dataset.state === "error" ||
      (document.body.dataset.state === "done" &&
        (globalThis as { speechResult?: { name: string } }).speechResult?.name === name),
    basename(file),
    { timeout: 240_000 },
  );
  if ((await state(page)) === "error") throw new Error(`${file}: ${await page.textContent("#error")}`);
  return await page.evaluate(() => (globalThis as unknown as { speechResult: PageResult }).speechResult);
}

/** The page's routes: index, the bundles built for this test, the checkpoint; nothing else. */
async function serve(): Promise<{ server: StaticServer; dist: string }> {
  const dist = await Deno.makeTempDir({ prefix: "speech_web_dist_" });
  await buildWeb(dist);
  const server = new StaticServer(
    new Map([
      ["/", `${ROOT}web/index.html`],
      ["/index.html", `${ROOT}web/index.html`],
      ["/dist/app.js", `${dist}/app.js`],
      ["/dist/speech.js", `${dist}/speech.js`],
      ["/model.safetensors", CHECKPOINT],
    ]),
  );
  return { server, dist };
}

Deno.test({
  name:
    "the page transcribes real clips in Chromium as `deno task transcribe` does, asking the server nothing",
  ignore: !haveChromium() || !haveClips,
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const files = clips();
    const [cli, reference] = [await cliTranscripts(CHECKPOINT, [...files, MP3]), await denoLogProbs(files)];
    const { server, dist } = await serve();
    const browser = await Browser.launch();
    try {
      await browser.run("page transcribes", async (page) => {
        await page.goto(`${server.origin}/?model=/model.safetensors&logprobs=1`);
        await settled(page, "idle");
        assert.match(await page.textContent("#adapter") ?? "", /swiftshader/i);
        assert.match(await page.textContent("#model-status") ?? "", /downloaded/);
        const before = server.requests.length;
        for (let i = 0; i < files.length; i++) {
          const r = await transcribeInPage(page, files[i]);
          assert.equal(
            r.text,
            cli.get(files[i]),
            `${files[i]}: page "${r.text}", CLI "${cli.get(files[i])}"`,
          );
          assert.equal(await page.textContent("#transcript"), r.text || "(no speech recognised)");
          assert.equal(r.logProbs.length, r.time * 29);
          const valid = r.logProbs.slice(0, r.length * 29);
          const err = relError(valid, reference[i]);
          assert.ok(
            err <= 1e-4,
            `${files[i]}: log-probabilities differ by ${err.toExponential(2)} (relative)`,
          );
          console.log(
            `  ${basename(files[i])}: "${r.text}", log-prob rel. error ${err.toExponential(2)}, ` +
              `real-time factor ${r.realTimeFactor.toFixed(1)}`,
          );
          assert.equal(r.words.map((w) => w.word).join(" "), r.text);
          for (const w of r.words) assert.ok(w.start >= 0 && w.end > w.start, JSON.stringify(w));
          assert.ok(r.realTimeFactor > 0 && /swiftshader/i.test(r.adapter));
        }
        assert.deepEqual(
          server.requests.slice(before),
          [],
          "the page asked the server for something while working",
        );

        // A second visit: the model comes from Cache Storage, the server is not asked for it.
        const mark = server.requests.length;
        await page.reload();
        await settled(page, "idle");
        assert.match(await page.textContent("#model-status") ?? "", /from the cache/);
        assert.ok(
          !server.requests.slice(mark).some((q) => q.path === "/model.safetensors"),
          "model fetched again",
        );
        const again = await transcribeInPage(page, files[0]);
        assert.equal(again.text, cli.get(files[0]));

        // Chromium's own MP3 decoder, then our resampler: the CLI's WebAssembly mpg123 gives the same words.
        const mp3 = await transcribeInPage(page, MP3);
        assert.equal(mp3.text, cli.get(MP3), `MP3: page "${mp3.text}", CLI "${cli.get(MP3)}"`);
      });
    } finally {
      await browser.close();
      await server.close();
      await Deno.remove(dist, { recursive: true });
    }
  },
});

Deno.test({
  name: "the page says how to get WebGPU when the browser has none, and names a file it cannot read",
  ignore: !haveChromium(),
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const { server, dist } = await serve();
    const browser = await Browser.launch();
    const bad = await Deno.makeTempFile({ suffix: ".flac" });
    try {
      await browser.run("page errors", async (page) => {
        await Deno.writeFile(bad, new TextEncoder().encode("fLaC but nothing after it"));
        await page.goto(`${server.origin}/?model=/model.safetensors`);
        await settled(page, "idle");
        await page.setInputFiles("#audio", bad);
        await page.waitForFunction(() => document.body.dataset.state === "error", null, { timeout: 60_000 });
        assert.match(await page.textContent("#error") ?? "", new RegExp(basename(bad).replace(".", "\\.")));

        const noGpu = await browser.context.newPage();
        await noGpu.addInitScript(() =>
          Object.defineProperty(Navigator.prototype, "gpu", { get: () => undefined })
        );
        await noGpu.goto(`${server.origin}/`);
        await noGpu.waitForFunction(() => document.body.dataset.state === "error", null, { timeout: 60_000 });
        assert.ok(await noGpu.isVisible("#nogpu"));
        assert.match(await noGpu.textContent("#nogpu-help") ?? "", /enable-unsafe-webgpu/);
        assert.match(await noGpu.textContent("#error") ?? "", /WebGPU is not available/);
      });
    } finally {
      await browser.close();
      await server.close();
      await Deno.remove(dist, { recursive: true });
      await Deno.remove(bad);
    }
  },
});
