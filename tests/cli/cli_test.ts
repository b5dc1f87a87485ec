/** The eval and transcribe commands end to end, on the PyTorch-trained fixture checkpoint and real clips. */
import * as assert from "node:assert/strict";
import { loadGreedyReferences, TORCH_FIXTURES_DIR } from "../torch_fixtures.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const CHECKPOINT = new URL("pytorch_trained/model.safetensors", TORCH_FIXTURES_DIR).pathname;
const SPEECH = new URL("../../../shared/speech/", import.meta.url).pathname;
const hasShared = await Deno.stat(SPEECH).then(() => true, () => false);

async function run(
  script: string,
  args: string[],
): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `${ROOT}${script}`, ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

Deno.test({
  name: "transcribe prints FILE<TAB>TRANSCRIPT as PyTorch's greedy decoding, and names unreadable files",
  ignore: !hasShared,
  fn: async () => {
    const refs = loadGreedyReferences().slice(0, 3);
    const files = refs.map((r) => SPEECH + r.file);
    const r = await run("cli/transcribe.ts", ["--checkpoint", CHECKPOINT, ...files, "/nonexistent.wav"]);
    assert.equal(r.code, 2, r.stderr);
    assert.deepEqual(r.stdout.trim().split("\n"), refs.map((ref, i) => `${files[i]}\t${ref.pytorchGreedy}`));
    assert.match(r.stderr, /skipping \/nonexistent\.wav/);
    assert.match(r.stderr, /1 file\(s\) could not be read/);
  },
});

