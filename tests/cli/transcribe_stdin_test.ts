/**
 * `transcribe -`: a 60 s WAV piped in is transcribed while it arrives (the first segment is printed before the
 * input ends) and the whole output equals what the same audio gives as a file.
 */
import * as assert from "node:assert/strict";
import { loadAudio } from "../../data/audio.ts";
import { monoWav } from "../../data/wav_write.ts";
import { TORCH_FIXTURES_DIR } from "../torch_fixtures.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const JOINED = new URL("../fixtures/fsdd_joined/", import.meta.url).pathname;
const FIXTURE_CHECKPOINT = new URL("pytorch_trained/model.safetensors", TORCH_FIXTURES_DIR).pathname;

/** A model that says spaces between words (trained on joined digits), when one has been committed. */
async function wordModel(): Promise<string | null> {
  for (const name of ["fsdd_digits", "fsdd_tiny"]) {
    const dir = new URL(`../fixtures/${name}/`, import.meta.url).pathname;
    try {
      for await (const e of Deno.readDir(dir)) if (e.name.endsWith(".safetensors")) return dir + e.name;
    } catch {
      // not there
    }
  }
  return null;
}
const WORD_MODEL = await wordModel();

/** About a minute of real speech: joined-digit recordings end to end, 0.8 s of silence between them. */
async function minuteWav(): Promise<Uint8Array> {
  const rows = (await Deno.readTextFile(`${JOINED}manifest.tsv`)).trim().split("\n").slice(1);
  const parts: Float32Array[] = [];
  let total = 0;
  for (const row of rows) {
    if (total >= 60 * 16000) break;
    const { waveform } = await loadAudio(JOINED + row.split("\t")[0], 16000);
    parts.push(waveform, new Float32Array(0.8 * 16000));
    total += waveform.length + 0.8 * 16000;
  }
  const all = new Float32Array(total);
  let at = 0;
  for (const p of parts) {
    all.set(p, at);
    at += p.length;
  }
  return monoWav(all);
}

function transcribeCommand(checkpoint: string, input: string, stdin: "piped" | "null") {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `${ROOT}cli/transcribe.ts`, "--checkpoint", checkpoint, "--format", "txt", input],
    stdin,
    stdout: "piped",
    stderr: "piped",
  });
}

/**
 * Pipes `wav` into `transcribe -`: all but the last 10 s, then (with `waitForLine`) waits until a line is printed
 * (or the child ends, or a generous deadline passes so that a failure cannot hang the suite), and only then
 * sends the rest and closes standard input.
 */
async function pipeSlowly(checkpoint: string, wav: Uint8Array, waitForLine: boolean) {
  const child = transcribeCommand(checkpoint, "-", "piped").spawn();
  const writer = child.stdin.getWriter();
  const holdBack = 10 * 16000 * 2;
  let stdout = "";
  let beforeEnd = "";
  let inputClosed = false;
  const reading = (async () => {
    const dec = new TextDecoder();
    for await (const b of child.stdout) {
      stdout += dec.decode(b, { stream: true });
      if (!inputClosed) beforeEnd = stdout;
    }
  })();
  const stderr = new Response(child.stderr).text();
  const first = wav.subarray(0, wav.length - holdBack);
  for (let at = 0; at < first.length; at += 32000) await writer.write(first.subarray(at, at + 32000));
  let ended = false;
  const status = child.status.then((s) => {
    ended = true;
    return s;
  });
  const deadline = Date.now() + 300_000;
  while (waitForLine && !ended && !stdout.includes("\n") && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 50));
  }
  if (!ended) {
    await writer.write(wav.subarray(wav.length - holdBack));
    inputClosed = true;
    await writer.close();
  }
  const { code } = await status;
  await reading;
  return { code, stdout, beforeEnd, stderr: await stderr };
}

async function asFile(checkpoint: string, wav: Uint8Array) {
  const file = await Deno.makeTempFile({ suffix: ".wav" });
  await Deno.writeFile(file, wav);
  const out = await transcribeCommand(checkpoint, file, "null").output();
  await Deno.remove(file);
  return { code: out.code, stdout: new TextDecoder().decode(out.stdout) };
}

Deno.test("transcribe -: a piped minute of WAV gives what the same audio gives as a file", async () => {
  const wav = await minuteWav();
  const piped = await pipeSlowly(FIXTURE_CHECKPOINT, wav, false);
  assert.equal(piped.code, 0, piped.stderr);
  assert.match(piped.stderr, /^transcribe: 1 of 1 input\(s\), 6\d\.\d s of audio in /m);
  const file = await asFile(FIXTURE_CHECKPOINT, wav);
  assert.equal(file.code, 0);
  assert.notEqual(file.stdout, "");
  assert.equal(piped.stdout, file.stdout);
});

Deno.test({
  name: "transcribe -: the first segment is printed before the input ends",
  ignore: WORD_MODEL === null,
  fn: async () => {
    const wav = await minuteWav();
    const piped = await pipeSlowly(WORD_MODEL!, wav, true);
    assert.equal(piped.code, 0, piped.stderr);
    const lines = piped.stdout.trimEnd().split("\n");
    assert.ok(lines.length >= 3, piped.stdout);
    assert.ok(piped.beforeEnd.includes("\n"), "no segment before standard input was closed");
    assert.equal(piped.stdout, (await asFile(WORD_MODEL!, wav)).stdout);
  },
});
