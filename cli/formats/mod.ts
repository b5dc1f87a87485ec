/**
 * Writing a transcript in one of the output formats by name: what the transcribe command's --format, forced
 * alignment and the server share. Each format lives in its own file; this one maps names to writers.
 */
import type { TranscriptDocument } from "../../model/transcript_document.ts";
import { formatJson } from "./json.ts";
import { formatSrt } from "./srt.ts";
import { formatTsv } from "./tsv.ts";
import { formatTxt } from "./txt.ts";
import { formatVtt } from "./vtt.ts";

export const OUTPUT_FORMATS = ["tsv", "txt", "json", "srt", "vtt"] as const;
export type OutputFormat = typeof OUTPUT_FORMATS[number];

export interface FormatOptions {
  /** The recording's name (tsv's first column, json's `file` in line mode). */
  name?: string;
  /** tsv: a line per word with its times. */
  timestamps?: boolean;
  /** json: one line per document (JSON Lines) instead of an indented one. */
  jsonLine?: boolean;
}

/** The file name extension of a format (without the dot). */
export function formatExtension(format: OutputFormat): string {
  return format;
}

/** `doc` written as `format`. */
export function formatDocument(
  doc: TranscriptDocument,
  format: OutputFormat,
  opts: FormatOptions = {},
): string {
  switch (format) {
    case "tsv":
      return formatTsv(doc, opts);
    case "txt":
      return formatTxt(doc);
    case "json":
      return formatJson(doc, { line: opts.jsonLine, name: opts.name });
    case "srt":
      return formatSrt(doc);
    case "vtt":
      return formatVtt(doc);
  }
}

export { formatJson, formatSrt, formatTsv, formatTxt, formatVtt };
export { parseSrt } from "./srt.ts";
export { parseVtt } from "./vtt.ts";
export { parseJson } from "./json.ts";
export type { Cue } from "./cue.ts";
