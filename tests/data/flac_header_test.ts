// The one FLAC header reader (data/flac/header.ts, data/flac/id3.ts): an ID3v2 tag, with or without its footer,
// before a real FLAC file gives the same STREAMINFO through the streaming decoder and readFlacStreamInfo, and
// decodes to the same audio; truncated or malformed tags are AudioFormatErrors naming the byte offset.
import assert from "node:assert/strict";
import { join } from "node:path";
import { AudioFormatError, decodeFlac, FlacStreamDecoder } from "../../data/flac.ts";
import { id3v2TagLength } from "../../data/flac/id3.ts";
import { readFlacStreamInfo } from "../../data/librispeech.ts";

const SAMPLE = new URL("../../data/sample/dev/90001/2/90001-2-0000.flac", import.meta.url);

/** A synthetic ID3v2.4 tag: header, `bodyBytes` of padding, and a footer when `footer` is set. */
function id3Tag(bodyBytes: number, footer: boolean): Uint8Array {
  const size = [21, 14, 7, 0].map((s) => (bodyBytes >> s) & 0x7f);
  const flags = footer ? 0x10 : 0;
  const tag = new Uint8Array(10 + bodyBytes + (footer ? 10 : 0));
  tag.set([0x49, 0x44, 0x33, 4, 0, flags, ...size], 0);
  tag.fill(0x55, 10, 10 + bodyBytes); // not zeros: a reader that stops early must not find a "frame"
  if (footer) tag.set([0x33, 0x44, 0x49, 4, 0, flags, ...size], 10 + bodyBytes);
  return tag;
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}

function chunked(bytes: Uint8Array, size: number): ReadableStream<Uint8Array> {
  let pos = 0;
  return new ReadableStream({
    pull(controller) {
      if (pos >= bytes.length) controller.close();
      else {
        controller.enqueue(bytes.slice(pos, pos + size));
        pos += size;
      }
    },
  });
}

async function rejects(p: Promise<unknown>): Promise<AudioFormatError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof AudioFormatError) return e;
    throw e;
  }
  throw new Error("expected an AudioFormatError");
}

Deno.test("an ID3v2 tag with or without its footer: same STREAMINFO through the decoder and readFlacStreamInfo, same audio", async () => {
  const flac = Deno.readFileSync(SAMPLE);
  const plain = await decodeFlac(flac);
  const plainMeta = await new FlacStreamDecoder(flac).readMetadata();
  const si = plainMeta.streamInfo!;
  assert.equal(si.totalSamples, plain.samples[0].length);
  const dir = await Deno.makeTempDir();
  try {
    for (const footer of [false, true]) {
      for (const bodyBytes of [0, 300, 70_000]) { // 70_000 spans more than one streamed chunk
        const tag = id3Tag(bodyBytes, footer);
        assert.equal(id3v2TagLength(tag, 0), tag.length);
        const tagged = concat(tag, flac);
        const label = `footer ${footer}, body ${bodyBytes}`;

        const meta = await new FlacStreamDecoder(tagged).readMetadata();
        assert.deepEqual(meta.streamInfo, si, label);
        assert.equal(meta.audioOffset, plainMeta.audioOffset + tag.length, label);
        assert.deepEqual(
          meta.blocks.map((b) => b.offset),
          plainMeta.blocks.map((b) => b.offset + tag.length),
        );

        const path = join(dir, `tagged-${footer}-${bodyBytes}.flac`);
        await Deno.writeFile(path, tagged);
        const fromFile = await readFlacStreamInfo(path);
        assert.deepEqual(fromFile, {
          sampleRate: si.sampleRate,
          channels: si.channels,
          bitsPerSample: si.bitsPerSample,
          totalSamples: si.totalSamples,
        }, label);

        // Whole and streamed in small chunks (the tag skipped across chunk boundaries); the MD5 is checked.
        for (const input of [tagged, chunked(tagged, 997)]) {
          const audio = await decodeFlac(input);
          assert.equal(audio.sampleRate, plain.sampleRate);
          assert.deepEqual(audio.samples, plain.samples, label);
        }
      }
    }
    // The footer flag matters: without it the reader would land on the footer and find no fLaC marker.
    const withFooter = id3Tag(40, true);
    const unflagged = withFooter.slice();
    unflagged[5] = 0;
    const e = await rejects(decodeFlac(concat(unflagged, flac)));
    assert.equal(e.offset, 50);
    assert.match(e.message, /not a FLAC stream/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a truncated or malformed ID3v2 tag is an AudioFormatError naming the file and byte offset", async () => {
  const flac = Deno.readFileSync(SAMPLE);
  const dir = await Deno.makeTempDir();
  try {
    const check = async (bytes: Uint8Array, offset: number, pattern: RegExp) => {
      const name = "cut.flac";
      const e = await rejects(decodeFlac(bytes, { file: name }));
      assert.equal(e.offset, offset, e.message);
      assert.equal(e.file, name);
      assert.match(e.message, pattern);
      const path = join(dir, name);
      await Deno.writeFile(path, bytes);
      const f = await rejects(readFlacStreamInfo(path));
      assert.equal(f.offset, offset, f.message);
      assert.equal(f.file, path);
      assert.match(f.message, new RegExp(`${path.replaceAll(/[.\\/]/g, "\\$&")} at byte ${offset}: `));
      assert.match(f.message, pattern);
    };

    // Cut inside the tag body, and inside its footer: the error is where the input ends.
    const tag = id3Tag(300, true);
    await check(tag.slice(0, 200), 200, /stream ends inside the ID3v2 tag at byte 0 \(320 bytes\)/);
    await check(tag.slice(0, 315), 315, /stream ends inside the ID3v2 tag/);
    // Cut inside the 10-byte header.
    await check(tag.slice(0, 7), 0, /stream ends inside an ID3v2 tag header/);
    // A complete tag followed by too little for the fLaC marker.
    await check(concat(tag, flac.slice(0, 2)), 320, /stream ends inside the stream marker/);
    // A size byte with its top bit set is not synchsafe.
    const bad = concat(tag, flac);
    bad[8] |= 0x80;
    await check(bad, 8, /not synchsafe/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
