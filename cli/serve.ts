/**
 * `deno task serve --checkpoint CK [--port N] [--host H]`: one process that serves the browser page (which runs
 * the model on the visitor's own GPU, fetching the checkpoint from /model.safetensors) and an HTTP API in the
 * shape of OpenAI's transcription endpoint that runs the model on this machine's GPU:
 *
 *   curl http://127.0.0.1:8000/v1/audio/transcriptions -F file=@speech.mp3 -F response_format=verbose_json
 *
 * Requests are queued and their windows batched onto the GPU (cli/serve_queue.ts); routes and errors are in
 * cli/serve_routes.ts. It listens on 127.0.0.1 unless --host says otherwise.
 */
import { loadModel, requireGpu, runCli } from "./common.ts";
import { defineCli, helpText, parseFlags } from "./flags.ts";
import { TranscriptionQueue } from "./serve_queue.ts";
import { serveHandler } from "./serve_routes.ts";

export const SERVE_SPEC = defineCli({
  usage: "usage: deno task serve --checkpoint CK [--port N] [--host H] [options]",
  intro: "Serves the browser page, the checkpoint and an OpenAI-style transcription API:\n" +
    "  POST /v1/audio/transcriptions  multipart: file, response_format (json, text, srt, vtt, verbose_json),\n" +
    "                                 timestamp_granularities[] (segment, word; with verbose_json)\n" +
    "  GET  /health   GET /model.safetensors   GET / (the page, after `deno task build:web`)",
  flags: {
    checkpoint: { type: "path", required: "(the model to serve)", help: "model checkpoint (.safetensors)" },
    port: { type: "integer", min: 0, max: 65535, default: 8000, help: "TCP port (0: any free one)" },
    host: {
      type: "string",
      default: "127.0.0.1",
      help: "address to listen on; 0.0.0.0 serves every network the machine is on",
    },
    "max-upload": {
      type: "size",
      default: 100 * 2 ** 20,
      defaultText: "100MiB",
      help: "largest upload accepted",
    },
    "batch-size": {
      type: "integer",
      min: 1,
      default: 3,
      help: "audio per GPU batch, in 24 s windows (of one or several requests)",
    },
  },
});

export interface Server {
  url: string;
  queue: TranscriptionQueue;
  shutdown(): Promise<void>;
}

/** Loads the model and starts listening; resolves once the port is open. */
export async function startServer(args: string[]): Promise<Server | null> {
  const { values, help } = parseFlags(SERVE_SPEC, args);
  if (help) return null;
  await requireGpu();
  const model = await loadModel(values.checkpoint);
  const queue = new TranscriptionQueue(model, { batchWindows: values["batch-size"] });
  const handler = serveHandler({
    queue,
    checkpoint: values.checkpoint,
    webDir: new URL("../web", import.meta.url).pathname,
    maxUploadBytes: values["max-upload"],
  });
  const { promise: listening, resolve } = Promise.withResolvers<string>();
  const server = Deno.serve({
    hostname: values.host,
    port: values.port,
    onListen: ({ hostname, port }) =>
      resolve(`http://${hostname.includes(":") ? `[${hostname}]` : hostname}:${port}`),
  }, handler);
  const url = await listening;
  return {
    url,
    queue,
    async shutdown() {
      await server.shutdown();
      model.dispose();
    },
  };
}

if (import.meta.main) {
  runCli("serve", async () => {
    const server = await startServer(Deno.args);
    if (!server) {
      console.log(helpText(SERVE_SPEC));
      return 0;
    }
    console.error(`serve: listening on ${server.url}/ (POST ${server.url}/v1/audio/transcriptions)`);
    await new Promise(() => {}); // until the process is stopped
  });
}
