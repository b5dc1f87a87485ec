/**
 * MP3, Ogg Vorbis and Ogg Opus as PcmSources, decoded by the WebAssembly builds of mpg123, libvorbis and
 * libopus from npm (they run in Deno and in browsers alike). The one place these packages are named, pinned
 * to exact versions. We cut the stream ourselves (MPEG frames, Ogg pages, with their CRCs) and feed the
 * decoder one unit at a time, so memory stays at one unit plus its decoded samples whatever the stream's
 * length, errors name the unit's byte offset, and a stream cut short is an error.
 */
// Pinned here, in the one module that uses them, rather than in deno.json: the versions travel with the code.
// deno-lint-ignore no-import-prefix
import { MPEGDecoder } from "npm:mpg123-decoder@1.0.3";
// deno-lint-ignore no-import-prefix
import { OggOpusDecoder } from "npm:ogg-opus-decoder@1.7.5";
// deno-lint-ignore no-import-prefix
import { OggVorbisDecoder } from "npm:@wasm-audio-decoders/ogg-vorbis@0.1.20";
import { AudioFormatError } from "../audio_error.ts";
import type { ByteReader } from "./byte_reader.ts";
import { meanOfChannels } from "./mono.ts";
import { MpegFrameWalker } from "./mpeg_frames.ts";
import { OggPageWalker } from "./ogg_pages.ts";
import type { PcmSource } from "./pcm_source.ts";

/** What the three decoders share. decode() of Vorbis returns a promise; the others answer at once. */
interface WasmDecoder {
  ready: Promise<void>;
  decode(data: Uint8Array): Decoded | Promise<Decoded>;
  flush?: () => Promise<Decoded>;
  free(): void;
}

interface Decoded {
  channelData: Float32Array[];
  samplesDecoded: number;
  errors: { message: string }[];
}

/** A piece of the stream the decoder takes whole: an MPEG frame or an Ogg page. */
interface Unit {
  offset: number;
  bytes: Uint8Array;
  /** For an Ogg page: its flags and granule position. */
  beginsStream?: boolean;
  endOfStream?: boolean;
  granule?: number;
}

type WasmKind = "mp3" | "vorbis" | "opus";

const CODEC_NAMES: Record<WasmKind, string> = { mp3: "MPEG audio", vorbis: "Vorbis", opus: "Opus" };

/** Channel count and rate from an Ogg stream's first page (its identification header), or an error. */
function oggIdentification(kind: "vorbis" | "opus", page: Uint8Array, offset: number) {
  const packet = 27 + page[26];
  const view = new DataView(page.buffer, page.byteOffset, page.byteLength);
  const need = packet + (kind === "opus" ? 19 : 16);
  if (page.length < need) {
    throw new AudioFormatError(`stream ends inside the ${CODEC_NAMES[kind]} identification header`, offset);
  }
  const channels = page[packet + (kind === "opus" ? 9 : 11)];
  // Opus always decodes at 48 kHz, whatever input rate the header records.
  const sourceRate = kind === "opus" ? 48000 : view.getUint32(packet + 12, true);
  if (channels === 0 || sourceRate === 0) {
    throw new AudioFormatError(
      `${CODEC_NAMES[kind]} header says ${channels} channels at ${sourceRate} Hz`,
      offset,
    );
  }
  return { channels, sourceRate };
}

/** Opus's pre-skip (samples at 48 kHz the decoder drops at the start) from the OpusHead of a first page. */
function opusPreSkip(page: Uint8Array): number {
  return page[27 + page[26] + 10] | (page[27 + page[26] + 11] << 8);
}

/**
 * The length RFC 3533/7845 give a single Ogg stream: its last granule position (less Opus's pre-skip).
 * ogg-opus-decoder misses the pre-skip when all the audio is on the last page (a short clip comes out 312
 * samples long), so the output is cut to that length here. Chained streams are left to the decoder.
 */
class OggLength {
  private streams = 0;
  private preSkip = 0;
  private produced = 0;
  private limit = Infinity;

  constructor(private readonly kind: WasmKind) {}

  /** Notes a page before it is decoded. */
  page(unit: Unit): void {
    if (unit.beginsStream) {
      this.streams++;
      this.preSkip = this.kind === "opus" ? opusPreSkip(unit.bytes) : 0;
    }
    if (unit.endOfStream && (unit.granule ?? -1) >= 0) this.limit = Math.max(0, unit.granule! - this.preSkip);
  }

  /** `mono` cut so that the stream does not pass its length. */
  cut(mono: Float32Array): Float32Array {
    if (this.streams > 1 || this.kind === "mp3") return mono;
    const kept = mono.subarray(0, Math.max(0, Math.min(mono.length, this.limit - this.produced)));
    this.produced += kept.length;
    return kept;
  }
}

/** Mono samples of one decode, or an AudioFormatError naming the unit's offset. */
function monoOf(kind: WasmKind, r: Decoded, offset: number): Float32Array {
  if (r.errors.length > 0) {
    throw new AudioFormatError(`${CODEC_NAMES[kind]} decoder: ${r.errors[0].message.trim()}`, offset);
  }
  return meanOfChannels(r.channelData.map((c) => c.subarray(0, r.samplesDecoded)));
}

function newDecoder(kind: WasmKind): WasmDecoder {
  if (kind === "mp3") return new MPEGDecoder();
  if (kind === "opus") return new OggOpusDecoder();
  return new OggVorbisDecoder();
}

/** Opens a stream the sniffer called MP3, Vorbis or Opus, at the reader's position (past any ID3v2 tag). */
export async function openWasmSource(kind: WasmKind, reader: ByteReader): Promise<PcmSource> {
  let format: { channels: number; sourceRate: number };
  let next: () => Promise<Unit | null>;
  if (kind === "mp3") {
    const walker = new MpegFrameWalker(reader);
    const { channels, sampleRate } = await walker.header();
    format = { channels, sourceRate: sampleRate };
    next = () => walker.next();
  } else {
    format = oggIdentification(kind, await reader.peek(27 + 255 + 19), reader.offset);
    const walker = new OggPageWalker(reader);
    next = () => walker.next();
  }
  const decoder = newDecoder(kind);
  await decoder.ready;
  let freed = false;
  const free = () => {
    if (!freed) decoder.free();
    freed = true;
  };
  return {
    kind,
    sourceRate: format.sourceRate,
    channels: format.channels,
    totalFrames: null,
    async *pieces() {
      const length = new OggLength(kind);
      try {
        for (let unit = await next(); unit !== null; unit = await next()) {
          length.page(unit);
          const mono = length.cut(monoOf(kind, await decoder.decode(unit.bytes), unit.offset));
          if (mono.length > 0) yield mono;
        }
        if (decoder.flush) {
          const mono = length.cut(monoOf(kind, await decoder.flush(), reader.offset));
          if (mono.length > 0) yield mono;
        }
      } finally {
        free();
      }
    },
    async close() {
      free();
      await reader.cancel();
    },
  };
}
