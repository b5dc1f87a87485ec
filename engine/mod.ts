/** The engine's public surface (re-exported by the project's mod.ts). */
export { GpuDeviceLostError, GpuError, GpuOutOfMemoryError, initGpu, setQuiet } from "./device.ts";
export { backward, isGradEnabled, noGrad, withGrad } from "./autograd.ts";
export { recompute } from "./recompute.ts";
export { keep, tidy } from "./scope.ts";
export {
  assign,
  copyInto,
  type CopyOptions,
  empty,
  full,
  ones,
  parameter,
  type Shape,
  Tensor,
  tensor,
  zeros,
} from "./tensor.ts";
export { commands } from "./commands.ts";
export {
  formatBytes,
  type MemoryStats,
  memoryStats,
  releasePooledMemory,
  resetPeakMemory,
  setMemoryLimit,
} from "./memory.ts";
export { profileData, profilePhase, profileReport, startProfile, stopProfile } from "./profiler.ts";
export { Random } from "./random.ts";
