/**
 * What the browser tests share: Debian's Chromium driven headless through playwright-core (no browser download),
 * on WebGPU's SwiftShader CPU adapter, a fresh profile each time; a static server on 127.0.0.1 that logs every
 * request (so tests can tell that the page did its work without the server); a screenshot when a test fails.
 */
import { chromium } from "playwright-core";
import type { BrowserContext, Page } from "playwright-core";

/** The browser the tests drive (SPEECH_CHROMIUM overrides). */
export const CHROMIUM = Deno.env.get("SPEECH_CHROMIUM") ?? "/usr/bin/chromium";

/** Whether {@link CHROMIUM} is installed; the tests skip with a line saying so when it is not. */
export function haveChromium(): boolean {
  try {
    return Deno.statSync(CHROMIUM).isFile;
  } catch {
    return false;
  }
}

/** Prints the one line a skipped browser test leaves. */
export function noteSkip(what: string): void {
  if (!haveChromium()) {
    console.log(`${what}: skipped: no chromium at ${CHROMIUM} (set SPEECH_CHROMIUM to one)`);
  }
}

const ARGS = [
  "--headless=new",
  "--no-sandbox",
  "--enable-unsafe-webgpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
];

/** One request the server saw. */
export interface LoggedRequest {
  method: string;
  path: string;
}

/** A static server: `routes` maps a URL path to a file; everything else is 404. */
export class StaticServer {
  readonly requests: LoggedRequest[] = [];
  private server: Deno.HttpServer<Deno.NetAddr>;

  constructor(private routes: Map<string, string>) {
    this.server = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen: () => {} },
      (req) => this.handle(req),
    );
  }

  get origin(): string {
    return `http://127.0.0.1:${this.server.addr.port}`;
  }

  private async handle(req: Request): Promise<Response> {
    const path = new URL(req.url).pathname;
    this.requests.push({ method: req.method, path });
    const file = this.routes.get(path);
    if (!file || req.method !== "GET") return new Response("not found", { status: 404 });
    const bytes = await Deno.readFile(file);
    return new Response(bytes, { headers: { "content-type": contentType(file) } });
  }

  async close(): Promise<void> {
    await this.server.shutdown();
  }
}

function contentType(file: string): string {
  if (file.endsWith(".html")) return "text/html; charset=utf-8";
  if (file.endsWith(".js")) return "text/javascript; charset=utf-8";
  if (file.endsWith(".json")) return "application/json";
  return "application/octet-stream";
}

/** What a test may add to a launch. */
export interface LaunchOptions {
  /** Extra Chromium switches, e.g. the fake microphone's (tests/web/input_test.ts). */
  args?: string[];
}

/** A headless Chromium with a fresh profile (deleted at close) and one page, its console kept for messages. */
export class Browser {
  readonly console: string[] = [];
  private constructor(readonly context: BrowserContext, readonly page: Page, private profile: string) {}

  static async launch(options: LaunchOptions = {}): Promise<Browser> {
    const profile = await Deno.makeTempDir({ prefix: "speech_chromium_" });
    const context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: [...ARGS, ...(options.args ?? [])],
    });
    const page = context.pages()[0] ?? await context.newPage();
    const b = new Browser(context, page, profile);
    page.on("console", (m) => b.console.push(`${m.type()}: ${m.text()}`));
    page.on("pageerror", (e) => b.console.push(`pageerror: ${e.message}`));
    return b;
  }

  /**
   * Runs `body`; when it throws, saves a screenshot of the page under runs/web-test/ and adds its path and the
   * page's console to the error.
   */
  async run<T>(name: string, body: (page: Page) => Promise<T>): Promise<T> {
    try {
      return await body(this.page);
    } catch (e) {
      const dir = new URL("../../runs/web-test/", import.meta.url).pathname;
      await Deno.mkdir(dir, { recursive: true });
      const shot = `${dir}${name.replace(/[^a-z0-9]+/gi, "-")}-failure.png`;
      await this.page.screenshot({ path: shot, fullPage: true }).catch(() => {});
      const tail = this.console.slice(-20).join("\n  ");
      throw new Error(`${(e as Error).message}\n  screenshot: ${shot}\n  page console:\n  ${tail}`, {
        cause: e,
      });
    }
  }

  async close(): Promise<void> {
    await this.context.close();
    await Deno.remove(this.profile, { recursive: true }).catch(() => {});
  }
}
