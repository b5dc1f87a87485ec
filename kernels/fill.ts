/** Fills a buffer with a constant on the GPU (cheaper than uploading a large array of zeros). */
import { launch, program, variants } from "../engine/kernel.ts";
import { type DType, empty, type Shape, type Tensor } from "../engine/tensor.ts";

const WG = 256;

const fillProgram = variants((dtype: DType) =>
  program({
    name: `fill:${dtype}`,
    uniforms: { n: "u32", v: dtype },
    outputs: { o: dtype },
    workgroupSize: WG,
    body: `
  if (gidx >= u.n) { return; }
  o[gidx] = u.v;`,
  })
);

/** Writes `value` into every element of `t` (in place, ordered with the other recorded work). */
export function fillInPlace(t: Tensor, value: number): Tensor {
  launch(fillProgram(t.dtype), {
    uniforms: { n: t.size, v: t.dtype === "f32" ? value : value | 0 },
    outputs: { o: t },
    invocations: t.size,
  });
  return t;
}

/** A new tensor filled with `value`, without a CPU upload. */
export function filled(shape: Shape, value: number, dtype: DType = "f32"): Tensor {
  return fillInPlace(empty(shape, dtype, "fill"), value);
}
