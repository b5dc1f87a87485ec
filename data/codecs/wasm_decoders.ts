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
      try {
        for (let unit = await next(); unit !== null; unit = await next()) {
          const mono = monoOf(kind, await decoder.decode(unit.bytes), unit.offset);
          if (mono.length > 0) yield mono;
        }
        if (decoder.flush) {
          const mono = monoOf(kind, await decoder.flush(), reader.offset);
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
