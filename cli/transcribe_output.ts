/**
 * Where `transcribe` puts its documents. To standard output they come in the order the inputs were given, though
 * the model reads them longest first (a document waits for those before it); with --output-dir each input gets
 * a file of its own, written under a temporary name and renamed as soon as its transcript is done, so an
 * interrupted run leaves only whole files.
 */
import { basename, dirname, extname, join, relative } from "node:path";
import { writeFileAtomic } from "../data/atomic_write.ts";
import type { TranscriptDocument } from "../model/transcript_document.ts";
import { formatDocument, formatExtension, type OutputFormat } from "./formats/mod.ts";
import { STDIN_INPUT, type TranscribeInput } from "./transcribe_inputs.ts";

export interface OutputSink {
  /** Input `index`'s document. */
  add(index: number, doc: TranscriptDocument): Promise<void>;
  /** Input `index` could not be transcribed (nothing will be written for it). */
  skip(index: number): Promise<void>;
}

/** Writes all of `text` to standard output. */
export function writeStdout(text: string): void {
  const bytes = new TextEncoder().encode(text);
  for (let done = 0; done < bytes.length;) done += Deno.stdout.writeSync(bytes.subarray(done));
}

/** Documents to standard output in input order: tsv lines, or JSON Lines when there are many inputs. */
export class StdoutSink implements OutputSink {
  private ready = new Map<number, string>();
  private next = 0;

  constructor(
    private readonly inputs: readonly TranscribeInput[],
    private readonly format: OutputFormat,
    private readonly timestamps: boolean,
  ) {}

  add(index: number, doc: TranscriptDocument): Promise<void> {
    const text = formatDocument(doc, this.format, {
      name: this.inputs[index].path,
      timestamps: this.timestamps,
      jsonLine: this.inputs.length > 1,
    });
    return this.settle(index, text);
  }

  skip(index: number): Promise<void> {
    return this.settle(index, "");
  }

  private settle(index: number, text: string): Promise<void> {
    this.ready.set(index, text);
    while (this.ready.has(this.next)) {
      writeStdout(this.ready.get(this.next)!);
      this.ready.delete(this.next++);
    }
    return Promise.resolve();
  }
}

/**
 * The output file of each input: the input's path under the folder it was found in (or its file name), with the
 * format's extension in place of the audio's. Two inputs that would share a name get `-2`, `-3`... added.
 */
export function outputNames(inputs: readonly TranscribeInput[], format: OutputFormat): string[] {
  const taken = new Set<string>();
  return inputs.map((input) => {
    const path = input.path === STDIN_INPUT ? "stdin" : input.path;
    const rel = input.folder !== undefined ? relative(input.folder, path) : basename(path);
    const stem = rel.slice(0, rel.length - extname(rel).length);
    let name = `${stem}.${formatExtension(format)}`;
    for (let k = 2; taken.has(name); k++) name = `${stem}-${k}.${formatExtension(format)}`;
    taken.add(name);
    return name;
  });
}

/** One file per input under `dir`. */
export class DirectorySink implements OutputSink {
  private readonly names: string[];
  /** Output files written, in the order they were finished. */
  readonly written: string[] = [];

  constructor(
    private readonly dir: string,
    inputs: readonly TranscribeInput[],
    private readonly format: OutputFormat,
    private readonly timestamps: boolean,
    private readonly inputNames: readonly string[] = inputs.map((i) => i.path),
  ) {
    this.names = outputNames(inputs, format);
  }

  async add(index: number, doc: TranscriptDocument): Promise<void> {
    const path = join(this.dir, this.names[index]);
    await Deno.mkdir(dirname(path), { recursive: true });
    const text = formatDocument(doc, this.format, {
      name: this.inputNames[index],
      timestamps: this.timestamps,
    });
    await writeFileAtomic(path, text);
    this.written.push(path);
  }

  skip(): Promise<void> {
    return Promise.resolve();
  }
}
