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

function knownSubset(subset: string): { md5: string; bytes?: number } {
  const known = LIBRISPEECH_SUBSETS[subset];
  if (!known) {
    throw new DownloadError(
      `unknown LibriSpeech subset "${subset}": expected one of ${
        Object.keys(LIBRISPEECH_SUBSETS).join(", ")
      }`,
    );
  }
  return known;
}

/**
 * Clears away a corrupt archive and its partial extraction, and returns the error saying so. The archive is
 * deleted because resuming it would only append to the same bad bytes.
 */
async function corruptArchive(
  url: string,
  staging: string,
  downloadedFile: string,
  reason: string,
  compressedBytes: number,
): Promise<DownloadError> {
  await removeIfPresent(staging);
  await removeIfPresent(downloadedFile);
  return new DownloadError(
    `truncated or corrupt archive ${url}: ${reason}, after ${compressedBytes} compressed bytes; ` +
      `${downloadedFile} was deleted, so the next try starts afresh`,
  );
}

/** Moves the verified extraction from the staging folder into `<libriRoot>`, checking the subset is there. */
async function moveIntoPlace(url: string, staging: string, libriRoot: string, subset: string): Promise<void> {
  await mergeInto(join(staging, "LibriSpeech"), libriRoot).catch((error) => {
    if (error instanceof Deno.errors.NotFound) {
      throw new DownloadError(
        `${url} holds no LibriSpeech/ folder; the extracted files are left in ${staging}`,
      );
    }
    throw error;
  });
  await removeIfPresent(staging);
  if (await fileSize(join(libriRoot, subset)) === undefined) {
    throw new DownloadError(`${url} holds no LibriSpeech/${subset}/ folder`);
  }
}

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
  const known = knownSubset(subset);
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
  const corrupt = (reason: string, compressedBytes: number) =>
    corruptArchive(url, staging, downloadedFile, reason, compressedBytes);
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

  await moveIntoPlace(url, staging, libriRoot, subset);
  if (downloadedFile === part) {
    if (options.keepArchive) await Deno.rename(part, archive);
    else await Deno.remove(part);
  } else if (!options.keepArchive) await Deno.remove(archive);
  return { dir, downloaded: true, archiveBytes, md5, extracted };
}

/** One download's state across its requests. */
interface Fetch {
  url: string;
  part: string;
  sink: () => ArchiveSink;
  startSink: () => Promise<void>;
  options: DownloadOptions;
  note: (message: string) => void;
  /** Failed attempts in a row that made no progress; more than `options.retries` fail the download. */
  failures: number;
}

/** What to do after a request: ask again (from the sink's byte count), or stop because the archive is all in. */
type Next = "retry" | "done";

/** Where a response's body starts in the archive, and the archive's size when the server said. */
interface Placement {
  start: number;
  total: number | undefined;
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
  const f: Fetch = { url, part, sink, startSink, options, note, failures: 0 };
  while (true) {
    const offset = sink().bytes;
    const response = await request(f, offset);
    if (response === undefined) continue;
    const placement = await readStatus(f, response, offset);
    if (placement === "done") return;
    if (placement === "retry") continue;
    setTotal(placement.total);
    if (!response.body) throw new DownloadError(`HTTP ${response.status} for ${url} came with no body`);
    if (await receive(f, response.body, placement) === "done") return;
  }
}

/** Counts a failed attempt; throws `error()` once that is more failures in a row than the retries allowed. */
function countFailure(f: Fetch, error: () => DownloadError): void {
  if (++f.failures > (f.options.retries ?? 5)) throw error();
}

/** The wait before the next attempt: the retry delay, doubled for each further failure in a row. */
function backoff(f: Fetch): Promise<unknown> {
  return sleep((f.options.retryDelayMs ?? 1000) * 2 ** Math.max(0, f.failures - 1));
}

/** A request for the bytes from `offset` on; undefined when the connection failed and a retry is due. */
async function request(f: Fetch, offset: number): Promise<Response | undefined> {
  const headers: HeadersInit = offset > 0 ? { Range: `bytes=${offset}-` } : {};
  try {
    return await fetch(f.url, { headers, signal: f.options.signal });
  } catch (error) {
    if (f.options.signal?.aborted) throw error;
    countFailure(f, () => new DownloadError(`cannot fetch ${f.url}: ${describe(error)}`));
    f.note(`fetching ${f.url} failed (${describe(error)}); retrying`);
    await backoff(f);
    return undefined;
  }
}

