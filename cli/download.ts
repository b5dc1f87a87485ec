/**
 * `deno task download [--data DIR] SUBSET...`: fetches LibriSpeech subsets (train-clean-100, test-clean, ...)
 * from openslr into DIR/LibriSpeech/<subset>, resuming a partial download and checking the published MD5.
 */
import { LIBRISPEECH_SUBSETS } from "../data/download.ts";
import { runCli, UsageError } from "./common.ts";
import { download } from "./train_data.ts";
import { defineCli, helpText, parseFlags } from "./flags.ts";

/** The download command's flags; the subsets are positionals. */
export const DOWNLOAD_SPEC = defineCli({
  usage: "usage: deno task download [--data DIR] SUBSET...",
  intro:
    `Downloads LibriSpeech subsets from openslr into DIR/LibriSpeech/<subset> (DIR defaults to ./data), resuming an
interrupted download and checking its MD5, extracting while it streams.

subsets: ${Object.keys(LIBRISPEECH_SUBSETS).join(", ")}`,
  positionals: "SUBSET...",
  flags: {
    data: { type: "path", arg: "DIR", default: "data", help: "the folder to download into" },
    base: { type: "string", arg: "URL", help: "a mirror to download from instead of openslr" },
  },
});

/** Parses and checks the command line; null when --help was given (the caller prints it). */
export function parseDownloadArgs(args: readonly string[]) {
  const { values, positionals, help } = parseFlags(DOWNLOAD_SPEC, args);
  if (help) return null;
  if (positionals.length === 0) {
    throw new UsageError("name at least one subset, e.g. train-clean-100 (see --help)");
  }
  for (const subset of positionals) {
    if (!(subset in LIBRISPEECH_SUBSETS)) {
      throw new UsageError(
        `unknown subset "${subset}": expected one of ${Object.keys(LIBRISPEECH_SUBSETS).join(", ")}`,
      );
    }
  }
  return { ...values, subsets: positionals };
}

export async function main(args: string[]): Promise<number> {
  const values = parseDownloadArgs(args);
  if (!values) {
    console.log(helpText(DOWNLOAD_SPEC));
    return 0;
  }
  for (const subset of values.subsets) await download(subset, values.data, values.base);
  return 0;
}

if (import.meta.main) await runCli("download", () => main(Deno.args));
