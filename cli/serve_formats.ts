/**
 * The transcription endpoint's response bodies, in OpenAI's shapes: `json` is {"text"}, `text` the plain text,
 * `srt` and `vtt` subtitles (cli/formats/), `verbose_json` Whisper's {task, language, duration, text, segments,
 * words}, with segments and/or words as `timestamp_granularities[]` asks. Only what the recognizer knows is
 * written: Whisper's decoding statistics (tokens, avg_logprob, no_speech_prob) have no counterpart here.
 */
import { formatDocument } from "./formats/mod.ts";
import type { TranscriptDocument } from "../model/transcript_document.ts";
import type { Granularity, ResponseFormat } from "./serve_upload.ts";

export interface ResponseBody {
  body: string;
  contentType: string;
}

/** The recognizer is trained on English speech (and the API's `language` field says so). */
const LANGUAGE = "english";

function verboseJson(doc: TranscriptDocument, granularities: Granularity[]): string {
  const out: Record<string, unknown> = {
    task: "transcribe",
    language: LANGUAGE,
    duration: doc.duration,
    text: doc.text,
  };
  if (granularities.includes("segment")) {
    out.segments = doc.segments.map(({ id, start, end, text }) => ({ id, start, end, text }));
  }
  if (granularities.includes("word")) out.words = doc.segments.flatMap((s) => s.words);
  return JSON.stringify(out);
}

export function responseBody(
  doc: TranscriptDocument,
  format: ResponseFormat,
  granularities: Granularity[],
): ResponseBody {
  switch (format) {
    case "json":
      return { body: JSON.stringify({ text: doc.text }), contentType: "application/json" };
    case "text":
      return { body: doc.text + "\n", contentType: "text/plain; charset=utf-8" };
    case "srt":
      return { body: formatDocument(doc, "srt"), contentType: "text/plain; charset=utf-8" };
    case "vtt":
      return { body: formatDocument(doc, "vtt"), contentType: "text/vtt; charset=utf-8" };
    case "verbose_json":
      return { body: verboseJson(doc, granularities), contentType: "application/json" };
  }
}
