/**
 * Common Voice's manifest: a TSV (train.tsv, dev.tsv, validated.tsv, ...) with a header naming `path` and
 * `sentence`, optionally `split` (train, dev or test); other columns (client_id, up_votes, ...) are ignored.
 * Cells are not quoted: a tab or newline cannot occur in one. Paths are relative to the `clips/` folder beside
 * the TSV, as Common Voice lays it out, or to the TSV's own folder when there is no `clips/`.
 */
import { dirname, join, resolve } from "node:path";
import { CorpusError } from "./corpus.ts";
import { manifestLines, type ManifestRows, RowCollector } from "./manifest_rows.ts";

/** Reads the rows of a Common Voice TSV whose text is `text`, read from `file`; `hasClips`: is there `clips/`. */
export function parseCommonVoiceTsv(text: string, file: string, hasClips: boolean): ManifestRows {
  const lines = manifestLines(text);
  const header = lines[0].split("\t").map((name) => name.trim());
  const column = (name: string) => header.indexOf(name);
  const audio = column("path");
  const sentence = column("sentence");
  if (audio < 0 || sentence < 0) {
    throw new CorpusError(
      `${file}:1: the header must name path and sentence (Common Voice TSV), got ${header.join(" | ")}`,
    );
  }
  const split = column("split");
  const folder = dirname(resolve(file));
  const rows = new RowCollector(file, hasClips ? join(folder, "clips") : folder);
  for (let i = 1; i < lines.length; i++) {
    if (lines[i] === "") continue;
    const cells = lines[i].split("\t");
    if (cells.length !== header.length) {
      rows.problem(i + 1, `${cells.length} cells where the header has ${header.length}`);
      continue;
    }
    rows.add({
      line: i + 1,
      audio: { name: "path", value: cells[audio] },
      transcript: { name: "sentence", value: cells[sentence] },
      split: split < 0 ? undefined : { name: "split", value: cells[split] },
    });
  }
  return rows;
}
