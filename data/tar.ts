/**
 * A streaming tar reader and extractor: ustar, GNU long names (`L`/`K`) and base-256 sizes, pax extended headers
 * (`x`, `g`). Regular files and directories are extracted; links and devices are reported and skipped. Paths
 * that would leave the destination are rejected, and each file is written to a temporary name and renamed, so
 * a broken stream never leaves a partial file under its real name.
 */

import { dirname, join } from "node:path";
import { writeFileAtomic } from "./atomic_write.ts";

const BLOCK = 512;

/** A malformed or truncated archive; `offset` is the byte in the (uncompressed) tar stream at fault. */
export class TarFormatError extends Error {
  constructor(message: string, readonly offset: number) {
    super(message);
    this.name = "TarFormatError";
  }
}

/** An entry whose path is absolute or climbs out of the destination folder. */
export class TarPathError extends Error {
  constructor(readonly path: string, readonly offset: number) {
    super(`unsafe path "${path}" in the tar entry at byte ${offset}: it would leave the destination folder`);
    this.name = "TarPathError";
  }
}

export type TarEntryType = "file" | "directory" | "symlink" | "hardlink" | "other";

export interface TarEntry {
  /** The path as the archive gives it (pax `path`, GNU long name, or ustar prefix + name). */
  path: string;
  type: TarEntryType;
  /** The raw type flag, e.g. "0", "5", "2". */
  typeflag: string;
  size: number;
  mode: number;
  /** Modification time, seconds since the epoch. */
  mtime: number;
  linkPath: string;
  /** Byte offset of this entry's header in the tar stream. */
  offset: number;
}

export interface TarMember extends TarEntry {
  /**
   * The entry's data as chunks (views that are only valid until the next chunk is asked for). Data left
   * unread is skipped when the next member is asked for.
   */
  body(): AsyncGenerator<Uint8Array>;
}

/** Pulls bytes from a stream, counting the offset. */
class ByteSource {
  private chunk: Uint8Array = new Uint8Array(0);
  private position = 0;
  /** Bytes handed out so far. */
  offset = 0;

  constructor(private readonly reader: ReadableStreamDefaultReader<Uint8Array>) {}

  /** Makes at least one byte available; false at the end of the stream. */
  private async fill(): Promise<boolean> {
    while (this.position >= this.chunk.length) {
      const { done, value } = await this.reader.read();
      if (done) return false;
      this.chunk = value;
      this.position = 0;
    }
    return true;
  }

  /** Exactly `length` bytes, or fewer only at the end of the stream. */
  async read(length: number): Promise<Uint8Array> {
    const out = new Uint8Array(length);
    let filled = 0;
    while (filled < length && await this.fill()) {
      const n = Math.min(length - filled, this.chunk.length - this.position);
      out.set(this.chunk.subarray(this.position, this.position + n), filled);
      this.position += n;
      this.offset += n;
      filled += n;
    }
    return filled === length ? out : out.subarray(0, filled);
  }

  /** The next up-to-`limit` bytes as a view, or null at the end of the stream. */
  async next(limit: number): Promise<Uint8Array | null> {
    if (!await this.fill()) return null;
    const n = Math.min(limit, this.chunk.length - this.position);
    const view = this.chunk.subarray(this.position, this.position + n);
    this.position += n;
    this.offset += n;
    return view;
  }

  /** Reads to the end, so that a compressed source gets to check its trailer. */
  async drain(): Promise<void> {
    while (await this.next(Infinity) !== null) { /* discard */ }
  }
}

const decoder = new TextDecoder();

function cString(bytes: Uint8Array): string {
  const end = bytes.indexOf(0);
  return decoder.decode(end < 0 ? bytes : bytes.subarray(0, end));
}

function parseNumber(field: Uint8Array, name: string, offset: number): number {
  if (field[0] & 0x80) {
    // GNU base-256: big-endian, high bit of the first byte set; negative values (0xff) are not sizes or times.
    if (field[0] === 0xff) {
      throw new TarFormatError(`negative ${name} in the tar header at byte ${offset}`, offset);
    }
    let value = field[0] & 0x7f;
    for (let i = 1; i < field.length; i++) value = value * 256 + field[i];
    return value;
  }
  const text = cString(field).trim();
  if (text === "") return 0;
  if (!/^[0-7]+$/.test(text)) {
    throw new TarFormatError(`bad ${name} field "${text}" in the tar header at byte ${offset}`, offset);
  }
  return parseInt(text, 8);
}

