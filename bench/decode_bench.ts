/**
 * Decoding speed: prefix beam search (beam 100, with and without a 3-gram LM built from the rhasspy-cathy
 * transcripts) against the greedy decoder, in frames per second, on ~2000 frames of peaky synthetic
 * log-probabilities that spell real transcripts.
 */

import { BLANK, N_CLASS, textToInts } from "../data/text.ts";
import { parseArpa } from "../model/arpa.ts";
import { ctcBeamSearch } from "../model/beam_search.ts";
import { greedyDecode } from "../model/decode.ts";
import { buildKneserNey, formatArpa, tokenizeLine } from "../model/kneser_ney.ts";
import { report } from "./report.ts";

const CATHY = new URL("../../shared/speech/rhasspy-cathy/librispeech/90101/", import.meta.url);

function cathySentences(): string[][] {
  const out: string[][] = [];
  for (const chapter of ["1/90101-1.trans.txt", "2/90101-2.trans.txt"]) {
    const text = Deno.readTextFileSync(new URL(chapter, CATHY));
    for (const line of text.split("\n")) {
      const words = tokenizeLine(line, { skipFirstField: true });
      if (words.length) out.push(words);
    }
  }
  return out;
}

/**
 * Log-probabilities of a CTC-like model reading `text`: each character spikes for 1-2 frames amid blanks, the
 * spiking class gets most of the mass, and a few random classes get some, so that beams really branch.
 */
export function syntheticLogProbs(text: string, frames: number, seed = 1): Float32Array {
  let s = seed >>> 0;
  const random = () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 4294967296;
  const path: number[] = [];
  for (const c of textToInts(text)) {
    for (let k = Math.floor(random() * 3); k > 0; k--) path.push(BLANK);
    for (let k = 1 + Math.floor(random() * 2); k > 0; k--) path.push(c);
  }
  while (path.length < frames) path.push(BLANK);
  const lp = new Float32Array(frames * N_CLASS);
  const logits = new Float64Array(N_CLASS);
  for (let t = 0; t < frames; t++) {
    for (let c = 0; c < N_CLASS; c++) logits[c] = (random() - 0.5) * 3;
    logits[path[t]] += 4 + random() * 4;
    // A confusable class now and then.
    if (random() < 0.3) logits[Math.floor(random() * N_CLASS)] += 3 + random() * 3;
    let m = -Infinity;
    for (let c = 0; c < N_CLASS; c++) m = Math.max(m, logits[c]);
    let z = 0;
    for (let c = 0; c < N_CLASS; c++) z += Math.exp(logits[c] - m);
    const lz = m + Math.log(z);
    for (let c = 0; c < N_CLASS; c++) lp[t * N_CLASS + c] = logits[c] - lz;
  }
  return lp;
}

/** Frames per second of `run` over `frames` frames, repeated for at least `minSeconds`. */
function framesPerSecond(frames: number, run: () => void, minSeconds = 1): number {
  run(); // warm-up
  let reps = 0;
  const start = performance.now();
  let elapsed = 0;
  do {
    run();
    reps++;
    elapsed = (performance.now() - start) / 1000;
  } while (elapsed < minSeconds);
  return (frames * reps) / elapsed;
}

export async function benchDecode(): Promise<void> {
  const sentences = cathySentences();
  const text = sentences.slice(0, 40).map((w) => w.join(" ")).join(" ");
  const frames = 2000;
  // Enough words for 2000 frames (about 4 characters per 6 frames).
  const spoken = text.slice(0, Math.floor(frames / 2.6)).trimEnd();
  const lp = syntheticLogProbs(spoken, frames);
  const lm = parseArpa(formatArpa(buildKneserNey(sentences, 3)), { name: "cathy 3-gram" });

  const greedy = framesPerSecond(frames, () => greedyDecode(lp, frames));
  // nBest 1, as the CLIs decode: only the best hypothesis is spelled out and given word confidences.
  const plain = framesPerSecond(
    frames,
    () => ctcBeamSearch(lp, frames, frames, { beamWidth: 100, nBest: 1 }),
  );
  report({
    name: `ctc beam search, beam 100, no LM (${frames} fr)`,
    ours: plain,
    peer: greedy,
    peerName: "our greedy decoder",
    unit: "frames/s",
    note: `${(plain * 0.025).toFixed(0)} s of audio/s at 25 ms per frame`,
  });
  const withLm = framesPerSecond(
    frames,
    () => ctcBeamSearch(lp, frames, frames, { beamWidth: 100, lm, nBest: 1 }),
  );
  report({
    name: `ctc beam search, beam 100, 3-gram LM (${frames} fr)`,
    ours: withLm,
    peer: greedy,
    peerName: "our greedy decoder",
    unit: "frames/s",
    note: `${(withLm * 0.025).toFixed(0)} s of audio/s; LM ${lm.counts.join("/")} n-grams from rhasspy-cathy`,
  });
  // Ten phrases of the text boosted: the automaton's step per new prefix is the added cost.
  const hotwords = sentences.slice(0, 10).map((w) => ({ phrase: w.slice(0, 2).join(" "), boost: 4 }));
  const withHot = framesPerSecond(
    frames,
    () => ctcBeamSearch(lp, frames, frames, { beamWidth: 100, lm, nBest: 1, hotwords }),
  );
  report({
    name: `ctc beam search, beam 100, 3-gram LM, 10 hotwords (${frames} fr)`,
    ours: withHot,
    peer: withLm,
    peerName: "the same without hotwords",
    unit: "frames/s",
    note: `${(withHot * 0.025).toFixed(0)} s of audio/s`,
  });
  await Promise.resolve();
}

if (import.meta.main) await benchDecode();
