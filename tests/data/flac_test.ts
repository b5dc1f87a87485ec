import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { AudioFormatError, type DecodedAudio, decodeFlac, FlacStreamDecoder } from "../../data/flac.ts";

const FIXTURES = new URL("../fixtures/flac/", import.meta.url);
const SHARED = new URL("../../../shared/flac-test-files/", import.meta.url);

/** MD5 of decoded audio in FLAC's layout: interleaved signed little-endian, ceil(bps/8) bytes per sample. */
function pcmMd5(audio: DecodedAudio): string {
  const width = (audio.bitsPerSample + 7) >> 3;
  const n = audio.samples[0]?.length ?? 0;
  const bytes = new Uint8Array(n * audio.channels * width);
  let o = 0;
  for (let i = 0; i < n; i++) {
    for (let c = 0; c < audio.channels; c++) {
      const v = audio.samples[c][i];
      for (let k = 0; k < width; k++) bytes[o++] = v >> (8 * k);
    }
  }
  return createHash("md5").update(bytes).digest("hex");
}

function readTsv(url: URL): Record<string, string>[] {
  const [head, ...rows] = Deno.readTextFileSync(url).trim().split("\n").map((l) => l.split("\t"));
  return rows.map((r) => Object.fromEntries(head.map((h, i) => [h, r[i]])));
}

/** A ReadableStream that hands out `bytes` in chunks of `size`. */
function chunked(bytes: Uint8Array, size: number): ReadableStream<Uint8Array> {
  let at = 0;
  return new ReadableStream({
    pull(controller) {
      if (at >= bytes.length) return controller.close();
      controller.enqueue(bytes.slice(at, at + size));
      at += size;
    },
  });
}

async function rejects(p: Promise<unknown>): Promise<AudioFormatError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof AudioFormatError, `expected AudioFormatError, got ${e}`);
    return e;
  }
  assert.fail("expected an AudioFormatError");
}

const expected = readTsv(new URL("expected.tsv", FIXTURES));

Deno.test("committed fixtures decode bit-exactly (levels, block sizes, 8-32 bit, 1-8 channels)", async () => {
  assert.ok(expected.length >= 30);
  for (const row of expected) {
    const audio = await decodeFlac(Deno.readFileSync(new URL(row.file, FIXTURES)));
    assert.equal(audio.sampleRate, Number(row.sample_rate), row.file);
    assert.equal(audio.channels, Number(row.channels), row.file);
    assert.equal(audio.bitsPerSample, Number(row.bits_per_sample), row.file);
    assert.equal(audio.samples[0].length, Number(row.samples), row.file);
    assert.equal(pcmMd5(audio), row.pcm_md5, row.file);
  }
});

Deno.test("32-bit stereo needs a 33-bit side channel and still decodes exactly", async () => {
  const audio = await decodeFlac(Deno.readFileSync(new URL("synth32_stereo.flac", FIXTURES)));
  const [left, right] = audio.samples;
  // The fixture's right channel is the negated left channel at nearly full scale.
  let maxSide = 0;
  for (let i = 0; i < left.length; i++) {
    assert.equal(right[i], Math.max(-(2 ** 31), Math.min(2 ** 31 - 1, -left[i])));
    maxSide = Math.max(maxSide, Math.abs(left[i] - right[i]));
  }
  assert.ok(maxSide > 2 ** 31, `side channel peak ${maxSide} should exceed 32 bits`);
});

Deno.test("streaming: tiny chunks give the same audio, blocks carry offsets, memory stays bounded", async () => {
  const bytes = Deno.readFileSync(new URL("conformance/subset60_mono.flac", FIXTURES));
  const whole = await decodeFlac(bytes);
  const small = await decodeFlac(chunked(bytes, 7));
  assert.deepEqual(small.samples, whole.samples);

  const decoder = new FlacStreamDecoder(chunked(bytes, 4096));
  const meta = await decoder.readMetadata();
  assert.equal(meta.streamInfo?.sampleRate, 44100);
  let next = 0;
  let lastOffset = meta.audioOffset - 1;
  let peakBuffer = 0;
  const internals = decoder as unknown as { buffer: { bytes: Uint8Array } };
  for await (const block of decoder) {
    assert.equal(block.firstSample, next);
    assert.ok(block.offset > lastOffset);
    assert.deepEqual(block.samples[0], whole.samples[0].subarray(next, next + block.samples[0].length));
    lastOffset = block.offset;
    next += block.samples[0].length;
    peakBuffer = Math.max(peakBuffer, internals.buffer.bytes.length);
  }
  assert.equal(next, whole.samples[0].length);
  assert.ok(decoder.md5Checked);
  assert.ok(peakBuffer <= 256 * 1024, `buffer grew to ${peakBuffer} bytes for a ${bytes.length}-byte file`);
});

