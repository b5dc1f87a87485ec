/// <reference lib="dom" />
/**
 * The kernel subset of tests/web/kernel_checks.ts (matmul on both strategies, conv2d, LayerNorm, BiGRU, CTC, FFT
 * mel) against the same float64 references, twice: in Deno (wgpu) and in headless Chromium (Dawn on
 * SwiftShader), so Dawn's validation and limits are covered too. The browser half skips, saying so, when no
 * chromium is installed.
 */
import assert from "node:assert/strict";
import { initGpu, setQuiet } from "../../engine/device.ts";
import { Browser, haveChromium, noteSkip, StaticServer } from "./browser.ts";
import { type CheckResult, runKernelChecks } from "./kernel_checks.ts";

const FIXTURES = new URL("../fixtures/torch/", import.meta.url).pathname;
noteSkip("tests/web/kernels_test.ts");

function assertAllPass(results: CheckResult[], where: string): void {
  assert.ok(results.length >= 30, `${where}: only ${results.length} checks ran`);
  const failed = results.filter((r) => !r.ok).map((r) =>
    `${r.name}: ${r.error.toExponential(2)} > ${r.tolerance}`
  );
  assert.deepEqual(failed, [], `${where}: checks over tolerance`);
}

Deno.test("kernel checks pass in Deno (the same code the browser runs)", async () => {
  setQuiet(true);
  await initGpu();
  const results = await runKernelChecks(
    await Deno.readFile(`${FIXTURES}ops.safetensors`),
    await Deno.readFile(`${FIXTURES}mel.safetensors`),
  );
  assertAllPass(results, "Deno");
});

Deno.test({
  name: "kernel checks pass in Chromium on Dawn (SwiftShader)",
  ignore: !haveChromium(),
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "speech_kernel_page_" });
    const { code, stderr } = await new Deno.Command(Deno.execPath(), {
      args: [
        "bundle",
        "--quiet",
        "--platform",
        "browser",
        "--output",
        `${dir}/kernels.js`,
        new URL("./kernel_page.ts", import.meta.url).pathname,
      ],
    }).output();
    assert.equal(code, 0, new TextDecoder().decode(stderr));
    await Deno.writeTextFile(
      `${dir}/index.html`,
      '<!doctype html><meta charset="utf-8"><title>kernels</title><link rel="icon" href="data:,">' +
        '<body data-state="running">' +
        '<pre id="error"></pre><script type="module" src="/kernels.js"></script>',
    );
    const server = new StaticServer(
      new Map([
        ["/", `${dir}/index.html`],
        ["/kernels.js", `${dir}/kernels.js`],
        ["/ops.safetensors", `${FIXTURES}ops.safetensors`],
        ["/mel.safetensors", `${FIXTURES}mel.safetensors`],
      ]),
    );
    const browser = await Browser.launch();
    try {
      await browser.run("kernels in chromium", async (page) => {
        await page.goto(`${server.origin}/`);
        await page.waitForFunction(() => document.body.dataset.state !== "running", null, {
          timeout: 300_000,
        });
        const state = await page.evaluate(() => document.body.dataset.state);
        if (state !== "done") throw new Error(`the kernel page failed: ${await page.textContent("#error")}`);
        const { results, adapter, cpu } = await page.evaluate(() => {
          const g = globalThis as unknown as {
            kernelResults: CheckResult[];
            kernelAdapter: string;
            kernelCpu: boolean;
          };
          return { results: g.kernelResults, adapter: g.kernelAdapter, cpu: g.kernelCpu };
        });
        assert.match(adapter, /swiftshader/i);
        // A CPU adapter: the engine binds kernel parameters as storage there (engine/commands.ts), so that path runs.
        assert.equal(cpu, true);
        const worst = results.reduce((a, r) => (r.error / r.tolerance > a.error / a.tolerance ? r : a));
        console.log(
          `  ${results.length} checks on ${adapter}; closest to its tolerance: ${worst.name} ` +
            `${worst.error.toExponential(2)} (tolerance ${worst.tolerance})`,
        );
        assertAllPass(results, "Chromium");
      });
    } finally {
      await browser.close();
      await server.close();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
