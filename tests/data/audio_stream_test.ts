/**
 * openAudioStream must give exactly loadAudio's waveform (bit for bit) cut into chunks, for FLAC and WAV, any
 * channel count and rate (so the streaming resampler must match resample() exactly), in bounded pieces.
 */
import { encodeWav } from "../../data/wav_write.ts";
import assert from "node:assert/strict";
import { loadAudio } from "../../data/audio.ts";
import { AudioFormatError } from "../../data/audio_error.ts";
import { type AudioStream, openAudioStream, StreamingResampler } from "../../data/audio_stream.ts";
import { resample } from "../../data/resample.ts";
import { sampleFlacs } from "./sample_flacs.ts";

const FLAC_DIR = new URL("../fixtures/flac/", import.meta.url);
const flacPath = (name: string) => new URL(name, FLAC_DIR).pathname;

/** Concatenates a stream's chunks, checking that all but the last have exactly chunkSamples samples. */
async function collect(stream: AudioStream, chunkSamples: number, label: string): Promise<Float32Array> {
  const chunks: Float32Array[] = [];
  for await (const chunk of stream) chunks.push(chunk);
  chunks.forEach((c, i) => {
    if (i < chunks.length - 1) assert.equal(c.length, chunkSamples, `${label}: chunk ${i}`);
    else assert.ok(c.length >= 1 && c.length <= chunkSamples, `${label}: last chunk has ${c.length}`);
  });
  const out = new Float32Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

/** Bit-for-bit equality of two float arrays (NaN-safe, -0 distinct from 0). */
function assertSameBits(got: Float32Array, want: Float32Array, label: string): void {
  assert.equal(got.length, want.length, `${label}: length`);
  const a = new Uint32Array(got.buffer, got.byteOffset, got.length);
  const b = new Uint32Array(want.buffer, want.byteOffset, want.length);
  for (let i = 0; i < a.length; i++) {
    if (a[i] !== b[i]) assert.fail(`${label}: sample ${i} is ${got[i]}, loadAudio has ${want[i]}`);
  }
}

async function checkAgainstLoadAudio(path: string, rate: number, chunkSamples: number): Promise<AudioStream> {
  const label = `${path.split("/").pop()} -> ${rate} Hz, chunk ${chunkSamples}`;
  const want = (await loadAudio(path, rate)).waveform;
  const stream = await openAudioStream(path, rate, { chunkSamples });
  assert.equal(stream.sampleRate, rate);
  assertSameBits(await collect(stream, chunkSamples, label), want, label);
  return stream;
}

// ---- WAV files to stream ----

interface WavSpec {
  channels: number;
  rate: number;
  bits: 8 | 16 | 24 | 32 | 64;
  float?: boolean;
  frames: number;
}

/** Deterministic test signal in [-1, 1): a chirp per channel plus a little pseudo-random noise. */
function signal(frame: number, channel: number): number {
  const noise = (((frame * 1103515245 + channel * 12345) >>> 0) % 1000) / 1000 - 0.5;
  const v = 0.8 * Math.sin(frame * (0.01 + 0.002 * channel) + frame * frame * 1e-7) + 0.15 * noise;
  return Math.max(-1, Math.min(0.999, v));
}

/** A RIFF/WAVE file: fmt (PCM or IEEE float), an odd-sized LIST chunk (skipped by readers), data. */
function makeWav(s: WavSpec, sample: (frame: number, channel: number) => number = signal): Uint8Array {
  return encodeWav(s, s.frames, sample, { listChunk: true });
}

async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = Deno.makeTempDirSync();
  try {
    await fn(dir);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
}

// ---- tests ----

/** Deno.test with the resource sanitizer on: a test fails if it leaves a file open. */
function test(name: string, fn: () => void | Promise<void>): void {
  Deno.test({ name, sanitizeResources: true, sanitizeOps: true, fn });
}

test("StreamingResampler equals resample() bit for bit for any split of the input", () => {
  const pairs = [[44100, 16000], [48000, 16000], [8000, 16000], [22050, 16000], [16000, 44100], [
    24000,
    16000,
  ]];
  let seed = 7;
  const rand = () => (seed = (seed * 16807) % 2147483647) / 2147483647;
  for (const [from, to] of pairs) {
    for (const length of [0, 1, 2, 5, 40, 441, 1000, 4801]) {
      const x = Float32Array.from({ length }, () => rand() * 2 - 1);
      const want = resample(x, from, to);
      const r = new StreamingResampler(from, to);
      const parts: Float32Array[] = [];
      for (let at = 0; at < length;) {
        const n = Math.min(length - at, 1 + Math.floor(rand() * (rand() < 0.5 ? 3 : 700)));
        parts.push(r.push(x.subarray(at, at + n)));
        at += n;
      }
      parts.push(r.finish());
      const got = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
      parts.reduce((at, p) => (got.set(p, at), at + p.length), 0);
      assertSameBits(got, want, `${from} -> ${to}, ${length} samples`);
    }
  }
});

test("openAudioStream equals loadAudio on FLAC: 16 kHz mono, 44.1 kHz stereo, 24/32-bit, 3-8 channels", async () => {
  const sample = sampleFlacs(3);
  for (const path of sample) {
    for (const chunk of [997, 16000, 160000]) await checkAgainstLoadAudio(path, 16000, chunk);
  }
  const fixtures = [
    "speech16_l5.flac",
    "speech16_lax_l32_b4097.flac",
    "stereo44_l5.flac",
    "stereo44_adaptive_ms.flac",
    "synth24_stereo.flac",
    "synth32_mono.flac",
    "synth32_stereo.flac",
    "synth8_stereo.flac",
    "channels6.flac",
    "resample/stereo48k24.flac",
    "conformance/subset60_mono.flac",
  ];
  for (const name of fixtures) {
    for (const chunk of [997, 16000]) await checkAgainstLoadAudio(flacPath(name), 16000, chunk);
  }
  await checkAgainstLoadAudio(flacPath("speech16_l5.flac"), 16000, 1);
  await checkAgainstLoadAudio(flacPath("synth24_stereo.flac"), 16000, 1);
  for (const rate of [8000, 22050, 44100, 48000]) {
    await checkAgainstLoadAudio(flacPath("stereo44_l5.flac"), rate, 997);
    await checkAgainstLoadAudio(flacPath("speech16_l5.flac"), rate, 4096);
  }
});

test("openAudioStream equals loadAudio on WAV: 8/16/24/32-bit PCM and float, mono and stereo, 8-48 kHz", async () => {
  const specs: Omit<WavSpec, "frames">[] = [
    { channels: 1, rate: 16000, bits: 16 },
    { channels: 2, rate: 8000, bits: 8 },
    { channels: 2, rate: 22050, bits: 16 },
    { channels: 1, rate: 44100, bits: 24 },
    { channels: 2, rate: 48000, bits: 32 },
    { channels: 2, rate: 44100, bits: 32, float: true },
    { channels: 1, rate: 48000, bits: 64, float: true },
    { channels: 3, rate: 16000, bits: 24 },
  ];
  await withTempDir(async (dir) => {
    for (const [i, spec] of specs.entries()) {
      const path = `${dir}/t${i}_${spec.channels}ch_${spec.rate}_${spec.bits}${spec.float ? "f" : ""}.wav`;
      // Over one 256 KiB read for most layouts, and not a whole number of chunks.
      Deno.writeFileSync(path, makeWav({ ...spec, frames: Math.round(spec.rate * 1.37) + 3 }));
      for (const chunk of [997, 16000]) await checkAgainstLoadAudio(path, 16000, chunk);
      await checkAgainstLoadAudio(path, 22050, 16000);
    }
    await checkAgainstLoadAudio(new URL("resample/stereo44k.wav", FLAC_DIR).pathname, 16000, 1);
  });
});

test("openAudioStream: sourceRate, channels and durationSeconds from STREAMINFO / the WAV data size", async () => {
  const flac = await openAudioStream(flacPath("stereo44_l5.flac"));
  assert.deepEqual([flac.sampleRate, flac.sourceRate, flac.channels], [16000, 44100, 2]);
  assert.equal(flac.durationSeconds, 22050 / 44100);
  await flac.close();
  // A stream starting straight at a frame (no STREAMINFO): the rate comes from the first frame, no duration.
  const bare = await checkAgainstLoadAudio(flacPath("conformance/faulty06_no_streaminfo.flac"), 16000, 16000);
  assert.deepEqual([bare.sourceRate, bare.channels, bare.durationSeconds], [24000, 1, null]);
  await withTempDir(async (dir) => {
    const path = `${dir}/d.wav`;
    Deno.writeFileSync(path, makeWav({ channels: 2, rate: 8000, bits: 24, frames: 12345 }));
    const wav = await openAudioStream(path, 16000);
    assert.deepEqual([wav.sourceRate, wav.channels, wav.durationSeconds], [8000, 2, 12345 / 8000]);
    await wav.close();
  });
});

test("openAudioStream: a 10-minute WAV comes in 16000-sample chunks and is read lazily, not all at once", async () => {
  const rate = 16000;
  const frames = 600 * rate;
  const chunkSamples = 16000;
  const ramp = (f: number) => (((f * 37) % 65536) - 32768) / 32768;
  await withTempDir(async (dir) => {
    const path = `${dir}/long.wav`;
    Deno.writeFileSync(path, makeWav({ channels: 1, rate, bits: 16, frames }, ramp));
    const want = (await loadAudio(path, rate)).waveform;
    const stream = await openAudioStream(path, rate, { chunkSamples });
    assert.equal(stream.durationSeconds, 600);
    const it = stream[Symbol.asyncIterator]();
    const first = await it.next();
    assert.ok(!first.done);
    assertSameBits(first.value, want.subarray(0, chunkSamples), "first chunk");
    // Overwrite everything after the first 2 MiB of the file with silence: a stream that had read (or
    // buffered) the whole file would still yield the old samples there.
    const cutFrame = (2 << 20) / 2;
    const dataAt = Deno.readFileSync(path).length - frames * 2;
    const file = Deno.openSync(path, { write: true });
    file.seekSync(dataAt + cutFrame * 2, Deno.SeekMode.Start);
    const zeros = new Uint8Array(1 << 20);
    for (let left = (frames - cutFrame) * 2; left > 0; left -= zeros.length) {
      file.writeSync(zeros.subarray(0, Math.min(left, zeros.length)));
    }
    file.close();
    let total = first.value.length;
    let chunks = 1;
    for (let r = await it.next(); !r.done; r = await it.next()) {
      const c = r.value;
      assert.ok(c.length <= chunkSamples, `chunk ${chunks} has ${c.length} samples`);
      if (total + c.length <= cutFrame) {
        assertSameBits(c, want.subarray(total, total + c.length), `chunk ${chunks}`);
      }
      if (total >= cutFrame) assert.ok(c.every((x) => x === 0), `chunk ${chunks} still has the old samples`);
      total += c.length;
      chunks++;
    }
    assert.equal(total, frames);
    assert.equal(chunks, frames / chunkSamples);
  });
});

test("openAudioStream: a truncated FLAC fails naming the file and byte offset, and the file is closed", async () => {
  await withTempDir(async (dir) => {
    const cut = `${dir}/cut.flac`;
    const bytes = Deno.readFileSync(flacPath("stereo44_l5.flac"));
    Deno.writeFileSync(cut, bytes.slice(0, bytes.length - 500));
    const stream = await openAudioStream(cut, 16000, { chunkSamples: 1000 });
    await assert.rejects(collect(stream, 1000, "cut"), (e: unknown) => {
      assert.ok(e instanceof AudioFormatError);
      assert.equal(e.file, cut);
      assert.ok(e.offset > 0);
      assert.match(e.message, /cut\.flac at byte \d+: stream ends inside a frame/);
      return true;
    });
    // Errors while opening: unknown magic, a WAV whose data chunk runs past the end.
    const junk = `${dir}/junk.bin`;
    Deno.writeFileSync(junk, new TextEncoder().encode("hello world, not audio"));
    await assert.rejects(
      openAudioStream(junk),
      /junk\.bin at byte 0: not a FLAC, WAV, MP3, Ogg Vorbis or Ogg Opus file/,
    );
    const short = `${dir}/short.wav`;
    Deno.writeFileSync(short, makeWav({ channels: 1, rate: 16000, bits: 16, frames: 100 }).slice(0, 150));
    const loadError = await loadAudio(short).catch((e) => e);
    await assert.rejects(openAudioStream(short), (e: unknown) => {
      assert.ok(e instanceof AudioFormatError);
      assert.equal(e.message, loadError.message);
      assert.match(e.message, /short\.wav at byte \d+: data chunk claims 200 bytes/);
      return true;
    });
    const mulaw = `${dir}/mulaw.wav`;
    const bytes7 = makeWav({ channels: 1, rate: 8000, bits: 8, frames: 100 });
    new DataView(bytes7.buffer).setUint16(20, 7, true);
    Deno.writeFileSync(mulaw, bytes7);
    const message = (await loadAudio(mulaw).catch((e) => e)).message;
    assert.match(message, /mulaw\.wav at byte 12: unsupported WAV format tag 0x7/);
    await assert.rejects(
      openAudioStream(mulaw),
      (e: unknown) => e instanceof AudioFormatError && e.message === message,
    );
  });
  // The resource sanitizer (see test()) fails this test if any file above was left open.
});

test("openAudioStream: stopping early or close() without reading releases the file", async () => {
  const path = flacPath("stereo44_l5.flac");
  const a = await openAudioStream(path, 16000, { chunkSamples: 100 });
  for await (const chunk of a) {
    assert.equal(chunk.length, 100);
    break;
  }
  const b = await openAudioStream(path);
  await b.close();
  await b.close();
  await withTempDir(async (dir) => {
    const wav = `${dir}/w.wav`;
    Deno.writeFileSync(wav, makeWav({ channels: 2, rate: 16000, bits: 16, frames: 5000 }));
    const c = await openAudioStream(wav, 16000, { chunkSamples: 100 });
    for await (const _ of c) break;
    await (await openAudioStream(wav)).close();
  });
});

// ---- byte streams (stdin) ----

/** `bytes` as a ReadableStream of chunks of the given sizes, in turn; records whether it was cancelled. */
function chunked(bytes: Uint8Array, sizes: number[]): ReadableStream<Uint8Array> & { cancelled: boolean } {
  let at = 0;
  let i = 0;
  const stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (at >= bytes.length) return controller.close();
      const n = sizes[i++ % sizes.length];
      controller.enqueue(bytes.slice(at, at + n));
      at += n;
    },
    cancel() {
      stream.cancelled = true;
    },
  }) as ReadableStream<Uint8Array> & { cancelled: boolean };
  stream.cancelled = false;
  return stream;
}

