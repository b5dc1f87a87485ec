/**
 * `deno task bench`: every speed figure beside a peer measured in the same run on the same machine.
 * `--only NAME[,NAME]` runs a subset (matmul, conv, gru, model, flac, features, decode, memory, allreduce); `--quick`
 * shortens runs; `--long` adds the memory suite's 10- and 60-minute transcriptions with the tutorial model.
 * `--json FILE` also writes the rows as JSON.
 */
import { parseArgs } from "node:util";
import { initGpu, setQuiet } from "../engine/mod.ts";
import { reportedRows } from "./report.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    only: { type: "string" },
    quick: { type: "boolean", default: false },
    long: { type: "boolean", default: false },
    json: { type: "string" },
    gpu: { type: "boolean", default: false },
    help: { type: "boolean", short: "h", default: false },
  },
});
if (values.help) {
  console.log(
    "usage: deno task bench [--only matmul,conv,gru,model,flac,features,decode,memory,allreduce] [--quick] [--long] " +
      "[--json FILE]",
  );
  Deno.exit(0);
}
const only = values.only ? new Set(values.only.split(",")) : null;
const want = (name: string) => !only || only.has(name);

setQuiet(true);
const gpu = await initGpu();
console.log(
  `adapter: ${gpu.adapterInfo.description || gpu.adapterInfo.vendor}${gpu.isCpuAdapter ? " (CPU)" : ""}`,
);
if (values.gpu && gpu.isCpuAdapter) {
  console.error(
    "bench: --gpu was given but WebGPU found only a CPU adapter (check the driver and Vulkan loader)",
  );
  Deno.exit(1);
}

const suites: [string, () => Promise<unknown>][] = [
  ["matmul", async () => (await import("./matmul_bench.ts")).benchMatmul(values.quick)],
  ["conv", async () => (await import("./conv_bench.ts")).benchConv()],
  ["gru", async () => (await import("./gru_bench.ts")).benchGru()],
  ["model", async () => (await import("./model_bench.ts")).benchModel()],
  ["features", async () => (await import("./features_bench.ts")).benchFeatures()],
  ["flac", async () => (await import("./flac_bench.ts")).benchFlac()],
  ["decode", async () => (await import("./decode_bench.ts")).benchDecode()],
  ["memory", async () => (await import("./memory_bench.ts")).benchMemory({ long: values.long })],
  ["allreduce", async () => (await import("./allreduce_bench.ts")).benchAllreduce()],
];
for (const [name, run] of suites) {
  if (!want(name)) continue;
  try {
    await run();
  } catch (e) {
    console.log(`${name}: failed: ${(e as Error).message}`);
  }
}
if (values.json) await Deno.writeTextFile(values.json, JSON.stringify(reportedRows(), null, 2));
