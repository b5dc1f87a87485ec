/**
 * conv2d speed: forward + backward (input, weight and bias gradients) at the model's two convolution shapes,
 * scaled for the CPU: the ResCNN's 3x3 32 -> 32 stride 1 on (4, 32, 64, 200), and the first 3x3 1 -> 32
 * stride 2 on a (4, 1, 128, 400) spectrogram (no input gradient, as in the model). Reported in GFLOP/s of the
 * whole step (forward + backward counted as 3x the forward's multiply-adds, 2x for the first conv), beside
 * PyTorch's F.conv2d on the CPU (2 threads) measured in the same run when Debian's PyTorch is installed.
 */
import { initGpu, parameter, Random, setQuiet, tensor } from "../engine/mod.ts";
import "../kernels/mod.ts";
import { conv2d } from "../kernels/conv2d.ts";
import { runPythonPeer } from "./python_peer.ts";
import { report } from "./report.ts";
import { backwardStep, stepsPerSecond } from "./steps.ts";

interface ConvShape {
  name: string;
  batch: number;
  cin: number;
  h: number;
  w: number;
  cout: number;
  stride: number;
  /** Whether the input needs a gradient (not for the spectrogram). */
  inputGrad: boolean;
}

const SHAPES: ConvShape[] = [
  {
    name: "conv2d 3x3 32->32 s1 fwd+bwd b4 64x200",
    batch: 4,
    cin: 32,
    h: 64,
    w: 200,
    cout: 32,
    stride: 1,
    inputGrad: true,
  },
  {
    name: "conv2d 3x3 1->32 s2 fwd+bwd b4 128x400",
    batch: 4,
    cin: 1,
    h: 128,
    w: 400,
    cout: 32,
    stride: 2,
    inputGrad: false,
  },
];

const PEER_SCRIPT = `
import json, sys, time, torch
import torch.nn.functional as F
torch.set_num_threads(2)
torch.manual_seed(0)
b, cin, h, w, cout, s, xg, steps = (int(v) for v in sys.argv[1:9])
x = torch.randn(b, cin, h, w, requires_grad=bool(xg))
wt = torch.randn(cout, cin, 3, 3, requires_grad=True)
bias = torch.randn(cout, requires_grad=True)
g = torch.randn_like(F.conv2d(x, wt, bias, stride=s, padding=1))
def step():
    F.conv2d(x, wt, bias, stride=s, padding=1).backward(g)
    wt.grad = None; bias.grad = None; x.grad = None
step()
t0 = time.perf_counter()
for _ in range(steps):
    step()
print(json.dumps({"steps_per_s": steps / (time.perf_counter() - t0), "torch": torch.__version__}))
`;

function outSize(s: ConvShape): [number, number] {
  return [Math.floor((s.h + 2 - 3) / s.stride) + 1, Math.floor((s.w + 2 - 3) / s.stride) + 1];
}

/** Multiply-adds x 2 of one step: forward, weight gradient, and the input gradient when taken. */
function stepFlops(s: ConvShape): number {
  const [oh, ow] = outSize(s);
  const fwd = 2 * s.batch * s.cout * oh * ow * s.cin * 9;
  return fwd * (s.inputGrad ? 3 : 2);
}

async function peerStepsPerSecond(
  s: ConvShape,
  steps: number,
): Promise<{ rate: number; version: string } | null> {
  const r = await runPythonPeer(PEER_SCRIPT, [
    s.batch,
    s.cin,
    s.h,
    s.w,
    s.cout,
    s.stride,
    s.inputGrad ? 1 : 0,
    steps,
  ]);
  return r ? { rate: r.steps_per_s, version: r.torch } : null;
}

async function oursStepsPerSecond(s: ConvShape, steps: number): Promise<number> {
  const rng = new Random(1);
  const rand = (n: number, scale: number) => Float32Array.from({ length: n }, () => rng.normal() * scale);
  const [oh, ow] = outSize(s);
  const x = parameter(rand(s.batch * s.cin * s.h * s.w, 1), [s.batch, s.cin, s.h, s.w], "x");
  x.requiresGrad = s.inputGrad;
  const w = parameter(rand(s.cout * s.cin * 9, 0.2), [s.cout, s.cin, 3, 3], "weight");
  const b = parameter(rand(s.cout, 0.1), [s.cout], "bias");
  const g = tensor(rand(s.batch * s.cout * oh * ow, 1), [s.batch, s.cout, oh, ow]);
  const rate = await stepsPerSecond(
    steps,
    () => backwardStep(() => conv2d(x, w, b, { stride: s.stride, padding: 1 }), g, [x, w, b]),
  );
  for (const t of [x, w, b, g]) t.dispose();
  return rate;
}

/** Reports one row per shape: GFLOP/s of a forward + backward step, ours and PyTorch CPU's. */
export async function benchConv(): Promise<void> {
  setQuiet(true);
  await initGpu();
  for (const s of SHAPES) {
    const steps = 5;
    const flops = stepFlops(s);
    const ours = await oursStepsPerSecond(s, steps);
    const peer = await peerStepsPerSecond(s, steps);
    report({
      name: s.name,
      ours: ours * flops / 1e9,
      peer: peer ? peer.rate * flops / 1e9 : null,
      peerName: peer ? `torch ${peer.version} CPU 2 threads` : "torch CPU",
      unit: "GFLOP/s",
      note: `${(1000 / ours).toFixed(1)} ms/step${
        peer ? `, torch ${(1000 / peer.rate).toFixed(1)} ms/step` : ""
      }`,
    });
  }
}

if (import.meta.main) await benchConv();
