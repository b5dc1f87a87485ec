/**
 * Reading a transcription request the way OpenAI's `POST /v1/audio/transcriptions` takes it: a multipart form
 * with the audio in `file` and the options beside it (`response_format`, `timestamp_granularities[]`; `model`,
 * `language`, `prompt` and `temperature` are accepted and ignored, so OpenAI clients work unchanged). The body
 * is counted as it arrives and refused past the size limit, before it is all in memory. Every problem is an
 * ApiError that the routes turn into a 4xx with a JSON error body.
 */

export const RESPONSE_FORMATS = ["json", "text", "srt", "verbose_json", "vtt"] as const;
export type ResponseFormat = typeof RESPONSE_FORMATS[number];
export const GRANULARITIES = ["segment", "word"] as const;
export type Granularity = typeof GRANULARITIES[number];

/** A request the client got wrong (4xx), or the server's own failure (5xx). */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly type = status >= 500 ? "server_error" : "invalid_request_error",
    readonly param: string | null = null,
  ) {
    super(message);
    this.name = "ApiError";
  }
}

export interface TranscriptionRequest {
  file: File;
  format: ResponseFormat;
  granularities: Granularity[];
}

/** The body, refused with 413 once more than `limit` bytes have come. */
function limited(body: ReadableStream<Uint8Array>, limit: number): ReadableStream<Uint8Array> {
  let seen = 0;
  return body.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, controller) {
        seen += chunk.length;
        if (seen > limit) throw tooLarge(limit);
        controller.enqueue(chunk);
      },
    }),
  );
}

function tooLarge(limit: number): ApiError {
  return new ApiError(413, `the upload is larger than this server's limit of ${limit} bytes (--max-upload)`);
}

/** Parses and checks a transcription request; `limit` is the most bytes a body may have. */
export async function readTranscriptionRequest(req: Request, limit: number): Promise<TranscriptionRequest> {
  const length = Number(req.headers.get("content-length") ?? NaN);
  if (length > limit) throw tooLarge(limit);
  const type = req.headers.get("content-type") ?? "";
  if (!/^multipart\/form-data\s*;/i.test(type)) {
    throw new ApiError(
      400,
      `expected a multipart/form-data body with the audio in "file", got "${type || "none"}"`,
    );
  }
  if (!req.body) throw new ApiError(400, "the request has no body");
  let form: FormData;
  try {
    form = await new Response(limited(req.body, limit), { headers: { "content-type": type } }).formData();
  } catch (e) {
    if (e instanceof ApiError) throw e;
    if (e instanceof TypeError && /413|limit/.test(String((e as Error).cause ?? ""))) throw tooLarge(limit);
    throw new ApiError(400, `the multipart body could not be read: ${(e as Error).message}`);
  }
  const file = form.get("file");
  if (!(file instanceof File)) {
    throw new ApiError(400, 'the form has no "file" field with the audio to transcribe', undefined, "file");
  }
  if (file.size > limit) throw tooLarge(limit);
  const format = String(form.get("response_format") ?? "json");
  if (!(RESPONSE_FORMATS as readonly string[]).includes(format)) {
    throw new ApiError(
      400,
      `response_format must be one of ${RESPONSE_FORMATS.join(", ")}; got "${format}"`,
      undefined,
      "response_format",
    );
  }
  const granularities = form.getAll("timestamp_granularities[]").map(String);
  for (const g of granularities) {
    if (!(GRANULARITIES as readonly string[]).includes(g)) {
      throw new ApiError(
        400,
        `timestamp_granularities[] must be "segment" or "word"; got "${g}"`,
        undefined,
        "timestamp_granularities[]",
      );
    }
  }
  if (granularities.length > 0 && format !== "verbose_json") {
    throw new ApiError(
      400,
      "timestamp_granularities[] needs response_format verbose_json",
      undefined,
      "timestamp_granularities[]",
    );
  }
  return {
    file,
    format: format as ResponseFormat,
    granularities: granularities.length > 0 ? granularities as Granularity[] : ["segment"],
  };
}
