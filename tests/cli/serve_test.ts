/**
 * `deno task serve`: the OpenAI-shaped transcription API answered over real HTTP (fetch + FormData, as OpenAI's
 * clients send it) in every response format; 8 concurrent requests give byte-identical bodies to the same 8
 * sent one by one; malformed uploads get a 4xx with a JSON error and the server goes on; the page, checkpoint
 * and health routes; the command listens on 127.0.0.1 by default.
 */
import assert from "node:assert/strict";
import { parseSrt, parseVtt } from "../../cli/formats/mod.ts";
import { type Server, startServer } from "../../cli/serve.ts";
import { TranscriptionQueue } from "../../cli/serve_queue.ts";
import { loadAudio } from "../../data/audio.ts";
import { transcribeLong } from "../../model/long_inference.ts";
import { loadModel } from "../../cli/common.ts";
import { initGpu } from "../../engine/device.ts";
import { TORCH_FIXTURES_DIR } from "../torch_fixtures.ts";

const CHECKPOINT = new URL("pytorch_trained/model.safetensors", TORCH_FIXTURES_DIR).pathname;
const AUDIO = new URL("../fixtures/audio_codecs/", import.meta.url).pathname;
const UPLOAD_LIMIT = 1 << 20;

async function withServer(fn: (s: Server) => Promise<void>): Promise<void> {
  const server = await startServer([
    "--checkpoint",
    CHECKPOINT,
    "--port",
    "0",
    "--max-upload",
    `${UPLOAD_LIMIT}`,
  ]);
  assert.ok(server);
  try {
    await fn(server);
  } finally {
    await server.shutdown();
  }
}

function form(file: Blob | null, fields: Record<string, string | string[]> = {}, name = "clip"): FormData {
  const f = new FormData();
  if (file) f.append("file", file, name);
  f.append("model", "whisper-1"); // what OpenAI clients send; ignored
  for (const [k, v] of Object.entries(fields)) for (const x of [v].flat()) f.append(k, x);
  return f;
}

const audioFile = (name: string) => new Blob([Deno.readFileSync(AUDIO + name)]);

async function post(s: Server, body: BodyInit, headers?: HeadersInit): Promise<Response> {
  return await fetch(`${s.url}/v1/audio/transcriptions`, { method: "POST", body, headers });
}

Deno.test("every response_format in OpenAI's shapes, over HTTP with FormData", async () => {
  await withServer(async (s) => {
    const json = await post(s, form(audioFile("six.flac")));
    assert.equal(json.headers.get("content-type"), "application/json");
    assert.deepEqual(await json.json(), { text: "six" });

    const text = await post(s, form(audioFile("six.mp3"), { response_format: "text" }));
    assert.match(text.headers.get("content-type")!, /^text\/plain/);
    assert.equal(await text.text(), "six\n");

    const srt = await (await post(s, form(audioFile("six.opus"), { response_format: "srt" }))).text();
    const srtCues = parseSrt(srt);
    assert.deepEqual(srtCues.map((c) => c.text), ["six"]);
    assert.equal(srtCues[0].start, 0);

    const vttResponse = await post(s, form(audioFile("six.ogg"), { response_format: "vtt" }));
    assert.match(vttResponse.headers.get("content-type")!, /^text\/vtt/);
    const vtt = await vttResponse.text();
    assert.ok(vtt.startsWith("WEBVTT\n"));
    assert.deepEqual(parseVtt(vtt).map((c) => c.text), ["six"]);

    const verbose = await (await post(s, form(audioFile("six.flac"), { response_format: "verbose_json" })))
      .json();
    assert.deepEqual(Object.keys(verbose), ["task", "language", "duration", "text", "segments"]);
    assert.deepEqual([verbose.task, verbose.language, verbose.duration, verbose.text], [
      "transcribe",
      "english",
      0.519,
      "six",
    ]);
    assert.deepEqual(verbose.segments.map((x: { id: number; text: string }) => [x.id, x.text]), [[0, "six"]]);

    const words = await (await post(
      s,
      form(audioFile("six.flac"), { response_format: "verbose_json", "timestamp_granularities[]": ["word"] }),
    )).json();
    assert.equal(words.segments, undefined);
    assert.equal(words.words.length, 1);
    assert.equal(words.words[0].word, "six");
    assert.ok(words.words[0].start >= 0 && words.words[0].end > words.words[0].start);
    const both = await (await post(
      s,
      form(audioFile("six.flac"), {
        response_format: "verbose_json",
        "timestamp_granularities[]": ["word", "segment"],
      }),
    )).json();
    assert.deepEqual([both.segments.length, both.words.length], [1, 1]);
  });
});