test("openAudioStream on a byte stream (stdin) fed chunk by chunk equals loadAudio on the file", async () => {
  await withTempDir(async (dir) => {
    const wav = `${dir}/w.wav`;
    Deno.writeFileSync(wav, makeWav({ channels: 2, rate: 22050, bits: 24, frames: 30011 }));
    const files = [flacPath("stereo44_l5.flac"), flacPath("synth24_stereo.flac"), wav, ...sampleFlacs(1)];
    for (const path of files) {
      const want = (await loadAudio(path, 16000)).waveform;
      for (const sizes of [[1], [7, 1, 4093], [65536]]) {
        const label = `${path.split("/").pop()} in chunks of ${sizes}`;
        const stream = await openAudioStream(chunked(Deno.readFileSync(path), sizes), 16000, {
          chunkSamples: 4000,
        });
        assertSameBits(await collect(stream, 4000, label), want, label);
      }
    }
    // A WAV written to a pipe says 0 (or 0xFFFFFFFF) for the data size: the data runs to the end of the stream.
    const piped = makeWav({ channels: 1, rate: 16000, bits: 16, frames: 5000 });
    const dataSize = 5000 * 2;
    new DataView(piped.buffer).setUint32(piped.length - dataSize - 4, 0xffffffff, true);
    const stream = await openAudioStream(chunked(piped, [333]), 16000);
    assert.equal(stream.durationSeconds, null);
    const got = await collect(stream, 160000, "piped WAV");
    Deno.writeFileSync(wav, piped);
    assertSameBits(got, (await loadAudio(wav)).waveform, "piped WAV");
  });
});

