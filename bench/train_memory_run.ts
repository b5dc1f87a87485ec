/**
 * One process of the memory bench's training row: the tutorial model's training step on the batch listed in
 * LIST_TSV (`file<TAB>transcript` lines, 16 kHz audio), STEPS timed steps after one warm-up. Prints one JSON line:
 * losses, steps/s, the process's peak RSS and the engine's GPU peaks. Run in its own process so that its peak
 * RSS is its own.
 *
 *   deno run -A bench/train_memory_run.ts LIST_TSV STEPS
 */
import { commands, initGpu, memoryStats, setQuiet, tensor, tidy } from "../mod.ts";
import { loadAudio } from "../data/audio.ts";
import { melSpectrogram } from "../data/features.ts";
import { textToInts } from "../data/text.ts";
import { PRESETS } from "../model/config.ts";
import { AdamW } from "../model/optim.ts";
import { SpeechRecognitionModel } from "../model/recognizer.ts";
import { trainStep } from "../model/train_step.ts";
import { peakRssBytes } from "../cli/memory_report.ts";

const [list, stepsArg] = Deno.args;
const steps = Number(stepsArg ?? 1);
setQuiet(true);
await initGpu();
const c = PRESETS.tutorial;
const rows = (await Deno.readTextFile(list)).trim().split("\n").map((l) => l.split("\t"));
const waves: Float32Array[] = [];
const labels: number[][] = [];
for (const [file, text] of rows) {
  waves.push((await loadAudio(file, 16000)).waveform);
  labels.push(textToInts(text));
}
const n = rows.length;
const maxLabel = Math.max(...labels.map((l) => l.length));
const padded = new Int32Array(n * maxLabel);
labels.forEach((l, i) => padded.set(l, i * maxLabel));
const model = new SpeechRecognitionModel(c, undefined, 1);
const optimizer = new AdamW(model.parameters(), { lr: 5e-4 });
const batch = tidy(() => {
  const { features, frames } = melSpectrogram(waves, { nMels: c.nFeats, log: c.features === "logmel" });
  return {
    spectrograms: features,
    labels: tensor(padded, [n, maxLabel], "i32"),
    inputLengths: frames.map((f) => Math.floor(f / 2)),
    labelLengths: labels.map((l) => l.length),
  };
});
const losses: number[] = [];
let t0 = 0;
for (let k = 0; k <= steps; k++) {
  if (k === 1) {
    await commands().sync();
    t0 = performance.now();
  }
  const r = trainStep(model, optimizer, batch, { lr: 5e-4, beta1: 0.9, dropoutSeed: k });
  losses.push(await r.loss.item());
  r.loss.dispose();
  r.sampleLosses.dispose();
}
const rate = steps / ((performance.now() - t0) / 1000);
const m = memoryStats();
console.log(JSON.stringify({
  losses,
  steps_per_s: rate,
  peak_rss_bytes: peakRssBytes(),
  peak_gpu_bytes: m.peakTotalBytes,
  peak_live_bytes: m.peakLiveBytes,
  frames: batch.spectrograms.shape[3],
}));
