/**
 * Model hyperparameters, the named presets, and their round trip through a checkpoint's `__metadata__`
 * (all values strings, as safetensors requires).
 */

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
};

export const PRESETS: Record<"tiny" | "small" | "tutorial", ModelConfig> = {
  tiny: { ...TUTORIAL_CONFIG, nCnnLayers: 1, nRnnLayers: 2, rnnDim: 128, features: "logmel" },
  small: { ...TUTORIAL_CONFIG, nCnnLayers: 2, nRnnLayers: 3, rnnDim: 256, features: "logmel" },
  tutorial: TUTORIAL_CONFIG,
};

const KEYS: [keyof ModelConfig, string][] = [
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
  return out;
}

/** Reads a config from checkpoint metadata; missing keys take the tutorial's values. */
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
}
