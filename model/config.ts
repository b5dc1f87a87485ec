/**
 * Model hyperparameters, the named presets, and their round trip through a checkpoint's `__metadata__`
 * (all values strings, as safetensors requires). The alphabet is recorded as `alphabet`, its characters in class
 * order as a JSON array (the blank is last, implied); a checkpoint without it has the tutorial's 29 classes.
 */
import {
  type Alphabet,
  ALPHABET_KEY,
  alphabetFromMetadata,
  alphabetToMetadata,
  TUTORIAL_ALPHABET,
} from "../data/alphabet.ts";

/** How the BiGRU layers run. */
export type GruLayout =
  /** Every layer runs over time and honours each sequence's valid length (pack_padded_sequence). */
  | "default"
  /** The tutorial exactly: unpacked, and layers after the first run across the batch (its batch_first bug). */
  | "tutorial";

/** The input features the model was trained on. */
export type FeatureKind = "mel" | "logmel";

export interface ModelConfig {
  nCnnLayers: number;
  nRnnLayers: number;
  rnnDim: number;
  nClass: number;
  nFeats: number;
  stride: number;
  dropout: number;
  gruLayout: GruLayout;
  features: FeatureKind;
  /** The output classes; `nClass` is always `alphabet.size`. */
  alphabet: Alphabet;
}

/** The tutorial's hyperparameters (what a checkpoint without metadata is taken to be). */
export const TUTORIAL_CONFIG: ModelConfig = {
  nCnnLayers: 3,
  nRnnLayers: 5,
  rnnDim: 512,
  nClass: 29,
  nFeats: 128,
  stride: 2,
  dropout: 0.1,
  gruLayout: "default",
  features: "mel",
  alphabet: TUTORIAL_ALPHABET,
};

export const PRESETS: Record<"tiny" | "small" | "tutorial", ModelConfig> = {
  tiny: { ...TUTORIAL_CONFIG, nCnnLayers: 1, nRnnLayers: 2, rnnDim: 128, features: "logmel" },
  small: { ...TUTORIAL_CONFIG, nCnnLayers: 2, nRnnLayers: 3, rnnDim: 256, features: "logmel" },
  tutorial: TUTORIAL_CONFIG,
};

/** The numeric and word-valued keys (the alphabet has its own). */
const KEYS: [Exclude<keyof ModelConfig, "alphabet">, string][] = [
  ["nCnnLayers", "n_cnn_layers"],
  ["nRnnLayers", "n_rnn_layers"],
  ["rnnDim", "rnn_dim"],
  ["nClass", "n_class"],
  ["nFeats", "n_feats"],
  ["stride", "stride"],
  ["dropout", "dropout"],
  ["gruLayout", "gru_layout"],
  ["features", "features"],
];

/** The metadata strings a checkpoint carries for this config. */
export function configToMetadata(c: ModelConfig): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, name] of KEYS) out[name] = String(c[k]);
  out[ALPHABET_KEY] = alphabetToMetadata(c.alphabet);
  return out;
}

/**
 * Reads a config from checkpoint metadata; missing keys take the tutorial's values. Without an `alphabet` key the
 * classes are the tutorial's, which a file whose n_class is not 29 cannot have: that is an error naming it.
 */
export function configFromMetadata(meta: Record<string, string>, file = "checkpoint"): ModelConfig {
  const c: ModelConfig = { ...TUTORIAL_CONFIG };
  for (const [k, name] of KEYS) {
    const v = meta[name];
    if (v === undefined) continue;
    if (k === "gruLayout") {
      if (v !== "default" && v !== "tutorial") {
        throw new Error(`${file}: gru_layout "${v}" is not default|tutorial`);
      }
      c.gruLayout = v;
    } else if (k === "features") {
      if (v !== "mel" && v !== "logmel") throw new Error(`${file}: features "${v}" is not mel|logmel`);
      c.features = v;
    } else {
      const n = Number(v);
      if (!Number.isFinite(n)) throw new Error(`${file}: metadata ${name}="${v}" is not a number`);
      (c[k] as number) = n;
    }
  }
  const recorded = meta[ALPHABET_KEY];
  if (recorded !== undefined) {
    c.alphabet = alphabetFromMetadata(recorded, file);
    if (meta.n_class === undefined) c.nClass = c.alphabet.size;
  } else if (c.nClass !== TUTORIAL_ALPHABET.size) {
    throw new Error(
      `${file}: n_class is ${c.nClass} but the metadata has no ${ALPHABET_KEY} (the characters of classes ` +
        `0..${c.nClass - 2} as a JSON array, the blank last); without one the model's classes are unknown`,
    );
  }
  validateConfig(c, file);
  return c;
}

export function validateConfig(c: ModelConfig, what = "config"): void {
  const ints: (keyof ModelConfig)[] = ["nCnnLayers", "nRnnLayers", "rnnDim", "nClass", "nFeats", "stride"];
  for (const k of ints) {
    const v = c[k] as number;
    if (!Number.isInteger(v) || v < (k === "nCnnLayers" ? 0 : 1)) {
      throw new Error(`${what}: ${k} = ${v} is invalid`);
    }
  }
  if (c.nFeats % 2 !== 0) {
    throw new Error(`${what}: nFeats must be even (the first conv halves it), got ${c.nFeats}`);
  }
  if (!(c.dropout >= 0 && c.dropout < 1)) throw new Error(`${what}: dropout ${c.dropout} must be in [0, 1)`);
  if (!c.alphabet || c.nClass !== c.alphabet.size) {
    throw new Error(
      `${what}: nClass = ${c.nClass} must equal the alphabet's size (${c.alphabet?.size ?? "no alphabet"}: ` +
        `its characters and the blank)`,
    );
  }
}

/** `c` with another alphabet, and the class count that goes with it. */
export function withAlphabet(c: ModelConfig, alphabet: Alphabet): ModelConfig {
  return { ...c, alphabet, nClass: alphabet.size };
}
