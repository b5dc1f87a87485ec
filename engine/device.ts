/**
 * The WebGPU device: one per process, requested lazily.
 *
 * A discrete GPU is preferred; on machines without one, Mesa's CPU adapter (lavapipe / llvmpipe) is used and we
 * say so once. Validation and out-of-memory errors are collected from `uncapturederror` and rethrown at the next
 * synchronisation point as {@link GpuError}, naming the operation (pipelines and bind groups carry the op's name
 * as their label, and WebGPU's messages quote labels).
 *
 * Running out of memory gets its own classes, {@link GpuOutOfMemoryError} and {@link GpuDeviceLostError},
 * because it is the one GPU failure a user can fix (a smaller batch, shorter utterances): the CLIs catch them to
 * say which batch failed and what to lower, and let every other error (a bug) through as it is. A failed
 * allocation surfaces late, at the next readback, and usually drags validation errors behind it (work that used
 * the invalid buffer), so one out-of-memory error among the collected ones classifies them all.
 */

/** An error raised by the GPU (validation, out of memory, device lost), naming the operation when known. */
export class GpuError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "GpuError";
  }
}

/** The sizes behind a {@link GpuOutOfMemoryError}, when known (the engine's own memory limit knows them). */
export interface OutOfMemoryDetails {
  /** Bytes the failing allocation asked for. */
  requestedBytes: number;
  /** Bytes in live buffers when it failed. */
  liveBytes: number;
  /** The limit it would have crossed (`setMemoryLimit`). */
  limitBytes: number;
}

/** The GPU (WebGPU's `GPUOutOfMemoryError`) or the engine's memory limit refused an allocation. */
export class GpuOutOfMemoryError extends GpuError {
  constructor(message: string, readonly details: OutOfMemoryDetails | null = null) {
    super(message);
    this.name = "GpuOutOfMemoryError";
  }
}

/** The device was lost (driver reset, or the GPU gave up, often for memory); nothing more runs in this process. */
export class GpuDeviceLostError extends GpuError {
  constructor(message: string) {
    super(message);
    this.name = "GpuDeviceLostError";
  }
}

export interface Gpu {
  device: GPUDevice;
  adapterInfo: GPUAdapterInfo;
  /** True when running on a CPU (software) adapter. */
  isCpuAdapter: boolean;
  limits: {
    maxStorageBufferBindingSize: number;
    maxBufferSize: number;
    maxComputeWorkgroupsPerDimension: number;
    maxComputeWorkgroupStorageSize: number;
    maxComputeInvocationsPerWorkgroup: number;
    maxStorageBuffersPerShaderStage: number;
  };
}

let gpuPromise: Promise<Gpu> | null = null;
let current: Gpu | null = null;
/** Errors from `uncapturederror`, oldest first, until the next {@link throwPendingGpuErrors}. */
const pendingErrors: { message: string; outOfMemory: boolean }[] = [];
let lostReason: string | null = null;
let quiet = false;

const INSTALL_HINT = "No WebGPU adapter was found. On Linux without a GPU, install Mesa's Vulkan drivers " +
  "(Debian/Ubuntu: `sudo apt-get install mesa-vulkan-drivers`); with an NVIDIA GPU, install its driver and " +
  "the Vulkan loader (`libvulkan1`).";

/** Silences the one-line adapter notice (tests, benches that print their own). */
export function setQuiet(value: boolean): void {
  quiet = value;
}

