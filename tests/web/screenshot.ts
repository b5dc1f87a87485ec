/// <reference lib="dom" />
/**
 * Makes docs/web-screenshot.png: the page in headless Chromium after transcribing a spoken digit with the
 * PyTorch-trained fixture checkpoint. `deno run -A tests/web/screenshot.ts [OUT.png] [CLIP]`.
 */
import { buildWeb } from "../../web/build.ts";
import { Browser, StaticServer } from "./browser.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const out = Deno.args[0] ?? `${ROOT}docs/web-screenshot.png`;
const clip = Deno.args[1] ?? `${ROOT}../shared/speech/fsdd/librispeech/90001/1/90001-1-0300.flac`;

const dist = await Deno.makeTempDir({ prefix: "speech_web_dist_" });
await buildWeb(dist);
const server = new StaticServer(
  new Map([
    ["/", `${ROOT}web/index.html`],
    ["/dist/app.js", `${dist}/app.js`],
    ["/model.safetensors", `${ROOT}tests/fixtures/torch/pytorch_trained/model.safetensors`],
  ]),
);
const browser = await Browser.launch();
try {
  const page = browser.page;
  await page.setViewportSize({ width: 1000, height: 800 });
  await page.goto(`${server.origin}/?model=/model.safetensors`);
  await page.waitForFunction(() => ["idle", "error"].includes(document.body.dataset.state ?? ""));
  await page.setInputFiles("#audio", clip);
  await page.waitForFunction(() => ["done", "error"].includes(document.body.dataset.state ?? ""), null, {
    timeout: 240_000,
  });
  await page.screenshot({ path: out, fullPage: true });
  console.log(
    `wrote ${out}: "${await page.textContent("#transcript")}" (${await page.textContent("#stats")})`,
  );
} finally {
  await browser.close();
  await server.close();
  await Deno.remove(dist, { recursive: true });
}
