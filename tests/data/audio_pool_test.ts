import assert from "node:assert/strict";
import { join } from "node:path";
import { loadAudio } from "../../data/audio.ts";
import { AudioPool, type DecodeResult, defaultWorkerCount } from "../../data/audio_pool.ts";
import { sampleFlacs } from "./sample_flacs.ts";

const SAMPLES = sampleFlacs(6);

/** A temp folder with a truncated FLAC, a text file posing as audio, and the path of a missing file. */
async function badFiles(): Promise<{ dir: string; truncated: string; notAudio: string; missing: string }> {
  const dir = await Deno.makeTempDir({ prefix: "audio_pool_test_" });
  const bytes = await Deno.readFile(SAMPLES[0]);
  const truncated = join(dir, "truncated.flac");
  await Deno.writeFile(truncated, bytes.subarray(0, Math.floor(bytes.length / 2)));
  const notAudio = join(dir, "notes.flac");
  await Deno.writeTextFile(notAudio, "these are not samples\n");
  return { dir, truncated, notAudio, missing: join(dir, "missing.flac") };
}

function waveformOf(result: DecodeResult): Float32Array {
  assert.ok(result.ok, result.ok ? "" : `${result.file}: ${result.reason}`);
  return result.waveform;
}

Deno.test("the default worker count is 1 or 2", () => {
  const n = defaultWorkerCount();
  assert.ok(n === 1 || n === 2, `${n}`);
});

Deno.test("0, 1 and 2 workers decode the same waveforms as loadAudio", async () => {
  const expected = await Promise.all(SAMPLES.map(async (f) => (await loadAudio(f, 16000)).waveform));
  for (const workers of [0, 1, 2]) {
    const pool = new AudioPool({ workers });
    try {
      const results = await Promise.all(SAMPLES.map((f) => pool.decode(f)));
      for (let i = 0; i < SAMPLES.length; i++) {
        assert.equal(results[i].file, SAMPLES[i]);
        const result = results[i];
        assert.ok(result.ok && result.sampleRate === 16000);
        assert.deepEqual(waveformOf(results[i]), expected[i], `${workers} workers, ${SAMPLES[i]}`);
      }
      assert.equal(pool.pending, 0);
    } finally {
      await pool.close();
    }
  }
});

Deno.test("a bad file gives a failed result naming it and the reason; the pool goes on", async () => {
  const { dir, truncated, notAudio, missing } = await badFiles();
  for (const workers of [0, 1]) {
    const pool = new AudioPool({ workers });
    try {
      const [cut, text, gone, good] = await Promise.all(
        [truncated, notAudio, missing, SAMPLES[1]].map((f) => pool.decode(f)),
      );
      assert.ok(
        !cut.ok && cut.file === truncated && cut.errorName === "AudioFormatError",
        JSON.stringify(cut),
      );
      assert.match(cut.reason, /^at byte \d+: .+/);
      assert.ok(!text.ok && text.errorName === "AudioFormatError");
      assert.match(text.reason, /not a FLAC, WAV, MP3, Ogg Vorbis or Ogg Opus file/);
      assert.ok(!gone.ok && gone.errorName === "NotFound", JSON.stringify(gone));
      assert.ok(!gone.reason.includes(missing), gone.reason);
      assert.match(gone.reason, /No such file/);
      assert.ok(good.ok && good.waveform.length > 1000);
    } finally {
      await pool.close();
    }
  }
  await Deno.remove(dir, { recursive: true });
});

Deno.test("closing rejects what is still waiting; a closed pool refuses work", async () => {
  for (const workers of [0, 1]) {
    const pool = new AudioPool({ workers });
    const pending = SAMPLES.map((f) => pool.decode(f));
    const settled = Promise.allSettled(pending);
    await pool.close();
    const outcomes = await settled;
    assert.ok(outcomes.some((o) => o.status === "rejected"), `${workers} workers`);
    for (const o of outcomes) {
      if (o.status === "rejected") assert.match(String(o.reason), /closed before the file was decoded/);
    }
    await assert.rejects(pool.decode(SAMPLES[0]), /closed; cannot decode/);
    await pool.close();
  }
});

Deno.test("an aborted request is dropped from the queue and rejects", async () => {
  const pool = new AudioPool({ workers: 1 });
  try {
    const controller = new AbortController();
    const first = pool.decode(SAMPLES[0]);
    const queued = pool.decode(SAMPLES[1], controller.signal);
    const after = pool.decode(SAMPLES[2]);
    controller.abort();
    await assert.rejects(queued, (e: Error) => e.name === "AbortError");
    assert.ok((await first).ok && (await after).ok);
    await assert.rejects(pool.decode(SAMPLES[3], controller.signal), (e: Error) => e.name === "AbortError");
    assert.equal(pool.pending, 0);
  } finally {
    await pool.close();
  }
});

Deno.test("bad options are clear errors", () => {
  assert.throws(() => new AudioPool({ workers: -1 }), /workers must be an integer >= 0, got -1/);
  assert.throws(() => new AudioPool({ workers: 1.5 }), /got 1.5/);
});

Deno.test("a worker that dies fails its file and is replaced", async () => {
  const pool = new AudioPool({ workers: 1 });
  try {
    // Reach the worker directly: a malformed request is the only way to make the worker script throw (the
    // "Uncaught (in worker) TypeError: audio worker: malformed request null" printed is expected).
    const slots = (pool as unknown as { slots: { worker: Worker }[] }).slots;
    const first = slots[0].worker;
    const victim = pool.decode(SAMPLES[0]);
    first.postMessage(null);
    const results = await Promise.all([victim, pool.decode(SAMPLES[1])]);
    assert.notEqual(slots[0].worker, first);
    // The file in flight either finished before the crash or failed with the worker's death as its reason.
    const [a, b] = results;
    if (!a.ok) assert.match(a.reason, /the decoding worker died/);
    assert.ok(b.ok);
    assert.equal(pool.pending, 0);
  } finally {
    await pool.close();
  }
});

Deno.test("workers that keep dying without answering break the pool: decodes reject with the reason", async () => {
  const pool = new AudioPool({ workers: 1 });
  try {
    const slots = (pool as unknown as { slots: { worker: Worker }[] }).slots;
    for (let death = 1; death <= 4; death++) {
      const dying = slots[0].worker;
      dying.postMessage(null);
      while (slots[0].worker === dying && death < 4) await new Promise((r) => setTimeout(r, 5));
    }
    const deadline = Date.now() + 5000;
    let outcome: unknown = null;
    while (Date.now() < deadline) {
      try {
        await pool.decode(SAMPLES[0]);
      } catch (error) {
        outcome = error;
        break;
      }
      await new Promise((r) => setTimeout(r, 5));
    }
    assert.match(String(outcome), /decoding workers died 4 times in a row; last: the decoding worker died: /);
  } finally {
    await pool.close();
  }
});