Deno.test("8 concurrent requests give byte-identical bodies to the same requests one by one", async () => {
  await withServer(async (s) => {
    const requests = ["jfk", "six"].flatMap((clip) =>
      (["flac", "mp3", "ogg", "opus"] as const).map((ext, i) => ({
        name: `${clip}.${ext}`,
        format: ["verbose_json", "srt", "vtt", "json"][i],
      }))
    );
    const send = async (r: { name: string; format: string }) => {
      const res = await post(
        s,
        form(audioFile(r.name), {
          response_format: r.format,
          ...(r.format === "verbose_json" ? { "timestamp_granularities[]": ["word", "segment"] } : {}),
        }),
      );
      assert.equal(res.status, 200, r.name);
      return new Uint8Array(await res.arrayBuffer());
    };
    const sequential: Uint8Array[] = [];
    for (const r of requests) sequential.push(await send(r));
    const batchesBefore = s.queue.batchesRun;
    const concurrent = await Promise.all(requests.map(send));
    requests.forEach((r, i) => assert.deepEqual(concurrent[i], sequential[i], r.name));
    // Clips of one length (each is one window here) may share batches: the answers must agree all the same.
    // (Measured here: 3 batches for the 8 concurrent requests, 8 one by one.)
    assert.ok(s.queue.batchesRun - batchesBefore <= requests.length);
  });
});

Deno.test("the queue batches equal-length windows of several requests and decodes each request in window order", async () => {
  await initGpu();
  const model = await loadModel(CHECKPOINT);
  try {
    const jfk = (await loadAudio(AUDIO + "jfk.flac")).waveform;
    // 46.8 s: two 24 s windows and a shorter last one, which may come back before the others of its request.
    const long = new Float32Array(jfk.length * 6);
    for (let i = 0; i < 6; i++) long.set(jfk, i * jfk.length);
    const alone = new TranscriptionQueue(model);
    const want = await alone.transcribe(long);
    assert.equal(want.samples, long.length);
    // What `deno task transcribe` and the web page give (transcribeLong): the same words, their edges moved
    // off the silence between the repeats by the windows' frame levels (model/speech_edges.ts).
    const direct = await transcribeLong(model, long);
    assert.deepEqual(want.transcript.words, direct.transcript!.words);
    assert.equal(want.transcript.text, direct.transcript!.text);
    const shared = new TranscriptionQueue(model);
    const results = await Promise.all([0, 1, 2].map(() => shared.transcribe(long)));
    for (const r of results) assert.deepEqual(r, want);
    assert.ok(shared.batchesRun < 3 * alone.batchesRun, `${shared.batchesRun} batches for 3 requests`);
    const six = (await loadAudio(AUDIO + "six.flac")).waveform;
    const sixAlone = await alone.transcribe(six);
    // A recording too short for one output frame, and an empty one, fail alone; the others are unharmed.
    const [short, empty, fine] = await Promise.allSettled([
      shared.transcribe(new Float32Array(100)),
      shared.transcribe(new Float32Array(0)),
      shared.transcribe(six),
    ]);
    assert.ok(short.status === "rejected" && /only 100 samples/.test(String(short.reason)));
    assert.ok(empty.status === "rejected" && /only 0 samples|no samples/.test(String(empty.reason)));
    assert.ok(fine.status === "fulfilled");
    assert.deepEqual(fine.value, sixAlone);
  } finally {
    model.dispose();
  }
});

