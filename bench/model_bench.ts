/**
 * The whole model's training step (forward, CTC loss, backward, AdamW) in steps/s, beside PyTorch CPU's same
 * step (tests/fixtures/torch/reference_model.py, 2 threads) in the same run when Debian's PyTorch is installed.
 * Shapes are the tutorial's scaled for the CPU: batch 4, 400 spectrogram frames (200 after the first conv),
 * 128 mels, targets of 60 characters, dropout on.
 */
import { initGpu, Random, setQuiet, tensor, tidy } from "../engine/mod.ts";
import { type ModelConfig, PRESETS } from "../model/config.ts";
import { AdamW } from "../model/optim.ts";
import { SpeechRecognitionModel } from "../model/recognizer.ts";
import { trainStep } from "../model/train_step.ts";
import { runPythonPeer } from "./python_peer.ts";
import { report } from "./report.ts";
import { stepsPerSecond } from "./steps.ts";

const BATCH = 4;
const FRAMES = 400;
const LABELS = 60;

const PEER_SCRIPT = `
import json, sys, time, torch
sys.path.insert(0, sys.argv[1])
from reference_model import SpeechRecognitionModel, ctc_loss
torch.set_num_threads(2)
torch.manual_seed(0)
cnn, rnn, dim, feats, b, t, s, steps = (int(v) for v in sys.argv[2:10])
model = SpeechRecognitionModel(cnn, rnn, dim, 29, feats, 2, 0.1, gru_layout="default")
model.train()
opt = torch.optim.AdamW(model.parameters(), 5e-4)
x = torch.randn(b, 1, feats, t).abs()
lengths = torch.full((b,), t // 2, dtype=torch.long)
targets = torch.randint(0, 28, (b, s))
tl = torch.full((b,), s, dtype=torch.long)
def step():
    opt.zero_grad()
    loss = ctc_loss(model(x, lengths), targets, lengths, tl)
    loss.backward()
    opt.step()
step()
t0 = time.perf_counter()
for _ in range(steps):
    step()
print(json.dumps({"steps_per_s": steps / (time.perf_counter() - t0)}))
`;

async function peer(c: ModelConfig, steps: number): Promise<number | null> {
  const dir = new URL("../tests/fixtures/torch/", import.meta.url).pathname;
  const args = [c.nCnnLayers, c.nRnnLayers, c.rnnDim, c.nFeats, BATCH, FRAMES, LABELS, steps];
  const r = await runPythonPeer(PEER_SCRIPT, [dir, ...args]);
  return r ? r.steps_per_s : null;
}

async function ours(c: ModelConfig, steps: number): Promise<number> {
  const rng = new Random(0);
  const model = new SpeechRecognitionModel(c, undefined, 1);
  const optimizer = new AdamW(model.parameters(), { lr: 5e-4 });
  const spec = new Float32Array(BATCH * c.nFeats * FRAMES).map(() => Math.abs(rng.normal()));
  const labels = new Int32Array(BATCH * LABELS).map(() => rng.int(28));
  const batch = tidy(() => ({
    spectrograms: tensor(spec, [BATCH, 1, c.nFeats, FRAMES]),
    labels: tensor(labels, [BATCH, LABELS], "i32"),
    inputLengths: new Array(BATCH).fill(FRAMES / 2),
    labelLengths: new Array(BATCH).fill(LABELS),
  }));
  const one = (k: number) => {
    const r = trainStep(model, optimizer, batch, { lr: 5e-4, beta1: 0.9, dropoutSeed: k });
    r.loss.dispose();
    r.sampleLosses.dispose();
  };
  const rate = await stepsPerSecond(steps, one);
  model.dispose();
  optimizer.dispose();
  batch.spectrograms.dispose();
  batch.labels.dispose();
  return rate;
}

export async function benchModel(): Promise<void> {
  setQuiet(true);
  await initGpu();
  for (const [name, steps] of [["tiny", 3], ["tutorial", 1]] as const) {
    const c = { ...PRESETS[name], features: "mel" as const };
    const mine = await ours(c, steps);
    const theirs = await peer(c, steps);
    report({
      name: `train step, ${name} model, batch ${BATCH} x ${FRAMES} frames`,
      ours: mine,
      peer: theirs,
      peerName: "PyTorch 1.13 CPU (2 threads)",
      unit: "steps/s",
    });
  }
}

if (import.meta.main) await benchModel();
