/**
 * Starting test programs under `mpirun` (Open MPI): whether it is installed, and the command line for N ranks
 * on this machine (every rank may use every core: mpirun would pin each to one, starving the CPU adapter; root
 * in CI containers; more ranks than cores).
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
