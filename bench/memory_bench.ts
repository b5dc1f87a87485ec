/**
 * `deno task bench --only memory`: peak memory and time of transcription and training beside PyTorch CPU in the
 * same run. Every figure is one process's own (ours: `--memory`'s peak RSS, VmHWM; PyTorch: ru_maxrss), since on
 * the CPU adapter GPU buffers live in host memory and RSS is what a GPU would have to hold.
 *
 * Audio is real speech: the bundled sample corpus's clips joined end to end (no silence added) into a 60 s
 * recording, tiled to 10 and 60 minutes for the long rows, written as 16-bit WAV (the clips are 16-bit FLAC, so
 * the samples are exact). The model is the tutorial's (3 ResCNN + 5 BiGRU of 512) with random weights saved as a
 * checkpoint both sides load. Training uses 20 utterances of two joined clips each (about 350 frames).
 */
import { initGpu, setQuiet } from "../engine/mod.ts";
import { loadAudio } from "../data/audio.ts";
import { monoWav } from "../data/wav_write.ts";
import { saveCheckpoint } from "../model/checkpoint.ts";
import { type ModelConfig, PRESETS } from "../model/config.ts";
import { SpeechRecognitionModel } from "../model/recognizer.ts";
import { report } from "./report.ts";

const ROOT = new URL("../", import.meta.url).pathname;
const SAMPLE = `${ROOT}data/sample/train/`;
const FIXTURES = `${ROOT}tests/fixtures/torch/`;
const PYTHON = "/usr/bin/python3";
const GB = 1e9;

interface Clip {
  samples: Float32Array;
  text: string;
}

async function sampleClips(): Promise<Clip[]> {
  const lines = (await Deno.readTextFile(`${SAMPLE}manifest.tsv`)).trim().split("\n").slice(1);
  const clips: Clip[] = [];
  for (const l of lines) {
    const [file, , , text] = l.split("\t");
    clips.push({ samples: (await loadAudio(SAMPLE + file)).waveform, text });
  }
  return clips;
}

function join(parts: readonly Float32Array[], length?: number): Float32Array {
  const total = length ?? parts.reduce((s, p) => s + p.length, 0);
  const out = new Float32Array(total);
  for (let at = 0, k = 0; at < total; k++) {
    const p = parts[k % parts.length].subarray(0, total - at);
    out.set(p, at);
    at += p.length;
  }
  return out;
}

async function run(
  cmd: string,
  args: string[],
): Promise<{ ok: boolean; stdout: string; stderr: string; s: number }> {
  const t0 = performance.now();
  const out = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
  const dec = new TextDecoder();
  return {
    ok: out.success,
    stdout: dec.decode(out.stdout),
    stderr: dec.decode(out.stderr),
    s: (performance.now() - t0) / 1000,
  };
}

const UNITS: Record<string, number> = { B: 1, kB: 1e3, MB: 1e6, GB: 1e9, TB: 1e12 };

/** Our transcribe CLI on one file: transcript, wall seconds (whole process) and peak RSS from `--memory`. */
async function oursTranscribe(checkpoint: string, file: string) {
  const r = await run(Deno.execPath(), [
    "run",
    "-A",
    `${ROOT}cli/transcribe.ts`,
    "--checkpoint",
    checkpoint,
    "--memory",
    file,
  ]);
  if (!r.ok) throw new Error(`transcribe failed: ${r.stderr}`);
  const m = /peak GPU ([\d.]+) (\w+) \(peak live [^)]*\), peak RSS ([\d.]+) (\w+)/.exec(r.stderr);
  if (!m) throw new Error(`no memory line in: ${r.stderr}`);
  return {
    text: r.stdout.split("\n")[0].split("\t")[1] ?? "",
    seconds: r.s,
    gpu: Number(m[1]) * UNITS[m[2]],
    rss: Number(m[3]) * UNITS[m[4]],
  };
}

async function peerTranscribe(checkpoint: string, file: string) {
  const r = await run(PYTHON, [`${ROOT}bench/memory_peer.py`, "transcribe", FIXTURES, checkpoint, file]);
  if (!r.ok) return null;
  const j = JSON.parse(r.stdout.trim().split("\n").at(-1)!);
  return { text: j.text as string, seconds: r.s, rss: j.peak_rss_bytes as number };
}

async function writeCheckpoint(dir: string, name: string, c: ModelConfig): Promise<string> {
  const path = `${dir}/${name}.safetensors`;
  const model = new SpeechRecognitionModel(c, undefined, 11);
  await saveCheckpoint(path, model.params, c);
  model.dispose();
  return path;
}

