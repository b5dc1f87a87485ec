/**
 * Runs a peer measurement in Debian's PyTorch (`/usr/bin/python3 -c SCRIPT ARGS...`) and returns the JSON object
 * the script prints on its last line, or null when that Python, torch or torchaudio is not installed (the bench
 * then prints the peer as n/a).
 */
const PYTHON = "/usr/bin/python3";

// deno-lint-ignore no-explicit-any
export async function runPythonPeer(script: string, args: readonly (string | number)[]): Promise<any | null> {
  try {
    const out = await new Deno.Command(PYTHON, {
      args: ["-c", script, ...args.map(String)],
      stdout: "piped",
      stderr: "piped",
    }).output();
    if (!out.success) return null;
    return JSON.parse(new TextDecoder().decode(out.stdout).trim().split("\n").at(-1)!);
  } catch {
    return null;
  }
}