function isZeroBlock(block: Uint8Array): boolean {
  for (let i = 0; i < block.length; i++) if (block[i] !== 0) return false;
  return true;
}

function checkChecksum(header: Uint8Array, offset: number): void {
  const stored = parseNumber(header.subarray(148, 156), "checksum", offset);
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < BLOCK; i++) {
    const byte = i >= 148 && i < 156 ? 0x20 : header[i];
    unsigned += byte;
    signed += byte > 127 ? byte - 256 : byte;
  }
  if (stored !== unsigned && stored !== signed) {
    throw new TarFormatError(
      `bad tar header checksum at byte ${offset} (stored ${stored}, computed ${unsigned}): not a tar archive, ` +
        `or corrupt`,
      offset,
    );
  }
}

/** Pax records: "<length> <key>=<value>\n", the length counting the whole record. */
function parsePax(data: Uint8Array, offset: number): Map<string, string> {
  const records = new Map<string, string>();
  let at = 0;
  while (at < data.length) {
    if (data[at] === 0) break;
    const space = data.indexOf(0x20, at);
    const length = space > at ? Number(decoder.decode(data.subarray(at, space))) : NaN;
    if (
      !Number.isInteger(length) || length <= 0 || at + length > data.length || data[at + length - 1] !== 0x0a
    ) {
      throw new TarFormatError(`bad pax extended header record in the entry at byte ${offset}`, offset);
    }
    const record = decoder.decode(data.subarray(space + 1, at + length - 1));
    const equals = record.indexOf("=");
    if (equals < 0) {
      throw new TarFormatError(`bad pax extended header record in the entry at byte ${offset}`, offset);
    }
    records.set(record.slice(0, equals), record.slice(equals + 1));
    at += length;
  }
  return records;
}

function entryType(typeflag: string): TarEntryType {
  switch (typeflag) {
    case "0":
    case "\0":
    case "7":
      return "file";
    case "5":
      return "directory";
    case "2":
      return "symlink";
    case "1":
      return "hardlink";
    default:
      return "other";
  }
}

function truncated(offset: number, what: string): TarFormatError {
  return new TarFormatError(`truncated tar archive: the stream ended at byte ${offset}, ${what}`, offset);
}

/**
 * The members of a tar stream, in order. Ends at the end-of-archive marker (a zero block) and then reads the
 * source to its end; a stream that ends before the marker is a TarFormatError naming the byte offset.
 */
export async function* readTar(source: ReadableStream<Uint8Array>): AsyncGenerator<TarMember> {
  const reader = source.getReader();
  const bytes = new ByteSource(reader);
  try {
    let longName: string | undefined;
    let longLink: string | undefined;
    let pax = new Map<string, string>();
    const globalPax = new Map<string, string>();
    while (true) {
      const offset = bytes.offset;
      const header = await bytes.read(BLOCK);
      if (header.length < BLOCK) {
        throw truncated(
          bytes.offset,
          header.length === 0 ? "before the end-of-archive marker" : "inside a header",
        );
      }
      if (isZeroBlock(header)) {
        await bytes.drain();
        return;
      }
      checkChecksum(header, offset);
      const typeflag = String.fromCharCode(header[156]);
      let size = parseNumber(header.subarray(124, 136), "size", offset);
      const paxSize = pax.get("size") ?? globalPax.get("size");
      if (paxSize !== undefined) size = Number(paxSize);
      const padded = Math.ceil(size / BLOCK) * BLOCK;

      if (typeflag === "L" || typeflag === "K" || typeflag === "x" || typeflag === "g") {
        if (size > 1 << 24) throw new TarFormatError(`oversized metadata entry at byte ${offset}`, offset);
        const data = await bytes.read(padded);
        if (data.length < padded) {
          throw truncated(bytes.offset, `inside the metadata entry at byte ${offset}`);
        }
        const content = data.subarray(0, size);
        if (typeflag === "L") longName = cString(content);
        else if (typeflag === "K") longLink = cString(content);
        else if (typeflag === "x") pax = parsePax(content, offset);
        else for (const [key, value] of parsePax(content, offset)) globalPax.set(key, value);
        continue;
      }

      const magic = decoder.decode(header.subarray(257, 263));
      let path = cString(header.subarray(0, 100));
      // Only POSIX ustar has a prefix field; GNU keeps other data in those bytes.
      if (magic === "ustar\0") {
        const prefix = cString(header.subarray(345, 500));
        if (prefix) path = `${prefix}/${path}`;
      }
      path = pax.get("path") ?? longName ?? globalPax.get("path") ?? path;
      const linkPath = pax.get("linkpath") ?? longLink ?? cString(header.subarray(157, 257));
      const paxMtime = pax.get("mtime");
      const mtime = paxMtime !== undefined
        ? Number(paxMtime)
        : parseNumber(header.subarray(136, 148), "mtime", offset);
      const mode = parseNumber(header.subarray(100, 108), "mode", offset);
      const type = entryType(typeflag);
      // Links and directories carry no data even if a size is written.
      const dataSize = type === "file" || type === "other" ? size : 0;
      const dataPadded = Math.ceil(dataSize / BLOCK) * BLOCK;
      longName = longLink = undefined;
      pax = new Map();

      let remaining = dataSize;
      const body = async function* (): AsyncGenerator<Uint8Array> {
        while (remaining > 0) {
          const chunk = await bytes.next(remaining);
          if (chunk === null) {
            throw truncated(bytes.offset, `inside the data of "${path}" (header at byte ${offset})`);
          }
          remaining -= chunk.length;
          yield chunk;
        }
      };
      yield { path, type, typeflag, size: dataSize, mode, mtime, linkPath, offset, body };
      for await (const _ of body()) { /* skip what the consumer left */ }
      const padding = dataPadded - dataSize;
      if (padding > 0 && (await bytes.read(padding)).length < padding) {
        throw truncated(bytes.offset, `in the padding after "${path}" (header at byte ${offset})`);
      }
    }
  } finally {
    reader.releaseLock();
  }
}

