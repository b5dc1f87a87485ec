/**
 * The deterministic evaluation splits of our corpora. Each rule looks only at an utterance's own id or text,
 * so a split never depends on listing order or on which other files are present.
 *
 * - fsdd: test = recording index 0-4 of each digit and speaker. Utterance numbers are digit * 50 + index, so
 *   test is `utteranceId % 50 < 5` (300 test, 2700 train).
 * - rhasspy-cathy: dev = utterances whose lowercase transcript has CRC-32 % 10 == 0. Prompts repeat across takes;
 *   splitting by text keeps every take of a prompt on the same side.
 * - generic: the folder is one set, used whole for whichever role it is given.
 */

import { crc32 } from "./crc32.ts";

export type SplitScheme = "fsdd" | "rhasspy-cathy" | "generic";
export const SPLIT_SCHEMES: readonly SplitScheme[] = ["fsdd", "rhasspy-cathy", "generic"];

/** What a split rule needs to know about an utterance (LibriSpeech's fields). */
export interface SplitKey {
  utteranceId: number;
  transcript: string;
}

/** fsdd: recording index 0-4 of each digit and speaker is test. */
export function isFsddTest(utteranceId: number): boolean {
  return utteranceId % 50 < 5;
}

/** rhasspy-cathy: a prompt is dev when the CRC-32 of its lowercase UTF-8 text is divisible by 10. */
export function isCathyDev(transcript: string): boolean {
  return crc32(transcript.toLowerCase()) % 10 === 0;
}

/** Whether the utterance is held out for evaluation under `scheme`; generic holds out nothing. */
export function isHeldOut(scheme: SplitScheme, key: SplitKey): boolean {
  switch (scheme) {
    case "fsdd":
      return isFsddTest(key.utteranceId);
    case "rhasspy-cathy":
      return isCathyDev(key.transcript);
    case "generic":
      return false;
  }
}

export interface Split<T> {
  /** The utterances to train on. */
  train: T[];
  /** The utterances to evaluate on (fsdd "test", rhasspy-cathy "dev"; for generic, everything). */
  eval: T[];
}

/**
 * Splits `items` under `scheme`, keeping their order. For generic both sides are the whole list: the folder's
 * role (training set, or an evaluation set such as test-clean) is decided by the caller, not by a rule.
 */
export function splitCorpus<T extends SplitKey>(items: readonly T[], scheme: SplitScheme): Split<T> {
  if (scheme === "generic") return { train: [...items], eval: [...items] };
  const train: T[] = [];
  const held: T[] = [];
  for (const item of items) (isHeldOut(scheme, item) ? held : train).push(item);
  return { train, eval: held };
}

/** The scheme for a corpus path: a path naming fsdd or rhasspy-cathy gets its rule, anything else generic. */
export function schemeForPath(path: string): SplitScheme {
  const parts = path.replaceAll("\\", "/").split("/");
  if (parts.includes("fsdd")) return "fsdd";
  if (parts.includes("rhasspy-cathy")) return "rhasspy-cathy";
  return "generic";
}

/** Parses a scheme name, e.g. from a command-line flag. */
export function parseSplitScheme(name: string): SplitScheme {
  if ((SPLIT_SCHEMES as readonly string[]).includes(name)) return name as SplitScheme;
  throw new Error(`unknown split scheme "${name}": expected one of ${SPLIT_SCHEMES.join(", ")}`);
}
