/**
 * The end of `deno task train`: it prints the `deno task transcribe` command that tries the best checkpoint on a
 * held-out clip of the bundled sample, and that command, run as printed, gives the line the run showed.
 */
import * as assert from "node:assert/strict";

const ROOT = new URL("../../", import.meta.url).pathname;

async function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", ...args],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

Deno.test("train on the bundled sample ends with a transcribe command that works as printed", async () => {
  await Deno.mkdir(`${ROOT}runs`, { recursive: true });
  const out = await Deno.makeTempDir({ dir: `${ROOT}runs`, prefix: "first_run_test_" });
  const rel = out.slice(ROOT.length);
  try {
    const r = await run(["train.ts", "--limit", "8", "--epochs", "1", "--batch-size", "4", "--out", rel]);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.split("\n"); // no trim: an untrained model's transcript is empty
    const at = lines.findIndex((l) => l.startsWith("Try the model on a held-out clip"));
    assert.ok(at > 0, r.stdout);
    assert.match(lines[at], /^Try the model on a held-out clip \(it says "[a-z ]+"\):$/);
    const command = lines[at + 1].trim();
    const flac = "data/sample/dev/90001/2/90001-2-0000.flac";
    assert.equal(command, `deno task transcribe --checkpoint ${rel}/checkpoints/best.safetensors ${flac}`);
    const shown = lines[at + 2];
    assert.ok(shown.startsWith(`${flac}\t`), shown);
    // The command as printed (deno task runs cli/transcribe.ts from the project root) gives the same line.
    const again = await run(["cli/transcribe.ts", ...command.split(" ").slice(3)]);
    assert.equal(again.code, 0, again.stderr);
    assert.equal(again.stdout, `${shown}\n`);
  } finally {
    await Deno.remove(out, { recursive: true });
  }
});
