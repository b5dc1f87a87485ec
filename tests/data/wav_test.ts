import assert from "node:assert/strict";
import { AudioFormatError } from "../../data/audio_error.ts";
import { readWav } from "../../data/wav.ts";
import { encodeWav, monoWav } from "../../data/wav_write.ts";

interface WavSpec {
  tag?: number;
  channels: number;
  rate: number;
  bits: number;
  validBits?: number;
  subFormat?: number;
  data: Uint8Array;
  extraChunk?: boolean;
}

/** Builds a WAV file byte by byte (fmt, optional odd-sized LIST chunk, data). */
function makeWav(s: WavSpec): Uint8Array {
  const extensible = s.tag === 0xfffe;
  const fmtSize = extensible ? 40 : 16;
  const extra = s.extraChunk ? 8 + 3 + 1 : 0;
  const total = 12 + 8 + fmtSize + extra + 8 + s.data.length;
  const out = new Uint8Array(total);
  const v = new DataView(out.buffer);
  const put4 = (at: number, id: string) => [...id].forEach((ch, i) => (out[at + i] = ch.charCodeAt(0)));
  put4(0, "RIFF");
  v.setUint32(4, total - 8, true);
  put4(8, "WAVE");
  put4(12, "fmt ");
  v.setUint32(16, fmtSize, true);
  const align = s.channels * (s.bits / 8);
  v.setUint16(20, s.tag ?? 1, true);
  v.setUint16(22, s.channels, true);
  v.setUint32(24, s.rate, true);
  v.setUint32(28, s.rate * align, true);
  v.setUint16(32, align, true);
  v.setUint16(34, s.bits, true);
  if (extensible) {
    v.setUint16(36, 22, true);
    v.setUint16(38, s.validBits ?? s.bits, true);
    v.setUint16(44, s.subFormat ?? 1, true);
  }
  let p = 20 + fmtSize;
  if (s.extraChunk) {
    put4(p, "LIST");
    v.setUint32(p + 4, 3, true);
    p += 12;
  }
  put4(p, "data");
  v.setUint32(p + 4, s.data.length, true);
  out.set(s.data, p + 8);
  return out;
}

Deno.test("readWav: 8/16/24/32-bit PCM, interleaved channels, odd chunks skipped", () => {
  const u8 = readWav(makeWav({ channels: 1, rate: 8000, bits: 8, data: new Uint8Array([0, 128, 255]) }));
  assert.deepEqual([...u8.samples[0]], [-128, 0, 127]);
  assert.equal(u8.bitsPerSample, 8);

  const s16 = new Int16Array([1, -2, 32767, -32768]);
  const a16 = readWav(
    makeWav({ channels: 2, rate: 16000, bits: 16, data: new Uint8Array(s16.buffer), extraChunk: true }),
  );
  assert.equal(a16.channels, 2);
  assert.deepEqual([...a16.samples[0]], [1, 32767]);
  assert.deepEqual([...a16.samples[1]], [-2, -32768]);

  const b24 = new Uint8Array([0x01, 0x00, 0x00, 0xff, 0xff, 0xff, 0x00, 0x00, 0x80, 0xff, 0xff, 0x7f]);
  const a24 = readWav(makeWav({ channels: 1, rate: 48000, bits: 24, data: b24 }));
  assert.deepEqual([...a24.samples[0]], [1, -1, -8388608, 8388607]);
  assert.equal(a24.bitsPerSample, 24);

  const s32 = new Int32Array([2147483647, -2147483648, 5]);
  const a32 = readWav(makeWav({ channels: 1, rate: 44100, bits: 32, data: new Uint8Array(s32.buffer) }));
  assert.deepEqual([...a32.samples[0]], [2147483647, -2147483648, 5]);
});

Deno.test("readWav: WAVE_FORMAT_EXTENSIBLE with 20 valid bits in 24-bit containers", () => {
  // Values are left-justified in the container: 20-bit value x is stored as x << 4.
  const values = [1, -1, 524287, -524288];
  const data = new Uint8Array(values.length * 3);
  values.forEach((x, i) => {
    const s = x << 4;
    data[3 * i] = s & 0xff;
    data[3 * i + 1] = (s >> 8) & 0xff;
    data[3 * i + 2] = (s >> 16) & 0xff;
  });
  const a = readWav(makeWav({ tag: 0xfffe, channels: 1, rate: 96000, bits: 24, validBits: 20, data }));
  assert.equal(a.bitsPerSample, 20);
  assert.deepEqual([...a.samples[0]], values);
});

