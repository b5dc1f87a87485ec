/**
 * The transcribe command's flags and their checks (cli/transcribe.ts runs it), and the batch settings every
 * way of transcribing shares.
 */
import type { SpeechRecognitionModel } from "../model/recognizer.ts";
import type { SegmentOptions } from "../model/segments.ts";
import { windowOptions } from "../model/windows.ts";
import { UsageError } from "./common.ts";
import { DECODER_FLAGS, defineCli, parseFlags } from "./flags.ts";
import { OUTPUT_FORMATS } from "./formats/mod.ts";
import { STDIN_INPUT } from "./transcribe_inputs.ts";

/** The transcribe command's flags. */
export const TRANSCRIBE_SPEC = defineCli({
  usage: "usage: deno task transcribe --checkpoint CK.safetensors [options] INPUT...",
  intro: "Transcribes each INPUT: an audio file (FLAC, WAV, MP3, Ogg Vorbis or Opus; any sample rate, mono " +
    "or stereo), a folder (searched recursively for audio files), a manifest (.txt/.lst: one audio path a " +
    "line; .jsonl: NeMo's audio_filepath; .csv: DeepSpeech's wav_filename; .tsv: Common Voice's path), or - for " +
    "audio on standard input (printed as it is decoded).",
  positionals: "INPUT...",
  flags: {
    checkpoint: {
      type: "path",
      required: true,
      help: "model checkpoint (.safetensors, PyTorch state_dict names)",
    },
    ...DECODER_FLAGS,
    format: {
      type: "enum",
      choices: OUTPUT_FORMATS,
      default: "tsv",
      help: "tsv: FILE<TAB>TRANSCRIPT lines; txt: a line per segment; json: Whisper's verbose_json (JSON " +
        "Lines, one file a line, for several inputs on stdout); srt, vtt: subtitles",
    },
    "output-dir": {
      type: "path",
      arg: "DIR",
      help: "write one file per input into DIR (named after the input, the format's extension) instead of " +
        "printing; needed for txt, srt and vtt with several inputs",
    },
    timestamps: { type: "boolean", help: "tsv: also print each word with its start and end time in seconds" },
    "max-pause": {
      type: "number",
      min: 0,
      minExclusive: true,
      default: 0.5,
      arg: "S",
      help: "a silence longer than this ends a segment (a subtitle cue)",
    },
    "max-segment": {
      type: "number",
      min: 0,
      minExclusive: true,
      default: 7,
      arg: "S",
      help: "segments last at most this long (and fit two lines of 42 characters)",
    },
    window: {
      type: "number",
      min: 0,
      minExclusive: true,
      default: 24,
      arg: "SECONDS",
      help: "long recordings are cut into windows of this length, context included",
    },
    "window-context": {
      type: "number",
      min: 0,
      default: 2,
      arg: "S",
      help: "seconds each window overlaps its neighbours by on each side",
    },
    "batch-size": {
      type: "integer",
      min: 1,
      default: 3,
      help: "audio run through the model together, in windows: this many full windows, or as many shorter " +
        "ones (short files) as fill the same room",
    },
    memory: { type: "boolean", help: "print the peak GPU and process memory at the end (stderr)" },
    "memory-limit": {
      type: "size",
      help: "keep the engine's GPU memory under SIZE (e.g. 2GB); over it, a clear error",
    },
    profile: {
      type: "boolean",
      help: "print where the time went at the end (stderr): per phase (decode audio, features, forward, " +
        "readback, decode text) and per kernel family",
    },
  },
});

/** Parses and checks the command line; null when --help was given (the caller prints it). */
export function parseTranscribeArgs(args: readonly string[]) {
  const { values, positionals, help } = parseFlags(TRANSCRIBE_SPEC, args);
  if (help) return null;
  if (positionals.length === 0) throw new UsageError("no audio files given (see --help)");
  if (positionals.includes(STDIN_INPUT) && positionals.length > 1) {
    throw new UsageError("- (audio on standard input) cannot be combined with other inputs");
  }
  if (values.timestamps && values.format !== "tsv") {
    throw new UsageError(`--timestamps adds word lines to tsv; --format ${values.format} has its own times`);
  }
  let window;
  try {
    window = windowOptions(values.window, values["window-context"]);
  } catch (e) {
    throw new UsageError(`--window / --window-context: ${(e as Error).message}`);
  }
  const segments: Partial<SegmentOptions> = {
    maxPause: values["max-pause"],
    maxDuration: values["max-segment"],
  };
  return { ...values, files: positionals, windowOptions: window, segments };
}

export type TranscribeArgs = NonNullable<ReturnType<typeof parseTranscribeArgs>>;

export interface TranscribeStats {
  done: number;
  failed: number;
  audioSeconds: number;
}

/** The tutorial layout's later BiGRU layers run across the batch: its windows must run one at a time. */
export function batchOptions(model: SpeechRecognitionModel, values: TranscribeArgs) {
  const mixes = model.config.gruLayout === "tutorial";
  return {
    window: values.windowOptions,
    batchSize: mixes ? 1 : values["batch-size"],
    maxBatchWindows: mixes ? 1 : undefined,
  };
}
