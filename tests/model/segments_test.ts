/**
 * Segments: breaks at pauses and at the length limits, the streaming segmenter gives the same segments as the
 * whole-transcript one whatever the pieces, and decoder frames become seconds with their confidence.
 */
import * as assert from "node:assert/strict";
import {
  DEFAULT_SEGMENT_OPTIONS,
  Segmenter,
  segmentOptions,
  segmentWords,
  timedWords,
  transcriptDocument,
} from "../../model/segments.ts";
import type { TimedWord } from "../../model/transcript_document.ts";
import { Random } from "../harness.ts";

const w = (word: string, start: number, end: number): TimedWord => ({ word, start, end });

Deno.test("a pause longer than maxPause ends a segment; a shorter one does not", () => {
  const words = [w("one", 0, 0.3), w("two", 0.7, 1.0), w("three", 1.6, 2.0), w("four", 2.1, 2.4)];
  const segs = segmentWords(words, { maxPause: 0.5 });
  assert.deepEqual(segs.map((s) => s.text), ["one two", "three four"]);
  assert.deepEqual(segs.map((s) => [s.id, s.start, s.end]), [[0, 0, 1.0], [1, 1.6, 2.4]]);
  assert.deepEqual(segs[1].words, words.slice(2));
  assert.equal(segmentWords([]).length, 0);
});

Deno.test("segments stop before maxDuration seconds and maxChars characters; one long word stands alone", () => {
  const words = Array.from(
    { length: 20 },
    (_, i) => w(`w${String(i).padStart(2, "0")}`, i * 0.5, i * 0.5 + 0.4),
  );
  const byTime = segmentWords(words, { maxDuration: 2 });
  for (const s of byTime) assert.ok(s.end - s.start <= 2, `${s.start}-${s.end}`);
  assert.deepEqual(byTime.map((s) => s.words.length), [4, 4, 4, 4, 4]);
  // Two lines of 7: "w00 w01" and "w02 w03".
  const byLines = segmentWords(words, { lineChars: 7, maxLines: 2 });
  assert.ok(byLines.every((s) => s.words.length === 4));
  assert.equal(byLines[0].text, "w00 w01 w02 w03");
  const long = segmentWords([w("a", 0, 1), w("x".repeat(100), 1, 2), w("b", 2, 3)], {
    lineChars: 10,
    maxLines: 1,
  });
  assert.deepEqual(long.map((s) => s.words.length), [1, 1, 1]);
  // Defaults: two subtitle lines of 42, 7 s, half a second of pause.
  assert.deepEqual({ ...DEFAULT_SEGMENT_OPTIONS }, {
    maxPause: 0.5,
    maxDuration: 7,
    lineChars: 42,
    maxLines: 2,
  });
  assert.throws(() => segmentOptions({ maxPause: 0 }), /maxPause must be a number > 0, got 0/);
  assert.throws(() => segmentOptions({ maxLines: 1.5 }), /maxLines must be a whole number > 0, got 1.5/);
  assert.throws(() => segmentWords([w("b", 1, 2), w("a", 0, 0.5)]), /"a" at 0-0.5 s does not follow/);
});

Deno.test("the streaming segmenter gives the whole-transcript segments for any pieces and advances", () => {
  const rng = new Random(3);
  for (let trial = 0; trial < 50; trial++) {
    const words: TimedWord[] = [];
    let t = 0;
    for (let i = 0; i < 60; i++) {
      t += rng.int(4) === 0 ? 0.3 + rng.int(20) * 0.05 : rng.int(3) * 0.025;
      const len = 0.1 + rng.int(10) * 0.025;
      words.push(w("abcdefghij".slice(0, 1 + rng.int(10)), t, t + len));
      t += len;
    }
    const whole = segmentWords(words);
    const s = new Segmenter();
    const streamed = [];
    for (let at = 0; at < words.length;) {
      const n = 1 + rng.int(7);
      streamed.push(...s.push(words.slice(at, at + n)));
      at = Math.min(at + n, words.length);
      // The decoder has reached somewhere before the next word's start.
      const next = words[at]?.start ?? t + 5;
      const last = words[at - 1].end;
      streamed.push(...s.advance(last + rng.int(101) / 100 * (next - last)));
    }
    streamed.push(...s.finish());
    assert.deepEqual(streamed, whole);
  }
});

Deno.test("decoder frames become seconds on the 25 ms grid; the decoder's probability is kept", () => {
  const words = timedWords({
    words: [
      { word: "hello", startFrame: 7, endFrame: 20 },
      { word: "world", startFrame: 30, endFrame: 41, probability: 0.75 } as never,
    ],
  });
  assert.deepEqual(words, [
    { word: "hello", start: 0.175, end: 0.525 },
    { word: "world", start: 0.75, end: 1.05, probability: 0.75 },
  ]);
  const doc = transcriptDocument({
    text: "hello world",
    words: [{ word: "hello", startFrame: 7, endFrame: 20 }],
  }, 2.0004);
  assert.deepEqual(doc, {
    text: "hello world",
    duration: 2,
    segments: [{
      id: 0,
      start: 0.175,
      end: 0.525,
      text: "hello",
      words: [{ word: "hello", start: 0.175, end: 0.525 }],
    }],
  });
});
