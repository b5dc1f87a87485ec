import { equal as assertEquals, throws as assertThrows } from "node:assert/strict";
import { commands, tidy } from "../../engine/mod.ts";
import {
  hannWindow,
  linspace,
  LOG_MEL_OFFSET,
  melFilterbank,
  melFrameCount,
  melSpectrogram,
  stftWindow,
} from "../../data/features.ts";
import { loadSafetensorsFile, type SafeTensor } from "../../model/safetensors.ts";
import { assertClose } from "../harness.ts";

// torchaudio 0.13 MelSpectrogram(sample_rate=16000, n_mels=128) in float64 on three real clips, with its window
// and filterbank (written by tests/fixtures/torch/make_fixtures.py).
const fixture = await loadSafetensorsFile(
  new URL("../fixtures/torch/mel.safetensors", import.meta.url).pathname,
);
const CLIPS = ["1089-134691-0000", "1089-134686-0001", "90002-1-0007"];

function get(name: string): SafeTensor {
  const t = fixture.tensors.get(name);
  if (!t) throw new Error(`mel.safetensors has no tensor ${name}`);
  return t;
}
const waveform = (clip: string) => get(`${clip}.waveform`).data as Float32Array;
const melRef = (clip: string) => get(`${clip}.mel`).data as Float64Array;
const melFrames = (clip: string) => get(`${clip}.mel`).shape[2];

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/** The valid (nMels, frames) block of example b from a (batch, 1, nMels, maxFrames) array. */
function block(all: Float32Array, b: number, nMels: number, maxFrames: number, frames: number): Float32Array {
  const out = new Float32Array(nMels * frames);
  for (let m = 0; m < nMels; m++) {
    const row = (b * nMels + m) * maxFrames;
    out.set(all.subarray(row, row + frames), m * frames);
  }
  return out;
}

Deno.test("linspace follows torch's two-sided float64 arithmetic", () => {
  const a = linspace(0, 1, 5);
  assertEquals(Array.from(a).join(","), "0,0.25,0.5,0.75,1");
  const b = linspace(0.1, 2837.5, 130);
  assertEquals(b[0], 0.1);
  assertEquals(b[129], 2837.5);
});

Deno.test("mel filterbank matches torchaudio melscale_fbanks (float64), all-zero filters included", () => {
  const fb = melFilterbank(201, 0, 8000, 128, 16000);
  const want = get("fbanks").data as Float64Array;
  assertEquals(get("fbanks").shape.join(","), "201,128");
  const diff = maxAbsDiff(fb, want);
  if (diff > 1e-12) throw new Error(`filterbank differs by ${diff}`);
  // torchaudio warns that some of these filters are all zero; so are ours, the same ones.
  const zeroCols = (f: ArrayLike<number>) =>
    Array.from({ length: 128 }, (_, m) => m).filter((m) => {
      for (let k = 0; k < 201; k++) if (f[k * 128 + m] !== 0) return false;
      return true;
    });
  const zeros = zeroCols(fb);
  assertEquals(zeros.join(","), zeroCols(want).join(","));
  assertEquals(zeros.length > 0, true);
});

Deno.test("periodic Hann window matches torch.hann_window(400)", () => {
  const diff = maxAbsDiff(hannWindow(400), get("window").data);
  if (diff > 1e-15) throw new Error(`window differs by ${diff}`);
  const w = stftWindow(8, 4);
  assertEquals(Array.from(w.subarray(0, 3)).join(","), "0,0,0");
  assertEquals(Array.from(w.subarray(7)).join(","), "0");
  assertEquals(maxAbsDiff(w.subarray(3, 7), [0.5, 1, 0.5, 0]) < 1e-15, true);
});

Deno.test("frame counts follow torch.stft(center=True): 1 + floor(samples / hop)", () => {
  for (const clip of CLIPS) assertEquals(melFrameCount(waveform(clip).length, 200), melFrames(clip));
  assertEquals(melFrameCount(201, 200), 2);
  assertEquals(melFrameCount(400, 200), 3);
});

