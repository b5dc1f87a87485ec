/**
 * FLAC decode throughput against `flac -d` on the same long file. The file is built at run time in a temp
 * dir: a few minutes of real speech from ../shared/speech (rhasspy-cathy) concatenated with sox and encoded
 * with `flac -5`; without sox/flac/../shared it falls back to the largest conformance file.
 */
import { decodeFlac } from "../data/flac.ts";
import { report } from "./report.ts";

const SHARED = new URL("../../shared/", import.meta.url).pathname;
const CLIPS = 150;
const RUNS = 7;

async function run(cmd: string, args: string[]): Promise<boolean> {
  try {
    const { success } = await new Deno.Command(cmd, { args, stdout: "null", stderr: "null" }).output();
    return success;
  } catch {
    return false;
  }
}

async function buildLongFlac(dir: string): Promise<string | null> {
  const speech = `${SHARED}speech/rhasspy-cathy/librispeech/90101/1`;
  let clips: string[];
  try {
    clips = [...Deno.readDirSync(speech)].map((e) => e.name).filter((n) => n.endsWith(".flac")).sort();
  } catch {
    return null;
  }
  const wav = `${dir}/long.wav`;
  const flac = `${dir}/long.flac`;
  const inputs = clips.slice(0, CLIPS).map((n) => `${speech}/${n}`);
  if (!(await run("sox", [...inputs, "-b", "16", wav]))) return null;
  if (!(await run("flac", ["-s", "-f", "-5", "-o", flac, wav]))) return null;
  return flac;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

export async function benchFlac(): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "flac_bench_" });
  try {
    let path = await buildLongFlac(dir);
    let label = "7 min speech 16k mono -5";
    if (!path) {
      path = `${SHARED}flac-test-files/subset/28 - high resolution audio, default settings.flac`;
      label = "conformance subset/28";
    }
    const bytes = await Deno.readFile(path);
    const first = await decodeFlac(bytes);
    for (let i = 0; i < 3; i++) await decodeFlac(bytes); // let the JIT reach its optimizing tier
    const seconds = first.samples[0].length / first.sampleRate;
    const ours: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      const t = performance.now();
      await decodeFlac(bytes);
      ours.push((performance.now() - t) / 1000);
    }
    const peer: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      const t = performance.now();
      if (!(await run("flac", ["-d", "-s", "-f", "-o", "/dev/null", path]))) {
        peer.length = 0;
        break;
      }
      peer.push((performance.now() - t) / 1000);
    }
    const ourTime = median(ours);
    const peerTime = peer.length ? median(peer) : null;
    const mb = bytes.length / 1e6;
    const note = `${label}, ${seconds.toFixed(0)} s audio, ${
      mb.toFixed(1)
    } MB, MD5 checked, median of ${RUNS}`;
    report({
      name: "flac decode",
      ours: seconds / ourTime,
      peer: peerTime ? seconds / peerTime : null,
      peerName: "flac -d",
      unit: "s audio/s",
      note,
    });
    report({
      name: "flac decode",
      ours: mb / ourTime,
      peer: peerTime ? mb / peerTime : null,
      peerName: "flac -d",
      unit: "MB/s",
      note,
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

if (import.meta.main) await benchFlac();
