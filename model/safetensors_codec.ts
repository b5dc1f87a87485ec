/**
 * The `.safetensors` byte format, the checkpoint format shared with PyTorch.
 *
 * Layout: an 8-byte little-endian unsigned header length N, then N bytes of UTF-8 JSON
 * `{"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, ..., "__metadata__": {..}}`
 * (possibly padded with trailing spaces), then the raw little-endian tensor data. Offsets are relative to the
 * first byte after the header.
 *
 * This module works on bytes only (no file system), so that a browser can read a checkpoint it fetched;
 * model/safetensors.ts adds reading and writing files.
 *
 * @module
 */

/** The element types this module reads and writes. */
export type SafeDtype = "F32" | "F64" | "F16" | "I32" | "I64" | "U8" | "BOOL";

/** Typed array holding the elements of a {@link SafeTensor}. */
export type SafeTensorData = Float32Array | Float64Array | Int32Array | Uint8Array;

/**
 * One named tensor of a safetensors file.
 *
 * `data` holds the elements in row-major order. Its type depends on `dtype`: F32 and F16 -> Float32Array (F16 is
 * widened on read and narrowed, rounding to nearest even, on write), F64 -> Float64Array, I32 and I64 ->
 * Int32Array, U8 and BOOL -> Uint8Array (BOOL elements are 0 or 1).
 */
export interface SafeTensor {
  /** Element type as written in the file header, e.g. "F32". */
  dtype: string;
  /** Dimensions; `[]` is a scalar holding one element. */
  shape: number[];
  /** The elements, row-major. */
  data: SafeTensorData;
  /**
   * I64 tensors only: the exact 64-bit values. Set by {@link readSafetensors} for every I64 tensor; when given
   * to {@link writeSafetensors} it is written instead of `data`.
   */
  int64?: BigInt64Array;
}

/** Options of {@link readSafetensors}. */
export interface ReadSafetensorsOptions {
  /**
   * When false (the default) an I64 element outside the Int32 range is an error. When true such elements are
   * clamped in `data` to the Int32 range, and the exact values are in `int64`.
   */
  allowInt64OutOfRange?: boolean;
}

/** What {@link readSafetensors} returns: the tensors by name, in file order, and the `__metadata__` strings. */
export interface SafetensorsContents {
  tensors: Map<string, SafeTensor>;
  metadata: Record<string, string>;
}

/** Error for a malformed or inconsistent safetensors file or tensor; the message names the file and the fault. */
export class SafetensorsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "SafetensorsError";
  }
}

/** Whether typed arrays on this machine are little-endian, so file bytes can be used as they are. */
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

const ITEM_SIZE: Record<SafeDtype, number> = { F32: 4, F64: 8, F16: 2, I32: 4, I64: 8, U8: 1, BOOL: 1 };

/** The largest header the reference implementation accepts (100 MB); bigger is treated as corruption. */
const MAX_HEADER_BYTES = 100_000_000;

function isSafeDtype(dtype: string): dtype is SafeDtype {
  return Object.hasOwn(ITEM_SIZE, dtype);
}

function elementCount(shape: number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

// ---- half precision ------------------------------------------------------------------------------------------

function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exponent = (h >> 10) & 0x1f;
  const mantissa = h & 0x3ff;
  if (exponent === 0) return sign * mantissa * 2 ** -24;
  if (exponent === 31) return mantissa === 0 ? sign * Infinity : NaN;
  return sign * (1 + mantissa / 1024) * 2 ** (exponent - 15);
}

const f32Scratch = new Float32Array(1);
const u32Scratch = new Uint32Array(f32Scratch.buffer);

/** Rounds a float32 value to the nearest binary16 bit pattern (ties to even), as PyTorch's `.half()` does. */
function floatToHalf(value: number): number {
  f32Scratch[0] = value;
  const x = u32Scratch[0];
  const sign = (x >>> 16) & 0x8000;
  const exponent = (x >>> 23) & 0xff;
  let mantissa = x & 0x7fffff;
  if (exponent === 0xff) return sign | 0x7c00 | (mantissa ? 0x200 : 0);
  const e = exponent - 127 + 15;
  if (e >= 31) return sign | 0x7c00;
  if (e <= 0) {
    // Subnormal half (or zero): shift the mantissa with its implicit bit into place, rounding to even.
    if (e < -10) return sign;
    mantissa |= 0x800000;
    const shift = 14 - e;
    const half = 1 << (shift - 1);
    const rest = mantissa & ((1 << shift) - 1);
    let result = mantissa >>> shift;
    if (rest > half || (rest === half && (result & 1))) result++;
    return sign | result;
  }
  let result = (e << 10) | (mantissa >>> 13);
  const rest = mantissa & 0x1fff;
  // A carry out of the mantissa correctly bumps the exponent (and may reach infinity).
  if (rest > 0x1000 || (rest === 0x1000 && (result & 1))) result++;
  return sign | result;
}

