/**
 * PyTorch's `F.linear`: y = x W^T + b over the last axis of x, for any number of leading axes. The weight
 * keeps PyTorch's [out, in] layout (so state_dict tensors load unchanged) and is read transposed by the matmul
 * kernel; leading axes fold into the GEMM's rows.
 */
import { shapeString, type Tensor } from "../engine/tensor.ts";
import { add } from "./elementwise.ts";
import { reshape } from "./layout.ts";
import { matmul } from "./matmul.ts";

/** y[..., o] = sum_i x[..., i] weight[o, i] + bias[o]; x [..., in], weight [out, in], bias [out] or null. */
export function linear(x: Tensor, weight: Tensor, bias: Tensor | null = null): Tensor {
  if (weight.rank !== 2) {
    throw new RangeError(`linear: weight must be [out, in], got ${shapeString(weight.shape)}`);
  }
  const [outF, inF] = weight.shape;
  if (x.rank < 1 || x.shape[x.rank - 1] !== inF) {
    throw new RangeError(
      `linear: input ${shapeString(x.shape)} does not end in ${inF} features (weight ${
        shapeString(weight.shape)
      })`,
    );
  }
  if (bias && (bias.rank !== 1 || bias.shape[0] !== outF)) {
    throw new RangeError(`linear: bias must be [${outF}], got ${shapeString(bias.shape)}`);
  }
  if (x.rank === 1) {
    const row = reshape(x, [1, inF]);
    const y = linear(row, weight, bias);
    return reshape(y, [outF]);
  }
  const y = matmul(x, weight, { transB: true });
  if (!bias) return y;
  const out = add(y, bias);
  // The bias add's backward does not read the product: free it now rather than at the end of the scope (in
  // training only its data: it stays on the tape for matmul's backward).
  if (!y.requiresGrad) y.dispose();
  else y.releaseBuffer();
  return out;
}
