/// <reference lib="dom" />
/**
 * The browser side of tests/web/kernels_test.ts: starts WebGPU, fetches the two fixture files from the test's
 * server, runs tests/web/kernel_checks.ts and leaves the results in `globalThis.kernelResults` and
 * `document.body.dataset.state` ("done" or "error", with the message in #error).
 */
import { initGpu, setQuiet } from "../../engine/device.ts";
import { runKernelChecks } from "./kernel_checks.ts";

async function bytes(url: string): Promise<Uint8Array> {
  const r = await fetch(url);
  if (!r.ok) throw new Error(`${url}: HTTP ${r.status}`);
  return new Uint8Array(await r.arrayBuffer());
}

try {
  setQuiet(true);
  const g = await initGpu();
  const results = await runKernelChecks(await bytes("/ops.safetensors"), await bytes("/mel.safetensors"));
  Object.assign(globalThis, {
    kernelResults: results,
    kernelAdapter: `${g.adapterInfo.vendor} ${g.adapterInfo.architecture}`,
    kernelCpu: g.isCpuAdapter,
  });
  document.body.dataset.state = "done";
} catch (e) {
  document.getElementById("error")!.textContent = (e as Error).stack ?? String(e);
  document.body.dataset.state = "error";
}
