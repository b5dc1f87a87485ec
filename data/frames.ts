/**
 * How many spectrogram frames a clip gives: the one length rule the recognizer's inference needs, kept apart from
 * data/batching.ts (the training loader, which imports the corpus reader and file system code) so that the
 * inference path stays importable in a browser.
 */

/** The tutorial's MelSpectrogram hop length, in samples at 16 kHz. */
export const HOP_LENGTH = 200;

/** Frames of a centred STFT: 1 + floor(samples / hop). */
export function spectrogramFrames(samples: number, hop = HOP_LENGTH): number {
  if (!Number.isInteger(samples) || samples < 0) {
    throw new RangeError(`spectrogramFrames: samples must be an integer >= 0, got ${samples}`);
  }
  return 1 + Math.floor(samples / hop);
}
