/**
 * The Web Worker script of AudioPool (data/audio_pool.ts). Requests queue here, in the worker, and are decoded
 * one at a time in arrival order, so the worker keeps busy while the main thread is in a training step and
 * cannot hand out work. Each waveform's buffer is transferred back; decoding errors come back as failed
 * results, never as worker errors.
 */
import { decodeFile, type DecodeReply, type WorkerRequest } from "./audio_pool.ts";

// Typed by hand: this file is type-checked with the window lib like the rest of the project.
const scope = self as unknown as {
  onmessage: ((event: MessageEvent<WorkerRequest>) => void) | null;
  postMessage(message: DecodeReply, transfer?: Transferable[]): void;
};

const queue: Extract<WorkerRequest, { type: "decode" }>[] = [];
let decoding = false;

scope.onmessage = (event) => {
  const request = event.data;
  if (request?.type !== "decode" && request?.type !== "cancel") {
    // Ends this worker: the pool fails the file in progress and starts a new one.
    throw new TypeError(`audio worker: malformed request ${JSON.stringify(request)}`);
  }
  if (request.type === "cancel") {
    const at = queue.findIndex((r) => r.id === request.id);
    if (at >= 0) queue.splice(at, 1);
    return;
  }
  queue.push(request);
  if (!decoding) void drain();
};

async function drain(): Promise<void> {
  decoding = true;
  while (queue.length > 0) {
    const { id, file, targetRate } = queue.shift()!;
    const result = await decodeFile(file, targetRate);
    if (result.ok) scope.postMessage({ id, result }, [result.waveform.buffer as ArrayBuffer]);
    else scope.postMessage({ id, result });
  }
  decoding = false;
}
