import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { encodeRecord, MetricsLog, ofType, parseMetrics, readMetrics } from "../../cli/metrics_log.ts";

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "metrics_test_" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("metrics log: append and read back, non-finite values survive", async () => {
  await withDir(async (dir) => {
    let t = 100;
    const log = await MetricsLog.open(dir, { now: () => t++ });
    log.append({ type: "run", config: { rnn_dim: 512 } });
    log.train(1, 1, 3.5, 1e-4);
    log.train(2, 1, NaN, 2e-4, { grad_norm: Infinity });
    log.eval(2, 1, { cer: 0.5, wer: 0.9, cer_tutorial: 0.45, wer_tutorial: undefined, loss: 1.25 });
    log.close();
    const text = await Deno.readTextFile(`${dir}/metrics.jsonl`);
    assertEquals(
      text.split("\n")[2],
      '{"type":"train","step":2,"epoch":1,"loss":"NaN","lr":0.0002,"grad_norm":"Infinity","time":102}',
    );
    const { records, skipped, truncatedTail } = await readMetrics(`${dir}/metrics.jsonl`);
    assertEquals(skipped, []);
    assertEquals(truncatedTail, false);
    assertEquals(records, [
      { type: "run", config: { rnn_dim: 512 }, time: 100 },
      { type: "train", step: 1, epoch: 1, loss: 3.5, lr: 1e-4, time: 101 },
      { type: "train", step: 2, epoch: 1, loss: NaN, lr: 2e-4, grad_norm: Infinity, time: 102 },
      { type: "eval", step: 2, epoch: 1, cer: 0.5, wer: 0.9, cer_tutorial: 0.45, loss: 1.25, time: 103 },
    ]);
    assertEquals(ofType(records, "eval").map((r) => r.cer), [0.5]);
    assertEquals(ofType(records, "train").map((r) => r.step), [1, 2]);
  });
});

Deno.test("metrics log: a cut last line is ignored on read and removed before appending", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/metrics.jsonl`;
    const good = encodeRecord({ type: "train", step: 1, epoch: 1, loss: 2, lr: 1e-3, time: 5 });
    await Deno.writeTextFile(path, good + '{"type":"train","step":2,"ep');
    const parsed = await readMetrics(path);
    assertEquals(parsed.truncatedTail, true);
    assertEquals(parsed.skipped, []);
    assertEquals(parsed.records.length, 1);
    const log = await MetricsLog.open(dir, { now: () => 7 });
    log.train(2, 1, 1.5, 1e-3);
    log.close();
    assertEquals(
      await Deno.readTextFile(path),
      good + encodeRecord({
        type: "train",
        step: 2,
        epoch: 1,
        loss: 1.5,
        lr: 1e-3,
        time: 7,
      }),
    );
    // A complete last record that only lacks its newline is kept.
    await Deno.writeTextFile(path, good.trimEnd());
    (await MetricsLog.open(dir)).close();
    assertEquals(await Deno.readTextFile(path), good);
  });
});

Deno.test("metrics log: resuming drops records after the checkpoint's step, keeps bad middle lines", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/metrics.jsonl`;
    const lines = [
      encodeRecord({ type: "run", time: 1 }),
      encodeRecord({ type: "train", step: 10, epoch: 1, loss: 2, lr: 1, time: 2 }),
      "garbage\n",
      encodeRecord({ type: "eval", step: 10, epoch: 1, cer: 0.5, wer: 0.8, time: 3 }),
      encodeRecord({ type: "train", step: 11, epoch: 2, loss: 1.9, lr: 1, time: 4 }),
      encodeRecord({ type: "eval", step: 20, epoch: 2, cer: 0.4, wer: 0.7, time: 5 }),
    ];
    await Deno.writeTextFile(path, lines.join("") + '{"type":"tr');
    const before = await readMetrics(path, { upToStep: 10 });
    assertEquals(before.records.map((r) => [r.type, r.step]), [["run", undefined], ["train", 10], [
      "eval",
      10,
    ]]);
    assertEquals(before.skipped.map((s) => [s.line, s.text]), [[3, "garbage"]]);
    const log = await MetricsLog.open(dir, { resumeStep: 10, now: () => 9 });
    log.append({ type: "resume", step: 10 });
    log.close();
    assertEquals(
      await Deno.readTextFile(path),
      lines.slice(0, 4).join("") + encodeRecord({ type: "resume", step: 10, time: 9 }),
    );
    // No leftover temporary files.
    assertEquals([...Deno.readDirSync(dir)].map((e) => e.name), ["metrics.jsonl"]);
  });
});

Deno.test("metrics log: parse edge cases", async () => {
  assertEquals(parseMetrics(""), { records: [], skipped: [], truncatedTail: false });
  const p = parseMetrics('[1]\n{"step":1}\n{"type":"x","step":"2"}\n\n{"type":"x"}\n');
  assertEquals(p.records, [{ type: "x" }]);
  assertEquals(p.skipped.map((s) => s.line), [1, 2, 3]);
  assertEquals(p.truncatedTail, false);
  assertEquals((await readMetrics("/nonexistent/metrics.jsonl")).records, []);
});