/** What the response's status means: nothing more to fetch, a retry, or a body to take in at a placement. */
async function readStatus(f: Fetch, response: Response, offset: number): Promise<Next | Placement> {
  if (response.status === 416 && offset > 0) {
    // The .part already holds every byte the server has: the MD5 check decides.
    await response.body?.cancel();
    return "done";
  }
  if (response.status >= 500 || response.status === 429) return await serverTrouble(f, response, offset);
  if (response.status === 206) return await partialContent(f, response, offset);
  if (response.status === 200) return await wholeContent(f, response, offset);
  await response.body?.cancel();
  throw new DownloadError(`HTTP ${response.status} ${response.statusText} for ${f.url}`);
}

/** A server error or "too many requests": worth retrying after a wait. */
async function serverTrouble(f: Fetch, response: Response, offset: number): Promise<Next> {
  await response.body?.cancel();
  countFailure(
    f,
    () =>
      new DownloadError(`HTTP ${response.status} ${response.statusText} for ${f.url} (byte ${offset} on)`),
  );
  f.note(`HTTP ${response.status} from ${f.url}; retrying`);
  await backoff(f);
  return "retry";
}

/** A 206: the body goes where its Content-Range says, unless that is not where we asked to resume. */
async function partialContent(f: Fetch, response: Response, offset: number): Promise<Next | Placement> {
  const range = parseContentRange(response.headers.get("content-range"));
  if (range && range.start === offset) return { start: range.start, total: range.total };
  await response.body?.cancel();
  f.note(
    `${f.url} answered the range request from byte ${offset} with ` +
      `"${response.headers.get("content-range")}"; starting over`,
  );
  await f.sink().abort("restarting");
  await Deno.truncate(f.part, 0).catch(() => {});
  await f.startSink();
  return "retry";
}

/** A 200: the whole archive from byte 0, so a resumed pass starts over. */
async function wholeContent(f: Fetch, response: Response, offset: number): Promise<Placement> {
  const length = response.headers.get("content-length");
  const total = length !== null ? Number(length) : undefined;
  if (offset > 0) {
    f.note(`${f.url} ignored the range request: starting over from byte 0`);
    await f.sink().abort("the server ignored the range request");
    await f.startSink();
  }
  return { start: 0, total };
}

/** Takes in a body: appended to the .part (which it replaces when it starts at 0) and fed to the sink. */
async function receive(
  f: Fetch,
  body: ReadableStream<Uint8Array<ArrayBuffer>>,
  at: Placement,
): Promise<Next> {
  using file = await Deno.open(f.part, {
    write: true,
    create: true,
    append: at.start > 0,
    truncate: at.start === 0,
  });
  const before = f.sink().bytes;
  try {
    for await (const chunk of body) {
      let written = 0;
      while (written < chunk.length) written += await file.write(chunk.subarray(written));
      await f.sink().write(chunk);
      f.options.onProgress?.(f.sink().bytes, at.total);
    }
  } catch (error) {
    if (f.options.signal?.aborted || error instanceof ExtractionFailed) throw error;
    await connectionLost(f, before, error);
    return "retry";
  }
  return endedEarly(f, at.total) ? "retry" : "done";
}

/** A body broke off: resume after a wait; only attempts that brought no bytes count against the retries. */
async function connectionLost(f: Fetch, before: number, error: unknown): Promise<void> {
  const bytes = f.sink().bytes;
  if (bytes > before) f.failures = 0;
  else {
    countFailure(
      f,
      () => new DownloadError(`download of ${f.url} keeps failing at byte ${bytes}: ${describe(error)}`),
    );
  }
  f.note(`connection to ${f.url} lost at byte ${bytes} (${describe(error)}); resuming`);
  await backoff(f);
}

/** Whether a body ended cleanly short of the announced total (then resumed at once, counted as a failure). */
function endedEarly(f: Fetch, total: number | undefined): boolean {
  const bytes = f.sink().bytes;
  if (total === undefined || bytes >= total) return false;
  countFailure(f, () => new DownloadError(`${f.url} keeps ending early, at byte ${bytes} of ${total}`));
  f.note(`${f.url} ended at byte ${bytes} of ${total}; resuming`);
  return true;
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