Deno.test("50 malformed requests get 4xx with a JSON error and the server keeps answering", async () => {
  await withServer(async (s) => {
    const flac = Deno.readFileSync(AUDIO + "six.flac");
    const bad: [string, () => Promise<Response>, number, RegExp][] = [
      [
        "not multipart",
        () => post(s, JSON.stringify({ file: "x" }), { "content-type": "application/json" }),
        400,
        /multipart/,
      ],
      ["no body type", () => post(s, "file=1"), 400, /multipart/],
      ["no file field", () => post(s, form(null)), 400, /no "file" field/],
      [
        "file as text",
        () => {
          const f = new FormData();
          f.append("file", "just a string");
          return post(s, f);
        },
        400,
        /no "file" field/,
      ],
      [
        "not audio",
        () => post(s, form(new Blob(["hello, not audio at all"]), {}, "notes.mp3")),
        400,
        /notes\.mp3 at byte 0: not a FLAC, WAV, MP3/,
      ],
      ["empty file", () => post(s, form(new Blob([]), {}, "empty.wav")), 400, /empty\.wav at byte 0/],
      [
        "truncated FLAC",
        () => post(s, form(new Blob([flac.slice(0, flac.length - 700)]), {}, "cut.flac")),
        400,
        /cut\.flac at byte \d+: stream ends inside a frame/,
      ],
      ["too short", () => post(s, form(new Blob([flac.slice(0, 200)]), {}, "tiny.flac")), 400, /tiny\.flac/],
      [
        "bad format",
        () => post(s, form(new Blob([flac]), { response_format: "xml" })),
        400,
        /response_format must be one of/,
      ],
      [
        "bad granularity",
        () =>
          post(
            s,
            form(new Blob([flac]), { response_format: "verbose_json", "timestamp_granularities[]": "char" }),
          ),
        400,
        /timestamp_granularities/,
      ],
      [
        "granularity without verbose_json",
        () => post(s, form(new Blob([flac]), { "timestamp_granularities[]": "word" })),
        400,
        /needs response_format verbose_json/,
      ],
      [
        "too large",
        () => post(s, form(new Blob([new Uint8Array(UPLOAD_LIMIT + 1)]))),
        413,
        /larger than this server's limit of 1048576 bytes/,
      ],
      [
        "broken multipart",
        () =>
          post(s, '--xyz\r\nContent-Disposition: form-data; name="file"\r\n\r\nabc', {
            "content-type": "multipart/form-data; boundary=qqq",
          }),
        400,
        /multipart body could not be read/,
      ],
      ["wrong method", () => fetch(`${s.url}/v1/audio/transcriptions`), 405, /takes POST/],
      ["unknown path", () => fetch(`${s.url}/v1/nothing`), 404, /no such page/],
      ["path escape", () => fetch(`${s.url}/dist/..%2f..%2fdeno.json`), 404, /no such page/],
    ];
    for (let i = 0; i < 50; i++) {
      const [what, send, status, message] = bad[i % bad.length];
      const res = await send();
      const body = await res.json();
      assert.equal(res.status, status, `${what}: ${JSON.stringify(body)}`);
      assert.match(body.error.message, message, what);
      assert.match(body.error.type, /^invalid_request_error$/, what);
    }
    const health = await (await fetch(`${s.url}/health`)).json();
    assert.equal(health.status, "ok");
    const good = await post(s, form(new Blob([flac])));
    assert.equal(good.status, 200);
    assert.deepEqual(await good.json(), { text: "six" });
  });
});

Deno.test("the checkpoint at /model.safetensors and the page (or how to build it) at /", async () => {
  await withServer(async (s) => {
    const model = await fetch(`${s.url}/model.safetensors`);
    assert.equal(model.status, 200);
    assert.deepEqual(new Uint8Array(await model.arrayBuffer()), Deno.readFileSync(CHECKPOINT));
    const page = await fetch(`${s.url}/`);
    assert.equal(page.status, 200);
    assert.match(page.headers.get("content-type")!, /^text\/html/);
    const html = await page.text();
    const built = await Deno.stat(new URL("../../web/dist/app.js", import.meta.url)).then(
      () => true,
      () => false,
    );
    if (built) {
      assert.match(html, /dist\/app\.js/);
      const app = await fetch(`${s.url}/dist/app.js`);
      assert.match(app.headers.get("content-type")!, /^text\/javascript/);
      assert.ok((await app.text()).length > 0);
    } else assert.match(html, /deno task build:web/);
  });
});

Deno.test("deno task serve listens on 127.0.0.1 unless told otherwise", async () => {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      new URL("../../cli/serve.ts", import.meta.url).pathname,
      "--checkpoint",
      CHECKPOINT,
      "--port",
      "0",
    ],
    stderr: "piped",
    stdout: "null",
  }).spawn();
  try {
    const lines = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
    let text = "";
    while (!/listening on (\S+)\//.test(text)) {
      const r = await lines.read();
      if (r.done) break;
      text += r.value;
    }
    const url = /listening on (http:\/\/127\.0\.0\.1:\d+)\//.exec(text)?.[1];
    assert.ok(url, text);
    assert.equal((await (await fetch(`${url}/health`)).json()).status, "ok");
    lines.cancel();
  } finally {
    child.kill("SIGTERM");
    await child.status;
  }
});
