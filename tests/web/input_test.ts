/// <reference lib="dom" />
/**
 * The page's other two ways in for audio (tests/web/page_test.ts covers the file chooser): a file dragged from
 * outside the browser and dropped on the drop target (its transcript and log-probabilities as the CLI's and the
 * engine's), and a recording from the microphone. For the microphone, Chromium's fake capture device
 * plays a WAV made from a committed spoken-digit clip, and the test listens beside the page to what the page's
 * recorder receives (the sample blocks its audio worklet posts), so that each step is checked exactly: the
 * recorder got the WAV's samples unchanged and without gaps (no echo cancelling, noise suppression or gain
 * control; only what played before it started listening is missing), the page resampled them to 16 kHz with
 * our resampler (its log-probabilities equal the engine's in Deno on our resampling of those samples, within
 * 1e-4), its transcript equals `deno task transcribe`'s of the same samples, and it released the microphone.
 * Skips, saying so, when no chromium is installed.
 */
import assert from "node:assert/strict";
import { basename } from "node:path";
import { loadAudio } from "../../data/audio.ts";
import { readWav } from "../../data/wav.ts";
import { encodeWav, monoWav } from "../../data/wav_write.ts";
import { resample } from "../../data/resample.ts";
import { initGpu, setQuiet } from "../../engine/device.ts";
import { logProbsOf } from "../../model/inference.ts";
import type { SpeechRecognitionModel } from "../../model/recognizer.ts";
import { loadModel } from "../../cli/common.ts";
import { buildWeb } from "../../web/build.ts";
import { Browser, haveChromium, noteSkip, StaticServer } from "./browser.ts";
import type { Page } from "playwright-core";
import { cliTranscripts } from "./cli_transcripts.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
/** The digits model trained on the bundled sample when it is there (it writes words), else the PyTorch one. */
const CHECKPOINT = [
  `${ROOT}tests/fixtures/fsdd_digits/model.safetensors`,
  `${ROOT}tests/fixtures/fsdd_tiny/model.safetensors`,
  `${ROOT}tests/fixtures/torch/pytorch_trained/model.safetensors`,
].find((f) => {
  try {
    return Deno.statSync(f).isFile;
  } catch {
    return false;
  }
})!;
/** "one nine six one" (3.4 s of 8 kHz FLAC), said to the microphone. */
const SPOKEN = `${ROOT}tests/fixtures/fsdd_joined/90001/3/90001-3-0002.flac`;
/** The spoken "six" (16 kHz FLAC), dropped on the page. */
const DROPPED = `${ROOT}tests/fixtures/audio_codecs/six.flac`;
/**
 * The fake device's capture rate in Debian's Chromium 156 (48 kHz only with audio processing on). The WAV is
 * written at it so that the device passes its samples through rather than resampling them with its own filter.
 */
const DEVICE_RATE = 44100;
/** Silence around the clip: the device starts playing before the recorder listens, and goes on after. */
const LEAD_SECONDS = 0.25;
const TAIL_SECONDS = 0.4;
/** Chromium scales 16-bit samples by 1/32767 above zero and 1/32768 below, our reader by 1/32768: 1 in 32767. */
const PCM16_SCALE_TOLERANCE = 1.001 / 32767;

noteSkip("tests/web/input_test.ts");

/** What the page leaves in window.speechResult (web/app.ts's PageResult) with ?logprobs=1. */
interface PageResult {
  name: string;
  text: string;
  seconds: number;
  capture?: { sampleRate: number; seconds: number };
  logProbs: number[];
  time: number;
  length: number;
}

/** What the fake microphone plays: the file, and its samples as our WAV reader gives them. */
interface MicrophoneFile {
  file: string;
  samples: Float32Array;
  seconds: number;
}

/** The microphone's WAV: silence, the clip, silence; from 16 kHz by our resampler, as 16-bit PCM. */
async function microphoneWav(dir: string): Promise<MicrophoneFile> {
  const { waveform } = await loadAudio(SPOKEN);
  const padded = new Float32Array(Math.round((LEAD_SECONDS + TAIL_SECONDS) * 16000) + waveform.length);
  padded.set(waveform, Math.round(LEAD_SECONDS * 16000));
  const bytes = monoWav(resample(padded, 16000, DEVICE_RATE), DEVICE_RATE, 16);
  const file = `${dir}/microphone.wav`;
  await Deno.writeFile(file, bytes);
  const samples = Float32Array.from(readWav(bytes, file).samples[0], (x) => x / 32768);
  return { file, samples, seconds: samples.length / DEVICE_RATE };
}

