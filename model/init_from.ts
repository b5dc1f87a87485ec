/**
 * Starting a run from another checkpoint's weights (`--init-from`): every tensor whose name and shape match the
 * new model's is loaded, the rest of the model keeps its fresh initialisation, and the report says which went
 * where, so a changed alphabet re-initialises the output layer (`classifier.3.*`) and nothing else, and a
 * checkpoint of another architecture is never loaded by accident without saying so.
 */
import type { WeightSpec } from "./checkpoint.ts";

export interface InitReport {
  /** Parameters taken from the checkpoint. */
  loaded: string[];
  /** Parameters left freshly initialised, each with why (absent from the checkpoint, or another shape). */
  reinitialised: { name: string; reason: string }[];
  /** Checkpoint tensors the model has no place for. */
  unused: string[];
}

const shapeText = (shape: readonly number[]) => `[${shape.join(", ")}]`;

/**
 * The checkpoint weights that fit `specs` (same name, same shape) and the report. The map it returns holds only
 * those, for the model constructor, which initialises the missing ones itself.
 */
export function matchWeights(
  specs: readonly WeightSpec[],
  weights: ReadonlyMap<string, Float32Array>,
  shapes: ReadonlyMap<string, readonly number[]>,
): { weights: Map<string, Float32Array>; report: InitReport } {
  const matched = new Map<string, Float32Array>();
  const report: InitReport = { loaded: [], reinitialised: [], unused: [] };
  const wanted = new Set(specs.map((s) => s.name));
  for (const spec of specs) {
    const values = weights.get(spec.name);
    const shape = shapes.get(spec.name);
    if (!values || !shape) {
      report.reinitialised.push({ name: spec.name, reason: "not in the checkpoint" });
    } else if (shapeText(shape) !== shapeText(spec.shape)) {
      report.reinitialised.push({
        name: spec.name,
        reason: `checkpoint has ${shapeText(shape)}, the model ${shapeText(spec.shape)}`,
      });
    } else {
      matched.set(spec.name, values);
      report.loaded.push(spec.name);
    }
  }
  for (const name of weights.keys()) if (!wanted.has(name)) report.unused.push(name);
  return { weights: matched, report };
}

/** The lines a run prints about its initialisation from `file`. */
export function describeInit(report: InitReport, file: string): string[] {
  const lines = [`init from ${file}: ${report.loaded.length} tensors loaded`];
  if (report.reinitialised.length > 0) {
    lines.push(`  re-initialised (${report.reinitialised.length}):`);
    for (const r of report.reinitialised) lines.push(`    ${r.name}: ${r.reason}`);
  }
  if (report.unused.length > 0) {
    lines.push(`  unused from the checkpoint (${report.unused.length}): ${report.unused.join(", ")}`);
  }
  return lines;
}