/**
 * The entry path as a safe relative path ("a/b/c", no "." or empty parts), or a TarPathError for an absolute
 * path, a "..", a backslash or drive letter, or a NUL.
 */
export function safeRelativePath(path: string, offset: number): string {
  if (path.startsWith("/") || path.includes("\\") || path.includes("\0") || /^[A-Za-z]:/.test(path)) {
    throw new TarPathError(path, offset);
  }
  const parts = path.split("/").filter((part) => part !== "" && part !== ".");
  if (parts.includes("..")) throw new TarPathError(path, offset);
  return parts.join("/");
}

export interface ExtractOptions {
  /** Called before each extracted entry. */
  onEntry?: (entry: TarEntry) => void;
  /** Called for each entry that is not a file or directory (default: console.warn). */
  onSkip?: (entry: TarEntry, reason: string) => void;
}

export interface ExtractSummary {
  files: number;
  directories: number;
  /** File data bytes written. */
  bytes: number;
  skipped: number;
}

/** Extracts a tar stream under `destination`. Each file is written as `<name>.<pid>-<random>.tmp`, then renamed. */
export async function extractTar(
  source: ReadableStream<Uint8Array>,
  destination: string,
  options: ExtractOptions = {},
): Promise<ExtractSummary> {
  const summary: ExtractSummary = { files: 0, directories: 0, bytes: 0, skipped: 0 };
  const made = new Set<string>();
  const makeDirectory = async (path: string) => {
    if (made.has(path)) return;
    await Deno.mkdir(path, { recursive: true });
    made.add(path);
  };
  await makeDirectory(destination);
  for await (const member of readTar(source)) {
    if (member.type !== "file" && member.type !== "directory") {
      summary.skipped++;
      const reason = `skipped ${member.type} entry "${member.path}" (type "${member.typeflag}") at byte ` +
        `${member.offset}: only files and folders are extracted`;
      (options.onSkip ?? ((_, message) => console.warn(message)))(member, reason);
      continue;
    }
    const relative = safeRelativePath(member.path, member.offset);
    options.onEntry?.(member);
    if (relative === "") continue;
    const target = join(destination, relative);
    if (member.type === "directory") {
      await makeDirectory(target);
      summary.directories++;
      continue;
    }
    await makeDirectory(dirname(target));
    await writeFileAtomic(target, async (writer) => {
      for await (const chunk of member.body()) {
        await writer.write(chunk);
        summary.bytes += chunk.length;
      }
    }, member.mtime > 0 ? { mtime: member.mtime } : {});
    summary.files++;
  }
  return summary;
}
