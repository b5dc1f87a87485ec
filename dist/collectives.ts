/**
 * Collectives built on the communicator's primitives: a JSON value from one rank to all, a JSON value from
 * every rank to all (N broadcasts: for small per-rank results such as an evaluation shard's transcripts), and
 * the maximum of one integer per rank (a sum over one slot per rank, exact in f32 below 2^24).
 */
import type { Communicator } from "./communicator.ts";

/** Rank `root`'s `value` on every rank (the others pass anything, e.g. null). */
export async function broadcastJson<T>(comm: Communicator, value: T, root = 0): Promise<T> {
  if (comm.size === 1) return value;
  const bytes = comm.rank === root ? new TextEncoder().encode(JSON.stringify(value)) : new Uint8Array(0);
  const length = new Uint8Array(new Float64Array([bytes.length]).buffer);
  await comm.broadcast(length, root);
  const n = new Float64Array(length.buffer)[0];
  const data = comm.rank === root ? bytes : new Uint8Array(n);
  await comm.broadcast(data, root);
  return JSON.parse(new TextDecoder().decode(data)) as T;
}

/** Every rank's `value`, in rank order, on every rank. */
export async function allGatherJson<T>(comm: Communicator, value: T): Promise<T[]> {
  const out: T[] = [];
  for (let root = 0; root < comm.size; root++) {
    out.push(await broadcastJson(comm, root === comm.rank ? value : null, root) as T);
  }
  return out;
}

/** Every rank's values of `mine` (the same count on each rank), as [rank][i]. */
export async function allGatherNumbers(comm: Communicator, mine: readonly number[]): Promise<number[][]> {
  const k = mine.length;
  const slots = new Float32Array(comm.size * k);
  slots.set(mine, comm.rank * k);
  await comm.allReduceSum(slots);
  return Array.from({ length: comm.size }, (_, r) => [...slots.subarray(r * k, (r + 1) * k)]);
}

/** Rank `root`'s f32 values copied into `values` on every rank. */
export async function broadcastFloats(comm: Communicator, values: Float32Array, root = 0): Promise<void> {
  if (comm.size === 1) return;
  await comm.broadcast(new Uint8Array(values.buffer, values.byteOffset, values.byteLength), root);
}
