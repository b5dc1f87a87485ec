/**
 * Speech recognition in TypeScript on WebGPU, with no Python: a tensor engine with reverse-mode autograd and
 * hand-written WGSL kernels, and on it the DeepSpeech2-style recognizer (ResCNN + BiGRU + CTC) of the PyTorch
 * tutorial "Building an end-to-end speech recognition model in PyTorch", with PyTorch's semantics, parameter
 * names and numbers.
 *
 * ```ts
 * import { backward, initGpu, matmul, sumAll, tensor } from "./mod.ts";
 * await initGpu();
 * const a = tensor([1, 2, 3, 4], [2, 2]);
 * a.requiresGrad = true;
 * const loss = sumAll(matmul(a, a));
 * backward(loss);
 * console.log(await a.grad!.data());
 * ```
 *
 * @module
 */

// Engine: device, tensors, autograd, memory scopes.
export {
  assign,
  backward,
  commands,
  empty,
  formatBytes,
  full,
  GpuDeviceLostError,
  GpuError,
  GpuOutOfMemoryError,
  initGpu,
  isGradEnabled,
  keep,
  type MemoryStats,
  memoryStats,
  noGrad,
  ones,
  parameter,
  profileData,
  profilePhase,
  profileReport,
  Random,
  recompute,
  releasePooledMemory,
  resetPeakMemory,
  setMemoryLimit,
  setQuiet,
  type Shape,
  startProfile,
  stopProfile,
  Tensor,
  tensor,
  tidy,
  withGrad,
  zeros,
} from "./engine/mod.ts";

// Differentiable ops.
export * from "./kernels/mod.ts";

// Audio: FLAC, WAV, loading and resampling.
export { AudioFormatError, decodeFlac, FlacStreamDecoder } from "./data/flac.ts";
export type { DecodedAudio, FlacBlock, FlacDecoderOptions, FlacMetadata, StreamInfo } from "./data/flac.ts";
export { readWav } from "./data/wav.ts";
export { loadAudio } from "./data/audio.ts";
export {
  type AudioStream,
  type AudioStreamOptions,
  openAudioStream,
  StreamingResampler,
} from "./data/audio_stream.ts";
export { resample } from "./data/resample.ts";

export { decodeAudioBytes } from "./data/audio_bytes.ts";

// Text, alphabets, corpora, splits and download.
export { BLANK, CharacterMapError, CHARACTERS, intsToText, N_CLASS, textToInts } from "./data/text.ts";
export {
  type Alphabet,
  AlphabetError,
  alphabetOf,
  formatAlphabet,
  parseAlphabet,
  readAlphabetFile,
  TUTORIAL_ALPHABET,
} from "./data/alphabet.ts";
export { normaliseTranscript } from "./data/normalise.ts";
export {
  CorpusError,
  type CorpusOptions,
  LibriSpeechCorpus,
  loadUtterance,
  readFlacStreamInfo,
  readManifest,
  resolveCorpusDir,
  type Utterance,
  type UtteranceInfo,
} from "./data/librispeech.ts";
export {
  DownloadError,
  downloadLibriSpeech,
  type DownloadOptions,
  type DownloadResult,
  LIBRISPEECH_SUBSETS,
  OPENSLR_LIBRISPEECH,
} from "./data/download.ts";
export {
  type DevFraction,
  devFraction,
  hasSplitColumn,
  isHeldOutByTranscript,
  rowsOfSplit,
  type Split,
  splitByColumn,
  splitByTranscript,
} from "./data/splits.ts";
export {
  type Corpus,
  type CorpusFormat,
  type CorpusSplit,
  describeProblem,
  type RowProblem,
} from "./data/corpus.ts";
export { manifestFormatOf, openCorpus, type OpenCorpusOptions } from "./data/manifest.ts";
export { crc32 } from "./data/crc32.ts";
export { extractTar, readTar, TarFormatError, TarPathError } from "./data/tar.ts";

// Checkpoint files.
export {
  loadSafetensorsFile,
  readSafetensors,
  SafetensorsError,
  saveSafetensorsFile,
  writeSafetensors,
} from "./model/safetensors.ts";
export type {
  ReadSafetensorsOptions,
  SafeDtype,
  SafeTensor,
  SafeTensorData,
  SafetensorsContents,
} from "./model/safetensors.ts";

// The recognizer: model, checkpoints, inference on recordings of any length.
export { type ModelConfig, PRESETS, TUTORIAL_CONFIG } from "./model/config.ts";
export { SpeechRecognitionModel } from "./model/recognizer.ts";
export { loadCheckpoint, saveCheckpoint } from "./model/checkpoint.ts";
export { readCheckpoint } from "./model/checkpoint_bytes.ts";
export { describeInit, type InitReport, matchWeights } from "./model/init_from.ts";
export { FREEZE_GROUPS, FreezeError, freezeParameters } from "./model/freeze.ts";
export { decodeLogProbs, logProbsOf, type Transcript, type UtteranceLogProbs } from "./model/inference.ts";
export {
  DEFAULT_WINDOW,
  type LongAudioOptions,
  type Recording,
  type RecordingResult,
  transcribeLong,
  transcribeRecordings,
} from "./model/long_inference.ts";
export { planWindows, type Window, type WindowOptions, windowOptions } from "./model/windows.ts";

// Decoding, language models and metrics.
export {
  decodeBatch,
  type DecodedText,
  type DecodeOptions,
  decodeUtterance,
  greedyDecode,
  GreedyDecoder,
} from "./model/decode.ts";
export {
  type BeamHypothesis,
  type BeamSearchOptions,
  ctcBeamSearch,
  WordPrefixIndex,
} from "./model/beam_search.ts";
export { ArpaError, loadArpa, NgramLm, parseArpa, readArpa } from "./model/arpa.ts";
export { buildKneserNey, formatArpa, type KneserNeyModel, writeArpaFile } from "./model/kneser_ney.ts";
export {
  cer,
  editDistance,
  ErrorRateAccumulator,
  type ErrorRates,
  errorRates,
  wer,
} from "./model/metrics.ts";
export {
  FRAME_HOP_SECONDS,
  frameToSeconds,
  wordTimesInSeconds,
  type WordTiming,
  wordTimings,
} from "./model/word_timestamps.ts";

// Transcripts in seconds, segments, output formats and forced alignment.
export type { Segment, TimedWord, TranscriptDocument } from "./model/transcript_document.ts";
export { segmentWords, transcriptDocument } from "./model/segments.ts";
export { formatDocument, OUTPUT_FORMATS, type OutputFormat, parseSrt, parseVtt } from "./cli/formats/mod.ts";
export { AlignmentError, ctcViterbi } from "./model/align.ts";
export { alignText } from "./model/align_words.ts";
export { alignmentText, AlignmentTextError } from "./model/align_text.ts";
export { recordingLogProbs } from "./model/align_audio.ts";

// Word confidence, calibration and hotwords.
export { expectedCalibrationError, fitCalibration } from "./model/calibration.ts";
export { compileHotwords, type Hotword, parseHotword, readHotwordsFile } from "./model/hotwords.ts";

// Data-parallel training: the communicator (MPI under mpirun, else one process).
export { communicator } from "./dist/open.ts";
export type { Communicator } from "./dist/communicator.ts";
