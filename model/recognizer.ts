/**
 * The DeepSpeech2-style recognizer of the AssemblyAI tutorial, with PyTorch's parameter names:
 * Conv2d(1, 32, 3, stride, padding 1); ResidualCNN blocks (LayerNorm over features, GELU, dropout, conv 3x3,
 * twice, plus the skip); Linear to rnn_dim; BiGRU blocks (LayerNorm, GELU, bidirectional GRU, dropout);
 * classifier Linear(2 rnn_dim, rnn_dim), GELU, dropout, Linear(rnn_dim, n_class).
 */
import { Random } from "../engine/random.ts";
import { recompute } from "../engine/recompute.ts";
import { parameter, type Tensor } from "../engine/tensor.ts";
import { conv2d } from "../kernels/conv2d.ts";
import { dropout } from "../kernels/dropout.ts";
import { add, gelu } from "../kernels/elementwise.ts";
import { biGru, type BiGruWeights } from "../kernels/gru.ts";
import { reshape, transpose } from "../kernels/layout.ts";
import { layerNorm, layerNormAxis } from "../kernels/layernorm.ts";
import { linear } from "../kernels/linear.ts";
import { timeMaskOwned } from "../kernels/time_mask.ts";
import { type ModelConfig, validateConfig } from "./config.ts";

export const CNN_CHANNELS = 32;
const LN_EPS = 1e-5;

export interface ParamSpec {
  name: string;
  shape: number[];
  /** PyTorch's default initialisation: uniform(-bound, bound), or a constant for LayerNorm. */
  init: { uniform: number } | { constant: number };
}

/** Feature rows after the first convolution (3x3, padding 1). */
export function featsAfterConv(c: ModelConfig): number {
  return Math.floor((c.nFeats + 2 - 3) / c.stride) + 1;
}

/** Output frames for `frames` input frames (the first conv's stride along time). */
export function framesAfterConv(c: ModelConfig, frames: number): number {
  return Math.floor((frames + 2 - 3) / c.stride) + 1;
}

/** Every parameter in PyTorch's state_dict order, with its shape and default initialisation. */
export function parameterSpecs(c: ModelConfig): ParamSpec[] {
  const specs: ParamSpec[] = [];
  const convInit = (name: string, cin: number, cout: number) => {
    const bound = 1 / Math.sqrt(cin * 9);
    specs.push({ name: `${name}.weight`, shape: [cout, cin, 3, 3], init: { uniform: bound } });
    specs.push({ name: `${name}.bias`, shape: [cout], init: { uniform: bound } });
  };
  const linearInit = (name: string, fin: number, fout: number) => {
    const bound = 1 / Math.sqrt(fin);
    specs.push({ name: `${name}.weight`, shape: [fout, fin], init: { uniform: bound } });
    specs.push({ name: `${name}.bias`, shape: [fout], init: { uniform: bound } });
  };
  const lnInit = (name: string, n: number) => {
    specs.push({ name: `${name}.weight`, shape: [n], init: { constant: 1 } });
    specs.push({ name: `${name}.bias`, shape: [n], init: { constant: 0 } });
  };
  const f = featsAfterConv(c);
  convInit("cnn", 1, CNN_CHANNELS);
  for (let i = 0; i < c.nCnnLayers; i++) {
    convInit(`rescnn_layers.${i}.cnn1`, CNN_CHANNELS, CNN_CHANNELS);
    convInit(`rescnn_layers.${i}.cnn2`, CNN_CHANNELS, CNN_CHANNELS);
    lnInit(`rescnn_layers.${i}.layer_norm1.layer_norm`, f);
    lnInit(`rescnn_layers.${i}.layer_norm2.layer_norm`, f);
  }
  linearInit("fully_connected", f * CNN_CHANNELS, c.rnnDim);
  const H = c.rnnDim;
  const bound = 1 / Math.sqrt(H);
  for (let i = 0; i < c.nRnnLayers; i++) {
    const input = i === 0 ? c.rnnDim : 2 * c.rnnDim;
    for (const suffix of ["", "_reverse"]) {
      const p = `birnn_layers.${i}.BiGRU`;
      specs.push({ name: `${p}.weight_ih_l0${suffix}`, shape: [3 * H, input], init: { uniform: bound } });
      specs.push({ name: `${p}.weight_hh_l0${suffix}`, shape: [3 * H, H], init: { uniform: bound } });
      specs.push({ name: `${p}.bias_ih_l0${suffix}`, shape: [3 * H], init: { uniform: bound } });
      specs.push({ name: `${p}.bias_hh_l0${suffix}`, shape: [3 * H], init: { uniform: bound } });
    }
    lnInit(`birnn_layers.${i}.layer_norm`, input);
  }
  linearInit("classifier.0", 2 * c.rnnDim, c.rnnDim);
  linearInit("classifier.3", c.rnnDim, c.nClass);
  return specs;
}

