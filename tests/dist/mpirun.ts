/**
 * Starting test programs under `mpirun` (Open MPI): whether it is installed, and the command line for N ranks
 * on this machine (every rank may use every core: mpirun would pin each to one, starving the CPU adapter; root
 * in CI containers; more ranks than cores), and the processes a job left behind.
 */

/** Whether `mpirun` runs here; when not, the reason printed by the tests that need it. */
export const MPIRUN_MISSING: string | null = await new Deno.Command("mpirun", { args: ["--version"] })
  .output()
  .then((o) => (o.success ? null : "mpirun --version failed"), () => "mpirun is not installed");

if (MPIRUN_MISSING) console.log(`skipping the MPI tests: ${MPIRUN_MISSING} (install openmpi-bin)`);

/** `mpirun -np N ... deno run -A <script> <args>`, spawned with piped output. */
export function mpirun(ranks: number, script: string, args: string[] = [], env: Record<string, string> = {}) {
  const exported = Object.keys(env).flatMap((k) => ["-x", k]);
  return new Deno.Command("mpirun", {
    args: [
      "-np",
      String(ranks),
      "--bind-to",
      "none",
      "--allow-run-as-root",
      "--oversubscribe",
      ...exported,
      Deno.execPath(),
      "run",
      "-A",
      script,
      ...args,
    ],
    env,
    stdout: "piped",
    stderr: "piped",
  });
}

/** Pids of live processes whose command line mentions `needle`, with their MPI rank (from their environment). */
export async function processesOf(needle: string): Promise<{ pid: number; rank: string | undefined }[]> {
  const found: { pid: number; rank: string | undefined }[] = [];
  for await (const e of Deno.readDir("/proc")) {
    if (!/^\d+$/.test(e.name) || Number(e.name) === Deno.pid) continue;
    try {
      const cmd = await Deno.readTextFile(`/proc/${e.name}/cmdline`);
      if (!cmd.includes(needle)) continue;
      const status = await Deno.readTextFile(`/proc/${e.name}/status`);
      if (/State:\s+Z/.test(status)) continue;
      const env = await Deno.readTextFile(`/proc/${e.name}/environ`);
      const rank = env.split("\0").find((v) => v.startsWith("OMPI_COMM_WORLD_RANK="))?.split("=")[1];
      found.push({ pid: Number(e.name), rank });
    } catch { /* gone meanwhile */ }
  }
  return found;
}
