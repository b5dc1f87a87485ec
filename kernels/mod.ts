/** Differentiable ops, one kernel family a file. */
export * from "./elementwise.ts";
export * from "./reduce.ts";
export * from "./layout.ts";
export * from "./softmax.ts";
export * from "./matmul.ts";
export * from "./fill.ts";