async function requestGpu(): Promise<Gpu> {
  if (!("gpu" in navigator) || !navigator.gpu) throw new GpuError(INSTALL_HINT);
  // Mesa's Vulkan window-system code prints "XDG_RUNTIME_DIR is invalid or not set" on headless machines (not in
  // a browser, which has no Deno).
  if (typeof Deno !== "undefined") quietMesaWarning();
  let adapter = await navigator.gpu.requestAdapter({ powerPreference: "high-performance" });
  if (!adapter) adapter = await navigator.gpu.requestAdapter();
  if (!adapter) throw new GpuError(INSTALL_HINT);
  const info = adapter.info;
  // Chrome leaves the description empty and names SwiftShader in the architecture.
  const isCpuAdapter = info.isFallbackAdapter ||
    /llvmpipe|lavapipe|swiftshader|software/i.test(`${info.description} ${info.architecture}`);
  const a = adapter.limits;
  const requiredLimits: Record<string, number> = {
    maxStorageBufferBindingSize: a.maxStorageBufferBindingSize,
    maxBufferSize: a.maxBufferSize,
    maxComputeWorkgroupStorageSize: a.maxComputeWorkgroupStorageSize,
    maxComputeInvocationsPerWorkgroup: a.maxComputeInvocationsPerWorkgroup,
    maxComputeWorkgroupSizeX: a.maxComputeWorkgroupSizeX,
    maxComputeWorkgroupSizeY: a.maxComputeWorkgroupSizeY,
    maxStorageBuffersPerShaderStage: a.maxStorageBuffersPerShaderStage,
    maxComputeWorkgroupsPerDimension: a.maxComputeWorkgroupsPerDimension,
  };
  // Timestamp queries let --profile time kernels without extra submits (engine/profiler.ts).
  const requiredFeatures: GPUFeatureName[] = adapter.features.has("timestamp-query")
    ? ["timestamp-query"]
    : [];
  const device = await adapter.requestDevice({ requiredLimits, requiredFeatures });
  device.addEventListener("uncapturederror", (ev) => collectError((ev as GPUUncapturedErrorEvent).error));
  device.lost.then((info) => {
    lostReason = `GPU device lost (${info.reason}): ${info.message || "no reason given"}`;
    if (info.reason !== "destroyed") console.error(lostReason);
  });
  if (isCpuAdapter && !quiet) {
    console.error(`webgpu: no GPU found, running on the CPU adapter (${info.description}); this is slow.`);
  }
  const d = device.limits;
  return {
    device,
    adapterInfo: info,
    isCpuAdapter,
    limits: {
      maxStorageBufferBindingSize: d.maxStorageBufferBindingSize,
      maxBufferSize: d.maxBufferSize,
      maxComputeWorkgroupsPerDimension: d.maxComputeWorkgroupsPerDimension,
      maxComputeWorkgroupStorageSize: d.maxComputeWorkgroupStorageSize,
      maxComputeInvocationsPerWorkgroup: d.maxComputeInvocationsPerWorkgroup,
      maxStorageBuffersPerShaderStage: d.maxStorageBuffersPerShaderStage,
    },
  };
}

/** We never present to a window, so any existing directory quiets Mesa; a user's own setting is left alone. */
function quietMesaWarning(): void {
  try {
    if (!Deno.env.get("XDG_RUNTIME_DIR")) {
      Deno.env.set("XDG_RUNTIME_DIR", Deno.build.os === "windows" ? "." : "/tmp");
    }
  } catch {
    // No env permission: the message is harmless.
  }
}

/** Records an uncaptured GPU error for the next {@link throwPendingGpuErrors}. */
function collectError(e: GPUError): void {
  const outOfMemory = e instanceof GPUOutOfMemoryError;
  const kind = outOfMemory ? "GPU out of memory" : "GPU validation error";
  pendingErrors.push({ message: `${kind}: ${e.message}`, outOfMemory });
}

/** Initialises WebGPU (once). Every other engine call needs this to have resolved. */
export async function initGpu(): Promise<Gpu> {
  if (!gpuPromise) {
    gpuPromise = requestGpu().then((g) => (current = g));
    gpuPromise.catch(() => (gpuPromise = null));
  }
  return await gpuPromise;
}

/** The initialised GPU; throws a clear error when {@link initGpu} has not been awaited. */
export function gpu(): Gpu {
  if (!current) throw new GpuError("WebGPU is not initialised: `await initGpu()` first.");
  if (lostReason) throw new GpuDeviceLostError(lostReason);
  return current;
}

/**
 * Throws the GPU errors collected since the last check, if any (called at synchronisation points): a
 * {@link GpuOutOfMemoryError} quoting the first out-of-memory error when there is one, else a {@link GpuError}
 * quoting the first error.
 */
export function throwPendingGpuErrors(context: string): void {
  if (lostReason) throw new GpuDeviceLostError(`${lostReason} (while ${context})`);
  if (pendingErrors.length === 0) return;
  const all = pendingErrors.splice(0, pendingErrors.length);
  const first = all.find((e) => e.outOfMemory) ?? all[0];
  const more = all.length > 1 ? ` (and ${all.length - 1} more)` : "";
  const message = `${first.message}${more} (noticed while ${context})`;
  throw first.outOfMemory ? new GpuOutOfMemoryError(message) : new GpuError(message);
}
