/** What the browser tests compare the page against: `deno task transcribe` run as a user would. */
import * as assert from "node:assert/strict";

const ROOT = new URL("../../", import.meta.url).pathname;

/** `deno task transcribe` on the files, one window batch each (as the page runs them): file -> text. */
export async function cliTranscripts(checkpoint: string, files: string[]): Promise<Map<string, string>> {
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      `${ROOT}cli/transcribe.ts`,
      "--checkpoint",
      checkpoint,
      "--batch-size",
      "1",
      ...files,
    ],
    env: { XDG_RUNTIME_DIR: Deno.env.get("XDG_RUNTIME_DIR") ?? "/tmp" },
  }).output();
  assert.equal(code, 0, new TextDecoder().decode(stderr));
  const out = new Map<string, string>();
  for (const line of new TextDecoder().decode(stdout).trim().split("\n")) {
    const [file, text] = line.split("\t");
    out.set(file, text ?? "");
  }
  return out;
}
