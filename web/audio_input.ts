/// <reference lib="dom" />
/**
 * Audio a page hands to the recognizer, as 16 kHz mono: FLAC and WAV go through our own decoders (the same
 * samples as `deno task transcribe` reads, bit for bit); anything else the browser can play goes through its
 * decodeAudioData, then our resampler. Microphone recordings come back as a WAV file of the raw samples at the
 * microphone's rate, decoded and resampled the same way.
 */
import { decodeAudioBytes, isFlacOrWav, SAMPLE_RATE, toSampleRate } from "./mod.ts";
import { encodeWav } from "../data/wav_write.ts";

/** Decodes a chosen or dropped file (or a recording) to 16 kHz mono; errors name the file. */
export async function waveformOf(bytes: Uint8Array, name: string): Promise<Float32Array> {
  if (isFlacOrWav(bytes)) return (await decodeAudioBytes(bytes, name, SAMPLE_RATE)).waveform;
  let buffer: AudioBuffer;
  // decodeAudioData resamples to its context's rate: keep a common device rate and resample ourselves.
  const context = new OfflineAudioContext(1, 1, 48000);
  try {
    buffer = await context.decodeAudioData(bytes.slice().buffer);
  } catch (e) {
    throw new Error(
      `${name}: not FLAC or WAV, and the browser cannot decode it either (${(e as Error).message})`,
    );
  }
  const mono = new Float32Array(buffer.length);
  for (let c = 0; c < buffer.numberOfChannels; c++) {
    const ch = buffer.getChannelData(c);
    for (let i = 0; i < mono.length; i++) mono[i] += ch[i] / buffer.numberOfChannels;
  }
  return toSampleRate(mono, buffer.sampleRate, SAMPLE_RATE);
}

/** What a recording gave: a lossless WAV of the samples as captured, and at what rate they came. */
export interface RecordedAudio {
  /** 32-bit float mono WAV at {@link sampleRate}: {@link waveformOf} reads it and resamples with ours. */
  wav: Uint8Array;
  sampleRate: number;
  seconds: number;
}

/** A microphone recording in progress: `stop()` ends it, releases the microphone and gives the audio. */
export interface Recording {
  stop(): Promise<RecordedAudio>;
}

/**
 * The audio-thread end of a recording: passes the captured samples (channel 0 after Web Audio's mix-down to
 * the node's one channel) to the page in blocks, and on "flush" sends what it holds, then "flushed". Messages
 * arrive in order, so once "flushed" is in, every sample captured before the page asked has arrived.
 */
const TAP_PROCESSOR = `
const BLOCK = 8192;
registerProcessor("speech-recorder-tap", class extends AudioWorkletProcessor {
  constructor() {
    super();
    this.block = new Float32Array(BLOCK);
    this.filled = 0;
    this.port.onmessage = () => {
      this.port.postMessage(this.block.slice(0, this.filled));
      this.filled = 0;
      this.port.postMessage("flushed");
    };
  }
  process(inputs) {
    const samples = inputs[0][0];
    if (!samples) return true;
    for (let i = 0; i < samples.length; i++) {
      this.block[this.filled++] = samples[i];
      if (this.filled === BLOCK) {
        this.port.postMessage(this.block, [this.block.buffer]);
        this.block = new Float32Array(BLOCK);
        this.filled = 0;
      }
    }
    return true;
  }
});
`;

/**
 * Starts recording from the default microphone (the browser asks the user first). The samples are taken raw,
 * at the microphone's own rate: MediaRecorder would give lossy Opus, and a context at another rate would
 * resample with the browser's filter instead of ours (the one training and `deno task transcribe` use).
 */
export async function startRecording(): Promise<Recording> {
  if (!navigator.mediaDevices?.getUserMedia) {
    throw new Error("this browser gives pages no microphone (it needs https or localhost)");
  }
  // The recognizer learnt from unprocessed recordings: no echo cancelling, noise suppression or gain control.
  const stream = await navigator.mediaDevices.getUserMedia({
    audio: { channelCount: 1, echoCancellation: false, noiseSuppression: false, autoGainControl: false },
  });
  const release = () => stream.getTracks().forEach((t) => t.stop());
  let context: AudioContext | undefined;
  try {
    const rate = stream.getAudioTracks()[0]?.getSettings().sampleRate;
    context = new AudioContext(rate ? { sampleRate: rate } : {});
    const url = URL.createObjectURL(new Blob([TAP_PROCESSOR], { type: "text/javascript" }));
    try {
      await context.audioWorklet.addModule(url);
    } finally {
      URL.revokeObjectURL(url);
    }
    const tap = new AudioWorkletNode(context, "speech-recorder-tap", {
      numberOfInputs: 1,
      numberOfOutputs: 0,
      channelCount: 1,
      channelCountMode: "explicit",
      channelInterpretation: "speakers",
    });
    const blocks: Float32Array[] = [];
    let flushed: () => void = () => {};
    tap.port.onmessage = (e) => e.data === "flushed" ? flushed() : blocks.push(e.data);
    const source = context.createMediaStreamSource(stream);
    source.connect(tap);
    await context.resume();
    const recording = context;
    return {
      stop: async () => {
        await new Promise<void>((resolve) => {
          flushed = resolve;
          tap.port.postMessage("flush");
        });
        source.disconnect();
        release();
        await recording.close();
        return recordedAudio(blocks, recording.sampleRate);
      },
    };
  } catch (e) {
    release();
    await context?.close().catch(() => {});
    throw e;
  }
}

function recordedAudio(blocks: Float32Array[], sampleRate: number): RecordedAudio {
  const samples = new Float32Array(blocks.reduce((n, b) => n + b.length, 0));
  let at = 0;
  for (const b of blocks) {
    samples.set(b, at);
    at += b.length;
  }
  const wav = encodeWav(
    { channels: 1, rate: sampleRate, bits: 32, float: true },
    samples.length,
    (t) => samples[t],
  );
  return { wav, sampleRate, seconds: samples.length / sampleRate };
}
