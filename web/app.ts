/// <reference lib="dom" />
/**
 * The page's script (web/index.html): load a model (URL or file, cached), take audio (file, drop or
 * microphone), transcribe it on WebGPU in the page, show the words with their times and confidence.
 *
 * Tests and people drive it through the DOM: `#audio` takes a file, `#transcript` gets the text, and
 * `document.body.dataset.state` goes "starting" -> "idle" -> ("loading-model" ->) "working" -> "done" (or
 * "error", with the message in `#error`). `window.speechResult` holds the last result as data. Query parameters:
 * `model=URL` loads that checkpoint at once; `logprobs=1` also puts the clip's log-probabilities in the result.
 */
import { fetchModel } from "./model_fetch.ts";
import { startRecording, waveformOf } from "./audio_input.ts";
import {
  type AdapterSummary,
  clipLogProbs,
  FRAME_HOP_SECONDS,
  hasWebGpu,
  modelFromBytes,
  SAMPLE_RATE,
  type SpeechRecognitionModel,
  startGpu,
  transcribe,
  webGpuHelp,
  type WordTiming,
} from "./mod.ts";

/** What the page exposes of its last transcription (window.speechResult). */
export interface PageResult {
  name: string;
  text: string;
  words: { word: string; start: number; end: number; probability?: number }[];
  seconds: number;
  /** Wall time of the transcription over the audio's duration. */
  realTimeFactor: number;
  adapter: string;
  /** For a microphone recording: the rate and length of what the microphone gave, before resampling. */
  capture?: { sampleRate: number; seconds: number };
  /** With ?logprobs=1: the clip's log-probabilities, `length` valid rows of 29 of `time`. */
  logProbs?: number[];
  time?: number;
  length?: number;
}

/** Where the page leaves its last result for tests and scripts. */
const exposed = globalThis as { speechResult?: PageResult };

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const params = new URLSearchParams(location.search);

let adapter: AdapterSummary | null = null;
let model: SpeechRecognitionModel | null = null;
let modelName = "";
/** One thing at a time: the GPU work of two files would interleave. */
let busy: Promise<unknown> = Promise.resolve();

function setState(state: string): void {
  document.body.dataset.state = state;
}

function showError(e: unknown): void {
  const message = e instanceof Error ? e.message : String(e);
  $("error").textContent = message;
  setState("error");
  console.error(e);
}

/** Runs `job` after the previous one, with the state and errors handled. */
function queue(job: () => Promise<void>): Promise<void> {
  const run = busy.then(async () => {
    $("error").textContent = "";
    try {
      await job();
    } catch (e) {
      showError(e);
    }
  });
  busy = run;
  return run;
}

function loadModelFrom(bytes: Uint8Array, name: string, source: string): void {
  model?.dispose();
  model = null;
  model = modelFromBytes(bytes, name);
  modelName = name;
  const c = model.config;
  $("model-status").textContent = `${name} (${(bytes.length / 1e6).toFixed(1)} MB, ${source}): ` +
    `${c.nCnnLayers} ResCNN + ${c.nRnnLayers} BiGRU of ${c.rnnDim}, ${c.nFeats} ${c.features ?? ""} features`;
}

function loadModelUrl(url: string): Promise<void> {
  return queue(async () => {
    await fetchAndLoad(url);
    setState("idle");
  });
}

async function fetchAndLoad(url: string): Promise<void> {
  setState("loading-model");
  const bar = $<HTMLProgressElement>("model-progress");
  bar.removeAttribute("value");
  const { bytes, source } = await fetchModel(url, (got, total) => {
    if (total) bar.value = got / total;
    $("model-status").textContent = `downloading ${url}: ${(got / 1e6).toFixed(1)}` +
      (total ? ` of ${(total / 1e6).toFixed(1)} MB` : " MB");
  });
  bar.value = 1;
  loadModelFrom(bytes, url, source === "cache" ? "from the cache" : "downloaded");
}

function loadModelFile(file: File): Promise<void> {
  return queue(async () => {
    setState("loading-model");
    loadModelFrom(new Uint8Array(await file.arrayBuffer()), file.name, "chosen file");
    $<HTMLProgressElement>("model-progress").value = 1;
    setState("idle");
  });
}

