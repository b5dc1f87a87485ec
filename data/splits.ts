/**
 * Which utterances are held out for evaluation, decided by the data and never by a corpus's name: either a
 * manifest's split column, or a deterministic fraction chosen by a hash of the transcript.
 *
 * The hash rule for a fraction F with d decimal places (at most 4): an utterance is held out when the CRC-32
 * of its lowercase UTF-8 transcript, modulo 10^d, is below F * 10^d. Every take of a prompt has the same text,
 * so repeated prompts never cross sides, and the choice depends on nothing but the transcript (not on file
 * order, nor on which other files are present). F = 0.1 holds out CRC-32 % 10 == 0; F = 0.05, CRC-32 % 100 < 5.
 */

import { crc32 } from "./crc32.ts";
import type { CorpusSplit } from "./corpus.ts";

/** The most decimal places a dev fraction may have (the modulus is at most 10^4). */
export const MAX_FRACTION_DECIMALS = 4;

/** A held-out fraction as the hash rule uses it: F = threshold / modulus. */
export interface DevFraction {
  fraction: number;
  modulus: number;
  threshold: number;
}

/** Checks F (0 < F < 1, at most 4 decimal places) and gives the hash rule's modulus and threshold. */
export function devFraction(fraction: number): DevFraction {
  if (!(fraction > 0 && fraction < 1)) {
    throw new RangeError(`dev fraction must be between 0 and 1 (exclusive), got ${fraction}`);
  }
  for (let decimals = 1; decimals <= MAX_FRACTION_DECIMALS; decimals++) {
    const modulus = 10 ** decimals;
    const threshold = Math.round(fraction * modulus);
    if (Math.abs(threshold - fraction * modulus) < 1e-9) return { fraction, modulus, threshold };
  }
  throw new RangeError(
    `dev fraction ${fraction} has more than ${MAX_FRACTION_DECIMALS} decimal places (e.g. 0.05, 0.1, 0.125)`,
  );
}

/** Whether the hash rule holds out an utterance with this transcript. */
export function isHeldOutByTranscript(transcript: string, rule: DevFraction): boolean {
  return crc32(transcript.toLowerCase()) % rule.modulus < rule.threshold;
}

export interface Split<T> {
  /** The utterances to train on. */
  train: T[];
  /** The utterances held out for evaluation. */
  eval: T[];
}

/** Splits `items` by the hash rule, keeping their order on each side. */
export function splitByTranscript<T extends { transcript: string }>(
  items: readonly T[],
  rule: DevFraction,
): Split<T> {
  const split: Split<T> = { train: [], eval: [] };
  for (const item of items) {
    (isHeldOutByTranscript(item.transcript, rule) ? split.eval : split.train).push(item);
  }
  return split;
}

/** Whether any item names its split (a manifest with a split column). */
export function hasSplitColumn(items: readonly { split?: CorpusSplit }[]): boolean {
  return items.some((u) => u.split !== undefined);
}

/** The items of one split value, in order. */
export function rowsOfSplit<T extends { split?: CorpusSplit }>(items: readonly T[], split: CorpusSplit): T[] {
  return items.filter((u) => u.split === split);
}

/**
 * Splits by the split column: train rows to train on, and held out the dev rows, or the test rows when there are
 * no dev rows (a corpus that ships only train and test, as fsdd does). `heldOut` says which.
 */
export function splitByColumn<T extends { split?: CorpusSplit }>(
  items: readonly T[],
): Split<T> & { heldOut: CorpusSplit } {
  const dev = rowsOfSplit(items, "dev");
  const heldOut = dev.length > 0 ? "dev" : "test";
  return {
    train: rowsOfSplit(items, "train"),
    eval: dev.length > 0 ? dev : rowsOfSplit(items, "test"),
    heldOut,
  };
}
