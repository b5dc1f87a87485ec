/**
 * Memory scopes: every tensor created inside {@link tidy} is disposed when it returns, except the tensors it
 * returns (which move to the enclosing scope) and those passed to {@link keep}. A training step wrapped in
 * `tidy` therefore cannot leak GPU buffers, however many intermediates the forward and backward passes make.
 */

/** Anything the scope can free. */
export interface Disposable {
  dispose(): void;
  readonly isDisposed: boolean;
}

const stack: Set<Disposable>[] = [];

/** Registers a new tensor with the innermost scope (no-op outside any scope). */
export function track(t: Disposable): void {
  if (stack.length > 0) stack[stack.length - 1].add(t);
}

/** Takes a tensor out of every scope: it lives until `dispose()` is called on it. */
export function keep<T extends Disposable>(t: T): T {
  for (const s of stack) s.delete(t);
  return t;
}

function collect(value: unknown, out: Set<Disposable>, depth = 0): void {
  if (value === null || typeof value !== "object" || depth > 4) return;
  if ("dispose" in value && "isDisposed" in value) {
    out.add(value as Disposable);
    return;
  }
  if (Array.isArray(value)) {
    for (const v of value) collect(v, out, depth + 1);
  } else if (value instanceof Map) {
    for (const v of value.values()) collect(v, out, depth + 1);
  } else if (Object.getPrototypeOf(value) === Object.prototype) {
    for (const v of Object.values(value)) collect(v, out, depth + 1);
  }
}

function close(scope: Set<Disposable>, result: unknown): void {
  const survivors = new Set<Disposable>();
  collect(result, survivors);
  for (const t of scope) {
    if (!survivors.has(t) && !t.isDisposed) t.dispose();
  }
  if (stack.length > 0) {
    for (const t of survivors) if (scope.has(t)) stack[stack.length - 1].add(t);
  }
}

/**
 * Runs `fn` in a new scope and disposes every tensor it created except those in its result (a tensor, or
 * arrays / plain objects / Maps of them). Works with async functions too: the scope closes when the promise
 * settles, so do not interleave two async scopes.
 */
export function tidy<T>(fn: () => T): T {
  const scope = new Set<Disposable>();
  stack.push(scope);
  let result: T;
  try {
    result = fn();
  } catch (e) {
    stack.pop();
    close(scope, undefined);
    throw e;
  }
  if (result instanceof Promise) {
    return result.then(
      (v) => {
        stack.splice(stack.lastIndexOf(scope), 1);
        close(scope, v);
        return v;
      },
      (e) => {
        stack.splice(stack.lastIndexOf(scope), 1);
        close(scope, undefined);
        throw e;
      },
    ) as T;
  }
  stack.pop();
  close(scope, result);
  return result;
}
