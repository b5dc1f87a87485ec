/**
 * `transcribe -`: audio piped in (from sox, ffmpeg, arecord) is decoded as it arrives, its windows run through
 * the model one at a time, and each segment is printed as soon as it is final (a pause after it has been heard,
 * or it is full), so a live recording is transcribed while it goes on. With --output-dir the whole document is
 * written to `stdin.<format>` at the end instead.
 */
import { openAudioStream } from "../data/audio_stream.ts";
import type { DecoderOptions } from "../model/inference.ts";
import { transcribeRecordings } from "../model/long_inference.ts";
import type { SpeechRecognitionModel } from "../model/recognizer.ts";
import { Segmenter, timedWords, transcriptDocument } from "../model/segments.ts";
import type { Segment } from "../model/transcript_document.ts";
import { FRAME_HOP_SECONDS } from "../model/word_timestamps.ts";
import { SegmentStreamWriter } from "./formats/stream.ts";
import { batchOptions, type TranscribeArgs, type TranscribeStats } from "./transcribe_args.ts";
import { STDIN_INPUT } from "./transcribe_inputs.ts";
import { DirectorySink, writeStdout } from "./transcribe_output.ts";

/** Seconds of audio decoded at a time from the pipe: small, so that a window starts as soon as it is in. */
const STDIN_CHUNK_SECONDS = 1;

export async function transcribeStdin(
  model: SpeechRecognitionModel,
  values: TranscribeArgs,
  decoder: DecoderOptions,
): Promise<TranscribeStats> {
  const failed = (reason: string): TranscribeStats => {
    console.error(`transcribe: skipping standard input: ${reason}`);
    return { done: 0, failed: 1, audioSeconds: 0 };
  };
  let stream;
  try {
    stream = await openAudioStream(Deno.stdin.readable, 16000, {
      chunkSamples: 16000 * STDIN_CHUNK_SECONDS,
      name: "stdin",
    });
  } catch (e) {
    return failed((e as Error).message);
  }
  const outputDir = values["output-dir"];
  const writer = new SegmentStreamWriter(values.format, { name: STDIN_INPUT, timestamps: values.timestamps });
  const segmenter = new Segmenter(values.segments);
  const print = (segments: Segment[]) => {
    if (!outputDir) { for (const s of segments) writeStdout(writer.segment(s)); }
  };
  if (!outputDir) writeStdout(writer.begin());
  const results = transcribeRecordings(model, [{ name: STDIN_INPUT, audio: stream }], {
    ...decoder,
    ...batchOptions(model, values),
    // One window a batch: each is decoded as soon as it has been read.
    batchSize: 1,
    maxBatchWindows: 1,
    onWords: (_, words, frames) => {
      print(segmenter.push(timedWords({ words })));
      print(segmenter.advance(frames * FRAME_HOP_SECONDS));
    },
  });
  try {
    for await (const r of results) {
      if (!r.transcript) return failed(r.error?.message ?? "unreadable");
      print(segmenter.finish());
      const seconds = r.samples / 16000;
      const doc = transcriptDocument(r.transcript, seconds, values.segments);
      if (outputDir) {
        await new DirectorySink(outputDir, [{ path: STDIN_INPUT }], values.format, values.timestamps).add(
          0,
          doc,
        );
      } else writeStdout(writer.end(doc));
      return { done: 1, failed: 0, audioSeconds: seconds };
    }
  } finally {
    await stream.close();
  }
  return failed("no audio");
}
