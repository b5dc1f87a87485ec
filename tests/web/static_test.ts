/**
 * The browser entry stays browser-safe, checked without a browser: no node:, npm: or remote module anywhere in
 * the import graph of web/mod.ts or web/app.ts (`deno info --json`), no node: import and no unguarded `Deno.`
 * in the bundles `deno task build:web` makes, and the bundle transcribes (on Deno's WebGPU) with the `Deno`
 * global deleted, giving the same text as PyTorch for the fixture clips.
 */
import assert from "node:assert/strict";
import { buildWeb } from "../../web/build.ts";
import { unguardedDenoUses } from "./deno_guard.ts";

const ROOT = new URL("../../", import.meta.url);
const ENTRIES = ["web/mod.ts", "web/app.ts"];

async function denoJson(
  args: string[],
): Promise<{ modules: { specifier: string; dependencies?: unknown[] }[] }> {
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), { args, cwd: ROOT.pathname })
    .output();
  if (code !== 0) throw new Error(`deno ${args.join(" ")}: ${new TextDecoder().decode(stderr)}`);
  return JSON.parse(new TextDecoder().decode(stdout));
}

for (const entry of ENTRIES) {
  Deno.test(`${entry}: every module it reaches is a local file (no node:, npm:, jsr: or remote import)`, async () => {
    const graph = await denoJson(["info", "--json", entry]);
    const foreign = graph.modules.map((m) => m.specifier).filter((s) => !s.startsWith("file://"));
    assert.deepEqual(foreign, [], `${entry} reaches ${foreign.join(", ")}`);
    assert.ok(graph.modules.length > 50, `only ${graph.modules.length} modules: is this the engine's graph?`);
  });
}

let built: { dir: string; files: string[] } | null = null;
async function bundles(): Promise<{ dir: string; files: string[] }> {
  if (!built) {
    const dir = await Deno.makeTempDir({ prefix: "speech_web_build_" });
    addEventListener("unload", () => Deno.removeSync(dir, { recursive: true }));
    built = { dir, files: await buildWeb(dir) };
  }
  return built;
}

Deno.test("the bundles have no node: import and no unguarded Deno. reference", async () => {
  const { files } = await bundles();
  for (const file of files) {
    const js = await Deno.readTextFile(file);
    assert.ok(js.length > 100_000, `${file}: only ${js.length} bytes`);
    const nodeImports = js.match(/(?:from\s*|import\s*\(\s*|require\s*\(\s*)["']node:[^"']*["']/g) ?? [];
    assert.deepEqual(nodeImports, [], `${file} imports ${nodeImports.join(", ")}`);
    assert.deepEqual(unguardedDenoUses(js), [], `${file}: unguarded Deno uses`);
  }
});

Deno.test("the guard check itself: finds an unguarded use, passes guarded ones", () => {
  const bad = "function f() {\n  return Deno.env.get('X');\n}\n";
  assert.equal(unguardedDenoUses(bad).length, 1);
  const inside =
    "function f() {\n  if (typeof Deno === 'undefined') return;\n  return Deno.env.get('X');\n}\n";
  assert.deepEqual(unguardedDenoUses(inside), []);
  const caller = "function g() {\n  Deno.env.set('X', '1');\n}\nif (typeof Deno !== \"undefined\") g();\n";
  assert.deepEqual(unguardedDenoUses(caller), []);
  const twice = caller + "g();\n";
  assert.equal(unguardedDenoUses(twice).length, 1);
  assert.deepEqual(unguardedDenoUses("/** Deno.env in a comment */\nconst x = 1;\n"), []);
});

const SPEECH = new URL("../../../shared/speech/", import.meta.url).pathname;
const TRAINED = new URL("../fixtures/torch/pytorch_trained/", import.meta.url).pathname;

Deno.test({
  name: "the bundle transcribes with the Deno global deleted, as PyTorch does (fixture clips)",
  ignore: !exists(`${SPEECH}fsdd`),
  fn: async () => {
    const rows = (await Deno.readTextFile(`${TRAINED}greedy.tsv`)).trim().split("\n").slice(1)
      .map((l) => l.split("\t"));
    const picked = [rows[2], rows[3]]; // "six" and "nine" (PyTorch: "six", "nie")
    const { files } = await bundles();
    const speechJs = files.find((f) => f.endsWith("speech.js"))!;
    const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        new URL("./without_deno.ts", import.meta.url).pathname,
        speechJs,
        `${TRAINED}model.safetensors`,
        ...picked.map((r) => SPEECH + r[0]),
      ],
    }).output();
    const err = new TextDecoder().decode(stderr);
    assert.equal(code, 0, err);
    const lines = new TextDecoder().decode(stdout).trim().split("\n").map((l) => JSON.parse(l));
    assert.deepEqual(lines.map((l) => l.text), picked.map((r) => r[2]));
  },
});

function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}
