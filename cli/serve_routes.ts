/**
 * The server's routes: the browser page and its bundle (web/index.html at `/`, web/dist/ beside it), the
 * checkpoint at `/model.safetensors` (the page runs it in the browser), `GET /health`, and
 * `POST /v1/audio/transcriptions`, which transcribes on the server's GPU through the shared queue. Every failure
 * is answered with `{"error": {"message", "type", "param"}}` and a 4xx (the client's fault) or 5xx; none
 * escapes the handler, so one bad request never takes the server down.
 */
import { AudioFormatError } from "../data/audio_error.ts";
import { openAudioStream } from "../data/audio_stream.ts";
import { transcriptDocument } from "../model/segments.ts";
import { responseBody } from "./serve_formats.ts";
import type { TranscriptionQueue } from "./serve_queue.ts";
import { ApiError, readTranscriptionRequest } from "./serve_upload.ts";

export interface RouteOptions {
  queue: TranscriptionQueue;
  /** The checkpoint file served at /model.safetensors. */
  checkpoint: string;
  /** The folder holding index.html and dist/ (the browser page's build). */
  webDir: string;
  /** The most bytes an upload may have. */
  maxUploadBytes: number;
}

const CONTENT_TYPES: Record<string, string> = {
  html: "text/html; charset=utf-8",
  js: "text/javascript; charset=utf-8",
  css: "text/css; charset=utf-8",
  map: "application/json",
  json: "application/json",
  png: "image/png",
  svg: "image/svg+xml",
  wasm: "application/wasm",
};

function errorResponse(e: ApiError): Response {
  const error = { message: e.message, type: e.type, param: e.param };
  return Response.json({ error }, { status: e.status });
}

async function fileResponse(path: string, contentType: string): Promise<Response | null> {
  try {
    const file = await Deno.open(path, { read: true });
    const { size } = await file.stat();
    return new Response(file.readable, {
      headers: { "content-type": contentType, "content-length": String(size) },
    });
  } catch (e) {
    if (e instanceof Deno.errors.NotFound || e instanceof Deno.errors.IsADirectory) return null;
    throw e;
  }
}

/** Shown at / when the page has not been built. */
const NOT_BUILT_PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>speech recognizer server</title></head>
<body><h1>The browser page is not built</h1>
<p>Build it with <code>deno task build:web</code> and reload. The HTTP API works without it:</p>
<pre>curl http://HOST:PORT/v1/audio/transcriptions -F file=@speech.flac -F response_format=json</pre>
</body></html>
`;

async function staticFile(path: string, o: RouteOptions): Promise<Response> {
  if (path === "/" || path === "/index.html") {
    const built = await Deno.stat(`${o.webDir}/dist`).then(() => true, () => false);
    const page = built ? await fileResponse(`${o.webDir}/index.html`, CONTENT_TYPES.html) : null;
    return page ?? new Response(NOT_BUILT_PAGE, { headers: { "content-type": CONTENT_TYPES.html } });
  }
  // Only plain names under dist/: no "..", no hidden files.
  const m = /^\/dist\/((?:[A-Za-z0-9_-][A-Za-z0-9._-]*\/)*[A-Za-z0-9_-][A-Za-z0-9._-]*)$/.exec(path);
  const ext = m?.[1].split(".").pop() ?? "";
  const found = m && !m[1].includes("..")
    ? await fileResponse(`${o.webDir}/dist/${m[1]}`, CONTENT_TYPES[ext] ?? "application/octet-stream")
    : null;
  if (!found) throw new ApiError(404, `no such page: ${path}`);
  return found;
}

async function transcription(req: Request, o: RouteOptions): Promise<Response> {
  const request = await readTranscriptionRequest(req, o.maxUploadBytes);
  const name = request.file.name || "file";
  let result;
  try {
    const audio = await openAudioStream(request.file.stream(), 16000, { name });
    result = await o.queue.transcribe(audio);
  } catch (e) {
    if (e instanceof AudioFormatError) throw new ApiError(400, e.message, undefined, "file");
    if (e instanceof RangeError && /recording has/.test(e.message)) {
      throw new ApiError(400, `${name}: ${e.message}`, undefined, "file");
    }
    throw e;
  }
  const doc = transcriptDocument(result.transcript, result.samples / 16000);
  const { body, contentType } = responseBody(doc, request.format, request.granularities);
  return new Response(body, { headers: { "content-type": contentType } });
}

async function route(req: Request, o: RouteOptions): Promise<Response> {
  const path = new URL(req.url).pathname;
  const allow = (method: string) => {
    if (req.method !== method && !(method === "GET" && req.method === "HEAD")) {
      throw new ApiError(405, `${path} takes ${method}, not ${req.method}`);
    }
  };
  if (path === "/v1/audio/transcriptions") {
    allow("POST");
    return await transcription(req, o);
  }
  allow("GET");
  if (path === "/health") {
    return Response.json({ status: "ok", requests: o.queue.active, queued_windows: o.queue.queued });
  }
  if (path === "/model.safetensors") {
    const file = await fileResponse(o.checkpoint, "application/octet-stream");
    if (!file) throw new ApiError(500, "the checkpoint file is gone from disk");
    return file;
  }
  return await staticFile(path, o);
}

/** The request handler for Deno.serve. */
export function serveHandler(o: RouteOptions): (req: Request) => Promise<Response> {
  return async (req) => {
    try {
      return await route(req, o);
    } catch (e) {
      if (e instanceof ApiError) return errorResponse(e);
      console.error(`serve: ${req.method} ${new URL(req.url).pathname}: ${(e as Error)?.stack ?? e}`);
      return errorResponse(new ApiError(500, `the server failed: ${(e as Error)?.message ?? e}`));
    }
  };
}
