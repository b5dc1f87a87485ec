/**
 * `deno task download [--data DIR] SUBSET...`: fetches LibriSpeech subsets (train-clean-100, test-clean, ...)
 * from openslr into DIR/LibriSpeech/<subset>, resuming a partial download and checking the published MD5.
 */
import { parseArgs } from "node:util";
import { LIBRISPEECH_SUBSETS } from "../data/download.ts";
import { runCli, UsageError } from "./common.ts";
import { download } from "./train_data.ts";

const HELP = `usage: deno task download [--data DIR] SUBSET...

Downloads LibriSpeech subsets from openslr into DIR/LibriSpeech/<subset> (DIR defaults to ./data), resuming an
interrupted download and checking its MD5, extracting while it streams.

subsets: ${Object.keys(LIBRISPEECH_SUBSETS).join(", ")}
  --base URL   a mirror to download from instead of openslr`;

export async function main(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      data: { type: "string", default: "data" },
      base: { type: "string" },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help) {
    console.log(HELP);
    return 0;
  }
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
  for (const subset of positionals) await download(subset, values.data, values.base);
  return 0;
}

if (import.meta.main) await runCli("download", () => main(Deno.args));
