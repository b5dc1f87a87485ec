/** Differentiable ops, one kernel family a file. */
export * from "./elementwise.ts";
export * from "./reduce.ts";
export * from "./layout.ts";
export * from "./softmax.ts";
export * from "./matmul.ts";
export * from "./fill.ts";
export { conv2d, type Conv2dOptions } from "./conv2d.ts";
export { layerNorm, layerNormAxis } from "./layernorm.ts";
export { dropout } from "./dropout.ts";
export { linear } from "./linear.ts";
export { biGru, type BiGruOptions, type BiGruWeights } from "./gru.ts";
export { ctcLoss, ctcLossWithSamples, type CtcOptions, type CtcResult } from "./ctc.ts";
export { timeMask, type TimeMaskOptions } from "./time_mask.ts";