function transcribeBytes(bytes: Uint8Array, name: string, capture?: PageResult["capture"]): Promise<void> {
  return queue(async () => {
    setState("working");
    $("transcript").textContent = "";
    $("words").textContent = "";
    $("stats").textContent = `transcribing ${name}...`;
    if (!model) {
      const url = $<HTMLInputElement>("model-url").value;
      if (!url) throw new Error("no model loaded: give a URL or choose a .safetensors file first");
      await fetchAndLoad(url);
      setState("working");
    }
    const waveform = await waveformOf(bytes, name);
    const seconds = waveform.length / SAMPLE_RATE;
    const t0 = performance.now();
    const r = await transcribe(model!, waveform);
    const elapsed = (performance.now() - t0) / 1000;
    const result: PageResult = {
      name,
      text: r.transcript!.text,
      words: r.transcript!.words.map(wordTimes),
      seconds,
      realTimeFactor: elapsed / seconds,
      adapter: adapter?.name ?? "",
      ...(capture ? { capture } : {}),
    };
    if (params.get("logprobs") === "1") {
      const lp = await clipLogProbs(model!, waveform);
      Object.assign(result, { logProbs: Array.from(lp.logProbs), time: lp.time, length: lp.length });
    }
    show(result, elapsed);
    exposed.speechResult = result;
    setState("done");
  });
}

function wordTimes(w: WordTiming): PageResult["words"][number] {
  return {
    word: w.word,
    start: w.startFrame * FRAME_HOP_SECONDS,
    end: (w.endFrame + 1) * FRAME_HOP_SECONDS,
    ...(w.probability !== undefined ? { probability: w.probability } : {}),
  };
}

function show(r: PageResult, elapsed: number): void {
  $("transcript").textContent = r.text || "(no speech recognised)";
  const table = $<HTMLTableElement>("words");
  const confidence = r.words.some((w) => w.probability !== undefined);
  const head = table.insertRow();
  for (const h of ["word", "start (s)", "end (s)", ...(confidence ? ["confidence"] : [])]) {
    const th = document.createElement("th");
    th.textContent = h;
    head.appendChild(th);
  }
  for (const w of r.words) {
    const row = table.insertRow();
    const cells = [w.word, w.start.toFixed(3), w.end.toFixed(3)];
    if (confidence) cells.push(w.probability === undefined ? "" : w.probability.toFixed(2));
    for (const c of cells) row.insertCell().textContent = c;
  }
  $("stats").textContent = `${r.name}: ${r.seconds.toFixed(2)} s of audio in ${elapsed.toFixed(2)} s ` +
    `(real-time factor ${r.realTimeFactor.toFixed(2)}) with ${modelName}`;
}

function wireInputs(): void {
  $("model-load").addEventListener("click", () => loadModelUrl($<HTMLInputElement>("model-url").value));
  $<HTMLInputElement>("model-file").addEventListener("change", (e) => {
    const file = (e.target as HTMLInputElement).files?.[0];
    if (file) loadModelFile(file);
  });
  const audio = $<HTMLInputElement>("audio");
  audio.addEventListener("change", async () => {
    const file = audio.files?.[0];
    if (file) await transcribeBytes(new Uint8Array(await file.arrayBuffer()), file.name);
    audio.value = ""; // choosing the same file again transcribes it again
  });
  const drop = $("drop");
  drop.addEventListener("dragover", (e) => {
    e.preventDefault();
    drop.classList.add("over");
  });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", async (e) => {
    e.preventDefault();
    drop.classList.remove("over");
    const file = e.dataTransfer?.files[0];
    if (file) {
      if (file.name.endsWith(".safetensors")) await loadModelFile(file);
      else await transcribeBytes(new Uint8Array(await file.arrayBuffer()), file.name);
    }
  });
  let recording: Awaited<ReturnType<typeof startRecording>> | null = null;
  const button = $<HTMLButtonElement>("record");
  button.addEventListener("click", async () => {
    // Not clickable while the microphone opens or the recording closes: a second click would open another.
    button.disabled = true;
    try {
      if (!recording) {
        recording = await startRecording();
        button.textContent = "Stop and transcribe";
        $("record-status").textContent = "recording...";
        return;
      }
      const { wav, sampleRate, seconds } = await recording.stop();
      recording = null;
      button.textContent = "Record from the microphone";
      $("record-status").textContent = `recorded ${seconds.toFixed(1)} s at ${sampleRate} Hz`;
      button.disabled = false;
      await transcribeBytes(wav, "microphone recording", { sampleRate, seconds });
    } catch (e) {
      recording = null;
      button.textContent = "Record from the microphone";
      showError(e);
    } finally {
      button.disabled = false;
    }
  });
}

async function main(): Promise<void> {
  if (!hasWebGpu()) {
    $("nogpu").hidden = false;
    $("nogpu-help").textContent = webGpuHelp();
    throw new Error("WebGPU is not available in this browser (see above).");
  }
  try {
    adapter = await startGpu();
  } catch (e) {
    $("nogpu").hidden = false;
    $("nogpu-help").textContent = webGpuHelp();
    throw e;
  }
  $("adapter").textContent = adapter.name + (adapter.cpu ? " (a CPU adapter: slow)" : "");
  wireInputs();
  setState("idle");
  const url = params.get("model");
  if (url) {
    $<HTMLInputElement>("model-url").value = url;
    await loadModelUrl(url);
  }
}

main().catch(showError);
