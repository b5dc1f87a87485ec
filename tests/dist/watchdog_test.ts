/** The watchdog's deadline: the startup limit until enough steps are measured, then a multiple of the median. */
import { equal } from "node:assert/strict";
import { Watchdog } from "../../dist/watchdog.ts";

Deno.test("watchdog deadline: startup limit, then factor x median step with a floor", () => {
  const w = new Watchdog(() => {}, { factor: 10, minSeconds: 5, startupSeconds: 100, warmupSteps: 3 });
  equal(w.deadline().ms, 100_000);
  for (const ms of [900, 300, 400]) w.recordStep(ms);
  equal(w.medianStepMs, 400);
  equal(w.deadline().ms, 5_000);
  for (const ms of [2000, 3000]) w.recordStep(ms);
  equal(w.medianStepMs, 900);
  equal(w.deadline().ms, 9_000);
  equal(w.deadline().why, "10 x the median step of 0.90 s, at least 5 s");
});
