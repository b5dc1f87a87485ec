/**
 * Activation checkpointing: a segment of the forward pass that keeps only its inputs for backward and runs
 * again when the gradient reaches it, as torch.utils.checkpoint does. For cheap segments (LayerNorm, GELU,
 * dropout: a few elementwise passes) this trades a little compute for whole activations: a ResCNN block's
 * LayerNorm and GELU outputs, which backward would otherwise hold from the forward to the end of the step.
 *
 * The segment must compute the same values when run again: dropout draws come from seeds fixed outside it, so
 * they do. Every tensor the segment reads that may need a gradient (parameters too) must be passed in
 * `inputs`: the recomputation runs on views of them, and their gradients are handed back to the outer tape.
 */
import { backward, needsGrad, noGrad, record, withGrad } from "./autograd.ts";
import { tidy } from "./scope.ts";
import type { Tensor } from "./tensor.ts";

export function recompute(op: string, inputs: readonly Tensor[], fn: (...xs: Tensor[]) => Tensor): Tensor {
  // Without a gradient the segment is an ordinary forward: its intermediates are freed as soon as it returns.
  if (!needsGrad(...inputs)) return tidy(() => fn(...inputs));
  // The segment's intermediates are freed as soon as the forward is recorded; only `out` leaves the scope.
  const out = tidy(() => noGrad(() => fn(...inputs)));
  return record(out, op, inputs, (grad) =>
    tidy(() => {
      const leaves = inputs.map((t) => {
        const v = t.view(t.shape);
        v.requiresGrad = t.requiresGrad;
        return v;
      });
      const again = withGrad(() => fn(...leaves));
      backward(again, grad);
      return leaves.map((v) => {
        const g = v.grad;
        v.grad = null;
        return g;
      });
    }));
}
