/**
 * Which parameters a fine-tuning run keeps fixed (`--freeze`). A frozen parameter is taken off the tape (it no
 * longer requires a gradient, so backward computes none for it) and is not given to the optimizer, so it has no
 * AdamW state and no weight decay: it stays bit-identical however long the run.
 *
 * What a name given to `--freeze` covers:
 *
 * - `cnn`: the convolutional front end, `cnn.*` (the first Conv2d) and `rescnn_layers.*` (the ResCNN blocks);
 * - `rnn`: the recurrent part, `fully_connected.*` (the projection into the BiGRU's width) and `birnn_layers.*`,
 *   so that `cnn,rnn` leaves only the classifier to train;
 * - anything else is a parameter name prefix, matched at a dot: `birnn_layers.0` covers `birnn_layers.0.*` but
 *   not `birnn_layers.01.*`; `cnn.` (with the dot) is the first Conv2d alone. A prefix that matches no
 *   parameter is an error naming it.
 */
import type { Tensor } from "../engine/tensor.ts";

/** The named groups of `--freeze` and the prefixes each covers. */
export const FREEZE_GROUPS: Readonly<Record<string, readonly string[]>> = {
  cnn: ["cnn.", "rescnn_layers."],
  rnn: ["fully_connected.", "birnn_layers."],
};

/** A `--freeze` value that names nothing, or that leaves nothing to train. */
export class FreezeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "FreezeError";
  }
}

/** Whether parameter `name` is under `prefix` (at a dot boundary, or the whole name). */
function under(name: string, prefix: string): boolean {
  if (prefix.endsWith(".")) return name.startsWith(prefix);
  return name === prefix || name.startsWith(`${prefix}.`);
}

/** The prefixes of one `--freeze` entry: a group's, or the entry itself. */
function prefixesOf(entry: string): readonly string[] {
  return FREEZE_GROUPS[entry] ?? [entry];
}

/**
 * The names among `names` that `entries` freeze, in `names`' order. An entry that matches nothing is an error
 * naming it (with the top-level names there are), and so is freezing every parameter.
 */
export function frozenNames(names: readonly string[], entries: readonly string[]): string[] {
  const frozen = new Set<string>();
  for (const raw of entries) {
    const entry = raw.trim();
    if (entry === "") throw new FreezeError(`--freeze: an empty name`);
    const matched = names.filter((n) => prefixesOf(entry).some((p) => under(n, p)));
    if (matched.length === 0) {
      const tops = [...new Set(names.map((n) => n.split(".")[0]))];
      throw new FreezeError(
        `--freeze: "${entry}" matches no parameter (give cnn, rnn, or a name prefix such as ` +
          `${tops.map((t) => `"${t}"`).join(", ")})`,
      );
    }
    for (const n of matched) frozen.add(n);
  }
  if (frozen.size === names.length && names.length > 0) {
    throw new FreezeError(`--freeze ${entries.join(",")}: freezes every parameter, leaving nothing to train`);
  }
  return names.filter((n) => frozen.has(n));
}

/**
 * Freezes the parameters `entries` name (see the module comment) and returns the names frozen and the
 * parameters left to train, in `params`' order (what the optimizer gets).
 */
export function freezeParameters(
  params: ReadonlyMap<string, Tensor>,
  entries: readonly string[],
): { frozen: string[]; trainable: Tensor[] } {
  const frozen = frozenNames([...params.keys()], entries);
  const set = new Set(frozen);
  const trainable: Tensor[] = [];
  for (const [name, p] of params) {
    if (set.has(name)) {
      p.requiresGrad = false;
      p.grad?.dispose();
      p.grad = null;
    } else {
      trainable.push(p);
    }
  }
  return { frozen, trainable };
}

/** "N tensors (M values)" for a list of parameters: what a fine-tuning run prints of what it froze. */
export function describeFrozen(params: ReadonlyMap<string, Tensor>, frozen: readonly string[]): string {
  const values = frozen.reduce((sum, n) => sum + (params.get(n)?.size ?? 0), 0);
  return `${frozen.length} tensors (${values.toLocaleString("en-US")} values)`;
}
