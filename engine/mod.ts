/** The engine's public surface (re-exported by the project's mod.ts). */
export { GpuError, initGpu, setQuiet } from "./device.ts";
export { backward, isGradEnabled, noGrad } from "./autograd.ts";
export { keep, tidy } from "./scope.ts";
export { assign, empty, full, ones, parameter, type Shape, Tensor, tensor, zeros } from "./tensor.ts";
export { commands } from "./commands.ts";
export {
  formatBytes,
  type MemoryStats,
  memoryStats,
  releasePooledMemory,
  resetPeakMemory,
} from "./memory.ts";
export { Random } from "./random.ts";
