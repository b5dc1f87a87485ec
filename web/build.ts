/**
 * `deno task build:web`: bundles the browser entry (web/mod.ts) and the page's script (web/app.ts) into single
 * ES modules under web/dist/ (speech.js, app.js), which web/index.html loads. `deno bundle` does the work; this
 * script only names the inputs and outputs, so CI and the tests build the page the same way.
 */

/** What the page needs built: [entry, output], relative to web/. */
export const BUNDLES: readonly [string, string][] = [
  ["mod.ts", "dist/speech.js"],
  ["app.ts", "dist/app.js"],
];

/** Bundles each of {@link BUNDLES} into `outDir` (default web/dist/); throws with deno's message on failure. */
export async function buildWeb(outDir?: string): Promise<string[]> {
  const web = new URL("./", import.meta.url);
  const written: string[] = [];
  for (const [entry, output] of BUNDLES) {
    const out = outDir ? `${outDir}/${output.replace(/^dist\//, "")}` : new URL(output, web).pathname;
    const { code, stderr } = await new Deno.Command(Deno.execPath(), {
      args: ["bundle", "--quiet", "--platform", "browser", "--output", out, new URL(entry, web).pathname],
      stdout: "inherit",
      stderr: "piped",
    }).output();
    if (code !== 0) {
      throw new Error(`build:web: deno bundle ${entry} failed:\n${new TextDecoder().decode(stderr)}`);
    }
    written.push(out);
  }
  return written;
}

if (import.meta.main) {
  for (const file of await buildWeb(Deno.args[0])) console.log(`build:web: wrote ${file}`);
}