Deno.test({
  name: "eval reports corpus-level and tutorial WER/CER and writes the predictions TSV",
  ignore: !hasShared,
  fn: async () => {
    const dir = await Deno.makeTempDir();
    const tsv = `${dir}/predictions.tsv`;
    const r = await run("cli/eval.ts", [
      "--checkpoint",
      CHECKPOINT,
      "--data",
      `${SPEECH}fsdd`,
      "--limit",
      "12",
      "--predictions",
      tsv,
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(
      r.stdout,
      /greedy: +WER [\d.]+ CER [\d.]+ \(corpus-level\) \| WER [\d.]+ CER [\d.]+ \(tutorial/,
    );
    const lines = (await Deno.readTextFile(tsv)).trim().split("\n");
    assert.equal(lines[0], "id\treference\thypothesis\tcer\twer");
    assert.equal(lines.length, 13);
    await Deno.remove(dir, { recursive: true });
  },
});

Deno.test("a missing checkpoint is one clear line and a non-zero exit", async () => {
  const r = await run("cli/transcribe.ts", ["--checkpoint", "/nonexistent.safetensors", "x.flac"]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /checkpoint not found: \/nonexistent\.safetensors/);
});

Deno.test("train --profile --memory prints the phase and kernel tables and the memory line (stderr)", async () => {
  const dir = await Deno.makeTempDir();
  const r = await run("train.ts", [
    ...["--limit", "10", "--epochs", "1", "--batch-size", "5", "--rnn-dim", "16", "--n-feats", "32"],
    ...["--eval-limit", "5", "--workers", "0", "--out", dir, "--profile", "--memory"],
  ]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /^profile: [\d.]+ s wall$/m);
  for (
    const phase of ["decode audio", "features", "forward", "backward", "optimizer", "readback", "checkpoint"]
  ) {
    assert.match(r.stderr, new RegExp(`^${phase} +[\\d.]+ +[\\d.]+% +\\d+$`, "m"), phase);
  }
  assert.match(r.stderr, /^eval > forward +[\d.]+ +[\d.]+% +\d+$/m);
  assert.match(r.stderr, /^kernel family +GPU s +share +launches$/m);
  for (const family of ["conv", "GRU step", "matmul", "mel\\/FFT", "CTC", "optimizer"]) {
    assert.match(r.stderr, new RegExp(`^${family} +[\\d.]+ +[\\d.]+% +[1-9]\\d*$`, "m"), family);
  }
  assert.match(r.stderr, /^GPU busy [\d.]+% of wall; GPU times by /m);
  assert.match(
    r.stderr,
    /^memory: peak GPU [\d.]+ [kMG]?B \(peak live [\d.]+ [kMG]?B\), peak RSS [\d.]+ [kMG]?B$/m,
  );
  assert.doesNotMatch(r.stdout, /^profile:|^memory:/m);
  await Deno.remove(dir, { recursive: true });
});

Deno.test({
  name: "eval --profile --memory prints the tables and the memory line (stderr)",
  ignore: !hasShared,
  fn: async () => {
    const dir = await Deno.makeTempDir();
    const r = await run("cli/eval.ts", [
      ...["--checkpoint", CHECKPOINT, "--data", `${SPEECH}fsdd`, "--limit", "4"],
      ...["--predictions", `${dir}/p.tsv`, "--profile", "--memory"],
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /^model \(features, forward, readback\) +[\d.]+ +[\d.]+% +\d+$/m);
    assert.match(r.stderr, /^matmul +[\d.]+ +[\d.]+% +[1-9]\d*$/m);
    assert.match(r.stderr, /^memory: peak GPU [\d.]+ [kMG]?B \(peak live [\d.]+ [kMG]?B\), peak RSS /m);
    await Deno.remove(dir, { recursive: true });
  },
});

Deno.test("transcribe: a long file in windows, --memory --profile, and out of GPU memory as one line", async () => {
  const dir = await Deno.makeTempDir();
  const sample = `${ROOT}data/sample/train/90001/1/`;
  const clips = [...Deno.readDirSync(sample)].map((e) => sample + e.name).sort().slice(0, 3);
  const r = await run("cli/transcribe.ts", [
    ...["--checkpoint", CHECKPOINT, "--window", "2", "--window-context", "0.4", "--batch-size", "2"],
    ...["--memory", "--profile", "--timestamps", ...clips],
  ]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.split("\n").filter((l) => l.startsWith(ROOT)).length, 3);
  assert.match(r.stderr, /^memory: peak GPU [\d.]+ [kMG]?B \(peak live [\d.]+ [kMG]?B\), peak RSS /m);
  for (const phase of ["decode audio", "features", "forward", "readback", "decode text"]) {
    assert.match(r.stderr, new RegExp(`^${phase} +[\\d.]+ +[\\d.]+% +\\d+$`, "m"), phase);
  }
  const tiny = await run("cli/transcribe.ts", [
    "--checkpoint",
    CHECKPOINT,
    "--memory-limit",
    "1MB",
    clips[0],
  ]);
  assert.match(tiny.stderr, /^transcribe: the model in .* alone needs more than --memory-limit/m);
  // The model fits (1.1 MB), its activations do not.
  const oom = await run("cli/transcribe.ts", [
    "--checkpoint",
    CHECKPOINT,
    "--memory-limit",
    "1.6MB",
    clips[0],
  ]);
  assert.equal(oom.code, 1);
  const lines = oom.stderr.trim().split("\n").filter((l) => !l.startsWith("webgpu:"));
  assert.equal(lines.length, 1, oom.stderr);
  assert.match(lines[0], /^transcribe: out of GPU memory .*lower --batch-size or --window/);
  const bad = await run("cli/transcribe.ts", [
    "--checkpoint",
    CHECKPOINT,
    "--memory-limit",
    "lots",
    clips[0],
  ]);
  assert.match(bad.stderr, /--memory-limit must be a size such as 800MB/);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("train: out of GPU memory is one line naming the batch and what to lower; no checkpoint is written", async () => {
  const dir = await Deno.makeTempDir();
  const r = await run("train.ts", [
    ...["--limit", "10", "--epochs", "1", "--batch-size", "5", "--rnn-dim", "16", "--n-feats", "32"],
    ...["--workers", "0", "--out", dir, "--memory-limit", "2MB"],
  ]);
  assert.equal(r.code, 1);
  assert.match(
    r.stderr,
    /^train: out of GPU memory near step \d+ \(batches of up to 5 utterances x \d+ frames\): lower --batch-size \(now 5\)/m,
  );
  assert.match(r.stderr, /checkpoints in .* are intact/);
  const left = [...Deno.readDirSync(`${dir}/checkpoints`)].map((e) => e.name);
  assert.ok(left.every((n) => !n.includes(".tmp")), `no half-written files: ${left}`);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("a malformed flag value is one line naming the flag, exit status 1, before any GPU work", async () => {
  const cases: [string, string[], RegExp][] = [
    [
      "cli/eval.ts",
      ["--checkpoint", CHECKPOINT, "--data", "d", "--limit", "x"],
      /^eval: --limit must be an integer >= 1, got "x"$/,
    ],
    ["cli/eval.ts", ["--alpha", "x"], /^eval: --alpha must be a finite number, got "x"$/],
    [
      "cli/transcribe.ts",
      ["--beam-width", "x", "a.wav"],
      /^transcribe: --beam-width must be an integer >= 1, got "x"$/,
    ],
    ["train.ts", ["--epochs", "x"], /^train: --epochs must be an integer >= 1, got "x"$/],
    ["cli/download.ts", ["--data"], /^download: --data needs a value/],
  ];
  for (const [script, args, pattern] of cases) {
    const r = await run(script, args);
    assert.equal(r.code, 1, `${script} ${args.join(" ")}: ${r.stderr}`);
    assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
    assert.match(r.stderr.trim(), pattern);
  }
});