/** The checkpoint in the engine in Deno (lavapipe), loaded once: the reference for the page's log-probabilities. */
let engineModel: Promise<SpeechRecognitionModel> | null = null;

/** The engine's log-probabilities of one 16 kHz waveform (one clip a batch, as the page runs it): valid rows. */
async function engineLogProbs(waveform: Float32Array): Promise<Float32Array> {
  engineModel ??= (async () => {
    setQuiet(true);
    await initGpu();
    return await loadModel(CHECKPOINT);
  })();
  const [u] = await logProbsOf(await engineModel, [waveform]);
  return u.logProbs.slice(0, u.length * 29);
}

/** The page's log-probabilities (valid rows) against the engine's: relative L2 error. */
function relError(page: PageResult, engine: Float32Array): number {
  const got = page.logProbs.slice(0, page.length * 29);
  assert.equal(got.length, engine.length, `${page.name}: log-probability counts differ`);
  let num = 0;
  let den = 0;
  for (let i = 0; i < got.length; i++) {
    num += (got[i] - engine[i]) ** 2;
    den += engine[i] ** 2;
  }
  return Math.sqrt(num / den);
}

/** How a recording lines up with the file the device played (see {@link alignment}). */
interface Alignment {
  /** How far into the file the recording began, in samples (negative: it began before the file). */
  start: number;
  /** How often the recording jumped to another place in the file (the device, starved of CPU, lost time). */
  jumps: number;
  /** Of the recording's loud samples, the share in 128-sample blocks equal to the file's at their place. */
  matched: number;
  /** How far into the file the last matching block reached. */
  reached: number;
}

/**
 * Lines the recording up with the file block by block: each 128-sample block with sound in it must equal the
 * file's samples (within {@link PCM16_SCALE_TOLERANCE}) at the current offset, or at one nearby, which is a
 * jump. Audio processing or a lossy codec would leave no block equal; under load the fake device may skip or
 * repeat a stretch, which only shifts the offset.
 */
function alignment(captured: Float32Array, played: Float32Array): Alignment {
  const BLOCK = 128;
  const near = Math.round(LEAD_SECONDS * DEVICE_RATE);
  const loud = (x: number) => Math.abs(x) > 0.01;
  const equalAt = (at: number, end: number, offset: number) => {
    for (let i = at; i < end; i++) {
      if (Math.abs(captured[i] - (played[i + offset] ?? 0)) > PCM16_SCALE_TOLERANCE) return false;
    }
    return true;
  };
  const start = played.findIndex(loud) - captured.findIndex(loud);
  let offset = start;
  let jumps = 0;
  let loudSamples = 0;
  let matchedSamples = 0;
  let reached = 0;
  for (let at = 0; at < captured.length; at += BLOCK) {
    const end = Math.min(at + BLOCK, captured.length);
    const sounds = captured.subarray(at, end).filter(loud).length;
    if (sounds === 0) continue;
    loudSamples += sounds;
    if (!equalAt(at, end, offset)) {
      let found: number | undefined;
      for (let d = 1; d <= near && found === undefined; d++) {
        if (equalAt(at, end, offset + d)) found = offset + d;
        else if (equalAt(at, end, offset - d)) found = offset - d;
      }
      if (found === undefined) continue;
      offset = found;
      jumps++;
    }
    matchedSamples += sounds;
    reached = Math.max(reached, end + offset);
  }
  return { start, jumps, matched: matchedSamples / loudSamples, reached };
}

const state = (page: Page) => page.evaluate(() => document.body.dataset.state);

/** Waits for `state` (or "error", which fails with the page's message). */
async function settled(page: Page, want: string): Promise<void> {
  await page.waitForFunction(
    (want) => document.body.dataset.state === want || document.body.dataset.state === "error",
    want,
    { timeout: 120_000 },
  );
  if ((await state(page)) === "error") {
    throw new Error(`the page failed: ${await page.textContent("#error")}`);
  }
}

/** Waits for the result named `name` and returns it. */
async function resultNamed(page: Page, name: string): Promise<PageResult> {
  await page.waitForFunction(
    (name) =>
      document.body.dataset.state === "error" ||
      (document.body.dataset.state === "done" &&
        (globalThis as { speechResult?: { name: string } }).speechResult?.name === name),
    name,
    { timeout: 120_000 },
  );
  if ((await state(page)) === "error") throw new Error(`${name}: ${await page.textContent("#error")}`);
  return await page.evaluate(() => (globalThis as unknown as { speechResult: PageResult }).speechResult);
}