// ---- reading -------------------------------------------------------------------------------------------------

function describe(fileName: string | undefined): string {
  return fileName ? `safetensors file ${fileName}` : "safetensors data";
}

function decodeTensor(
  where: string,
  name: string,
  dtype: SafeDtype,
  raw: Uint8Array,
  options: ReadSafetensorsOptions,
): { data: SafeTensorData; int64?: BigInt64Array } {
  // A fresh copy is always aligned, whatever the offset of the tensor in the file.
  const buffer = raw.slice().buffer;
  const view = new DataView(buffer);
  const count = raw.byteLength / ITEM_SIZE[dtype];
  switch (dtype) {
    case "F32": {
      if (LITTLE_ENDIAN) return { data: new Float32Array(buffer) };
      const out = new Float32Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getFloat32(4 * i, true);
      return { data: out };
    }
    case "F64": {
      if (LITTLE_ENDIAN) return { data: new Float64Array(buffer) };
      const out = new Float64Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getFloat64(8 * i, true);
      return { data: out };
    }
    case "F16": {
      const out = new Float32Array(count);
      for (let i = 0; i < count; i++) out[i] = halfToFloat(view.getUint16(2 * i, true));
      return { data: out };
    }
    case "I32": {
      if (LITTLE_ENDIAN) return { data: new Int32Array(buffer) };
      const out = new Int32Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getInt32(4 * i, true);
      return { data: out };
    }
    case "I64": {
      const exact = new BigInt64Array(count);
      const out = new Int32Array(count);
      for (let i = 0; i < count; i++) {
        const v = view.getBigInt64(8 * i, true);
        exact[i] = v;
        if (v > 2147483647n || v < -2147483648n) {
          if (!options.allowInt64OutOfRange) {
            throw new SafetensorsError(
              `${where}: I64 tensor "${name}" element ${i} is ${v}, outside the Int32 range ` +
                `(read with allowInt64OutOfRange and use .int64 for exact values)`,
            );
          }
          out[i] = v > 0n ? 2147483647 : -2147483648;
        } else {
          out[i] = Number(v);
        }
      }
      return { data: out, int64: exact };
    }
    case "U8":
      return { data: new Uint8Array(buffer) };
    case "BOOL": {
      const out = new Uint8Array(buffer);
      for (let i = 0; i < count; i++) {
        if (out[i] > 1) {
          throw new SafetensorsError(`${where}: BOOL tensor "${name}" element ${i} is ${out[i]}, not 0 or 1`);
        }
      }
      return { data: out };
    }
  }
}

interface HeaderEntry {
  name: string;
  dtype: SafeDtype;
  shape: number[];
  begin: number;
  end: number;
}

function parseEntry(where: string, name: string, value: unknown): HeaderEntry {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new SafetensorsError(`${where}: header entry "${name}" is not an object`);
  }
  const entry = value as Record<string, unknown>;
  const dtype = entry.dtype;
  if (typeof dtype !== "string") throw new SafetensorsError(`${where}: tensor "${name}" has no string dtype`);
  if (!isSafeDtype(dtype)) {
    throw new SafetensorsError(
      `${where}: tensor "${name}" has unknown dtype "${dtype}" (supported: ${
        Object.keys(ITEM_SIZE).join(", ")
      })`,
    );
  }
  const shape = entry.shape;
  if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    throw new SafetensorsError(
      `${where}: tensor "${name}" has invalid shape ${JSON.stringify(shape)} (need non-negative integers)`,
    );
  }
  const offsets = entry.data_offsets;
  if (
    !Array.isArray(offsets) || offsets.length !== 2 ||
    !offsets.every((o) => Number.isSafeInteger(o) && o >= 0) || offsets[0] > offsets[1]
  ) {
    throw new SafetensorsError(
      `${where}: tensor "${name}" has invalid data_offsets ${JSON.stringify(offsets)} (need [begin, end], ` +
        `0 <= begin <= end)`,
    );
  }
  const count = elementCount(shape);
  const expected = count * ITEM_SIZE[dtype];
  if (!Number.isSafeInteger(expected) || offsets[1] - offsets[0] !== expected) {
    throw new SafetensorsError(
      `${where}: tensor "${name}" shape [${shape.join(", ")}] of ${dtype} needs ${expected} bytes but ` +
        `data_offsets [${offsets[0]}, ${offsets[1]}] span ${offsets[1] - offsets[0]}`,
    );
  }
  return { name, dtype, shape: [...shape], begin: offsets[0], end: offsets[1] };
}

