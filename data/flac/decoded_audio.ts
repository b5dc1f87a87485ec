/** Decoded PCM audio, the common result of the FLAC decoder and the WAV reader. */
export interface DecodedAudio {
  sampleRate: number;
  channels: number;
  /** Bit depth of the integer samples (4..32). */
  bitsPerSample: number;
  /**
   * One array per channel of signed integers in [-2^(bps-1), 2^(bps-1)). For float WAV files these are the
   * float samples times 2^31, rounded and clamped to int32 (bitsPerSample 32); the exact values are in `float`.
   */
  samples: Int32Array[];
  /** Present only for IEEE-float sources: one array per channel of the original float values. */
  float?: Float32Array[];
}
