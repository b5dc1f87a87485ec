/**
 * The Web Worker script of AudioPool (data/audio_pool.ts): decodes one file per request and transfers the
 * waveform's buffer back to the pool. Decoding errors come back as failed results, never as worker errors.
 */
import { decodeFile, type DecodeReply, type DecodeRequest } from "./audio_pool.ts";

// Typed by hand: this file is type-checked with the window lib like the rest of the project.
const scope = self as unknown as {
  onmessage: ((event: MessageEvent<DecodeRequest>) => void) | null;
  postMessage(message: DecodeReply, transfer?: Transferable[]): void;
};

scope.onmessage = async (event) => {
  const { id, file, targetRate } = event.data;
  const result = await decodeFile(file, targetRate);
  if (result.ok) scope.postMessage({ id, result }, [result.waveform.buffer as ArrayBuffer]);
  else scope.postMessage({ id, result });
};
