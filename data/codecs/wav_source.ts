/**
 * WAV as a PcmSource, read front to back (a pipe cannot seek): the chunk headers are walked, the fmt chunk is
 * checked by data/wav.ts's own readWav, and the data chunk is then read in pieces, each converted by readWav
 * given a tiny synthetic header in front of it, so the PCM/float rules live in one place. Errors match
 * readWav's on the same bytes (same text, same offset) when the stream's size is known up front.
 */
import { AudioFormatError } from "../audio_error.ts";
import type { DecodedAudio } from "../flac/decoded_audio.ts";
import { readWav } from "../wav.ts";
import type { ByteReader } from "./byte_reader.ts";
import { toMono } from "./mono.ts";
import type { PcmSource } from "./pcm_source.ts";

/** Upper bound on the bytes of one data read. */
const PIECE_BYTES = 1 << 18;

interface WavLayout {
  /** Synthetic "RIFF....WAVE" + the stream's fmt chunk + "data" header, for readWav. */
  header: Uint8Array;
  /** Absolute offset of the data chunk's header and body. */
  chunkStart: number;
  dataStart: number;
  /** The data chunk's size; null when it runs to the end of a stream of unknown size. */
  dataSize: number | null;
  blockAlign: number;
  sampleRate: number;
  channels: number;
}

/** RIFF + WAVE + fmt chunk (as in the file) + an empty data chunk header. */
function syntheticHeader(fmtChunk: Uint8Array): Uint8Array {
  const header = new Uint8Array(12 + fmtChunk.length + 8);
  header.set(new TextEncoder().encode("RIFF\0\0\0\0WAVE"), 0);
  header.set(fmtChunk, 12);
  header.set(new TextEncoder().encode("data"), 12 + fmtChunk.length);
  return header;
}

/** Checks a fmt chunk with wav.ts's own rules (errors moved to the chunk's offset in the stream). */
function checkFormat(fmtChunk: Uint8Array, chunkOffset: number): DecodedAudio {
  try {
    return readWav(syntheticHeader(fmtChunk));
  } catch (e) {
    if (e instanceof AudioFormatError) {
      throw new AudioFormatError(e.detail, e.offset === 12 ? chunkOffset : e.offset);
    }
    throw e;
  }
}

async function readExactly(reader: ByteReader, n: number): Promise<Uint8Array> {
  const buf = new Uint8Array(n);
  return buf.subarray(0, await reader.readInto(buf));
}

/** Walks the chunks like readWav does, up to the data chunk's body; `size` is the stream's, when known. */
async function readWavLayout(reader: ByteReader, size: number | null): Promise<WavLayout> {
  const fail = (detail: string, offset: number): never => {
    throw new AudioFormatError(detail, offset);
  };
  const riff = await readExactly(reader, 12);
  if (riff.length < 12) fail("file is too short to be WAV", 0);
  let fmtChunk: Uint8Array | null = null;
  let format: DecodedAudio | null = null;
  for (;;) {
    const pos = reader.offset;
    const chunkHeader = await readExactly(reader, 8);
    if (chunkHeader.length < 8) return fail(fmtChunk ? "no data chunk" : "no fmt chunk", pos);
    const id = String.fromCharCode(...chunkHeader.subarray(0, 4));
    const chunkSize = new DataView(chunkHeader.buffer).getUint32(4, true);
    const body = pos + 8;
    const available = size === null ? null : size - body;
    if (id === "fmt ") {
      if (chunkSize < 16 || (available !== null && chunkSize > available)) {
        fail(`fmt chunk of ${chunkSize} bytes is malformed`, pos);
      }
      fmtChunk = new Uint8Array(8 + chunkSize + (chunkSize & 1));
      fmtChunk.set(chunkHeader);
      const got = await reader.readInto(fmtChunk.subarray(8, 8 + chunkSize));
      if (got < chunkSize) fail(`fmt chunk of ${chunkSize} bytes is malformed`, pos);
      await reader.skip(chunkSize & 1);
      format = checkFormat(fmtChunk, pos);
    } else if (id === "data") {
      if (!fmtChunk || !format) return fail("data chunk comes before the fmt chunk", pos);
      const blockAlign = new DataView(fmtChunk.buffer).getUint16(8 + 12, true);
      // Writers that stream to a pipe leave the size as 0 or 0xFFFFFFFF: then the data runs to the end.
      let dataSize: number | null = chunkSize;
      if (chunkSize === 0xffffffff || chunkSize === 0) dataSize = available === 0 ? 0 : available;
      if (dataSize !== null) {
        if (available !== null && dataSize > available) {
          fail(`data chunk claims ${dataSize} bytes but only ${available} remain`, pos);
        }
        if (dataSize % blockAlign !== 0) {
          fail(`data chunk of ${dataSize} bytes is not a whole number of ${blockAlign}-byte frames`, pos);
        }
      }
      return {
        header: syntheticHeader(fmtChunk),
        chunkStart: pos,
        dataStart: body,
        dataSize,
        blockAlign,
        sampleRate: format.sampleRate,
        channels: format.channels,
      };
    } else {
      const skip = chunkSize + (chunkSize & 1);
      if (await reader.skip(skip) < skip) {
        return fail(fmtChunk ? "no data chunk" : "no fmt chunk", body + skip);
      }
    }
  }
}

/** Reads the data chunk piece by piece into one buffer behind the synthetic header and lets readWav decode it. */
async function* wavPieces(reader: ByteReader, w: WavLayout): AsyncGenerator<Float32Array> {
  const frames = Math.max(1, Math.floor(PIECE_BYTES / w.blockAlign));
  const buf = new Uint8Array(w.header.length + frames * w.blockAlign);
  buf.set(w.header);
  const view = new DataView(buf.buffer);
  let done = 0;
  for (;;) {
    const left = w.dataSize === null ? Infinity : w.dataSize - done;
    if (left === 0) return;
    const n = Math.min(frames * w.blockAlign, left);
    const got = await reader.readInto(buf.subarray(w.header.length, w.header.length + n));
    if (got < n && w.dataSize !== null) {
      throw new AudioFormatError(
        `stream ends inside the data chunk (${done + got} of ${w.dataSize} bytes)`,
        w.dataStart + done + got,
      );
    }
    const whole = got - (got % w.blockAlign);
    if (whole < got) {
      throw new AudioFormatError(
        `data chunk of ${done + got} bytes is not a whole number of ${w.blockAlign}-byte frames`,
        w.chunkStart,
      );
    }
    if (got === 0) return;
    view.setUint32(w.header.length - 4, got, true);
    yield toMono(readWav(buf.subarray(0, w.header.length + got)));
    done += got;
  }
}

/** Opens the WAV stream at the reader's position (its start); `size` is the stream's length when known. */
export async function openWavSource(reader: ByteReader, size: number | null): Promise<PcmSource> {
  const layout = await readWavLayout(reader, size);
  return {
    kind: "wav",
    sourceRate: layout.sampleRate,
    channels: layout.channels,
    totalFrames: layout.dataSize === null ? null : layout.dataSize / layout.blockAlign,
    pieces: () => wavPieces(reader, layout),
    close: () => reader.cancel(),
  };
}
