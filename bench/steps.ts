/** Timing of our side of the step benches (conv2d, BiGRU, whole model): steps/s of a GPU step. */
import { backward, commands, type Tensor, tidy } from "../engine/mod.ts";

/**
 * Steps per second of `step`: one warm-up call (`step(0)`: pipelines compiled, buffers pooled), then `steps`
 * timed calls (`step(1)` .. `step(steps)`) between two waits for the GPU, so the GPU's work is counted.
 */
export async function stepsPerSecond(steps: number, step: (k: number) => void): Promise<number> {
  step(0);
  await commands().sync();
  const t0 = performance.now();
  for (let k = 1; k <= steps; k++) step(k);
  await commands().sync();
  return steps / ((performance.now() - t0) / 1000);
}

/** One forward + backward step: `forward()`'s output backpropagated with `grad`, then `params`' gradients dropped. */
export function backwardStep(forward: () => Tensor, grad: Tensor, params: readonly Tensor[]): void {
  tidy(() => {
    backward(forward(), grad);
    for (const p of params) {
      p.grad?.dispose();
      p.grad = null;
    }
  });
}