test("openAudioStream on a byte stream: errors say stdin (or the given name) and the byte offset", async () => {
  const flac = Deno.readFileSync(flacPath("stereo44_l5.flac"));
  const cut = await openAudioStream(chunked(flac.slice(0, flac.length - 500), [1000]), 16000);
  await assert.rejects(collect(cut, 160000, "cut"), (e: unknown) => {
    assert.ok(e instanceof AudioFormatError);
    assert.equal(e.file, "stdin");
    assert.match(e.message, /^stdin at byte \d+: stream ends inside a frame/);
    assert.ok(e.offset > 0 && e.offset < flac.length - 500, `offset ${e.offset}`);
    return true;
  });
  await assert.rejects(
    openAudioStream(chunked(new TextEncoder().encode("hello world, not audio"), [3])),
    /^AudioFormatError: stdin at byte 0: not a FLAC, WAV, MP3, Ogg Vorbis or Ogg Opus file/,
  );
  const wav = makeWav({ channels: 1, rate: 16000, bits: 16, frames: 1000 });
  const short = await openAudioStream(chunked(wav.slice(0, wav.length - 101), [64]), 16000, {
    name: "upload.wav",
  });
  await assert.rejects(collect(short, 160000, "short"), (e: unknown) => {
    assert.ok(e instanceof AudioFormatError);
    assert.equal(
      e.message,
      `upload.wav at byte ${wav.length - 101}: stream ends inside the data chunk (1899 of 2000 bytes)`,
    );
    return true;
  });
  await assert.rejects(openAudioStream(chunked(new Uint8Array(0), [1])), /stdin at byte 0: not a FLAC, WAV/);
});

test("openAudioStream on a byte stream: close() before the end cancels the stream", async () => {
  // Longer than any decoder reads ahead (the FLAC decoder's 64 KiB, the WAV reader's 256 KiB pieces).
  const wav = makeWav({ channels: 1, rate: 16000, bits: 16, frames: 400000 });
  const source = chunked(wav, [4096]);
  const stream = await openAudioStream(source, 16000, { chunkSamples: 100 });
  for await (const _ of stream) break;
  assert.ok(source.cancelled);
  const unread = chunked(wav, [4096]);
  await (await openAudioStream(unread)).close();
  assert.ok(unread.cancelled);
});
