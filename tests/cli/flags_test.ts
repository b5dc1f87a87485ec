/** cli/flags.ts: parsing, checks and help derived from one declaration per flag; every CLI's flags walked. */
import * as assert from "node:assert/strict";
import { UsageError } from "../../cli/common.ts";
import {
  type CliSpec,
  DECODER_FLAGS,
  decoderFlagOptions,
  defineCli,
  describeRange,
  type Flag,
  helpText,
  parseFlags,
} from "../../cli/flags.ts";
import { DEFAULT_HOTWORD_BOOST } from "../../model/hotwords.ts";
import {
  parseTrainArgs,
  SAMPLE_DEFAULTS,
  TRAIN_HELP,
  TRAIN_SPEC,
  trainSpec,
  TUTORIAL_DEFAULTS,
} from "../../cli/train_args.ts";
import { EVAL_SPEC, parseEvalArgs } from "../../cli/eval.ts";
import { parseTranscribeArgs, TRANSCRIBE_SPEC } from "../../cli/transcribe.ts";
import { LM_SPEC, main as lmMain, parseLmArgs } from "../../cli/lm.ts";
import { DOWNLOAD_SPEC, parseDownloadArgs } from "../../cli/download.ts";

const SPEC = defineCli({
  usage: "usage: deno task demo [options] FILE...",
  intro: "A demo command.",
  positionals: "FILE...",
  flags: {
    "batch-size": { type: "integer", min: 1, default: 3, help: "items per batch" },
    order: { type: "integer", min: 1, max: 9, help: "the order" },
    alpha: { type: "number", help: "a weight" },
    dropout: { type: "number", min: 0, max: 1, maxExclusive: true, default: 0.1, help: "p", group: "model" },
    lr: { type: "number", min: 0, minExclusive: true, default: 5e-4, help: "learning rate", group: "model" },
    decoder: { type: "enum", choices: ["greedy", "beam"], default: "greedy", help: "decoding" },
    limit: { type: "size", help: "a cap" },
    name: { type: "string", short: "n", help: "a name" },
    text: { type: "path", multiple: true, help: "texts" },
    checkpoint: { type: "path", required: true, help: "the model" },
    verbose: { type: "boolean", short: "v", help: "talk more" },
  },
});

function fails(fn: () => unknown, pattern: RegExp): string {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof UsageError, `expected a UsageError, got ${e}`);
    assert.ok(!e.message.includes("\n"), `one line: ${e.message}`);
    assert.match(e.message, pattern);
    return e.message;
  }
  assert.fail(`expected a UsageError matching ${pattern}`);
}

const CK = ["--checkpoint", "m.safetensors"];

Deno.test("parseFlags: typed values, defaults, aliases, = values, negative numbers, repeats and --", () => {
  const p = parseFlags(SPEC, [
    ...CK,
    "--batch-size=8",
    "--alpha",
    "-1.5",
    "--decoder",
    "beam",
    "--limit",
    "1.5GB",
    "-n",
    "x",
    "--text",
    "a.txt",
    "--text=b.txt",
    "-v",
    "f1",
    "--order",
    "2",
    "--order",
    "4",
    "--",
    "--not-a-flag",
  ]);
  assert.equal(p.help, false);
  assert.deepEqual(p.positionals, ["f1", "--not-a-flag"]);
  const v = p.values;
  // The types come from the spec: these assignments would not compile otherwise.
  const batch: number = v["batch-size"];
  const decoder: "greedy" | "beam" = v.decoder;
  const texts: string[] = v.text;
  const verbose: boolean = v.verbose;
  const checkpoint: string = v.checkpoint;
  // @ts-expect-error: --alpha has no default, so it may be undefined
  const alpha: number = v.alpha;
  assert.deepEqual(
    { batch, decoder, texts, verbose, checkpoint, alpha, order: v.order, limit: v.limit, name: v.name },
    {
      batch: 8,
      decoder: "beam",
      texts: ["a.txt", "b.txt"],
      verbose: true,
      checkpoint: "m.safetensors",
      alpha: -1.5,
      order: 4,
      limit: 1.5e9,
      name: "x",
    },
  );
  const d = parseFlags(SPEC, CK).values;
  assert.deepEqual(
    [d["batch-size"], d.dropout, d.lr, d.decoder, d.verbose, d.text, d.alpha, d.limit],
    [3, 0.1, 5e-4, "greedy", false, [], undefined, undefined],
  );
});

