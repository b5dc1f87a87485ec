/**
 * `--memory`: one line at the end of a run with the GPU memory peaks (engine/memory.ts) and the process's peak
 * resident memory, for train, eval and transcribe alike.
 */
import { activeRecorder } from "../engine/commands.ts";
import { formatBytes, memoryStats } from "../engine/memory.ts";

/** The process's peak resident set size in bytes (Linux: VmHWM of /proc/self/status), or null elsewhere. */
export function peakRssBytes(): number | null {
  if (Deno.build.os !== "linux") return null;
  try {
    const m = /^VmHWM:\s*(\d+)\s*kB/m.exec(Deno.readTextFileSync("/proc/self/status"));
    return m ? Number(m[1]) * 1024 : null;
  } catch {
    return null;
  }
}

/**
 * `memory: peak GPU <peakTotalBytes> (peak live <peakLiveBytes>), peak RSS <VmHWM>`; "n/a" for what is not known
 * (no GPU work yet, or not Linux).
 */
export function memoryReportLine(): string {
  let gpu = "n/a";
  let live = "n/a";
  if (activeRecorder()) {
    const s = memoryStats();
    gpu = formatBytes(s.peakTotalBytes);
    live = formatBytes(s.peakLiveBytes);
  }
  const rss = peakRssBytes();
  return `memory: peak GPU ${gpu} (peak live ${live}), peak RSS ${rss === null ? "n/a" : formatBytes(rss)}`;
}
