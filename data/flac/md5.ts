/**
 * MD5 of decoded audio in FLAC's layout (RFC 9639 section 8.2): samples interleaved, each as a signed
 * little-endian integer of ceil(bps / 8) bytes. Bytes are staged and hashed in large pieces (md5_digest.ts: MD5 in
 * TypeScript, so that the decoder runs in a browser too).
 */
import { Md5 } from "./md5_digest.ts";

const STAGE_BYTES = 1 << 18;
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

export class FlacMd5 {
  private hash = new Md5();
  private stage = new ArrayBuffer(STAGE_BYTES);
  private bytes = new Uint8Array(this.stage);
  private used = 0;

  /** Adds n samples of each channel, at `bps` bits. */
  update(samples: Int32Array[], n: number, bps: number): void {
    const width = (bps + 7) >>> 3;
    const channels = samples.length;
    const frameBytes = width * channels;
    let i = 0;
    while (i < n) {
      let room = Math.floor((STAGE_BYTES - this.used) / frameBytes);
      if (room === 0) {
        this.flush();
        room = Math.floor(STAGE_BYTES / frameBytes);
      }
      const count = Math.min(room, n - i);
      this.write(samples, i, count, width);
      i += count;
    }
  }

  /** Hex digest; the object must not be used afterwards. */
  digest(): string {
    this.flush();
    return this.hash.digestHex();
  }

  private flush(): void {
    if (this.used > 0) this.hash.update(this.bytes.subarray(0, this.used));
    this.used = 0;
  }

  private write(samples: Int32Array[], from: number, count: number, width: number): void {
    const channels = samples.length;
    const start = this.used;
    const total = count * channels * width;
    if (LITTLE_ENDIAN && width === 2 && channels === 1 && (start & 1) === 0) {
      new Int16Array(this.stage, start, count).set(samples[0].subarray(from, from + count));
    } else if (LITTLE_ENDIAN && width === 2 && (start & 1) === 0) {
      const view = new Int16Array(this.stage, start, count * channels);
      for (let c = 0; c < channels; c++) {
        const s = samples[c];
        for (let i = 0, o = c; i < count; i++, o += channels) view[o] = s[from + i];
      }
    } else if (LITTLE_ENDIAN && width === 4 && (start & 3) === 0) {
      const view = new Int32Array(this.stage, start, count * channels);
      for (let c = 0; c < channels; c++) {
        const s = samples[c];
        for (let i = 0, o = c; i < count; i++, o += channels) view[o] = s[from + i];
      }
    } else {
      const b = this.bytes;
      const step = channels * width;
      for (let c = 0; c < channels; c++) {
        const s = samples[c];
        for (let i = 0, o = start + c * width; i < count; i++, o += step) {
          const v = s[from + i];
          for (let k = 0; k < width; k++) b[o + k] = v >> (8 * k);
        }
      }
    }
    this.used = start + total;
  }
}
