import { equal as assertEquals, ok as assert, throws as assertThrows } from "node:assert/strict";
import { OneCycleLR, type OneCycleOptions } from "../../model/schedule.ts";

interface Case {
  name: string;
  max_lr: number;
  total_steps?: number;
  epochs?: number;
  steps_per_epoch?: number;
  anneal_strategy: "cos" | "linear";
  pct_start?: number;
  div_factor?: number;
  final_div_factor?: number;
  base_momentum?: number;
  max_momentum?: number;
  three_phase?: boolean;
  total: number;
  lr: number[];
  beta1: number[];
  error: string;
}

const fixture: { cases: Case[] } = JSON.parse(
  await Deno.readTextFile(new URL("../fixtures/onecycle.json", import.meta.url)),
);

function options(c: Case): OneCycleOptions {
  return {
    maxLr: c.max_lr,
    totalSteps: c.total_steps,
    epochs: c.epochs,
    stepsPerEpoch: c.steps_per_epoch,
    annealStrategy: c.anneal_strategy,
    pctStart: c.pct_start,
    divFactor: c.div_factor,
    finalDivFactor: c.final_div_factor,
    baseMomentum: c.base_momentum,
    maxMomentum: c.max_momentum,
    threePhase: c.three_phase,
  };
}

function near(got: number, want: number, tol: number): boolean {
  return Math.abs(got - want) <= tol * Math.abs(want) || got === want;
}

for (const c of fixture.cases) {
  Deno.test(`OneCycleLR ${c.name}: lr and beta1 of every step match PyTorch 1.13`, () => {
    const sched = new OneCycleLR(options(c));
    assertEquals(sched.totalSteps, c.total);
    // Same float64 formulas as PyTorch; only Math.cos may differ from libm's by an ulp.
    const tol = c.anneal_strategy === "linear" ? 0 : 1e-14;
    for (let i = 0; i <= c.total; i++) {
      assertEquals(sched.stepIndex, i);
      assert(near(sched.lr, c.lr[i], tol), `${c.name} lr[${i}]: ${sched.lr} vs ${c.lr[i]}`);
      assert(near(sched.beta1!, c.beta1[i], tol), `${c.name} beta1[${i}]: ${sched.beta1} vs ${c.beta1[i]}`);
      if (i < c.total) sched.step();
    }
    const message = c.error.replace(/^Tried/, "tried").replace(/\./g, "\\.");
    assertThrows(() => sched.step(), new RegExp(message));
    // A refused step leaves the schedule where it was.
    assertEquals(sched.stepIndex, c.total);
  });
}

Deno.test("OneCycleLR: the training CLI's defaults start at max_lr / 25 and beta1 0.95", () => {
  const s = new OneCycleLR({ maxLr: 5e-4, epochs: 10, stepsPerEpoch: 13, annealStrategy: "linear" });
  assertEquals(s.totalSteps, 130);
  assertEquals(s.lr, 5e-4 / 25);
  assertEquals(s.beta1, 0.95);
});

Deno.test("OneCycleLR: state round trip resumes the same sequence", () => {
  const a = new OneCycleLR({ maxLr: 1e-3, totalSteps: 40, annealStrategy: "cos" });
  for (let i = 0; i < 17; i++) a.step();
  const b = new OneCycleLR({ maxLr: 1e-3, totalSteps: 40, annealStrategy: "cos" });
  b.loadState(JSON.parse(JSON.stringify(a.state())));
  for (let i = 17; i < 40; i++) {
    assertEquals(b.lr, a.lr);
    assertEquals(b.beta1, a.beta1);
    a.step();
    b.step();
  }
  assertThrows(() => b.loadState({ lastEpoch: 41 }), /lastEpoch 41 is outside 0\.\.40/);
});

Deno.test("OneCycleLR: without cycled momentum beta1 is left to the optimizer", () => {
  const s = new OneCycleLR({ maxLr: 1e-3, totalSteps: 10, cycleMomentum: false });
  assertEquals(s.beta1, undefined);
});

Deno.test("OneCycleLR: bad options give PyTorch's errors", () => {
  assertThrows(() => new OneCycleLR({ maxLr: 1e-3 }), /either totalSteps or \(epochs and stepsPerEpoch\)/);
  assertThrows(() => new OneCycleLR({ maxLr: 1e-3, totalSteps: 0 }), /positive integer totalSteps, got 0/);
  assertThrows(() => new OneCycleLR({ maxLr: 1e-3, epochs: 2 }), /positive integer stepsPerEpoch/);
  assertThrows(
    () => new OneCycleLR({ maxLr: 1e-3, totalSteps: 5, pctStart: 1.5 }),
    /pctStart between 0 and 1/,
  );
  assertThrows(
    () => new OneCycleLR({ maxLr: 1e-3, totalSteps: 5, annealStrategy: "step" as "cos" }),
    /annealStrategy must be "cos" or "linear"/,
  );
  // pct_start * total_steps = 1 makes PyTorch divide by zero in its constructor.
  assertThrows(() => new OneCycleLR({ maxLr: 1e-3, totalSteps: 10, pctStart: 0.1 }), /zero length/);
});
