/**
 * DeepSpeech's manifest: CSV with a header naming `wav_filename`, `wav_filesize` and `transcript`, optionally
 * `split` (train, dev or test), one row per utterance. Cells follow RFC 4180: a cell in double quotes may hold
 * commas, newlines and doubled quotes. Relative paths resolve against the manifest's folder; `wav_filesize`
 * may be left empty or out (it is checked by validation when given).
 */
import { dirname, resolve } from "node:path";
import { CorpusError } from "./corpus.ts";
import { type ManifestRows, RowCollector } from "./manifest_rows.ts";

/** One CSV record: its cells and the 1-based line it starts on. */
export interface CsvRecord {
  line: number;
  cells: string[];
}

/** Splits CSV text into records (RFC 4180). An unterminated quote is a CorpusError naming where it opened. */
export function parseCsvRecords(text: string, file: string): CsvRecord[] {
  const records: CsvRecord[] = [];
  let cells: string[] = [];
  let cell = "";
  let line = 1;
  let recordLine = 1;
  let i = text.startsWith("\uFEFF") ? 1 : 0;
  const endRecord = () => {
    cells.push(cell);
    // A blank line is no record.
    if (!(cells.length === 1 && cells[0] === "")) records.push({ line: recordLine, cells });
    cells = [];
    cell = "";
  };
  while (i < text.length) {
    const c = text[i];
    if (c === '"' && cell === "") {
      const opened = line;
      i++;
      for (;;) {
        if (i >= text.length) throw new CorpusError(`${file}:${opened}: a quoted cell is never closed`);
        if (text[i] === '"') {
          if (text[i + 1] === '"') {
            cell += '"';
            i += 2;
            continue;
          }
          i++;
          break;
        }
        if (text[i] === "\n") line++;
        cell += text[i++];
      }
    } else if (c === ",") {
      cells.push(cell);
      cell = "";
      i++;
    } else if (c === "\n" || (c === "\r" && text[i + 1] === "\n")) {
      endRecord();
      i += c === "\r" ? 2 : 1;
      line++;
      recordLine = line;
    } else {
      cell += c;
      i++;
    }
  }
  if (cell !== "" || cells.length > 0) endRecord();
  return records;
}

/** Reads the rows of a DeepSpeech CSV manifest whose text is `text`, read from `file`. */
export function parseDeepSpeechCsv(text: string, file: string): ManifestRows {
  const records = parseCsvRecords(text, file);
  if (records.length === 0) throw new CorpusError(`${file}: empty: expected a header row`);
  const header = records[0].cells.map((name) => name.trim());
  const column = (name: string) => header.indexOf(name);
  const audio = column("wav_filename");
  const transcript = column("transcript");
  if (audio < 0 || transcript < 0) {
    throw new CorpusError(
      `${file}:${records[0].line}: the header must name wav_filename and transcript (DeepSpeech CSV), ` +
        `got ${header.join(",")}`,
    );
  }
  const bytes = column("wav_filesize");
  const split = column("split");
  const rows = new RowCollector(file, dirname(resolve(file)));
  for (const { line, cells } of records.slice(1)) {
    if (cells.length !== header.length) {
      rows.problem(line, `${cells.length} cells where the header has ${header.length}`);
      continue;
    }
    rows.add({
      line,
      audio: { name: "wav_filename", value: cells[audio] },
      transcript: { name: "transcript", value: cells[transcript] },
      bytes: bytes < 0 ? undefined : { name: "wav_filesize", value: cells[bytes] },
      split: split < 0 ? undefined : { name: "split", value: cells[split] },
    });
  }
  return rows;
}
