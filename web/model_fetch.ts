/// <reference lib="dom" />
/**
 * Getting a checkpoint's bytes in a page: from Cache Storage when an earlier visit fetched the same URL, else
 * fetched with progress (read as a stream, counted against Content-Length) and put in the cache for the next
 * visit. A 95 MB tutorial model is worth not downloading twice.
 */

/** The Cache Storage cache holding fetched checkpoints. */
export const MODEL_CACHE = "speech-webgpu-models-v1";

/** Where a checkpoint's bytes came from. */
export type ModelSource = "cache" | "network";

/** Bytes received so far and the total when the server said (else null). */
export type Progress = (received: number, total: number | null) => void;

/** The checkpoint at `url` (resolved against the page), from the cache when there, and where it came from. */
export async function fetchModel(
  url: string,
  onProgress: Progress,
): Promise<{ bytes: Uint8Array; source: ModelSource }> {
  const cache = await openCache();
  const cached = await cache?.match(url);
  if (cached) {
    const bytes = new Uint8Array(await cached.arrayBuffer());
    onProgress(bytes.length, bytes.length);
    return { bytes, source: "cache" };
  }
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status} ${response.statusText}`);
  const bytes = await readWithProgress(response, url, onProgress);
  // A failed put (quota, private browsing) costs only the next visit's download.
  await cache?.put(url, new Response(bytes, { headers: { "content-type": "application/octet-stream" } }))
    .catch(() => {});
  return { bytes, source: "network" };
}

/** Forgets every cached checkpoint. */
export async function clearModelCache(): Promise<void> {
  if (typeof caches !== "undefined") await caches.delete(MODEL_CACHE);
}

/** Cache Storage exists only in secure contexts (https, localhost): elsewhere every visit downloads. */
async function openCache(): Promise<Cache | null> {
  if (typeof caches === "undefined") return null;
  try {
    return await caches.open(MODEL_CACHE);
  } catch {
    return null;
  }
}

async function readWithProgress(
  response: Response,
  url: string,
  onProgress: Progress,
): Promise<Uint8Array<ArrayBuffer>> {
  const header = Number(response.headers.get("content-length"));
  const total = Number.isFinite(header) && header > 0 ? header : null;
  if (!response.body) return new Uint8Array(await response.arrayBuffer());
  const reader = response.body.getReader();
  let bytes: Uint8Array<ArrayBuffer> = new Uint8Array(total ?? 1 << 20);
  let received = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    if (received + value.length > bytes.length) {
      const grown = new Uint8Array(Math.max(2 * bytes.length, received + value.length));
      grown.set(bytes.subarray(0, received));
      bytes = grown;
    }
    bytes.set(value, received);
    received += value.length;
    onProgress(received, total);
  }
  if (total !== null && received !== total) {
    throw new Error(`${url}: the download stopped at ${received} of ${total} bytes`);
  }
  return received === bytes.length ? bytes : bytes.slice(0, received);
}
