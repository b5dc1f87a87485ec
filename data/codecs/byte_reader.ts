/**
 * Sequential reads from a ReadableStream of byte chunks of any sizes (a file's stream, stdin, an upload), for
 * the format sniffer and the WAV and compressed-audio readers that walk a stream front to back without seeking.
 * Holds only the bytes asked for plus the rest of the chunk they came in; `offset` is the absolute position of
 * the next unread byte, for errors.
 */

export class ByteReader {
  /** Bytes received and not yet consumed: pending[pendingAt..]. */
  private pending: Uint8Array = new Uint8Array(0);
  private pendingAt = 0;
  private reader: ReadableStreamDefaultReader<Uint8Array> | null;
  private ended = false;
  private consumed = 0;

  constructor(stream: ReadableStream<Uint8Array>) {
    this.reader = stream.getReader();
  }

  /** Absolute offset of the next unread byte. */
  get offset(): number {
    return this.consumed;
  }

  /** Up to n bytes from the read position, not consumed (fewer only at the end of input). Valid until the next call. */
  async peek(n: number): Promise<Uint8Array> {
    while (this.pending.length - this.pendingAt < n && await this.receive());
    return this.pending.subarray(this.pendingAt, this.pendingAt + n);
  }

  /** Fills `buf` from the stream; returns the bytes read (fewer than buf.length only at the end of input). */
  async readInto(buf: Uint8Array): Promise<number> {
    let got = 0;
    while (got < buf.length) {
      if (this.pendingAt === this.pending.length && !(await this.receive())) break;
      const take = Math.min(buf.length - got, this.pending.length - this.pendingAt);
      buf.set(this.pending.subarray(this.pendingAt, this.pendingAt + take), got);
      this.pendingAt += take;
      this.consumed += take;
      got += take;
    }
    return got;
  }

  /**
   * The next bytes as they come: the rest of the current chunk, or the next chunk, at most `max` bytes; null at
   * the end of input. A view into the stream's own chunk: use it before the next call.
   */
  async readSome(max = Infinity): Promise<Uint8Array | null> {
    if (this.pendingAt === this.pending.length && !(await this.receive())) return null;
    const take = Math.min(max, this.pending.length - this.pendingAt);
    const out = this.pending.subarray(this.pendingAt, this.pendingAt + take);
    this.pendingAt += take;
    this.consumed += take;
    return out;
  }

  /** Consumes up to n bytes without keeping them; returns how many there were (fewer only at the end). */
  async skip(n: number): Promise<number> {
    let left = n;
    while (left > 0) {
      const some = await this.readSome(left);
      if (some === null) break;
      left -= some.length;
    }
    return n - left;
  }

  /** The unread bytes as a stream of their own (this reader must not be used after). */
  remainder(): ReadableStream<Uint8Array> {
    return new ReadableStream<Uint8Array>({
      pull: async (controller) => {
        const some = await this.readSome();
        if (some === null) controller.close();
        else controller.enqueue(some.slice());
      },
      cancel: () => this.cancel(),
    });
  }

  /** Stops reading (cancels the stream, which closes a file behind it). Safe to call more than once. */
  async cancel(): Promise<void> {
    const reader = this.reader;
    this.reader = null;
    this.pending = new Uint8Array(0);
    this.pendingAt = 0;
    if (reader && !this.ended) await reader.cancel().catch(() => {});
    this.ended = true;
  }

  /** Appends the next non-empty chunk to the pending bytes; false at the end of input. */
  private async receive(): Promise<boolean> {
    if (this.ended || !this.reader) return false;
    let chunk: Uint8Array | undefined;
    do {
      const r = await this.reader.read();
      chunk = r.done ? undefined : r.value;
    } while (chunk !== undefined && chunk.length === 0);
    if (chunk === undefined) {
      this.ended = true;
      this.reader.releaseLock();
      return false;
    }
    const left = this.pending.length - this.pendingAt;
    if (left === 0) this.pending = chunk;
    else {
      const joined = new Uint8Array(left + chunk.length);
      joined.set(this.pending.subarray(this.pendingAt));
      joined.set(chunk, left);
      this.pending = joined;
    }
    this.pendingAt = 0;
    return true;
  }
}
