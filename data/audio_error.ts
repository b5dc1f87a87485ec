/**
 * The one error type for unreadable audio: bad magic, truncated data, CRC mismatches, unsupported
 * encodings. `offset` is the byte offset in the file where the problem was found (or -1 when no single
 * offset applies); `file` names the file when the caller knows it.
 */
export class AudioFormatError extends Error {
  readonly offset: number;
  readonly file: string | undefined;
  /** The message without the file/offset prefix. */
  readonly detail: string;

  constructor(detail: string, offset: number, file?: string) {
    super(AudioFormatError.compose(detail, offset, file));
    this.name = "AudioFormatError";
    this.detail = detail;
    this.offset = offset;
    this.file = file;
  }

  /** The same error, naming `file` (used by loaders that know the path). */
  withFile(file: string): AudioFormatError {
    return new AudioFormatError(this.detail, this.offset, file);
  }

  private static compose(detail: string, offset: number, file?: string): string {
    const where = offset >= 0 ? `at byte ${offset}` : "";
    const prefix = [file, where].filter((s) => s).join(" ");
    return prefix ? `${prefix}: ${detail}` : detail;
  }
}

/** `e` naming `file` when it is an AudioFormatError that names no file yet; any other error as it is. */
export function namingFile(e: unknown, file: string): unknown {
  return e instanceof AudioFormatError && e.file === undefined ? e.withFile(file) : e;
}
