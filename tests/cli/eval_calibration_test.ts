/**
 * Calibrated word confidence on real speech, as `deno task eval` reports it: the digits model
 * (tests/fixtures/fsdd_digits, trained on the spoken-digit dataset's training takes) is calibrated on held-out
 * training takes (5-7 of each digit and speaker, which it never trained on), and with that map its expected
 * calibration error on the dataset's 300 test clips (tests/fixtures/manifests/fsdd.csv's test rows) is at most 0.1.
 */
import * as assert from "node:assert/strict";
import { DIGITS_CHECKPOINT, exists, FSDD, FSDD_CSV, haveFsddDigits } from "./fsdd_digits_data.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const available = await haveFsddDigits("eval_calibration_test");

const DIGITS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"];

/** A DeepSpeech CSV of the isolated clips of takes 5-7 (utterance n: digit n / 50, take n % 50). */
async function heldOutTakes(dir: string): Promise<string> {
  const rows = ["wav_filename,transcript"];
  for (const speaker of [...Deno.readDirSync(FSDD)].map((e) => e.name).sort()) {
    for (let n = 0; n < 500; n++) {
      if (n % 50 < 5 || n % 50 > 7) continue;
      const file = `${FSDD}${speaker}/1/${speaker}-1-${String(n).padStart(4, "0")}.flac`;
      if (await exists(file)) rows.push(`${file},${DIGITS[Math.floor(n / 50)]}`);
    }
  }
  const csv = `${dir}/held_out.csv`;
  await Deno.writeTextFile(csv, rows.join("\n") + "\n");
  return csv;
}

async function evaluate(args: string[]): Promise<{ ece: number; fitted: string; words: number }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `${ROOT}cli/eval.ts`, "--checkpoint", DIGITS_CHECKPOINT, ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  assert.equal(out.code, 0, text);
  const m = text.match(/ECE (\d\.\d+) \(10 bins\) \| (\d+) words.*--confidence-calibration (\S+)/);
  assert.ok(m, text);
  return { ece: Number(m[1]), words: Number(m[2]), fitted: m[3] };
}

Deno.test({
  name: "eval: calibrated on held-out training takes, the digits model's ECE on the 300 test clips is <= 0.1",
  ignore: !available,
  fn: async () => {
    const dir = await Deno.makeTempDir();
    try {
      const dev = await evaluate([
        "--data",
        await heldOutTakes(dir),
        "--split",
        "all",
        "--predictions",
        `${dir}/dev.tsv`,
      ]);
      assert.equal(dev.words, 180);
      const test = await evaluate([
        "--data",
        FSDD_CSV,
        "--split",
        "test",
        "--confidence-calibration",
        dev.fitted,
        "--predictions",
        `${dir}/test.tsv`,
      ]);
      assert.equal(test.words, 300);
      assert.ok(test.ece <= 0.1, `ECE ${test.ece} with --confidence-calibration ${dev.fitted}`);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