export interface ForwardOptions {
  /** Dropout on (training) or off (evaluation). */
  training?: boolean;
  /** Seed for this step's dropout masks (each dropout call derives its own stream from it). */
  dropoutSeed?: number;
  /**
   * Index of this batch's first sample in the whole batch the seed is for (a micro-batch's or a rank's shard's
   * offset): each sample gets the dropout masks it would get in the whole batch. Default 0.
   */
  firstSample?: number;
  /**
   * Each utterance's spectrogram frames before the batch's padding. Given, the frames past each utterance's end
   * are zeroed before every 3x3 convolution of the ResCNN, so that an utterance gives the same output in any
   * batch as alone (see {@link SpeechRecognitionModel.forward}). Inference passes it (model/inference.ts);
   * training leaves it out, as the tutorial does not mask.
   */
  unpaddedFrames?: readonly number[];
}

/** What the forward pass's helpers share: dropout with a fixed seed, the seed stream and freeing. */
interface ForwardTools {
  drop: (x: Tensor, seed: number) => Tensor;
  nextSeed: () => number;
  /** `op(x)`, freeing `x` once `op` is recorded when nothing will read it (see {@link then}). */
  then: (x: Tensor, op: (x: Tensor) => Tensor, unread?: boolean) => Tensor;
  /** A ResCNN activation with the padding past each utterance's first-conv output zeroed, or itself. */
  maskPadding: (x: Tensor) => Tensor;
}

/**
 * Frees an intermediate: wholly when nothing on the tape holds it; only its data when `unread` by backward.
 * `consumer` is what was computed from it: when that is on the tape, its backward may read `x` even though `x`
 * needs no gradient (a trainable layer after frozen ones reads its input for its weight's gradient).
 */
function free(x: Tensor, unread: boolean, consumer?: Tensor): void {
  if (!x.requiresGrad && !consumer?.requiresGrad) x.dispose();
  else if (unread) x.releaseBuffer();
}

/**
 * `op(x)`, with `x` freed as soon as `op` is recorded: always when nothing recorded for backward holds it
 * (inference, or a frozen part), and in training too when `unread` (op's backward does not read x, and nothing
 * later uses it). The forward's peak is then a few activations in inference, and training keeps only what
 * backward reads.
 */
function then(x: Tensor, op: (x: Tensor) => Tensor, unread = false, keepAlive?: Tensor): Tensor {
  const y = op(x);
  if (y !== x && x !== keepAlive) free(x, unread, y);
  return y;
}

export class SpeechRecognitionModel {
  readonly params = new Map<string, Tensor>();

  /** A model with PyTorch's default initialisation drawn from `seed`, or the given weights. */
  constructor(readonly config: ModelConfig, weights?: Map<string, Float32Array>, seed = 7) {
    validateConfig(config);
    const rng = new Random(seed);
    for (const spec of parameterSpecs(config)) {
      const n = spec.shape.reduce((a, b) => a * b, 1);
      let values = weights?.get(spec.name);
      if (!values) {
        values = new Float32Array(n);
        if ("constant" in spec.init) values.fill(spec.init.constant);
        else for (let i = 0; i < n; i++) values[i] = (rng.uniform() * 2 - 1) * spec.init.uniform;
      } else if (values.length !== n) {
        throw new RangeError(`${spec.name}: ${values.length} values for shape [${spec.shape}]`);
      }
      this.params.set(spec.name, parameter(values, spec.shape, spec.name));
    }
  }

  /** Parameters in state_dict order. */
  parameters(): Tensor[] {
    return [...this.params.values()];
  }

  parameterCount(): number {
    let n = 0;
    for (const p of this.params.values()) n += p.size;
    return n;
  }