Deno.test("parseFlags: every malformed value is one UsageError line naming the flag", () => {
  fails(
    () => parseFlags(SPEC, [...CK, "--batch-size", "x"]),
    /^--batch-size must be an integer >= 1, got "x"$/,
  );
  fails(() => parseFlags(SPEC, [...CK, "--batch-size", "1.5"]), /^--batch-size must be an integer >= 1/);
  fails(() => parseFlags(SPEC, [...CK, "--batch-size", "0"]), /^--batch-size must be an integer >= 1/);
  fails(() => parseFlags(SPEC, [...CK, "--batch-size="]), /^--batch-size must be an integer >= 1, got ""/);
  fails(
    () => parseFlags(SPEC, [...CK, "--order", "10"]),
    /^--order must be an integer from 1 to 9, got "10"/,
  );
  fails(() => parseFlags(SPEC, [...CK, "--alpha", "x"]), /^--alpha must be a finite number, got "x"/);
  fails(() => parseFlags(SPEC, [...CK, "--alpha", "NaN"]), /^--alpha must be a finite number/);
  fails(() => parseFlags(SPEC, [...CK, "--alpha", "1e999"]), /^--alpha must be a finite number/);
  fails(() => parseFlags(SPEC, [...CK, "--alpha", "0x10"]), /^--alpha must be a finite number/);
  fails(
    () => parseFlags(SPEC, [...CK, "--dropout", "1"]),
    /^--dropout must be a number in \[0, 1\), got "1"/,
  );
  fails(() => parseFlags(SPEC, [...CK, "--lr", "0"]), /^--lr must be a positive number, got "0"/);
  fails(() => parseFlags(SPEC, [...CK, "--decoder", "bem"]), /^--decoder must be greedy or beam, got "bem"/);
  fails(() => parseFlags(SPEC, [...CK, "--limit", "lots"]), /^--limit must be a size such as 800MB/);
  fails(() => parseFlags(SPEC, [...CK, "--verbose=yes"]), /^--verbose takes no value, got "yes"/);
  fails(() => parseFlags(SPEC, [...CK, "--alpha"]), /^--alpha needs a value \(--alpha X; see --help\)/);
  fails(() => parseFlags(SPEC, [...CK, "--name", "--verbose"]), /^--name needs a value/);
  fails(
    () => parseFlags(SPEC, [...CK, "--bacth-size", "3"]),
    /^unknown flag --bacth-size \(did you mean --batch-size\?/,
  );
  fails(() => parseFlags(SPEC, [...CK, "--frobnicate"]), /^unknown flag --frobnicate \(see --help\)/);
  fails(() => parseFlags(SPEC, [...CK, "-x"]), /^unknown flag -x/);
  fails(() => parseFlags(SPEC, [...CK, "--constructor"]), /^unknown flag --constructor/);
  fails(() => parseFlags(SPEC, []), /^--checkpoint is required \(see --help\)$/);
  const noPositionals = defineCli({ usage: "u", flags: { a: { type: "boolean", help: "" } } });
  fails(() => parseFlags(noPositionals, ["stray"]), /^unexpected argument "stray"/);
});

Deno.test("parseFlags: --help and -h skip the required flags", () => {
  assert.equal(parseFlags(SPEC, ["--help"]).help, true);
  assert.equal(parseFlags(SPEC, ["-h"]).help, true);
  assert.throws(() => defineCli({ usage: "u", flags: { help: { type: "boolean", help: "" } } }), /built in/);
});

Deno.test("describeRange says what a numeric flag accepts", () => {
  assert.equal(describeRange({ type: "integer", help: "" }), "an integer");
  assert.equal(describeRange({ type: "integer", min: 0, help: "" }), "an integer >= 0");
  assert.equal(describeRange({ type: "number", help: "" }), "a finite number");
  assert.equal(describeRange({ type: "number", min: 0, help: "" }), "a number >= 0");
  assert.equal(describeRange({ type: "number", min: 0, max: 1, help: "" }), "a number in [0, 1]");
});

Deno.test("helpText: usage, intro, grouped flags aligned with their defaults, wrapped to 110 columns", () => {
  const text = helpText(SPEC);
  const lines = text.split("\n");
  assert.equal(lines[0], "usage: deno task demo [options] FILE...");
  assert.equal(lines[2], "A demo command.");
  assert.ok(lines.includes("options:") && lines.includes("model:"));
  assert.ok(lines.includes("  --batch-size N          items per batch (default 3)"), text);
  assert.ok(lines.includes("  --lr X                  learning rate (default 5e-4)"), text);
  assert.ok(lines.includes("  --decoder greedy|beam   decoding (default greedy)"), text);
  assert.ok(lines.includes("  -n, --name NAME         a name"), text);
  assert.equal(lines[lines.length - 1], "  -h, --help              this text");
  assert.equal(lines[lines.length - 4], "model:");
  for (const l of TRAIN_HELP.split("\n").filter((l) => l.startsWith("  "))) assert.ok(l.length <= 110, l);
  // Wrapped lines continue under the description column.
  const wrapped = TRAIN_HELP.split("\n").findIndex((l) => l.startsWith("  --profile"));
  assert.match(TRAIN_HELP.split("\n")[wrapped + 1], /^ {25}\S/);
});

/** Each CLI: its spec, its parse function, and the smallest command line it accepts. */
const CLIS: { name: string; spec: CliSpec; parse: (args: string[]) => unknown; minimal: string[] }[] = [
  { name: "train", spec: TRAIN_SPEC, parse: (a) => parseTrainArgs(a), minimal: [] },
  { name: "eval", spec: EVAL_SPEC, parse: parseEvalArgs, minimal: ["--checkpoint", "c", "--data", "d"] },
  {
    name: "transcribe",
    spec: TRANSCRIBE_SPEC,
    parse: parseTranscribeArgs,
    minimal: ["--checkpoint", "c", "f.wav"],
  },
  { name: "lm", spec: LM_SPEC, parse: parseLmArgs, minimal: ["--text", "t.txt", "--out", "o.arpa"] },
  { name: "download", spec: DOWNLOAD_SPEC, parse: parseDownloadArgs, minimal: ["test-clean"] },
];

/** Values each kind of flag must refuse. */
function malformed(flag: Flag): string[] {
  switch (flag.type) {
    case "integer": {
      const bad = ["x", "1.5", "", "1O", "3 apples"];
      if (flag.min !== undefined) bad.push(String(flag.min - 1));
      if (flag.max !== undefined) bad.push(String(flag.max + 1));
      return bad;
    }
    case "number": {
      const bad = ["x", "NaN", "1e999", "", "1,5"];
      if (flag.min !== undefined) bad.push(String(flag.minExclusive ? flag.min : flag.min - 1));
      if (flag.max !== undefined) bad.push(String(flag.maxExclusive ? flag.max : flag.max + 1));
      return bad;
    }
    case "enum":
      return ["bogus", "", flag.choices[0].toUpperCase()];
    case "size":
      return ["lots", "0", "-5", "12XB", ""];
    default:
      return [];
  }
}

Deno.test("every flag of every CLI: a malformed value is one line naming the flag; help lists every flag", () => {
  let walked = 0;
  for (const cli of CLIS) {
    const help = helpText(cli.spec);
    for (const [name, flag] of Object.entries(cli.spec.flags)) {
      const where = `${cli.name} --${name}`;
      assert.match(help, new RegExp(`^  (-\\w, )?--${name}( |$)`, "m"), `${where} is in the help text`);
      for (const bad of malformed(flag)) {
        fails(() => cli.parse([...cli.minimal, `--${name}`, bad]), new RegExp(`^--${name} must be .*"`));
        fails(() => cli.parse([...cli.minimal, `--${name}=${bad}`]), new RegExp(`^--${name} must be `));
      }
      if (flag.type === "boolean") {
        fails(() => cli.parse([...cli.minimal, `--${name}=x`]), new RegExp(`^--${name} takes no value`));
      } else {
        fails(() => cli.parse([...cli.minimal, `--${name}`]), new RegExp(`^--${name} needs a value`));
      }
      // The declared default, and every choice, are accepted.
      const good = flag.type === "enum" ? [...flag.choices] : [];
      if (flag.type !== "boolean" && "default" in flag && flag.default !== undefined) {
        good.push(String(flag.default));
      }
      for (const value of good) cli.parse([...cli.minimal, `--${name}`, value]);
      walked++;
    }
    fails(() => cli.parse([...cli.minimal, "--no-such-flag"]), /^unknown flag --no-such-flag/);
    assert.match(help, /^ {2}-h, --help /m);
    const log = console.log;
    console.log = () => {}; // parseTrainArgs prints the help itself
    try {
      assert.equal(cli.parse(["--help"]), null);
    } finally {
      console.log = log;
    }
  }
  assert.ok(walked >= 60, `walked ${walked} flags`);
});

Deno.test("the CLIs' own checks: required flags, cross-flag rules, positionals", () => {
  fails(() => parseEvalArgs(["--data", "d"]), /^--checkpoint is required \(see --help\)$/);
  fails(
    () => parseEvalArgs(["--checkpoint", "c"]),
    /^--data is required: a LibriSpeech folder or a manifest/,
  );
  fails(() => parseEvalArgs(["--checkpoint", "c", "--data", "d", "--tune"]), /^--tune needs --lm$/);
  fails(() => parseTranscribeArgs(["--checkpoint", "c"]), /^no audio files given/);
  fails(
    () => parseTranscribeArgs(["--checkpoint", "c", "--window", "2", "--window-context", "1", "f"]),
    /^--window \/ --window-context: windows of 2 s cannot keep 1 s/,
  );
  fails(() => parseDownloadArgs([]), /^name at least one subset/);
  fails(() => parseDownloadArgs(["test-dirty"]), /^unknown subset "test-dirty"/);
  fails(() => parseTrainArgs(["--resume"]), /^--resume needs --out DIR/);
  fails(() => parseTrainArgs(["--n-feats", "3"]), /nFeats must be even/);
  const e = parseEvalArgs(["--checkpoint", "c", "--data", "d", "--beta", "-1", "--limit", "4"])!;
  assert.deepEqual([e.beta, e.limit, e.alpha, e["beam-width"], e.decoder], [-1, 4, undefined, 100, "greedy"]);
  const t = parseTranscribeArgs(["--checkpoint", "c", "--window", "2", "--window-context", "0.4", "a", "b"])!;
  assert.deepEqual(t.files, ["a", "b"]);
  assert.deepEqual(parseLmArgs(["--text", "a", "--text", "b", "--out", "o"])!.text, ["a", "b"]);
  assert.equal(parseDownloadArgs(["test-clean"])!.data, "data");
});

Deno.test("train: data-dependent defaults, --specaugment/--no-specaugment, and the args' shape", () => {
  const sample = SAMPLE_DEFAULTS;
  const s = parseTrainArgs([], sample)!;
  assert.deepEqual(
    [s.configName, s.epochs, s.batchSize, s.lr, s.clipGradNorm, s.specAugment, s.bucketed],
    ["tiny", 5, 8, 3e-3, 400, false, true],
  );
  const c = s.config;
  assert.deepEqual([c.nCnnLayers, c.nRnnLayers, c.rnnDim, c.nFeats], [0, 2, 64, 32]);
  // A size flag wins over the recipe's; a --config given (even its own) leaves the recipe's sizes out.
  const wider = parseTrainArgs(["--rnn-dim", "128", "--n-cnn-layers", "1"], sample)!.config;
  assert.deepEqual([wider.nCnnLayers, wider.rnnDim, wider.nFeats], [1, 128, 32]);
  const tiny = parseTrainArgs(["--config", "tiny"], sample)!.config;
  assert.deepEqual([tiny.nCnnLayers, tiny.rnnDim, tiny.nFeats], [1, 128, 128]);
  assert.equal(parseTrainArgs(["--specaugment"], sample)!.specAugment, true);
  const t = parseTrainArgs([
    "--no-specaugment",
    "--rnn-dim",
    "16",
    "--memory-limit",
    "2GiB",
    "--out",
    "o",
    "--resume",
  ])!;
  assert.deepEqual([t.specAugment, t.config.rnnDim, t.memoryLimit, t.resume], [false, 16, 2 ** 31, true]);
  assert.deepEqual(Object.keys(parseTrainArgs([])!).sort(), [
    "alphabetFile",
    "anneal",
    "batchSize",
    "bucketed",
    "checkpointEvery",
    "clipGradNorm",
    "config",
    "configName",
    "data",
    "dev",
    "devFraction",
    "devRole",
    "download",
    "epochs",
    "evalLimit",
    "freeze",
    "gradShards",
    "hangTimeout",
    "initFrom",
    "keep",
    "limit",
    "logEvery",
    "lr",
    "memory",
    "memoryLimit",
    "modelFlags",
    "out",
    "profile",
    "resume",
    "seed",
    "skipInvalid",
    "specAugment",
    "testSubset",
    "train",
    "trainSubset",
    "workers",
  ]);
  // --help shows the tutorial's defaults whatever the data.
  assert.equal(helpText(trainSpec(TUTORIAL_DEFAULTS)), TRAIN_HELP);
  assert.match(TRAIN_HELP, /^ {2}--epochs N {13}default 10$/m);
});

Deno.test("lm: a bad value is one line and exit status 2", async () => {
  const errors: string[] = [];
  const original = console.error;
  console.error = (...a: unknown[]) => errors.push(a.join(" "));
  try {
    assert.equal(await lmMain(["--text", "t.txt", "--order", "x", "--out", "o.arpa"]), 2);
  } finally {
    console.error = original;
  }
  assert.deepEqual(errors, ['lm: --order must be an integer from 1 to 9, got "x"']);
});

Deno.test("decoder flags: --nbest, repeatable --hotword, --hotwords FILE and --confidence-calibration", async () => {
  const spec = defineCli({ usage: "usage: x", flags: DECODER_FLAGS });
  const parse = (args: string[]) => decoderFlagOptions(parseFlags(spec, args).values);
  assert.deepEqual(await parse([]), { nBest: 1 });
  const dir = await Deno.makeTempDir();
  try {
    const file = `${dir}/hot.txt`;
    await Deno.writeTextFile(file, "# phrases\nnew york:2\n");
    const o = await parse([
      "--nbest",
      "5",
      "--hotword",
      "seven",
      "--hotword=eight:3.5",
      "--hotwords",
      file,
      "--confidence-calibration",
      "0.8,-0.1",
    ]);
    assert.deepEqual(o, {
      nBest: 5,
      hotwords: [
        { phrase: "seven", boost: DEFAULT_HOTWORD_BOOST },
        { phrase: "eight", boost: 3.5 },
        { phrase: "new york", boost: 2 },
      ],
      calibration: { slope: 0.8, offset: -0.1 },
      decoder: "beam",
    });
    await Deno.writeTextFile(file, "ok\nbad:\n");
    await assert.rejects(() => parse(["--hotwords", file]), (e: Error) => {
      assert.ok(e instanceof UsageError);
      assert.equal(
        e.message,
        `--hotwords: ${file}:2: hotword "bad:": the boost after ":" must be a positive number, got ""`,
      );
      return true;
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  await assert.rejects(() => parse(["--hotword", "x:0"]), /^UsageError: --hotword: hotword "x:0": the boost/);
  await assert.rejects(
    () => parse(["--hotwords", "/no/such/file"]),
    /^UsageError: --hotwords: .*No such file/,
  );
  await assert.rejects(
    () => parse(["--confidence-calibration", "2"]),
    /^UsageError: --confidence-calibration: expected/,
  );
  assert.deepEqual(await parse(["--nbest", "3"]), { nBest: 3, decoder: "beam" });
  assert.throws(
    () => parseFlags(spec, ["--nbest", "0"]),
    /^UsageError: --nbest must be an integer >= 1, got "0"/,
  );
});
