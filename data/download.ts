/**
 * Downloads a LibriSpeech subset (`<base>/<subset>.tar.gz`, openslr.org by default) and extracts it while it
 * streams in, into `<root>/LibriSpeech/<subset>/` as torchaudio lays it out.
 *
 * The compressed bytes go to `<root>/LibriSpeech/<subset>.tar.gz.part` as they arrive, so an interrupted
 * download resumes with an HTTP Range request (in this call after a dropped connection, or in a later call).
 * They are hashed (MD5, against openslr's published sums) and extracted as they arrive into a staging folder;
 * only a complete archive with the right MD5 is moved into place, so a failed download never leaves a partial
 * or unverified corpus where the reader would find it.
 */

import { createHash, type Hash } from "node:crypto";
import { join } from "node:path";
import { type ExtractSummary, extractTar } from "./tar.ts";

export const OPENSLR_LIBRISPEECH = "https://www.openslr.org/resources/12";

/** The subsets and the MD5 sums and sizes openslr publishes for their archives (resources/12/md5sum.txt). */
export const LIBRISPEECH_SUBSETS: Readonly<Record<string, { md5: string; bytes?: number }>> = {
  "dev-clean": { md5: "42e2234ba48799c1f50f24a7926300a1", bytes: 337_926_286 },
  "dev-other": { md5: "c8d0bcc9cca99d4f8b62fcc847357931" },
  "test-clean": { md5: "32fa31d27d2e1cad72775fee3f4849a9", bytes: 346_663_984 },
  "test-other": { md5: "fb5a50374b501bb3bac4815ee91d3135" },
  "train-clean-100": { md5: "2a93770f6d5c6c964bc36631d331a522", bytes: 6_387_309_499 },
  "train-clean-360": { md5: "c0e676e450a7ff2f54aeade5171606fa" },
  "train-other-500": { md5: "d1a0fd59409feb2c614ce4d30c387708" },
};

export interface DownloadOptions {
  /** Where `<subset>.tar.gz` is fetched from (default openslr.org); a mirror, or a local server in tests. */
  base?: string;
  /** Expected MD5 of the archive; null skips the check; default: the published sum for the subset. */
  md5?: string | null;
  /** Called as bytes arrive: compressed bytes so far (a resumed prefix included) and the total when known. */
  onProgress?: (bytes: number, total: number | undefined) => void;
  /** Called with notes worth showing the user (resuming, restarting, retrying). Default: console.warn. */
  onNote?: (message: string) => void;
  /** Download and extract even if `<root>/LibriSpeech/<subset>` is already there. */
  force?: boolean;
  /** Keep the verified archive as `<root>/LibriSpeech/<subset>.tar.gz` (default: delete it). */
  keepArchive?: boolean;
  /** Attempts after a dropped connection or a server error that made no progress (default 5). */
  retries?: number;
  /** Wait before a retry, doubled each time (default 1000 ms). */
  retryDelayMs?: number;
  signal?: AbortSignal;
}

export interface DownloadResult {
  /** The subset folder, `<root>/LibriSpeech/<subset>`. */
  dir: string;
  /** False when the subset was already there and nothing was fetched. */
  downloaded: boolean;
  /** Compressed bytes of the archive. */
  archiveBytes: number;
  md5?: string;
  extracted?: ExtractSummary;
}

/** A download that failed; the message says what, where, and what is left on disk. */
export class DownloadError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "DownloadError";
  }
}

/** The archive bytes could not be decompressed or read as tar: fetching more of them will not help. */
class ExtractionFailed extends Error {
  constructor(readonly reason: string, readonly compressedBytes: number) {
    super(reason);
  }
}

/** Hashes and extracts the archive bytes in order; one sink holds one pass from byte 0. */
class ArchiveSink {
  readonly hash: Hash = createHash("md5");
  bytes = 0;
  private readonly writer: WritableStreamDefaultWriter<BufferSource>;
  private readonly extraction: Promise<ExtractSummary>;

  constructor(staging: string) {
    const gunzip = new DecompressionStream("gzip");
    this.writer = gunzip.writable.getWriter();
    this.extraction = extractTar(gunzip.readable, staging, { onSkip: () => {} });
    this.extraction.catch(() => {}); // observed in write() and finish()
  }

  async write(chunk: Uint8Array<ArrayBuffer>): Promise<void> {
    this.hash.update(chunk);
    this.bytes += chunk.length;
    try {
      await this.writer.write(chunk);
    } catch {
      const reason = await this.extraction.then(() => "the archive ended before its last byte", describe);
      throw new ExtractionFailed(reason, this.bytes);
    }
  }

  async finish(): Promise<ExtractSummary> {
    await this.writer.close().catch(() => {});
    return await this.extraction;
  }

  /** Stops this pass and waits until its extraction has let go of the staging folder. */
  async abort(reason: string): Promise<void> {
    await this.writer.abort(new Error(reason)).catch(() => {});
    await this.extraction.catch(() => {});
  }
}