Deno.test("readWav: 32- and 64-bit float keep exact values in `float`, scaled ints in `samples`", () => {
  const f32 = new Float32Array([0.5, -1, 0.25, 1]);
  const a = readWav(
    makeWav({ tag: 3, channels: 2, rate: 22050, bits: 32, data: new Uint8Array(f32.buffer) }),
  );
  assert.deepEqual([...a.float![0]], [0.5, 0.25]);
  assert.deepEqual([...a.float![1]], [-1, 1]);
  assert.deepEqual([...a.samples[0]], [1073741824, 536870912]);
  assert.deepEqual([...a.samples[1]], [-2147483648, 2147483647]);
  assert.equal(a.bitsPerSample, 32);

  const f64 = new Float64Array([0.125, -0.75]);
  const b = readWav(
    makeWav({
      tag: 0xfffe,
      subFormat: 3,
      channels: 1,
      rate: 8000,
      bits: 64,
      data: new Uint8Array(f64.buffer),
    }),
  );
  assert.deepEqual([...b.float![0]], [0.125, -0.75]);
});

Deno.test("readWav: a real sox-written stereo file", () => {
  const a = readWav(Deno.readFileSync(new URL("../fixtures/flac/resample/stereo44k.wav", import.meta.url)));
  assert.equal(a.sampleRate, 44100);
  assert.equal(a.channels, 2);
  assert.equal(a.bitsPerSample, 16);
  assert.equal(a.samples[0].length, 13230);
  assert.ok(a.samples[0].some((x) => Math.abs(x) > 1000));
});

Deno.test("readWav: bad input names the offset", () => {
  const good = makeWav({ channels: 1, rate: 8000, bits: 16, data: new Uint8Array(20) });
  const expectError = (bytes: Uint8Array, offset: number, pattern: RegExp) => {
    assert.throws(() => readWav(bytes, "x.wav"), (e: unknown) => {
      assert.ok(e instanceof AudioFormatError);
      assert.equal(e.offset, offset);
      assert.equal(e.file, "x.wav");
      assert.match(e.message, pattern);
      return true;
    });
  };
  expectError(good.slice(0, good.length - 4), 36, /data chunk claims 20 bytes but only 16 remain/);
  expectError(new TextEncoder().encode("fLaC0000000000000000"), 0, /not a RIFF\/WAVE/);
  const odd = good.slice(0, good.length - 1);
  new DataView(odd.buffer).setUint32(40, 19, true);
  expectError(odd, 36, /not a whole number/);
  const mu = good.slice();
  mu[20] = 7; // mu-law
  expectError(mu, 12, /unsupported WAV format tag 0x7/);
  expectError(good.slice(0, 12), 12, /no fmt chunk/);
});

Deno.test("encodeWav writes what readWav and loadAudio's scaling read back exactly", () => {
  const values = [-1, -0.5, 0, 0.25, 0.999];
  for (const bits of [8, 16, 24, 32] as const) {
    const full = 2 ** (bits - 1);
    const w = readWav(
      encodeWav({ channels: 2, rate: 8000, bits }, values.length, (t, c) => values[t] * (c ? -1 : 1)),
    );
    assert.equal(w.bitsPerSample, bits);
    const expect = (x: number) => Math.max(-full, Math.min(full - 1, Math.round(x * full))) || 0; // -0 reads as 0
    assert.deepEqual([...w.samples[0]], values.map(expect), `${bits}-bit`);
    assert.deepEqual([...w.samples[1]], values.map((x) => expect(-x)), `${bits}-bit, channel 1`);
  }
  const f = readWav(encodeWav({ channels: 1, rate: 16000, bits: 32, float: true }, 3, (t) => t / 4));
  assert.deepEqual([...f.float![0]], [0, 0.25, 0.5]);
  // Samples that came from 16-bit audio (k / 32768) are written back exactly.
  const pcm = Float32Array.from([-32768, -3, 0, 7, 32767], (k) => k / 32768);
  assert.deepEqual([...readWav(monoWav(pcm)).samples[0]], [-32768, -3, 0, 7, 32767]);
});