async function transcriptionRows(dir: string, recording: Float32Array) {
  const minute = `${dir}/one-minute.wav`;
  await Deno.writeFile(minute, monoWav(recording));
  const tutorial = await writeCheckpoint(dir, "tutorial", PRESETS.tutorial);
  const ours = await oursTranscribe(tutorial, minute);
  const peer = await peerTranscribe(tutorial, minute);
  const same = peer ? (peer.text === ours.text ? "same transcript" : "TRANSCRIPTS DIFFER") : "";
  report({
    name: "transcribe 60 s, tutorial model: speed",
    ours: 60 / ours.seconds,
    peer: peer ? 60 / peer.seconds : null,
    peerName: "PyTorch 1.13 CPU",
    unit: "s audio/s",
    note: `whole process: ${ours.seconds.toFixed(1)} s vs ${peer?.seconds.toFixed(1) ?? "n/a"} s; ${same}`,
  });
  report({
    name: "transcribe 60 s, tutorial model: peak RSS",
    ours: ours.rss / GB,
    peer: peer ? peer.rss / GB : null,
    peerName: "PyTorch 1.13 CPU",
    unit: "GB",
    lowerIsBetter: true,
    note: `our GPU pool peak ${(ours.gpu / GB).toFixed(3)} GB`,
  });
  return { minute, tutorial, base: ours };
}

/** Long recordings: the same minute tiled; memory should stay that of one minute. */
async function longRows(
  dir: string,
  recording: Float32Array,
  m: { minute: string; tutorial: string; base: { rss: number } },
  long: boolean,
): Promise<void> {
  const { minute, tutorial, base: ours } = m;
  const models: [string, string][] = [["tiny", await writeCheckpoint(dir, "tiny", PRESETS.tiny)]];
  if (long) models.push(["tutorial", tutorial]);
  for (const [name, checkpoint] of models) {
    const base = name === "tutorial" ? ours : await oursTranscribe(checkpoint, minute);
    for (const minutes of [10, 60]) {
      const file = `${dir}/${minutes}-minutes.wav`;
      await Deno.writeFile(file, monoWav(join([recording], recording.length * minutes)));
      const r = await oursTranscribe(checkpoint, file);
      await Deno.remove(file);
      report({
        name: `transcribe ${minutes} min, ${name} model: peak RSS`,
        ours: r.rss / GB,
        peer: base.rss / GB,
        peerName: "ours on 1 min",
        unit: "GB",
        lowerIsBetter: true,
        note: `${(minutes * 60 / r.seconds).toFixed(1)} s audio/s`,
      });
    }
  }
}

async function trainingRows(dir: string, clips: Clip[]): Promise<void> {
  const list: string[] = [];
  // Seven of the sample's digit clips an utterance (about 3.1 s, 310 frames, near the 346 of the corpus this row
  // was first measured on), so the step's memory stays comparable across sample corpora.
  const perUtterance = 7;
  for (let i = 0; i < 20; i++) {
    const parts = clips.slice(perUtterance * i, perUtterance * (i + 1));
    const file = `${dir}/utt-${i}.wav`;
    await Deno.writeFile(file, monoWav(join(parts.map((c) => c.samples))));
    list.push(`${file}\t${parts.map((c) => c.text).join(" ")}`);
  }
  const tsv = `${dir}/batch.tsv`;
  await Deno.writeTextFile(tsv, list.join("\n") + "\n");
  const steps = 2;
  const o = await run(Deno.execPath(), ["run", "-A", `${ROOT}bench/train_memory_run.ts`, tsv, String(steps)]);
  if (!o.ok) throw new Error(`training run failed: ${o.stderr}`);
  const ours = JSON.parse(o.stdout.trim().split("\n").at(-1)!);
  const p = await run(PYTHON, [`${ROOT}bench/memory_peer.py`, "train", FIXTURES, tsv, String(steps)]);
  const peer = p.ok ? JSON.parse(p.stdout.trim().split("\n").at(-1)!) : null;
  const name = `train step, tutorial model, batch 20 x ${ours.frames} frames`;
  report({
    name: `${name}: peak RSS`,
    ours: ours.peak_rss_bytes / GB,
    peer: peer ? peer.peak_rss_bytes / GB : null,
    peerName: "PyTorch 1.13 CPU",
    unit: "GB",
    lowerIsBetter: true,
    note: `${steps + 1} steps; our GPU pool peak ${(ours.peak_gpu_bytes / GB).toFixed(2)} GB, live ${
      (ours.peak_live_bytes / GB).toFixed(2)
    } GB`,
  });
  report({
    name: `${name}: speed`,
    ours: ours.steps_per_s,
    peer: peer ? peer.steps_per_s : null,
    peerName: "PyTorch 1.13 CPU",
    unit: "steps/s",
  });
}

export async function benchMemory(opts: { long?: boolean } = {}): Promise<void> {
  setQuiet(true);
  await initGpu();
  const dir = await Deno.makeTempDir({ prefix: "memory-bench-" });
  try {
    const clips = await sampleClips();
    const recording = join(clips.map((c) => c.samples), 60 * 16000);
    // Rows whose speed is compared come first; the long recordings only compare memory.
    const minute = await transcriptionRows(dir, recording);
    await trainingRows(dir, clips);
    await longRows(dir, recording, minute, opts.long ?? false);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

if (import.meta.main) await benchMemory({ long: Deno.args.includes("--long") });
