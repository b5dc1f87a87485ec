/**
 * The train command's flags for other alphabets and for fine-tuning: `--alphabet`, `--init-from`, `--freeze`
 * (declared here, spread into cli/train_args.ts's spec), and what they parse to.
 */
import type { Flag, FlagValues } from "./flags.ts";

export const FINETUNE_FLAGS = {
  alphabet: {
    type: "path",
    group: "model",
    help:
      "the output classes: one symbol a line in class order, <space> for the word separator, <blank> as the " +
      "last line (see the README); recorded in the checkpoints",
    defaultText: "apostrophe, space, a-z (the tutorial's 29 classes); with --init-from, the checkpoint's",
  },
  "init-from": {
    type: "path",
    arg: "CK",
    group: "fine-tuning",
    help:
      "start from this checkpoint's weights: its architecture, every tensor whose name and shape match is " +
      "loaded and the rest re-initialised (listed); the learning-rate schedule starts afresh",
  },
  freeze: {
    type: "string",
    multiple: true,
    arg: "PART",
    group: "fine-tuning",
    help: "keep PART fixed (no gradient, no optimizer state, no weight decay): cnn = cnn.* and " +
      "rescnn_layers.*, rnn = fully_connected.* and birnn_layers.*, or a parameter name prefix; " +
      "comma-separated or repeated",
  },
} as const satisfies Record<string, Flag>;

/** What the fine-tuning flags parse to (part of TrainArgs, saved with the run so a resume repeats them). */
export interface FinetuneArgs {
  /** The alphabet file, when given. */
  alphabetFile?: string;
  /** The checkpoint to start from, when given. */
  initFrom?: string;
  /** `--freeze` entries, split at commas. */
  freeze: string[];
}

export function finetuneArgs(values: FlagValues<typeof FINETUNE_FLAGS>): FinetuneArgs {
  return {
    alphabetFile: values.alphabet,
    initFrom: values["init-from"],
    freeze: values.freeze.flatMap((v) => v.split(",")).map((v) => v.trim()).filter((v) => v !== ""),
  };
}