/** Frame offsets of a file, from the streaming decoder. */
async function frameOffsets(bytes: Uint8Array): Promise<number[]> {
  const offsets: number[] = [];
  for await (const block of new FlacStreamDecoder(bytes)) offsets.push(block.offset);
  return offsets;
}

Deno.test("errors: truncation, CRC-16, CRC-8, MD5 and non-FLAC input name the byte offset", async () => {
  const name = "stereo44_l5.flac";
  const bytes = Deno.readFileSync(new URL(name, FIXTURES));
  const offsets = await frameOffsets(bytes);
  assert.ok(offsets.length >= 4);

  // Truncated in the middle of the third frame: the error names where that frame starts.
  const cut = Math.floor((offsets[2] + offsets[3]) / 2);
  let e = await rejects(decodeFlac(bytes.slice(0, cut), { file: name }));
  assert.equal(e.offset, offsets[2]);
  assert.equal(e.file, name);
  assert.match(e.message, /stereo44_l5\.flac at byte \d+: stream ends inside a frame/);

  // A flipped bit in the CRC-16 footer of the second frame.
  let bad = bytes.slice();
  bad[offsets[2] - 1] ^= 0x10;
  e = await rejects(decodeFlac(bad));
  assert.equal(e.offset, offsets[1]);
  assert.match(e.message, /CRC-16 mismatch/);

  // A flipped bit anywhere inside a frame's audio is caught within that frame.
  bad = bytes.slice();
  bad[offsets[1] + 200] ^= 0x04;
  e = await rejects(decodeFlac(bad));
  assert.ok(e.offset >= offsets[1] && e.offset < offsets[2], `offset ${e.offset}`);

  // A flipped bit in a frame header's sample-rate field: CRC-8.
  bad = bytes.slice();
  bad[offsets[3] + 2] ^= 0x01;
  e = await rejects(decodeFlac(bad));
  assert.equal(e.offset, offsets[3]);
  assert.match(e.message, /CRC-8 mismatch/);

  // Wrong STREAMINFO MD5: the error points at the MD5 field (marker 4 + block header 4 + 18).
  bad = bytes.slice();
  bad[8 + 18] ^= 0xff;
  e = await rejects(decodeFlac(bad));
  assert.equal(e.offset, 26);
  assert.match(e.message, /MD5/);
  // ... which can be switched off.
  assert.equal((await decodeFlac(bad, { verifyMd5: false })).samples[0].length, 22050);

  e = await rejects(decodeFlac(new TextEncoder().encode("RIFF....WAVEfmt ")));
  assert.equal(e.offset, 0);
  assert.match(e.message, /not a FLAC stream/);
  e = await rejects(decodeFlac(new Uint8Array([0x66, 0x4c])));
  assert.match(e.message, /too short/);

  // Metadata block with a wrong length (CC0 conformance file faulty/11).
  e = await rejects(decodeFlac(Deno.readFileSync(new URL("conformance/faulty11_bad_length.flac", FIXTURES))));
  assert.ok(e.offset > 0);
});

Deno.test("truncations and bit flips of a small file always end in AudioFormatError", async () => {
  const bytes = Deno.readFileSync(new URL("channels3.flac", FIXTURES));
  for (let cut = 0; cut < bytes.length; cut += 97) {
    await rejects(decodeFlac(bytes.slice(0, cut)));
  }
  // Random bit flips in the audio never hang, never pass silently, and never escape as another error type.
  const audioOffset = (await new FlacStreamDecoder(bytes).readMetadata()).audioOffset;
  let seed = 12345;
  for (let k = 0; k < 60; k++) {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    const bad = bytes.slice();
    const at = audioOffset + (seed % (bytes.length - audioOffset));
    bad[at] ^= 1 << (seed >>> 29);
    await rejects(decodeFlac(bad));
  }
});

Deno.test({
  name:
    "conformance: every ../shared/flac-test-files file libFLAC decodes is bit-exact; the rest fail clearly",
  ignore: !existsSync(SHARED),
  fn: async () => {
    const rows = readTsv(new URL("INDEX.tsv", SHARED)).filter((r) => r.libflac_test !== "not_present");
    assert.ok(rows.length >= 70);
    for (const row of rows) {
      const bytes = Deno.readFileSync(new URL(encodePath(row.path), SHARED));
      if (row.decoded_pcm_md5 !== "NA") {
        const audio = await decodeFlac(bytes, { file: row.path });
        assert.equal(pcmMd5(audio), row.decoded_pcm_md5, row.path);
        assert.equal(audio.samples[0].length, Number(row.libflac_samples), row.path);
      } else {
        const e = await rejects(decodeFlac(bytes, { file: row.path }));
        assert.equal(e.file, row.path);
      }
    }
  },
});

function existsSync(url: URL): boolean {
  try {
    Deno.statSync(url);
    return true;
  } catch {
    return false;
  }
}

function encodePath(path: string): string {
  return path.split("/").map(encodeURIComponent).join("/");
}
