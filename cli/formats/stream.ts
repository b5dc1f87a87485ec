/**
 * Writing a transcript while it is still being made (audio from a pipe): the format's opening, then each
 * segment as it becomes final, then the closing. The pieces concatenate to exactly what {@link formatDocument}
 * writes for the whole document, except that tsv gives each segment a line of its own (the whole text is not
 * known until the end). JSON cannot be written before the document is complete, so all of it comes at the end.
 */
import type { Segment, TranscriptDocument } from "../../model/transcript_document.ts";
import { cuesOf } from "./cue.ts";
import { formatDocument, type FormatOptions, type OutputFormat } from "./mod.ts";
import { srtCue } from "./srt.ts";
import { formatTsv } from "./tsv.ts";
import { VTT_HEADER, vttCue } from "./vtt.ts";

export class SegmentStreamWriter {
  private cues = 0;
  private previousEnd = 0;

  constructor(readonly format: OutputFormat, private readonly opts: FormatOptions = {}) {}

  /** What comes before the first segment. */
  begin(): string {
    return this.format === "vtt" ? VTT_HEADER : "";
  }

  /** One final segment (segments must come in time order). */
  segment(s: Segment): string {
    switch (this.format) {
      case "json":
        return "";
      case "txt":
        return s.text + "\n";
      case "tsv":
        return formatTsv({ text: s.text, duration: s.end, segments: [s] }, this.opts);
    }
    const [cue] = cuesOf([s], this.format, this.previousEnd);
    this.previousEnd = cue.end;
    this.cues++;
    return this.format === "srt" ? (this.cues > 1 ? "\n" : "") + srtCue(this.cues, cue) : "\n" + vttCue(cue);
  }

  /** What comes after the last segment, given the finished document. */
  end(doc: TranscriptDocument): string {
    return this.format === "json" ? formatDocument(doc, "json", this.opts) : "";
  }
}
