/**
 * The geometry of a 2-D convolution (shapes, stride, padding, output size), checked once on the host and shared
 * by the forward, backward-data and backward-weight kernels (kernels/conv2d_forward.ts,
 * kernels/conv2d_backward_data.ts, kernels/conv2d_backward_weight.ts) and the op that drives them
 * (kernels/conv2d.ts).
 */
import { gpu } from "../engine/device.ts";
import { shapeString, type Tensor } from "../engine/tensor.ts";

/** Invocations per workgroup of every conv2d kernel. */
export const WG = 64;

export interface Conv2dOptions {
  /** Stride, one number or [h, w] (default 1). */
  stride?: number | readonly [number, number];
  /** Zero padding on each side, one number or [h, w] (default 0). */
  padding?: number | readonly [number, number];
  /**
   * Largest storage binding in bytes (default: the adapter's `maxStorageBufferBindingSize`). Tests lower it to
   * exercise the batch-chunked path.
   */
  maxBindingBytes?: number;
}

export interface Geometry {
  N: number;
  Cin: number;
  H: number;
  W: number;
  Cout: number;
  kH: number;
  kW: number;
  sH: number;
  sW: number;
  pH: number;
  pW: number;
  OH: number;
  OW: number;
}

function pair(
  v: number | readonly [number, number] | undefined,
  dflt: number,
  what: string,
): [number, number] {
  const p: [number, number] = v === undefined ? [dflt, dflt] : typeof v === "number" ? [v, v] : [v[0], v[1]];
  for (const x of p) {
    if (!Number.isInteger(x) || x < 0) throw new RangeError(`conv2d: invalid ${what} ${JSON.stringify(v)}`);
  }
  return p;
}

/** Checks the operands of `conv2d(x, w, bias, opts)` and returns its geometry. */
export function geometry(x: Tensor, w: Tensor, bias: Tensor | null, opts: Conv2dOptions): Geometry {
  if (x.rank !== 4) throw new RangeError(`conv2d: input must be [N, Cin, H, W], got ${shapeString(x.shape)}`);
  if (w.rank !== 4) {
    throw new RangeError(`conv2d: weight must be [Cout, Cin, kH, kW], got ${shapeString(w.shape)}`);
  }
  if (x.dtype !== "f32" || w.dtype !== "f32") throw new TypeError("conv2d: expected f32 input and weight");
  const [N, Cin, H, W] = x.shape;
  const [Cout, wCin, kH, kW] = w.shape;
  if (wCin !== Cin) {
    throw new RangeError(
      `conv2d: input ${shapeString(x.shape)} has ${Cin} channels, weight ${
        shapeString(w.shape)
      } expects ${wCin}`,
    );
  }
  if (bias && (bias.rank !== 1 || bias.shape[0] !== Cout || bias.dtype !== "f32")) {
    throw new RangeError(`conv2d: bias must be f32 [${Cout}], got ${shapeString(bias.shape)}`);
  }
  const [sH, sW] = pair(opts.stride, 1, "stride");
  const [pH, pW] = pair(opts.padding, 0, "padding");
  if (sH === 0 || sW === 0) throw new RangeError(`conv2d: stride must be positive`);
  const OH = Math.floor((H + 2 * pH - kH) / sH) + 1;
  const OW = Math.floor((W + 2 * pW - kW) / sW) + 1;
  if (OH < 1 || OW < 1 || kH < 1 || kW < 1) {
    throw new RangeError(
      `conv2d: kernel ${kH}x${kW} does not fit input ${H}x${W} with padding ${pH},${pW} (output ${OH}x${OW})`,
    );
  }
  return { N, Cin, H, W, Cout, kH, kW, sH, sW, pH, pW, OH, OW };
}

/** The largest storage binding the launches may use. */
export function bindingLimit(opts: Conv2dOptions): number {
  return opts.maxBindingBytes ?? gpu().limits.maxStorageBufferBindingSize;
}

export const roundUp = (n: number, m: number): number => Math.ceil(n / m) * m;
/** [0, 1, ..., n - 1]: the unrolled indices of the WGSL generators. */
export const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i);