async function fileSize(path: string): Promise<number | undefined> {
  try {
    return (await Deno.stat(path)).size;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
}

async function removeIfPresent(path: string): Promise<void> {
  await Deno.remove(path, { recursive: true }).catch((error) => {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  });
}

/** Moves everything in `from` into `to`, merging folders and replacing files of the same name. */
async function mergeInto(from: string, to: string): Promise<void> {
  await Deno.mkdir(to, { recursive: true });
  for await (const entry of Deno.readDir(from)) {
    const source = join(from, entry.name);
    const target = join(to, entry.name);
    const existing = await Deno.lstat(target).catch(() => undefined);
    if (existing?.isDirectory && entry.isDirectory) await mergeInto(source, target);
    else {
      if (existing?.isDirectory) await Deno.remove(target, { recursive: true });
      await Deno.rename(source, target);
    }
  }
}

function parseContentRange(header: string | null): { start: number; total?: number } | undefined {
  const match = header ? /^bytes (\d+)-\d+\/(\d+|\*)$/.exec(header.trim()) : null;
  if (!match) return undefined;
  return { start: Number(match[1]), total: match[2] === "*" ? undefined : Number(match[2]) };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Downloads and extracts `subset` into `<root>/LibriSpeech/<subset>`. Returns at once when that folder exists
 * (unless `force`). A complete `<root>/LibriSpeech/<subset>.tar.gz` already on disk is used instead of the
 * network.
 */
export async function downloadLibriSpeech(
  subset: string,
  root: string,
  options: DownloadOptions = {},
): Promise<DownloadResult> {
  const known = LIBRISPEECH_SUBSETS[subset];
  if (!known) {
    throw new DownloadError(
      `unknown LibriSpeech subset "${subset}": expected one of ${
        Object.keys(LIBRISPEECH_SUBSETS).join(", ")
      }`,
    );
  }
  const expectedMd5 = options.md5 === undefined ? known.md5 : options.md5;
  const base = (options.base ?? OPENSLR_LIBRISPEECH).replace(/\/+$/, "");
  const url = `${base}/${subset}.tar.gz`;
  const libriRoot = join(root, "LibriSpeech");
  const dir = join(libriRoot, subset);
  const note = options.onNote ?? ((message: string) => console.warn(message));

  if (!options.force && await fileSize(dir) !== undefined) return { dir, downloaded: false, archiveBytes: 0 };

  await Deno.mkdir(libriRoot, { recursive: true });
  const archive = join(libriRoot, `${subset}.tar.gz`);
  const part = `${archive}.part`;
  const staging = join(libriRoot, `.${subset}.extracting`);

  let total = known.bytes;
  let current: ArchiveSink | undefined;
  const sink = () => {
    if (!current) throw new Error("no archive pass started");
    return current;
  };
  const startSink = async () => {
    await removeIfPresent(staging);
    current = new ArchiveSink(staging);
  };

  /** Feeds a file already on disk (a complete archive, or the .part of an earlier run) to a fresh sink. */
  const replay = async (path: string) => {
    await startSink();
    const file = await Deno.open(path, { read: true });
    for await (const chunk of file.readable) {
      await sink().write(chunk);
      options.onProgress?.(sink().bytes, total);
    }
  };

  const fromDisk = await fileSize(archive);
  const downloadedFile = fromDisk !== undefined ? archive : part;
  // A corrupt archive is deleted: resuming it would only append to the same bad bytes.
  const corrupt = async (reason: string, compressedBytes: number) => {
    await removeIfPresent(staging);
    await removeIfPresent(downloadedFile);
    return new DownloadError(
      `truncated or corrupt archive ${url}: ${reason}, after ${compressedBytes} compressed bytes; ` +
        `${downloadedFile} was deleted, so the next try starts afresh`,
    );
  };
  try {
    if (fromDisk !== undefined) {
      note(`using the archive already at ${archive}`);
      total = fromDisk;
      await replay(archive);
      await removeIfPresent(part);
    } else {
      const partBytes = await fileSize(part);
      if (partBytes) {
        note(`resuming ${url} from byte ${partBytes} (${part})`);
        await replay(part);
      } else await startSink();
      await fetchRest(url, part, sink, startSink, options, note, (t) => (total = t ?? total));
    }
  } catch (error) {
    if (error instanceof ExtractionFailed) throw await corrupt(error.reason, error.compressedBytes);
    // The .part stays for the next call to resume; the staging folder is rebuilt from it then.
    await current?.abort("download failed");
    await removeIfPresent(staging);
    throw error;
  }

  let extracted: ExtractSummary | undefined;
  let extractError: string | undefined;
  try {
    extracted = await sink().finish();
  } catch (error) {
    extractError = describe(error);
  }
  const md5 = sink().hash.digest("hex");
  const archiveBytes = sink().bytes;
  if (expectedMd5 !== null && md5 !== expectedMd5.toLowerCase()) {
    await removeIfPresent(staging);
    await removeIfPresent(downloadedFile);
    throw new DownloadError(
      `MD5 mismatch for ${url}: expected ${expectedMd5}, got ${md5} (${archiveBytes} bytes); ` +
        `${downloadedFile} was deleted, so the next try starts afresh`,
    );
  }
  if (extractError !== undefined) throw await corrupt(extractError, archiveBytes);

  await mergeInto(join(staging, "LibriSpeech"), libriRoot).catch((error) => {
    if (error instanceof Deno.errors.NotFound) {
      throw new DownloadError(
        `${url} holds no LibriSpeech/ folder; the extracted files are left in ${staging}`,
      );
    }
    throw error;
  });
  await removeIfPresent(staging);
  if (await fileSize(dir) === undefined) {
    throw new DownloadError(`${url} holds no LibriSpeech/${subset}/ folder`);
  }
  if (downloadedFile === part) {
    if (options.keepArchive) await Deno.rename(part, archive);
    else await Deno.remove(part);
  } else if (!options.keepArchive) await Deno.remove(archive);
  return { dir, downloaded: true, archiveBytes, md5, extracted };
}

/**
 * Fetches the archive from `sink().bytes` on, appending to `part` and feeding the sink; resumes with a Range
 * request after a dropped connection, and starts over (a fresh sink, an empty .part) when the server ignores
 * the Range.
 */
async function fetchRest(
  url: string,
  part: string,
  sink: () => ArchiveSink,
  startSink: () => Promise<void>,
  options: DownloadOptions,
  note: (message: string) => void,
  setTotal: (total: number | undefined) => void,
): Promise<void> {
  const retries = options.retries ?? 5;
  const retryDelay = options.retryDelayMs ?? 1000;
  let failures = 0;
  let total: number | undefined;
  while (true) {
    const offset = sink().bytes;
    const headers: HeadersInit = offset > 0 ? { Range: `bytes=${offset}-` } : {};
    let response: Response;
    try {
      response = await fetch(url, { headers, signal: options.signal });
    } catch (error) {
      if (options.signal?.aborted) throw error;
      if (++failures > retries) throw new DownloadError(`cannot fetch ${url}: ${describe(error)}`);
      note(`fetching ${url} failed (${describe(error)}); retrying`);
      await sleep(retryDelay * 2 ** (failures - 1));
      continue;
    }

    if (response.status === 416 && offset > 0) {
      // The .part already holds every byte the server has: the MD5 check decides.
      await response.body?.cancel();
      return;
    }
    if (response.status >= 500 || response.status === 429) {
      await response.body?.cancel();
      if (++failures > retries) {
        throw new DownloadError(
          `HTTP ${response.status} ${response.statusText} for ${url} (byte ${offset} on)`,
        );
      }
      note(`HTTP ${response.status} from ${url}; retrying`);
      await sleep(retryDelay * 2 ** (failures - 1));
      continue;
    }
    let start = 0;
    if (response.status === 206) {
      const range = parseContentRange(response.headers.get("content-range"));
      if (!range || range.start !== offset) {
        await response.body?.cancel();
        note(
          `${url} answered the range request from byte ${offset} with ` +
            `"${response.headers.get("content-range")}"; starting over`,
        );
        await sink().abort("restarting");
        await Deno.truncate(part, 0).catch(() => {});
        await startSink();
        continue;
      }
      start = range.start;
      total = range.total;
    } else if (response.status === 200) {
      const length = response.headers.get("content-length");
      total = length !== null ? Number(length) : undefined;
      if (offset > 0) {
        note(`${url} ignored the range request: starting over from byte 0`);
        await sink().abort("the server ignored the range request");
        await startSink();
      }
    } else {
      await response.body?.cancel();
      throw new DownloadError(`HTTP ${response.status} ${response.statusText} for ${url}`);
    }
    setTotal(total);
    if (!response.body) throw new DownloadError(`HTTP ${response.status} for ${url} came with no body`);

    using file = await Deno.open(part, {
      write: true,
      create: true,
      append: start > 0,
      truncate: start === 0,
    });
    const before = sink().bytes;
    try {
      for await (const chunk of response.body) {
        let written = 0;
        while (written < chunk.length) written += await file.write(chunk.subarray(written));
        await sink().write(chunk);
        options.onProgress?.(sink().bytes, total);
      }
    } catch (error) {
      if (options.signal?.aborted || error instanceof ExtractionFailed) throw error;
      if (sink().bytes === before && ++failures > retries) {
        throw new DownloadError(
          `download of ${url} keeps failing at byte ${sink().bytes}: ${describe(error)}`,
        );
      }
      if (sink().bytes > before) failures = 0;
      note(`connection to ${url} lost at byte ${sink().bytes} (${describe(error)}); resuming`);
      await sleep(retryDelay * 2 ** Math.max(0, failures - 1));
      continue;
    }
    if (total !== undefined && sink().bytes < total) {
      if (++failures > retries) {
        throw new DownloadError(`${url} keeps ending early, at byte ${sink().bytes} of ${total}`);
      }
      note(`${url} ended at byte ${sink().bytes} of ${total}; resuming`);
      continue;
    }
    return;
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
