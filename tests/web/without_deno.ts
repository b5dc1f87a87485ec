/**
 * Runs the browser bundle (web/dist/speech.js, or the path given) in Deno with the `Deno` global deleted, as a
 * page would have it: reads a checkpoint and clips first, then transcribes each clip through the bundle's API
 * and prints one JSON line per clip. Any unguarded `Deno.` on the way throws a ReferenceError.
 *
 * deno run -A tests/web/without_deno.ts BUNDLE CHECKPOINT CLIP...
 */
const [bundle, checkpoint, ...clips] = Deno.args;
const inputs = await Promise.all([checkpoint, ...clips].map((p) => Deno.readFile(p)));
const bundleUrl = new URL(bundle, `file://${Deno.cwd()}/`).href;
delete (globalThis as { Deno?: unknown }).Deno;

const speech = await import(bundleUrl);
const adapter = await speech.startGpu();
const model = speech.modelFromBytes(inputs[0], checkpoint);
for (let i = 0; i < clips.length; i++) {
  const { waveform } = await speech.decodeAudioBytes(inputs[i + 1], clips[i]);
  const r = await speech.transcribe(model, waveform);
  console.log(JSON.stringify({ clip: clips[i], text: r.transcript.text, adapter: adapter.name }));
}
