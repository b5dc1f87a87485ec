/**
 * BiGRU layer speed: forward + backward of one bidirectional layer at tutorial-like shapes scaled for the CPU
 * (batch 4, 200 frames, input 512), hidden 512 and 128, in steps/s, beside PyTorch's nn.GRU (bidirectional,
 * batch_first, forward + backward, 2 CPU threads) measured in the same run when Debian's PyTorch is installed.
 */
import { initGpu, parameter, Random, setQuiet, tensor } from "../engine/mod.ts";
import "../kernels/mod.ts";
import { biGru, type BiGruWeights } from "../kernels/gru.ts";
import { runPythonPeer } from "./python_peer.ts";
import { report } from "./report.ts";
import { backwardStep, stepsPerSecond } from "./steps.ts";

interface Shape {
  batch: number;
  frames: number;
  input: number;
  hidden: number;
}

const SHAPES: Shape[] = [
  { batch: 4, frames: 200, input: 512, hidden: 512 },
  { batch: 4, frames: 200, input: 512, hidden: 128 },
];

const PEER_SCRIPT = `
import json, sys, time, torch
torch.set_num_threads(2)
torch.manual_seed(0)
b, t, i, h, steps = (int(v) for v in sys.argv[1:6])
gru = torch.nn.GRU(i, h, batch_first=True, bidirectional=True)
x = torch.randn(b, t, i, requires_grad=True)
g = torch.randn(b, t, 2 * h)
def step():
    y, _ = gru(x)
    y.backward(g)
step()
t0 = time.perf_counter()
for _ in range(steps):
    step()
print(json.dumps({"steps_per_s": steps / (time.perf_counter() - t0), "torch": torch.__version__}))
`;

/** PyTorch's steps/s for the same layer, or null when its Python is not available. */
async function peerStepsPerSecond(
  s: Shape,
  steps: number,
): Promise<{ rate: number; version: string } | null> {
  const r = await runPythonPeer(PEER_SCRIPT, [s.batch, s.frames, s.input, s.hidden, steps]);
  return r ? { rate: r.steps_per_s, version: r.torch } : null;
}

async function oursStepsPerSecond(s: Shape, steps: number): Promise<number> {
  const rng = new Random(1);
  const rand = (n: number, scale: number) => Float32Array.from({ length: n }, () => rng.normal() * scale);
  const k = 1 / Math.sqrt(s.hidden);
  const H3 = 3 * s.hidden;
  const shapes: Record<keyof BiGruWeights, number[]> = {
    weight_ih: [H3, s.input],
    weight_hh: [H3, s.hidden],
    bias_ih: [H3],
    bias_hh: [H3],
    weight_ih_reverse: [H3, s.input],
    weight_hh_reverse: [H3, s.hidden],
    bias_ih_reverse: [H3],
    bias_hh_reverse: [H3],
  };
  const w = Object.fromEntries(
    Object.entries(shapes).map(([n, sh]) => [n, parameter(rand(sh.reduce((a, b) => a * b, 1), k), sh, n)]),
  ) as unknown as BiGruWeights;
  const x = parameter(rand(s.batch * s.frames * s.input, 1), [s.batch, s.frames, s.input], "x");
  const g = tensor(rand(s.batch * s.frames * 2 * s.hidden, 1), [s.batch, s.frames, 2 * s.hidden]);
  const all = [x, ...Object.values(w)];
  const rate = await stepsPerSecond(
    steps,
    () => backwardStep(() => biGru(x, null, w, { batchFirst: true }), g, all),
  );
  for (const p of [...all, g]) p.dispose();
  return rate;
}

/** Reports one row per shape: our steps/s and PyTorch CPU's. */
export async function benchGru(): Promise<void> {
  setQuiet(true);
  await initGpu();
  for (const s of SHAPES) {
    const steps = s.hidden >= 512 ? 2 : 4;
    const ours = await oursStepsPerSecond(s, steps);
    const peer = await peerStepsPerSecond(s, steps);
    report({
      name: `biGru fwd+bwd b${s.batch} t${s.frames} in${s.input} h${s.hidden}`,
      ours,
      peer: peer?.rate ?? null,
      peerName: peer ? `torch ${peer.version} CPU x2` : "torch CPU",
      unit: "steps/s",
    });
  }
}

if (import.meta.main) await benchGru();
