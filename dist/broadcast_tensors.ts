/**
 * Rank 0's values of a list of f32 tensors copied into the same tensors on every rank (the initial or resumed
 * weights and optimizer state of a data-parallel run), in pieces of at most 256 MB so that neither side holds a
 * second copy of a large model at once.
 */
import { assign, type Tensor } from "../engine/tensor.ts";
import { broadcastFloats } from "./collectives.ts";
import type { Communicator } from "./communicator.ts";

const PIECE_FLOATS = 64 * 1024 * 1024;

export async function broadcastTensors(comm: Communicator, tensors: readonly Tensor[]): Promise<void> {
  if (comm.size === 1) return;
  for (let start = 0; start < tensors.length;) {
    let end = start;
    let floats = 0;
    while (end < tensors.length && (end === start || floats + tensors[end].size <= PIECE_FLOATS)) {
      floats += tensors[end++].size;
    }
    const piece = tensors.slice(start, end);
    const host = new Float32Array(floats);
    if (comm.rank === 0) {
      const values = await Promise.all(piece.map((t) => t.f32()));
      let o = 0;
      for (const v of values) host.set(v, (o += v.length) - v.length);
    }
    await broadcastFloats(comm, host);
    if (comm.rank !== 0) {
      let o = 0;
      for (const t of piece) {
        assign(t, host.subarray(o, o + t.size));
        o += t.size;
      }
    }
    start = end;
  }
}
