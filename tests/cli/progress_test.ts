import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { formatDuration, formatRate, formatValue, Progress } from "../../cli/progress.ts";

class FakeWriter {
  text = "";
  private decoder = new TextDecoder();
  writeSync(bytes: Uint8Array): number {
    // Accept at most 7 bytes a call, to exercise partial writes.
    const n = Math.min(7, bytes.length);
    this.text += this.decoder.decode(bytes.subarray(0, n), { stream: true });
    return n;
  }
}

function fakeClock(): { now: () => number; advance: (ms: number) => void } {
  let t = 1000;
  return { now: () => t, advance: (ms) => (t += ms) };
}

Deno.test("formatting helpers", () => {
  assertEquals(formatDuration(0), "0:00");
  assertEquals(formatDuration(75.4), "1:15");
  assertEquals(formatDuration(3600 + 62), "1:01:02");
  assertEquals(formatDuration(NaN), "--:--");
  assertEquals(formatDuration(Infinity), "--:--");
  assertEquals(formatValue("loss", 1.23456), "1.235");
  assertEquals(formatValue("loss", 123.456), "123.5");
  assertEquals(formatValue("loss", 0.000123), "1.230e-4");
  assertEquals(formatValue("loss", NaN), "nan");
  assertEquals(formatValue("loss", -Infinity), "-inf");
  assertEquals(formatValue("lr", 5e-4), "5.00e-4");
  assertEquals(formatValue("batch", 20), "20");
  assertEquals(formatRate(3.5), "3.50 steps/s");
  assertEquals(formatRate(0.25), "4.00 s/step");
  assertEquals(formatRate(NaN), "-- steps/s");
});

Deno.test("plain mode: a line every logEvery steps and the last, no control characters", () => {
  const out = new FakeWriter();
  const clock = fakeClock();
  const p = new Progress({
    totalSteps: 5,
    epoch: 2,
    epochs: 10,
    out,
    isTTY: false,
    logEvery: 2,
    now: clock.now,
  });
  for (let s = 1; s <= 5; s++) {
    clock.advance(500);
    p.update(s, { loss: 3 - s * 0.25, lr: 1e-4 * s });
  }
  p.message("dev cer 0.5");
  clock.advance(500);
  p.finish();
  assertEquals(
    out.text,
    "epoch 2/10 step 2/5 loss 2.500 lr 2.00e-4 2.00 steps/s eta 0:02\n" +
      "epoch 2/10 step 4/5 loss 2.000 lr 4.00e-4 2.00 steps/s eta 0:01\n" +
      "epoch 2/10 step 5/5 loss 1.750 lr 5.00e-4 2.00 steps/s eta 0:00\n" +
      "dev cer 0.5\n" +
      "epoch 2/10 done: 5 steps in 0:03 (1.67 steps/s)\n",
  );
  // deno-lint-ignore no-control-regex
  assertEquals(/[\x00-\x09\x0b-\x1f]/.test(out.text), false);
});

Deno.test("plain mode: finish logs a last unlogged step and a given summary", () => {
  const out = new FakeWriter();
  const clock = fakeClock();
  const p = new Progress({
    totalSteps: 10,
    epoch: 1,
    epochs: 1,
    out,
    isTTY: false,
    logEvery: 50,
    now: clock.now,
  });
  clock.advance(2000);
  p.update(3, { loss: 1 });
  p.finish("stopped early");
  assertEquals(
    out.text,
    "epoch 1/1 step  3/10 loss 1.000 1.50 steps/s eta 0:05\n" +
      "stopped early\n",
  );
});

Deno.test("terminal mode: redraws one line in place, messages go above the bar", () => {
  const out = new FakeWriter();
  const clock = fakeClock();
  const p = new Progress({
    totalSteps: 4,
    epoch: 1,
    epochs: 3,
    out,
    isTTY: true,
    columns: 80,
    minRedrawMs: 100,
    now: clock.now,
  });
  const cl = "\r\x1b[2K";
  clock.advance(1000);
  p.update(1, { loss: 2.5, lr: 1e-3 });
  const line1 = "epoch 1/3 step 1/4 " + "\u2588".repeat(3) + "\u2591".repeat(9) +
    "  loss 2.500 lr 1.00e-3  1.00 steps/s eta 0:03";
  assertEquals(out.text, cl + line1);
  // Within minRedrawMs: nothing is drawn, but the values are kept.
  clock.advance(50);
  p.update(2, { loss: 2.0 });
  assertEquals(out.text, cl + line1);
  p.message("saved checkpoint");
  const line2 = p.statusLine();
  assertEquals(
    line2.startsWith("epoch 1/3 step 2/4 " + "\u2588".repeat(6) + "\u2591".repeat(6) + "  "),
    true,
  );
  assertEquals(line2.endsWith("  loss 2.000 lr 1.00e-3  1.90 steps/s eta 0:01"), true);
  assertEquals(out.text, cl + line1 + cl + "saved checkpoint\n" + line2);
  // The last step is always drawn.
  clock.advance(10);
  p.update(4, { loss: 1.5 });
  const line4 = p.statusLine();
  assertEquals(line4.includes("\u2591"), false);
  clock.advance(940);
  p.finish("epoch 1: dev cer 0.4");
  assertEquals(
    out.text,
    cl + line1 + cl + "saved checkpoint\n" + line2 + cl + line4 + cl + line4 + "\nepoch 1: dev cer 0.4\n",
  );
  for (const line of [line1, line2, line4]) assertEquals(line.length <= 79, true);
});

Deno.test("terminal mode: a narrow terminal drops the bar and cuts the line", () => {
  const out = new FakeWriter();
  const clock = fakeClock();
  const p = new Progress({
    totalSteps: 1000,
    epoch: 10,
    epochs: 10,
    out,
    isTTY: true,
    columns: 40,
    now: clock.now,
  });
  clock.advance(100);
  p.update(1, { loss: 1, lr: 1e-4, grad_norm: 3.25 });
  const line = p.statusLine();
  assertEquals(line, "epoch 10/10 step    1/1000  loss 1.000");
  assertEquals(line.includes("\u2588") || line.includes("\u2591"), false);
});

Deno.test("resumed epoch: the speed counts only new steps", () => {
  const out = new FakeWriter();
  const clock = fakeClock();
  const p = new Progress({
    totalSteps: 100,
    epoch: 1,
    epochs: 1,
    out,
    isTTY: false,
    logEvery: 10,
    startStep: 40,
    now: clock.now,
  });
  clock.advance(10_000);
  p.update(50, { loss: 0.5 });
  assertEquals(out.text, "epoch 1/1 step  50/100 loss 0.5000 1.00 steps/s eta 0:50\n");
});

Deno.test("terminal detection follows the writer's isTerminal()", () => {
  const tty = Object.assign(new FakeWriter(), { isTerminal: () => true });
  assertEquals(new Progress({ totalSteps: 1, epoch: 1, epochs: 1, out: tty }).isTTY, true);
  assertEquals(new Progress({ totalSteps: 1, epoch: 1, epochs: 1, out: new FakeWriter() }).isTTY, false);
});