/**
 * Drags `file` from outside the browser onto the middle of `#drop` and drops it, through Chromium's own drag
 * handling (the DevTools protocol's Input.dispatchDragEvent, as the OS would deliver it): the browser picks the
 * target under the point, and fires drop only where dragover was cancelled. Returns whether the target showed
 * itself as one during the drag, and after the drop.
 */
async function dropFile(browser: Browser, file: string): Promise<{ during: boolean; after: boolean }> {
  const page = browser.page;
  const box = (await page.locator("#drop").boundingBox())!;
  const at = { x: box.x + box.width / 2, y: box.y + box.height / 2 };
  const data = { items: [], files: [file], dragOperationsMask: 1 };
  const cdp = await browser.context.newCDPSession(page);
  const highlighted = () => page.evaluate(() => document.getElementById("drop")!.classList.contains("over"));
  try {
    await cdp.send("Input.dispatchDragEvent", { type: "dragEnter", ...at, data });
    await cdp.send("Input.dispatchDragEvent", { type: "dragOver", ...at, data });
    const during = await highlighted();
    await cdp.send("Input.dispatchDragEvent", { type: "drop", ...at, data });
    return { during, after: await highlighted() };
  } finally {
    await cdp.detach();
  }
}

/** What {@link watchMicrophone} keeps in the page. */
interface Watched {
  streams: MediaStream[];
  contexts: AudioContext[];
  /** Copies of the sample blocks the recorder's worklet posted, in order. */
  captured: Float32Array[];
}

/**
 * An init script: keeps every stream getUserMedia hands out and every AudioContext made (so the test can see
 * that the recorder let go of the microphone and its audio graph), and listens, beside the page, to the
 * recorder's worklet (web/audio_input.ts's "speech-recorder-tap") for the samples it captured.
 */
function watchMicrophone(): void {
  const seen = globalThis as unknown as Watched;
  seen.streams = [];
  seen.contexts = [];
  seen.captured = [];
  const getUserMedia = navigator.mediaDevices.getUserMedia.bind(navigator.mediaDevices);
  navigator.mediaDevices.getUserMedia = async (c) => {
    const s = await getUserMedia(c);
    seen.streams.push(s);
    return s;
  };
  const Context = AudioContext;
  globalThis.AudioContext = class extends Context {
    constructor(options?: AudioContextOptions) {
      super(options);
      seen.contexts.push(this);
    }
  };
  const Node = AudioWorkletNode;
  globalThis.AudioWorkletNode = class extends Node {
    constructor(context: BaseAudioContext, name: string, options?: AudioWorkletNodeOptions) {
      super(context, name, options);
      if (name !== "speech-recorder-tap") return;
      this.port.addEventListener("message", (e) => {
        if (e.data instanceof Float32Array) seen.captured.push(e.data.slice());
      });
    }
  };
}

/** The microphone and audio graph left open, and the recorder's samples, from {@link watchMicrophone}. */
async function watched(page: Page) {
  const w = await page.evaluate(() => {
    const seen = globalThis as unknown as Watched;
    return {
      streams: seen.streams.length,
      liveTracks: seen.streams.flatMap((s) => s.getTracks()).filter((k) => k.readyState === "live").length,
      openContexts: seen.contexts.filter((c) => c.state !== "closed").length,
      captured: seen.captured.flatMap((b) => Array.from(b)),
    };
  });
  return { ...w, captured: Float32Array.from(w.captured) };
}