  private p(name: string): Tensor {
    const t = this.params.get(name);
    if (!t) throw new Error(`model has no parameter ${name}`);
    return t;
  }

  /**
   * Logits (batch, frames', n_class) for spectrograms (batch, 1, n_feats, frames). `inputLengths` are the valid
   * output frames per utterance (the tutorial's frames // 2), used by the packed BiGRU of the default layout.
   *
   * Padding reaches an utterance's valid frames only through the ResCNN's 3x3 convolutions: the first conv's
   * bias, then LayerNorm and GELU make the padded frames nonzero, and the next conv reads them into the last
   * valid frame (the BiGRU then carries the change to every frame; everything else works frame by frame, and
   * the packed BiGRU reads no padding). With `unpaddedFrames`, those frames are zeroed before each of these
   * convolutions, which is exactly what the conv's own zero padding gives the utterance alone: the features'
   * padding is zero already, like the first conv's padding. Training does not mask: the tutorial (whose
   * training our PyTorch parity tests follow) does not, and a model it trained has learned with that padding.
   */
  forward(spec: Tensor, inputLengths: readonly number[], opts: ForwardOptions = {}): Tensor {
    const c = this.config;
    if (spec.rank !== 4 || spec.shape[1] !== 1 || spec.shape[2] !== c.nFeats) {
      throw new RangeError(`model input must be (batch, 1, ${c.nFeats}, frames), got [${spec.shape}]`);
    }
    const batch = spec.shape[0];
    if (inputLengths.length !== batch) {
      throw new RangeError(`${inputLengths.length} lengths for batch ${batch}`);
    }
    const training = (opts.training ?? false) && c.dropout > 0;
    const seedRng = new Random(opts.dropoutSeed ?? 0);
    // Seeds are drawn where the dropouts are, in forward order, so that a recomputed segment redraws the same mask.
    const nextSeed = () => training ? seedRng.nextU32() : 0;
    const firstSample = opts.firstSample ?? 0;
    // Every dropout input is batch-major, so a sample's elements follow those of the samples before it.
    const drop = (x: Tensor, seed: number) =>
      training
        ? dropout(x, c.dropout, seed, true, { firstIndex: firstSample * (x.size / Math.max(x.shape[0], 1)) })
        : x;
    const convFrames = opts.unpaddedFrames && this.convFramesOf(opts.unpaddedFrames, spec.shape[3], batch);
    // Each masked activation is a LayerNorm + GELU output only its convolution reads: in inference it is masked
    // in place.
    const maskPadding = (x: Tensor) => convFrames ? timeMaskOwned(x, convFrames) : x;
    const f: ForwardTools = {
      drop,
      nextSeed,
      then: (x, op, unread) => then(x, op, unread, spec),
      maskPadding,
    };

    let x = conv2d(spec, this.p("cnn.weight"), this.p("cnn.bias"), { stride: c.stride, padding: 1 });
    for (let i = 0; i < c.nCnnLayers; i++) x = this.residualBlock(x, i, f);
    const [b, ch, feats, frames] = x.shape;
    x = f.then(x, (x) => {
      const flat = reshape(x, [b, ch * feats, frames]);
      const out = transpose(flat, 1, 2);
      free(flat, true);
      return out;
    }, true);
    x = f.then(x, (x) => linear(x, this.p("fully_connected.weight"), this.p("fully_connected.bias")));
    const lengths = inputLengths.map((n) => Math.min(Math.max(n, 0), frames));
    for (let i = 0; i < c.nRnnLayers; i++) {
      const pre = `birnn_layers.${i}`;
      const [w, bias] = [this.p(`${pre}.layer_norm.weight`), this.p(`${pre}.layer_norm.bias`)];
      x = f.then(
        x,
        (x) => recompute("layerNorm+gelu", [x, w, bias], (x, w, b) => gelu(layerNorm(x, w, b, LN_EPS))),
      );
      x = f.then(x, (x) => this.biGruLayer(x, i, lengths));
      // Neither dropout's backward nor the GRU's reads the GRU's output.
      const seed = nextSeed();
      x = f.then(x, (x) => drop(x, seed), true);
    }
    x = f.then(x, (x) => linear(x, this.p("classifier.0.weight"), this.p("classifier.0.bias")));
    const seed = nextSeed();
    x = f.then(x, (x) => recompute("gelu+dropout", [x], (x) => then(gelu(x), (g) => drop(g, seed))));
    return f.then(x, (x) => linear(x, this.p("classifier.3.weight"), this.p("classifier.3.bias")));
  }

