/** One line of `deno task bench` output: our figure beside a peer's, measured in the same run. */
export interface BenchRow {
  /** What was measured, e.g. "matmul 1024x1024x1024". */
  name: string;
  /** Our figure, in `unit` (bigger is better). */
  ours: number;
  /** The peer's figure in the same unit, or null when the peer is not available here. */
  peer: number | null;
  /** Who the peer is, e.g. "tfjs-webgpu 4.22" or "flac -d". */
  peerName: string;
  /** Unit of both figures, e.g. "GFLOP/s" or "s audio/s". Bigger means better unless `lowerIsBetter`. */
  unit: string;
  /** For figures such as memory, where less is better (the ratio is still ours / peer). */
  lowerIsBetter?: boolean;
  /** Extra detail printed after the figures. */
  note?: string;
}

const rows: BenchRow[] = [];

function fmt(x: number): string {
  if (!Number.isFinite(x)) return String(x);
  const a = Math.abs(x);
  return a >= 100 ? x.toFixed(0) : a >= 10 ? x.toFixed(1) : a >= 1 ? x.toFixed(2) : x.toPrecision(3);
}

/** Prints one row at once and keeps it for the closing table. */
export function report(row: BenchRow): void {
  rows.push(row);
  const ratio = row.peer && row.peer > 0
    ? `${fmt(row.ours / row.peer)}x ${row.peerName}${row.lowerIsBetter ? " (lower is better)" : ""}`
    : `(${row.peerName}: n/a)`;
  const peer = row.peer === null ? "n/a" : fmt(row.peer);
  console.log(
    `${row.name.padEnd(44)} ours ${fmt(row.ours).padStart(8)} ${row.unit}  peer ${
      peer.padStart(8)
    }  ratio ${ratio}` +
      (row.note ? `  (${row.note})` : ""),
  );
}

/** All rows reported so far (for a JSON dump). */
export function reportedRows(): readonly BenchRow[] {
  return rows;
}
