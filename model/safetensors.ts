/**
 * Reading and writing `.safetensors` files, the checkpoint format shared with PyTorch: the byte format itself is
 * in model/safetensors_codec.ts (re-exported here), this module reads and writes files.
 *
 * @module
 */

import { writeFileAtomic } from "../data/atomic_write.ts";
import {
  readSafetensors,
  type ReadSafetensorsOptions,
  type SafeTensor,
  type SafetensorsContents,
  writeSafetensors,
} from "./safetensors_codec.ts";

export * from "./safetensors_codec.ts";

/**
 * Writes a safetensors file atomically ({@link writeFileAtomic} with `fsync`): the bytes go to a temporary file
 * in the same folder, are flushed to disk, and the temporary file is then renamed over `path`. A crash or error
 * never leaves a half-written file at `path`; on error the temporary file is removed.
 */
export async function saveSafetensorsFile(
  path: string,
  tensors: Map<string, SafeTensor> | Record<string, SafeTensor>,
  metadata: Record<string, string> = {},
): Promise<void> {
  await writeFileAtomic(path, writeSafetensors(tensors, metadata), { fsync: true });
}

/** Reads and parses a safetensors file; errors name `path`. See {@link readSafetensors}. */
export async function loadSafetensorsFile(
  path: string,
  options: ReadSafetensorsOptions = {},
): Promise<SafetensorsContents> {
  const bytes = await Deno.readFile(path);
  try {
    return readSafetensors(bytes, path, options);
  } finally {
    // Every tensor is a copy: free the file's bytes now instead of whenever V8 next collects (a model's worth of
    // memory that a process with a small JS heap would otherwise keep to the end).
    const buffer = bytes.buffer as ArrayBuffer;
    if (typeof buffer.transfer === "function" && !buffer.detached) buffer.transfer(0);
  }
}
