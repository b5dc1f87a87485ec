/**
 * NeMo's manifest: JSON Lines, one object per utterance with `audio_filepath`, `text` and `duration` (seconds),
 * optionally `split` (train, dev or test). Relative paths resolve against the manifest's folder. A line that is
 * not a JSON object, or whose fields are missing or of the wrong type, is a problem naming the line and field.
 */
import { dirname, resolve } from "node:path";
import { manifestLines, type ManifestRows, RowCollector } from "./manifest_rows.ts";

/** Reads the rows of a NeMo JSONL manifest whose text is `text`, read from `file`. */
export function parseNemoJsonl(text: string, file: string): ManifestRows {
  const rows = new RowCollector(file, dirname(resolve(file)));
  manifestLines(text).forEach((raw, i) => {
    const line = i + 1;
    if (raw.trim() === "") return;
    let value: unknown;
    try {
      value = JSON.parse(raw);
    } catch (error) {
      return rows.problem(line, `not valid JSON (${(error as Error).message})`);
    }
    if (typeof value !== "object" || value === null || Array.isArray(value)) {
      return rows.problem(line, "expected a JSON object with audio_filepath, text and duration");
    }
    const o = value as Record<string, unknown>;
    rows.add({
      line,
      audio: { name: "audio_filepath", value: o.audio_filepath },
      transcript: { name: "text", value: o.text },
      seconds: { name: "duration", value: o.duration },
      split: { name: "split", value: o.split },
    });
  });
  return rows;
}