  /** The first conv's output frames for each utterance's `unpaddedFrames` (checked against the padded `frames`). */
  private convFramesOf(unpaddedFrames: readonly number[], frames: number, batch: number): number[] {
    if (unpaddedFrames.length !== batch) {
      throw new RangeError(`${unpaddedFrames.length} unpaddedFrames for batch ${batch}`);
    }
    return unpaddedFrames.map((n, b) => {
      if (!Number.isInteger(n) || n < 1 || n > frames) {
        throw new RangeError(`unpaddedFrames[${b}] = ${n} is not in 1..${frames} (the batch's frames)`);
      }
      return framesAfterConv(this.config, n);
    });
  }

  /**
   * ResidualCNN block `i`: (LayerNorm over features, GELU, dropout, conv 3x3) twice, plus the skip. Each
   * LayerNorm + GELU + dropout runs as a recomputed segment: backward keeps its input (which it needs anyway,
   * as the residual or the first conv's output) instead of its two intermediate outputs.
   */
  private residualBlock(input: Tensor, i: number, f: ForwardTools): Tensor {
    const pre = `rescnn_layers.${i}`;
    const normGeluDrop = (x: Tensor, k: number) => {
      const seed = f.nextSeed();
      const w = this.p(`${pre}.layer_norm${k}.layer_norm.weight`);
      const b = this.p(`${pre}.layer_norm${k}.layer_norm.bias`);
      // CNNLayerNorm: LayerNorm over the feature axis (2) of (batch, channels, feats, frames).
      return recompute(
        "layerNorm+gelu+dropout",
        [x, w, b],
        (x, w, b) => then(then(layerNormAxis(x, w, b, 2, LN_EPS), gelu), (g) => f.drop(g, seed)),
      );
    };
    const conv = (x: Tensor, k: number) => {
      const masked = f.maskPadding(x);
      const y = conv2d(masked, this.p(`${pre}.cnn${k}.weight`), this.p(`${pre}.cnn${k}.bias`), {
        stride: 1,
        padding: 1,
      });
      if (masked !== x) free(masked, false, y);
      return y;
    };
    let x = normGeluDrop(input, 1);
    x = f.then(x, (x) => conv(x, 1));
    x = f.then(x, (x) => normGeluDrop(x, 2));
    x = f.then(x, (x) => conv(x, 2));
    // The skip's add reads neither operand in backward.
    x = f.then(x, (x) => add(x, input), true);
    // The block's input (the residual) is consumed too, unless the first segment's recomputation needs it.
    if (!input.requiresGrad && !x.requiresGrad && input !== x) input.dispose();
    return x;
  }

  private biGruLayer(x: Tensor, i: number, lengths: readonly number[]): Tensor {
    const g = `birnn_layers.${i}.BiGRU`;
    const weights: BiGruWeights = {
      weight_ih: this.p(`${g}.weight_ih_l0`),
      weight_hh: this.p(`${g}.weight_hh_l0`),
      bias_ih: this.p(`${g}.bias_ih_l0`),
      bias_hh: this.p(`${g}.bias_hh_l0`),
      weight_ih_reverse: this.p(`${g}.weight_ih_l0_reverse`),
      weight_hh_reverse: this.p(`${g}.weight_hh_l0_reverse`),
      bias_ih_reverse: this.p(`${g}.bias_ih_l0_reverse`),
      bias_hh_reverse: this.p(`${g}.bias_hh_l0_reverse`),
    };
    if (this.config.gruLayout === "default") {
      return biGru(x, lengths, weights, { batchFirst: true, packed: true });
    }
    // The tutorial's layers after the first are built batch_first=False yet get (batch, time, feature): their
    // recurrence runs along the batch axis.
    return biGru(x, null, weights, { batchFirst: i === 0, packed: false });
  }

  /** Frees every parameter (and its gradient). */
  dispose(): void {
    for (const p of this.params.values()) p.dispose();
    this.params.clear();
  }
}