for (const method of ["fft", "dft"] as const) {
  Deno.test(`melSpectrogram (${method}) matches torchaudio on real speech, one clip at a time`, async () => {
    for (const clip of CLIPS) {
      const { features, frames } = tidy(() => melSpectrogram([waveform(clip)], { method }));
      assertEquals(frames[0], melFrames(clip));
      assertEquals(features.shape.join(","), `1,1,128,${melFrames(clip)}`);
      // The requirement is 1e-5; the FFT path measures ~1.2e-7 and the DFT matmul ~8e-7.
      assertClose(
        await features.f32(),
        melRef(clip),
        method === "fft" ? 1e-6 : 1e-5,
        `${clip} mel (${method})`,
      );
      features.dispose();
    }
  });
}

Deno.test("melSpectrogram batches utterances with zero padding, as the tutorial's pad_sequence", async () => {
  const live = commands().pool.liveCount;
  const { features, frames } = tidy(() => melSpectrogram(CLIPS.map(waveform)));
  const maxFrames = Math.max(...CLIPS.map(melFrames));
  assertEquals(features.shape.join(","), `3,1,128,${maxFrames}`);
  assertEquals(frames.join(","), CLIPS.map(melFrames).join(","));
  const all = await features.f32();
  CLIPS.forEach((clip, b) => {
    assertClose(block(all, b, 128, maxFrames, frames[b]), melRef(clip), 1e-5, `${clip} in a batch`);
    for (let m = 0; m < 128; m++) {
      for (let t = frames[b]; t < maxFrames; t++) {
        if (all[(b * 128 + m) * maxFrames + t] !== 0) throw new Error(`padding not zero at ${b},${m},${t}`);
      }
    }
  });
  features.dispose();
  assertEquals(commands().pool.liveCount, live);
});

Deno.test("melSpectrogram: a batch split into groups gives the same features", async () => {
  const whole = tidy(() => melSpectrogram(CLIPS.map(waveform)));
  // Small enough that every clip runs as its own group.
  const split = tidy(() => melSpectrogram(CLIPS.map(waveform), { groupBytes: 300 * 402 * 4 }));
  assertEquals(maxAbsDiff(await split.features.f32(), await whole.features.f32()), 0);
  whole.features.dispose();
  split.features.dispose();
  assertThrows(
    () => melSpectrogram(CLIPS.map(waveform), { groupBytes: 100 * 402 * 4 }),
    /waveform 0 \(33360 samples\) is too long for one GPU binding/,
  );
});

Deno.test("log-mel is log(mel + 1e-6) on valid frames and 0 on padding", async () => {
  const { features, frames } = tidy(() => melSpectrogram(CLIPS.map(waveform), { log: true }));
  const maxFrames = features.shape[3];
  const all = await features.f32();
  CLIPS.forEach((clip, b) => {
    const want = melRef(clip).map((v) => Math.log(v + LOG_MEL_OFFSET));
    assertClose(block(all, b, 128, maxFrames, frames[b]), want, 1e-5, `${clip} log-mel`);
    for (let t = frames[b]; t < maxFrames; t++) {
      if (all[(b * 128 + 5) * maxFrames + t] !== 0) {
        throw new Error(`log-mel padding not zero at ${b},5,${t}`);
      }
    }
  });
  features.dispose();
});

Deno.test("melSpectrogram: bad input is named", () => {
  assertThrows(() => melSpectrogram([]), /no waveforms/);
  assertThrows(
    () => melSpectrogram([new Float32Array(1000), new Float32Array(150)]),
    /waveform 1 has 150 samples; reflect padding of nFft \/ 2 = 200/,
  );
  assertThrows(
    () => melSpectrogram([new Float32Array(1000)], { winLength: 500 }),
    /winLength 500 exceeds nFft 400/,
  );
  assertThrows(
    () => melSpectrogram([new Float32Array(1000)], { nMels: 0 }),
    /nMels must be a positive integer/,
  );
});
