/**
 * Reverse-mode autograd on a tape. Each differentiable op records one {@link GradNode} on its output (one backward
 * closure per op, as micrograd does); `backward()` orders the graph topologically from the loss and walks it in
 * reverse, summing gradients where a tensor feeds several ops (engine/accumulate.ts, or the kernels' `add` once
 * registered, so no kernel module needs to be imported first). Intermediate gradients are freed as soon as they
 * have been propagated, so the peak memory of a backward pass stays near that of the forward pass.
 */
import { addGradients } from "./accumulate.ts";
import { keep } from "./scope.ts";
import { full, type GradNode, shapeString, Tensor } from "./tensor.ts";

let gradEnabled = true;

/** Whether ops called now record themselves for backward. */
export function isGradEnabled(): boolean {
  return gradEnabled;
}

/** Runs `fn` without recording anything on the tape (inference, optimizer updates). */
export function noGrad<T>(fn: () => T): T {
  const prev = gradEnabled;
  gradEnabled = false;
  try {
    return fn();
  } finally {
    gradEnabled = prev;
  }
}

/** Runs `fn` with recording on, even inside `noGrad` (a backward closure that recomputes its forward). */
export function withGrad<T>(fn: () => T): T {
  const prev = gradEnabled;
  gradEnabled = true;
  try {
    return fn();
  } finally {
    gradEnabled = prev;
  }
}

/** True when an op over these inputs must be recorded. */
export function needsGrad(...inputs: (Tensor | null | undefined)[]): boolean {
  if (!gradEnabled) return false;
  for (const t of inputs) if (t?.requiresGrad) return true;
  return false;
}

/** Records `out = op(inputs)` on the tape when any input requires a gradient. Returns `out`. */
export function record(
  out: Tensor,
  op: string,
  inputs: readonly Tensor[],
  backward: GradNode["backward"],
): Tensor {
  if (!needsGrad(...inputs)) return out;
  out.requiresGrad = true;
  out.node = { op, inputs, backward };
  return out;
}

type Accumulate = (a: Tensor, b: Tensor) => Tensor;
let accumulate: Accumulate | null = null;

/**
 * Replaces the gradient accumulation (the elementwise kernels register their `add` here). Optional: without it,
 * `backward()` sums gradients with the engine's own kernel (engine/accumulate.ts).
 */
export function setGradientAccumulator(fn: Accumulate): void {
  accumulate = fn;
}

function topologicalOrder(root: Tensor): Tensor[] {
  const order: Tensor[] = [];
  const seen = new Set<Tensor>();
  // Iterative DFS: a 5-layer BiGRU over hundreds of frames makes graphs deeper than the JS stack.
  const stack: [Tensor, number][] = [[root, 0]];
  seen.add(root);
  while (stack.length > 0) {
    const top = stack[stack.length - 1];
    const [t, i] = top;
    const inputs = t.node?.inputs ?? [];
    if (i < inputs.length) {
      top[1]++;
      const child = inputs[i];
      if (child.requiresGrad && !seen.has(child)) {
        seen.add(child);
        stack.push([child, 0]);
      }
    } else {
      stack.pop();
      order.push(t);
    }
  }
  return order;
}

/**
 * Computes d(root)/d(leaf) for every leaf that requires a gradient and adds it to `leaf.grad`. `root` must be a
 * scalar unless `seed` (the gradient of some scalar with respect to `root`) is given. The tape is released
 * afterwards unless `retainGraph` is set.
 */
export function backward(root: Tensor, seed?: Tensor, retainGraph = false): void {
  if (!root.requiresGrad) {
    throw new Error(`backward: ${root} does not require a gradient (no input of it has requiresGrad)`);
  }
  if (!seed && root.size !== 1) {
    throw new Error(`backward: the root ${shapeString(root.shape)} is not a scalar; pass a seed gradient`);
  }
  if (seed && seed.size !== root.size) {
    throw new Error(
      `backward: seed ${shapeString(seed.shape)} does not match root ${shapeString(root.shape)}`,
    );
  }
  const add = accumulate ?? addGradients;
  const order = topologicalOrder(root);
  const grads = new Map<Tensor, Tensor>();
  noGrad(() => {
    const start = seed ? seed.view(root.shape) : full(root.shape, 1);
    grads.set(root, start);
    for (let k = order.length - 1; k >= 0; k--) {
      const t = order[k];
      const g = grads.get(t);
      if (!g) continue;
      grads.delete(t);
      const node = t.node;
      if (!node) {
        if (g.size !== t.size) throw new Error(`backward: gradient ${g} does not match ${t}`);
        const fitted = g.shape.length === t.shape.length && g.shape.every((d, i) => d === t.shape[i])
          ? g
          : g.view(t.shape);
        if (t.grad) {
          const sum = add(t.grad, fitted);
          t.grad.dispose();
          t.grad = keep(sum);
          fitted.dispose();
        } else {
          t.grad = keep(fitted);
        }
        if (fitted !== g) g.dispose();
        continue;
      }
      const inputGrads = node.backward(g);
      const handedOut = new Set<Tensor>();
      for (let i = 0; i < node.inputs.length; i++) {
        const input = node.inputs[i];
        let gi = inputGrads[i];
        if (!gi || !input.requiresGrad) {
          if (gi && gi !== g && !handedOut.has(gi)) gi.dispose();
          continue;
        }
        if (gi.size !== input.size) {
          throw new Error(
            `backward of ${node.op}: gradient ${shapeString(gi.shape)} for input ` +
              `${shapeString(input.shape)}`,
          );
        }
        // Share storage rather than the object, so each gradient can be disposed on its own.
        if (gi === g || handedOut.has(gi)) gi = gi.view(gi.shape);
        handedOut.add(gi);
        const prev = grads.get(input);
        if (prev) {
          grads.set(input, add(prev, gi));
          prev.dispose();
          gi.dispose();
        } else {
          grads.set(input, gi);
        }
      }
      if (!handedOut.has(g)) g.dispose();
      if (!retainGraph) t.node = null;
    }
  });
}
