/// <reference lib="dom" />
/**
 * Audio a page hands to the recognizer, as 16 kHz mono: FLAC and WAV go through our own decoders (the same
 * samples as `deno task transcribe` reads, bit for bit); anything else the browser can play goes through its
 * decodeAudioData, then our resampler. Microphone recordings come back as such a file (MediaRecorder's
 * webm/ogg), decoded the same way.
 */
import { decodeAudioBytes, isFlacOrWav, SAMPLE_RATE, toSampleRate } from "./mod.ts";

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

/** A microphone recording in progress: `stop()` ends it and gives the recorded file's bytes. */
export interface Recording {
  stop(): Promise<Uint8Array>;
}

/** Starts recording from the default microphone (the browser asks the user first). */
export async function startRecording(): Promise<Recording> {
  if (!navigator.mediaDevices?.getUserMedia) {
    throw new Error("this browser gives pages no microphone (it needs https or localhost)");
  }
  const stream = await navigator.mediaDevices.getUserMedia({ audio: { channelCount: 1 } });
  const recorder = new MediaRecorder(stream);
  const pieces: Blob[] = [];
  recorder.ondataavailable = (e) => pieces.push(e.data);
  recorder.start();
  return {
    stop: () =>
      new Promise((resolve, reject) => {
        recorder.onstop = async () => {
          stream.getTracks().forEach((t) => t.stop());
          try {
            resolve(new Uint8Array(await new Blob(pieces).arrayBuffer()));
          } catch (e) {
            reject(e);
          }
        };
        recorder.stop();
      }),
  };
}
