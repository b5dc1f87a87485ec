import assert from "node:assert/strict";
import { detectAudioKind, loadAudio } from "../../data/audio.ts";
import { AudioFormatError } from "../../data/audio_error.ts";
import { resample } from "../../data/resample.ts";

const DIR = new URL("../fixtures/flac/resample/", import.meta.url);

function readF32(name: string): Float32Array {
  const bytes = Deno.readFileSync(new URL(name, DIR));
  return new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
}

/** ||a - b|| / ||b||, requiring equal lengths. */
function relativeError(a: Float32Array, b: Float32Array): number {
  assert.equal(a.length, b.length);
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) {
    num += (a[i] - b[i]) ** 2;
    den += b[i] ** 2;
  }
  return Math.sqrt(num / den);
}

Deno.test("resample matches torchaudio.functional.resample (8k, 44.1k, 48k -> 16k) within 1e-5", () => {
  for (const rate of [8000, 44100, 48000]) {
    const src = readF32(`src${rate}.f32`);
    const ref = readF32(`ref${rate}to16000.f32`);
    const out = resample(src, rate, 16000);
    const err = relativeError(out, ref);
    assert.ok(err < 1e-5, `${rate} -> 16000: relative error ${err}`);
  }
});

Deno.test("resample: identity, lengths and a band-limited sine", () => {
  const x = new Float32Array([0.1, 0.2, 0.3]);
  assert.deepEqual(resample(x, 16000, 16000), x);
  assert.equal(resample(new Float32Array(441), 44100, 16000).length, 160);
  assert.equal(resample(new Float32Array(1001), 8000, 16000).length, 2002);
  // A 1 kHz sine at 48 kHz resampled to 16 kHz is still a 1 kHz sine (away from the edges).
  const n = 4800;
  const sine = Float32Array.from({ length: n }, (_, i) => Math.sin((2 * Math.PI * 1000 * i) / 48000));
  const out = resample(sine, 48000, 16000);
  for (let i = 100; i < out.length - 100; i++) {
    assert.ok(Math.abs(out[i] - Math.sin((2 * Math.PI * 1000 * i) / 16000)) < 2e-3, `sample ${i}`);
  }
  assert.throws(() => resample(x, 44100.5, 16000), RangeError);
});

Deno.test("loadAudio matches torchaudio.load + mean + resample for WAV 16-bit and FLAC 24-bit stereo", async () => {
  for (
    const [file, ref] of [["stereo44k.wav", "stereo44k_loaded16k.f32"], [
      "stereo48k24.flac",
      "stereo48k24_loaded16k.f32",
    ]]
  ) {
    const { waveform, sampleRate } = await loadAudio(new URL(file, DIR).pathname);
    assert.equal(sampleRate, 16000);
    const err = relativeError(waveform, readF32(ref));
    assert.ok(err < 1e-5, `${file}: relative error ${err}`);
  }
});

Deno.test("loadAudio: native rate skips resampling; integer scaling is x / 2^(bps-1)", async () => {
  const path = new URL("../speech16_l5.flac", DIR).pathname;
  const { waveform, sampleRate } = await loadAudio(path, 16000);
  assert.equal(sampleRate, 16000);
  assert.equal(waveform.length, 8000);
  const { decodeFlac } = await import("../../data/flac.ts");
  const audio = await decodeFlac(Deno.readFileSync(path));
  for (let i = 0; i < 8000; i += 123) assert.equal(waveform[i], Math.fround(audio.samples[0][i] / 32768));
});

Deno.test("loadAudio: errors name the file", async () => {
  const dir = Deno.makeTempDirSync();
  try {
    const junk = `${dir}/junk.bin`;
    Deno.writeFileSync(junk, new TextEncoder().encode("hello world, not audio"));
    await assert.rejects(loadAudio(junk), (e: unknown) => {
      assert.ok(e instanceof AudioFormatError);
      assert.equal(e.file, junk);
      assert.match(e.message, /junk\.bin at byte 0: not a FLAC, WAV, MP3, Ogg Vorbis or Ogg Opus file/);
      return true;
    });
    const cut = `${dir}/cut.flac`;
    const bytes = Deno.readFileSync(new URL("../stereo44_l5.flac", DIR));
    Deno.writeFileSync(cut, bytes.slice(0, bytes.length - 500));
    await assert.rejects(loadAudio(cut), (e: unknown) => {
      assert.ok(e instanceof AudioFormatError);
      assert.equal(e.file, cut);
      assert.match(e.message, /cut\.flac at byte \d+: stream ends inside a frame/);
      return true;
    });
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("detectAudioKind by magic bytes", () => {
  const enc = (s: string) => new TextEncoder().encode(s);
  assert.equal(detectAudioKind(enc("fLaC\0\0\0\x22")), "flac");
  assert.equal(detectAudioKind(enc("RIFF\0\0\0\0WAVE")), "wav");
  assert.equal(detectAudioKind(new Uint8Array([0xff, 0xf8, 0x69, 0x08])), "flac");
  assert.equal(detectAudioKind(enc("OggS")), null);
});