/**
 * Parses a complete safetensors file held in memory.
 *
 * Tensors come back in the order of their data in the file, each with its own freshly allocated typed array.
 * Throws {@link SafetensorsError} naming `fileName` (when given) and the fault: truncated header, bad JSON,
 * unknown dtype, a shape that does not match its byte span, offsets past the end of the data or overlapping
 * another tensor, or non-string metadata.
 *
 * @param bytes the whole file
 * @param fileName used only in error messages
 * @param options see {@link ReadSafetensorsOptions}
 */
export function readSafetensors(
  bytes: Uint8Array,
  fileName?: string,
  options: ReadSafetensorsOptions = {},
): SafetensorsContents {
  const where = describe(fileName);
  if (bytes.byteLength < 8) {
    throw new SafetensorsError(
      `${where}: truncated: ${bytes.byteLength} bytes, too short for the 8-byte header length`,
    );
  }
  const headerLength = new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true);
  if (headerLength > BigInt(MAX_HEADER_BYTES)) {
    throw new SafetensorsError(
      `${where}: header length ${headerLength} exceeds the ${MAX_HEADER_BYTES}-byte limit (corrupt or not a ` +
        `safetensors file)`,
    );
  }
  const n = Number(headerLength);
  if (8 + n > bytes.byteLength) {
    throw new SafetensorsError(
      `${where}: truncated header: header length says ${n} bytes but only ${bytes.byteLength - 8} follow`,
    );
  }
  let headerText: string;
  try {
    headerText = new TextDecoder("utf-8", { fatal: true }).decode(bytes.subarray(8, 8 + n));
  } catch {
    throw new SafetensorsError(`${where}: header (bytes 8..${8 + n}) is not valid UTF-8`);
  }
  let header: unknown;
  try {
    header = JSON.parse(headerText);
  } catch (e) {
    throw new SafetensorsError(`${where}: header is not valid JSON: ${(e as Error).message}`);
  }
  if (typeof header !== "object" || header === null || Array.isArray(header)) {
    throw new SafetensorsError(`${where}: header JSON is not an object`);
  }

  const metadata: Record<string, string> = {};
  const entries: HeaderEntry[] = [];
  for (const [name, value] of Object.entries(header as Record<string, unknown>)) {
    if (name === "__metadata__") {
      if (typeof value !== "object" || value === null || Array.isArray(value)) {
        throw new SafetensorsError(`${where}: __metadata__ is not an object of strings`);
      }
      for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
        if (typeof v !== "string") {
          throw new SafetensorsError(`${where}: __metadata__ value for "${k}" is ${typeof v}, not a string`);
        }
        metadata[k] = v;
      }
      continue;
    }
    entries.push(parseEntry(where, name, value));
  }

  const dataStart = 8 + n;
  const dataLength = bytes.byteLength - dataStart;
  entries.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let previous: HeaderEntry | undefined;
  for (const entry of entries) {
    if (entry.end > dataLength) {
      throw new SafetensorsError(
        `${where}: tensor "${entry.name}" data_offsets [${entry.begin}, ${entry.end}] run past the end of the ` +
          `data (${dataLength} bytes after the header; file truncated?)`,
      );
    }
    if (previous && entry.begin < previous.end && entry.end > entry.begin) {
      throw new SafetensorsError(
        `${where}: tensor "${entry.name}" data_offsets [${entry.begin}, ${entry.end}] overlap tensor ` +
          `"${previous.name}" [${previous.begin}, ${previous.end}]`,
      );
    }
    if (entry.end > entry.begin) previous = entry;
  }

  const tensors = new Map<string, SafeTensor>();
  for (const entry of entries) {
    const raw = bytes.subarray(dataStart + entry.begin, dataStart + entry.end);
    const decoded = decodeTensor(where, entry.name, entry.dtype, raw, options);
    const tensor: SafeTensor = { dtype: entry.dtype, shape: entry.shape, data: decoded.data };
    if (decoded.int64) tensor.int64 = decoded.int64;
    tensors.set(entry.name, tensor);
  }
  return { tensors, metadata };
}

// ---- writing -------------------------------------------------------------------------------------------------

const EXPECTED_ARRAY: Record<SafeDtype, string> = {
  F32: "Float32Array",
  F64: "Float64Array",
  F16: "Float32Array",
  I32: "Int32Array",
  I64: "Int32Array",
  U8: "Uint8Array",
  BOOL: "Uint8Array",
};