Deno.test({
  name: "the page transcribes a dropped file and a microphone recording as `deno task transcribe` does",
  ignore: !haveChromium(),
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async (t) => {
    const dir = await Deno.makeTempDir({ prefix: "speech_web_input_" });
    const microphone = await microphoneWav(dir);
    await buildWeb(dir);
    const server = new StaticServer(
      new Map([
        ["/", `${ROOT}web/index.html`],
        ["/dist/app.js", `${dir}/app.js`],
        ["/model.safetensors", CHECKPOINT],
      ]),
    );
    // %noloop: the device plays the file once, from when the page opens the microphone, then silence.
    const browser = await Browser.launch({
      args: [
        "--use-fake-ui-for-media-stream",
        "--use-fake-device-for-media-stream",
        `--use-file-for-fake-audio-capture=${microphone.file}%noloop`,
      ],
    });
    try {
      const page = browser.page;
      await page.addInitScript(watchMicrophone);
      await browser.run("page loads", async () => {
        await page.goto(`${server.origin}/?model=/model.safetensors&logprobs=1`);
        await settled(page, "idle");
      });

      await t.step("a file dropped on the drop target", () =>
        browser.run("page drop", async () => {
          const origin = page.url();
          assert.deepEqual(await dropFile(browser, DROPPED), { during: true, after: false });
          const r = await resultNamed(page, basename(DROPPED));
          assert.equal(page.url(), origin, "the drop opened the file instead of giving it to the page");
          const cli = (await cliTranscripts(CHECKPOINT, [DROPPED])).get(DROPPED);
          assert.equal(r.text, cli, `dropped: page "${r.text}", CLI "${cli}"`);
          assert.equal(await page.textContent("#transcript"), r.text || "(no speech recognised)");
          assert.equal(await state(page), "done");
          // Our decoder and resampler on the same bytes as in Deno: the engines agree as in page_test.ts.
          const err = relError(r, await engineLogProbs((await loadAudio(DROPPED)).waveform));
          assert.ok(err <= 1e-4, `dropped: log-probabilities differ by ${err.toExponential(2)} (relative)`);
          console.log(
            `  dropped ${basename(DROPPED)}: "${r.text}", log-prob rel. error ${err.toExponential(2)}`,
          );
        }));

      await t.step("a microphone recording", () =>
        browser.run("page microphone", async () => {
          await page.click("#record");
          await page.waitForFunction(() =>
            document.getElementById("record-status")!.textContent === "recording..."
          );
          assert.equal(await page.textContent("#record"), "Stop and transcribe");
          // The device plays the file in real time: stop once it is over.
          await page.waitForTimeout(microphone.seconds * 1000 + 200);
          await page.click("#record");
          const r = await resultNamed(page, "microphone recording");
          assert.equal(await page.textContent("#transcript"), r.text || "(no speech recognised)");
          assert.equal(await page.textContent("#record"), "Record from the microphone");
          const seen = await watched(page);
          assert.deepEqual(
            { streams: seen.streams, liveTracks: seen.liveTracks, openContexts: seen.openContexts },
            { streams: 1, liveTracks: 0, openContexts: 0 },
            "the recorder let go of the microphone and its audio graph",
          );

          // What the recorder got: the file's samples from where it started listening, unchanged.
          assert.deepEqual(r.capture, {
            sampleRate: DEVICE_RATE,
            seconds: seen.captured.length / DEVICE_RATE,
          });
          const lined = alignment(seen.captured, microphone.samples);
          assert.ok(
            Math.abs(lined.start) < LEAD_SECONDS * DEVICE_RATE,
            `the file starts ${lined.start} samples off`,
          );
          assert.ok(
            lined.matched >= 0.95,
            `only ${
              (lined.matched * 100).toFixed(1)
            }% of the recording's sound is the file's (audio processing?)`,
          );
          const lastSound = microphone.samples.findLastIndex((x) => Math.abs(x) > 0.01);
          assert.ok(
            lined.reached > lastSound,
            `the recording stopped ${lastSound - lined.reached} samples early`,
          );

          // What the page made of it: our resampling to 16 kHz, and the CLI's transcript of the same samples.
          const heard = resample(seen.captured, DEVICE_RATE, 16000);
          assert.equal(r.seconds, heard.length / 16000);
          const err = relError(r, await engineLogProbs(heard));
          const recorded = `${dir}/recorded.wav`;
          const float = { channels: 1, rate: DEVICE_RATE, bits: 32 as const, float: true };
          await Deno.writeFile(recorded, encodeWav(float, seen.captured.length, (i) => seen.captured[i]));
          const cli = await cliTranscripts(CHECKPOINT, [recorded, microphone.file]);
          console.log(
            `  microphone: "${r.text}" from ${r.capture!.seconds.toFixed(3)} s captured at ` +
              `${r.capture!.sampleRate} Hz (listening began ${
                (lined.start / DEVICE_RATE * 1000).toFixed(1)
              } ms ` +
              `into the file; ${(lined.matched * 100).toFixed(1)}% of its sound sample for sample, ` +
              `${lined.jumps} jumps), ` +
              `log-prob rel. error ${err.toExponential(2)}; CLI on the whole file: "${
                cli.get(microphone.file)
              }"`,
          );
          assert.ok(
            err <= 1e-4,
            `microphone: log-probabilities differ by ${err.toExponential(2)} (relative)`,
          );
          assert.equal(r.text, cli.get(recorded), `microphone: page "${r.text}", CLI "${cli.get(recorded)}"`);
        }));
    } finally {
      (await engineModel)?.dispose();
      await browser.close();
      await server.close();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
