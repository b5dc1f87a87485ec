/**
 * Fine-tuning end to end with the train CLI on real speech (spoken digits): a model trained on words is
 * fine-tuned with an alphabet that adds the digits 0-9 (transcripts written as numerals) and `--freeze cnn`.
 * Only `classifier.3.*` changes shape; every `cnn.*` and `rescnn_layers.*` tensor is bit-identical to the base
 * after the run; the checkpoint has the names and shapes of PyTorch's model with n_class=39 (so it loads with
 * strict=True: tests/fixtures/finetune/strict_load.py); a fine-tuning run resumed from a mid-run checkpoint logs
 * the same losses as the uninterrupted one.
 */
import { deepEqual, equal, ok } from "node:assert/strict";
import { join } from "node:path";
import { loadSafetensorsFile } from "../../model/safetensors.ts";

const TRAIN = new URL("../../train.ts", import.meta.url).pathname;
const FIXTURES = new URL("../fixtures/finetune/", import.meta.url).pathname;
const FSDD = new URL("../../../shared/speech/fsdd/librispeech/", import.meta.url).pathname;
const MICRO = [
  "--config",
  "tiny",
  "--rnn-dim",
  "16",
  "--n-feats",
  "32",
  "--workers",
  "0",
  "--eval-limit",
  "5",
];
const DIGIT_WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"];

async function train(args: string[]): Promise<string> {
  const r = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", TRAIN, ...MICRO, ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const out = new TextDecoder().decode(r.stdout);
  equal(r.code, 0, `${out}\n${new TextDecoder().decode(r.stderr)}`);
  return out;
}

/** 20 clips of one FSDD speaker in LibriSpeech layout, each transcript its digit as a numeral ("7"). */
async function digitsCorpus(root: string): Promise<string> {
  const src = join(FSDD, "90003/1");
  const dst = join(root, "digits/90003/1");
  await Deno.mkdir(dst, { recursive: true });
  const lines = (await Deno.readTextFile(join(src, "90003-1.trans.txt"))).trim().split("\n");
  const chosen = lines.filter((_, i) => i % 15 === 0).slice(0, 20);
  const out: string[] = [];
  for (const line of chosen) {
    const [id, word] = line.split(" ");
    await Deno.copyFile(join(src, `${id}.flac`), join(dst, `${id}.flac`));
    out.push(`${id} ${DIGIT_WORDS.indexOf(word.toLowerCase())}`);
  }
  ok(out.every((l) => /^\S+ \d$/.test(l)), out.join("\n"));
  await Deno.writeTextFile(join(dst, "90003-1.trans.txt"), out.join("\n") + "\n");
  return join(root, "digits");
}

async function losses(dir: string): Promise<number[]> {
  const lines = (await Deno.readTextFile(`${dir}/metrics.jsonl`)).trim().split("\n");
  return lines.map((l) => JSON.parse(l)).filter((r) => r.type === "train").map((r) => r.loss);
}

Deno.test("fine-tuning with the digits added and --freeze cnn: only classifier.3 reshaped, cnn bit-identical, resume exact", async () => {
  const root = await Deno.makeTempDir();
  await train([
    "--data",
    join(FSDD, ".."),
    "--limit",
    "20",
    "--epochs",
    "1",
    "--batch-size",
    "10",
    "--out",
    `${root}/base`,
  ]);
  const baseCk = `${root}/base/checkpoints/step-000002.safetensors`;
  const digits = await digitsCorpus(root);
  const fine = [
    "--data",
    digits,
    "--init-from",
    baseCk,
    "--alphabet",
    `${FIXTURES}alphabet_digits.txt`,
    "--freeze",
    "cnn",
    "--rnn-dim",
    "32",
    "--epochs",
    "2",
    "--batch-size",
    "5",
    "--log-every",
    "1",
    "--checkpoint-every",
    "1",
    "--keep",
    "20",
  ];
  const log = await train([...fine, "--out", `${root}/a`]);
  ok(
    log.includes("re-initialised (2):\n    classifier.3.weight: checkpoint has [29, 16], the model [39, 16]"),
    log,
  );
  ok(log.includes("frozen (--freeze cnn): 10 tensors"), log);
  ok(log.includes("--init-from: the model is the checkpoint's, so --rnn-dim 32 is not used"), log);
  ok(log.includes("39 classes"), log);

  const base = await loadSafetensorsFile(baseCk);
  const tuned = await loadSafetensorsFile(`${root}/a/checkpoints/step-000008.safetensors`);
  const torch = JSON.parse(await Deno.readTextFile(`${FIXTURES}torch_state_dict_39.json`));
  // safetensors files list tensors by name; the state_dict order is checked in init_from_test.ts.
  const byName = (a: { name: string }, b: { name: string }) => a.name < b.name ? -1 : 1;
  deepEqual(
    [...tuned.tensors].map(([name, t]) => ({ name, shape: t.shape })).sort(byName),
    torch.tensors.sort(byName),
  );
  equal(tuned.metadata.n_class, "39");
  deepEqual(JSON.parse(tuned.metadata.alphabet).slice(28), [..."0123456789"]);
  for (const [name, t] of tuned.tensors) {
    const before = base.tensors.get(name)!;
    const reshaped = before.shape.join() !== t.shape.join();
    equal(reshaped, name.startsWith("classifier.3."), `${name} ${before.shape} -> ${t.shape}`);
    if (reshaped) continue;
    const a = new Uint8Array(before.data.buffer, before.data.byteOffset, before.data.byteLength);
    const b = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
    const identical = a.every((v, i) => v === b[i]);
    equal(identical, /^(cnn|rescnn_layers)\./.test(name), `${name}: ${identical ? "unchanged" : "trained"}`);
  }

  // Resume: the run folder as it was at step 3 (later checkpoints gone), continued with --resume.
  const expected = await losses(`${root}/a`);
  equal(expected.length, 8);
  await Deno.mkdir(`${root}/b`);
  await new Deno.Command("cp", { args: ["-r", `${root}/a/.`, `${root}/b`] }).output();
  for await (const e of Deno.readDir(`${root}/b/checkpoints`)) {
    const step = /^step-(\d+)\./.exec(e.name);
    if (!step || Number(step[1]) > 3) await Deno.remove(`${root}/b/checkpoints/${e.name}`);
  }
  const resumed = await train(["--out", `${root}/b`, "--resume"]);
  ok(/resuming at step 3 /.test(resumed), resumed);
  ok(resumed.includes("frozen (--freeze cnn): 10 tensors"), resumed);
  deepEqual(await losses(`${root}/b`), expected);
  await Deno.remove(root, { recursive: true });
});