function checkTensorForWrite(name: string, t: SafeTensor): SafeDtype {
  if (name === "__metadata__") throw new SafetensorsError(`cannot write a tensor named "__metadata__"`);
  if (!isSafeDtype(t.dtype)) {
    throw new SafetensorsError(
      `tensor "${name}" has unknown dtype "${t.dtype}" (supported: ${Object.keys(ITEM_SIZE).join(", ")})`,
    );
  }
  if (!Array.isArray(t.shape) || !t.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    throw new SafetensorsError(`tensor "${name}" has invalid shape ${JSON.stringify(t.shape)}`);
  }
  const count = elementCount(t.shape);
  const expectedType = EXPECTED_ARRAY[t.dtype];
  const source = t.dtype === "I64" && t.int64 ? t.int64 : t.data;
  if (!(t.dtype === "I64" && t.int64) && source.constructor.name !== expectedType) {
    throw new SafetensorsError(
      `tensor "${name}" of dtype ${t.dtype} needs its data in a ${expectedType}, got ${source.constructor.name}`,
    );
  }
  if (source.length !== count) {
    throw new SafetensorsError(
      `tensor "${name}" shape [${
        t.shape.join(", ")
      }] has ${count} elements but its data has ${source.length}`,
    );
  }
  return t.dtype;
}

function encodeTensor(dtype: SafeDtype, t: SafeTensor, out: DataView, offset: number): void {
  const data = t.data;
  if (LITTLE_ENDIAN && (dtype === "F32" || dtype === "F64" || dtype === "I32" || dtype === "U8")) {
    new Uint8Array(out.buffer).set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), offset);
    return;
  }
  switch (dtype) {
    case "F32":
      for (let i = 0; i < data.length; i++) out.setFloat32(offset + 4 * i, data[i], true);
      return;
    case "F64":
      for (let i = 0; i < data.length; i++) out.setFloat64(offset + 8 * i, data[i], true);
      return;
    case "F16":
      for (let i = 0; i < data.length; i++) out.setUint16(offset + 2 * i, floatToHalf(data[i]), true);
      return;
    case "I32":
      for (let i = 0; i < data.length; i++) out.setInt32(offset + 4 * i, data[i], true);
      return;
    case "I64":
      if (t.int64) {
        for (let i = 0; i < t.int64.length; i++) out.setBigInt64(offset + 8 * i, t.int64[i], true);
      } else {
        for (let i = 0; i < data.length; i++) out.setBigInt64(offset + 8 * i, BigInt(data[i]), true);
      }
      return;
    case "U8":
    case "BOOL":
      for (let i = 0; i < data.length; i++) out.setUint8(offset + i, data[i]);
      return;
  }
}

/**
 * Serialises tensors to the bytes of a safetensors file.
 *
 * Tensors are written in sorted name order, data back to back with no gaps; `__metadata__` comes first in the
 * header, which is padded with spaces so that the data starts at a multiple of 8 bytes. Throws
 * {@link SafetensorsError} naming the tensor when its dtype is unknown, its data is the wrong typed array for the
 * dtype, or its element count does not match its shape.
 *
 * @param tensors by name
 * @param metadata string key/value pairs stored as `__metadata__` (omitted when empty)
 */
export function writeSafetensors(
  tensors: Map<string, SafeTensor> | Record<string, SafeTensor>,
  metadata: Record<string, string> = {},
): Uint8Array {
  const list = tensors instanceof Map ? [...tensors.entries()] : Object.entries(tensors);
  list.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  for (let i = 1; i < list.length; i++) {
    if (list[i][0] === list[i - 1][0]) throw new SafetensorsError(`duplicate tensor name "${list[i][0]}"`);
  }

  // The header is assembled by hand because a JS object would move integer-like names ("0") to the front.
  const headerParts: string[] = [];
  const metaEntries = Object.entries(metadata);
  if (metaEntries.length > 0) {
    for (const [k, v] of metaEntries) {
      if (typeof v !== "string") {
        throw new SafetensorsError(`metadata value for "${k}" is ${typeof v}, not a string`);
      }
    }
    const fields = metaEntries.map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v)}`);
    headerParts.push(`"__metadata__":{${fields.join(",")}}`);
  }
  let offset = 0;
  const placed: { dtype: SafeDtype; tensor: SafeTensor; begin: number }[] = [];
  for (const [name, tensor] of list) {
    const dtype = checkTensorForWrite(name, tensor);
    const size = elementCount(tensor.shape) * ITEM_SIZE[dtype];
    const entry = { dtype, shape: [...tensor.shape], data_offsets: [offset, offset + size] };
    headerParts.push(`${JSON.stringify(name)}:${JSON.stringify(entry)}`);
    placed.push({ dtype, tensor, begin: offset });
    offset += size;
  }

  const jsonBytes = new TextEncoder().encode(`{${headerParts.join(",")}}`);
  const headerLength = Math.ceil(jsonBytes.byteLength / 8) * 8;
  const out = new Uint8Array(8 + headerLength + offset);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt(headerLength), true);
  out.set(jsonBytes, 8);
  out.fill(0x20, 8 + jsonBytes.byteLength, 8 + headerLength);
  const dataStart = 8 + headerLength;
  for (const { dtype, tensor, begin } of placed) encodeTensor(dtype, tensor, view, dataStart + begin);
  return out;
}

// ---- files ---------------------------------------------------------------------------------------------------
