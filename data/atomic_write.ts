/**
 * Replacing a file whole or not at all: the data goes to a temporary file next to the target (same folder, so
 * the rename stays on one filesystem), optionally flushed to disk, and is then renamed over the target. A crash
 * or an error leaves the old file (or none) at the target, never a half-written one; on error the temporary
 * file is removed.
 *
 * Temporary files are named `<target>.<pid>-<random>.tmp`, so a folder's leftovers of a crash can be found by
 * their `.tmp` ending.
 *
 * @module
 */

import { dirname } from "node:path";

/** Streams a file's data: each `write` writes all of `chunk` (strings as UTF-8) before it resolves. */
export interface AtomicWriter {
  write(chunk: Uint8Array | string): Promise<void>;
}

/** What {@link writeFileAtomic} writes: the whole data, or a function that streams it to a writer. */
export type AtomicData = Uint8Array | string | ((writer: AtomicWriter) => Promise<void>);

export interface WriteFileAtomicOptions {
  /**
   * Flush the file's data to disk before the rename, and (POSIX) the folder after it, so the new file survives
   * a power loss once the call resolves. For files worth the cost, e.g. checkpoints. Default false.
   */
  fsync?: boolean;
  /** Permission bits of the new file (before the umask), as for `Deno.open`. */
  mode?: number;
  /** Modification (and access) time of the new file, e.g. from an archive entry. */
  mtime?: number | Date;
}

/** `<path>.<pid>-<random>.tmp`: unique across processes and concurrent calls in one process. */
export function temporaryPathFor(path: string): string {
  const random = Array.from(crypto.getRandomValues(new Uint8Array(4)), (b) => b.toString(16).padStart(2, "0"))
    .join("");
  return `${path}.${Deno.pid}-${random}.tmp`;
}

/** Adds `path` to the message of a file-system error (keeping its class), unless the message names it. */
function naming(path: string, error: unknown): unknown {
  if (!(error instanceof Error)) return new Error(`${path}: ${String(error)}`, { cause: error });
  if (error.message.includes(path)) return error;
  try {
    error.message = `${path}: ${error.message}`;
    return error;
  } catch {
    return new Error(`${path}: ${error.message}`, { cause: error });
  }
}

/** Runs a file-system step, naming `path` in its error. */
async function step<T>(path: string, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (error) {
    throw naming(path, error);
  }
}

async function writeAll(file: Deno.FsFile, bytes: Uint8Array): Promise<void> {
  let written = 0;
  while (written < bytes.byteLength) written += await file.write(bytes.subarray(written));
}

/** Flushes a folder's entries (the rename) to disk; best effort, and nothing to do on Windows. */
async function syncDirectory(dir: string): Promise<void> {
  if (Deno.build.os === "windows") return;
  try {
    using handle = await Deno.open(dir, { read: true });
    await handle.sync();
  } catch {
    // Some filesystems cannot sync a folder; the file itself is already on disk and in place.
  }
}

/**
 * Writes `data` to `path` atomically (see the module doc): to a temporary file in the same folder, renamed over
 * `path` when complete. With a function, `data(writer)` streams the contents; whatever it throws is rethrown
 * unchanged after the temporary file is removed. Errors of the file system (open, write, flush, rename) name
 * `path` and keep their class (e.g. `Deno.errors.NotFound` when the folder does not exist).
 */
export async function writeFileAtomic(
  path: string,
  data: AtomicData,
  opts: WriteFileAtomicOptions = {},
): Promise<void> {
  const temporary = temporaryPathFor(path);
  const file = await step(path, () =>
    Deno.open(temporary, {
      write: true,
      createNew: true,
      ...(opts.mode !== undefined ? { mode: opts.mode } : {}),
    }));
  let open = true;
  try {
    if (typeof data === "function") {
      const encoder = new TextEncoder();
      await data({
        write: (chunk) =>
          step(path, () => writeAll(file, typeof chunk === "string" ? encoder.encode(chunk) : chunk)),
      });
    } else {
      const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
      await step(path, () => writeAll(file, bytes));
    }
    if (opts.mtime !== undefined) {
      const mtime = opts.mtime;
      await step(path, () => file.utime(mtime, mtime));
    }
    if (opts.fsync) await step(path, () => file.syncData());
    open = false;
    file.close();
    await step(path, () => Deno.rename(temporary, path));
  } catch (error) {
    if (open) file.close();
    await Deno.remove(temporary).catch(() => {});
    throw error;
  }
  if (opts.fsync) await syncDirectory(dirname(path));
}

/** Copies `source` over `target` atomically, streaming it through {@link writeFileAtomic}. */
export async function copyFileAtomic(
  source: string,
  target: string,
  opts: WriteFileAtomicOptions = {},
): Promise<void> {
  await writeFileAtomic(target, async (writer) => {
    const input = await step(source, () => Deno.open(source, { read: true }));
    try {
      const buffer = new Uint8Array(1 << 20);
      while (true) {
        const n = await step(source, () => input.read(buffer));
        if (n === null) break;
        await writer.write(buffer.subarray(0, n));
      }
    } finally {
      input.close();
    }
  }, opts);
}
