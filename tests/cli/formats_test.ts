/**
 * The output formats: SRT and WebVTT written and parsed back give the same words and times (with wrapping,
 * escapes, hours and parser tolerance for what other tools write), JSON has Whisper's verbose_json shape, TSV is
 * the original line format, and malformed subtitle files fail naming the line.
 */
import * as assert from "node:assert/strict";
import {
  type Cue,
  formatDocument,
  OUTPUT_FORMATS,
  parseJson,
  parseSrt,
  parseVtt,
} from "../../cli/formats/mod.ts";
import { CUE_LINE_CHARS, wrapCueText } from "../../cli/formats/cue.ts";
import { formatTimecode, parseTimecode } from "../../cli/formats/timecode.ts";
import { SegmentStreamWriter } from "../../cli/formats/stream.ts";
import { segmentWords } from "../../model/segments.ts";
import type { TimedWord, TranscriptDocument } from "../../model/transcript_document.ts";
import { Random } from "../harness.ts";

/** A long random transcript on the 25 ms grid: pauses, runs of words past the length limits, times past an hour. */
function randomDocument(seed: number, wordsCount: number, startAt = 0): TranscriptDocument {
  const rng = new Random(seed);
  const words: TimedWord[] = [];
  let frame = Math.round(startAt / 0.025);
  for (let i = 0; i < wordsCount; i++) {
    frame += rng.int(5) === 0 ? 10 + rng.int(80) : rng.int(4);
    const frames = 3 + rng.int(30);
    const word = Array.from({ length: 1 + rng.int(12) }, () => "abcdefghijklmnopqrstuvwxyz'"[rng.int(27)])
      .join("");
    words.push({
      word,
      start: frame * 0.025,
      end: (frame + frames) * 0.025,
      probability: rng.int(1000) / 1000,
    });
    frame += frames;
  }
  const segments = segmentWords(
    words.map((w) => ({ ...w, start: +w.start.toFixed(3), end: +w.end.toFixed(3) })),
  );
  return { text: segments.map((s) => s.text).join(" "), duration: frame * 0.025 + 1, segments };
}

function wordsAndTimes(cues: Cue[]) {
  return cues.map((c) => ({ start: c.start, end: c.end, words: c.text.split(/\s+/) }));
}

Deno.test("SRT and VTT parse back to the same words and times", () => {
  for (const [seed, start] of [[1, 0], [2, 3590], [3, 100000]]) {
    const doc = randomDocument(seed, 400, start);
    const expected = doc.segments.map((s) => ({
      start: s.start,
      end: s.end,
      words: s.words.map((w) => w.word),
    }));
    const srt = formatDocument(doc, "srt");
    const vtt = formatDocument(doc, "vtt");
    assert.deepEqual(wordsAndTimes(parseSrt(srt)), expected);
    assert.deepEqual(wordsAndTimes(parseVtt(vtt)), expected);
    assert.ok(vtt.startsWith("WEBVTT\n\n"));
    // Cues in time order, never overlapping; lines readable.
    const cues = parseVtt(vtt);
    cues.forEach((c, i) => {
      assert.ok(c.end > c.start);
      if (i > 0) assert.ok(c.start >= cues[i - 1].end);
      for (const line of c.text.split("\n")) {
        assert.ok(line.length <= CUE_LINE_CHARS || !line.includes(" "), `line of ${line.length}: ${line}`);
      }
      assert.equal(c.text.replaceAll("\n", " "), doc.segments[i].text);
      assert.ok(c.text.split("\n").length <= 2, c.text);
    });
  }
});

Deno.test("the SRT and VTT texts are exactly the standard layout", () => {
  const doc: TranscriptDocument = {
    text: "a < b & c > d fine",
    duration: 3725,
    segments: [
      { id: 0, start: 0.5, end: 1.25, text: "a < b & c > d", words: [] },
      { id: 1, start: 3723.0, end: 3724.5, text: "fine", words: [] },
    ],
  };
  assert.equal(
    formatDocument(doc, "srt"),
    "1\n00:00:00,500 --> 00:00:01,250\na < b & c > d\n\n2\n01:02:03,000 --> 01:02:04,500\nfine\n",
  );
  const vtt = formatDocument(doc, "vtt");
  assert.equal(
    vtt,
    "WEBVTT\n\n00:00:00.500 --> 00:00:01.250\na &lt; b &amp; c &gt; d\n\n01:02:03.000 --> 01:02:04.500\nfine\n",
  );
  assert.equal(parseVtt(vtt)[0].text, "a < b & c > d");
  assert.throws(
    () => formatDocument({ ...doc, segments: [doc.segments[1], doc.segments[0]] }, "srt"),
    /srt: segment 0 \(0.5-1.25 s\) overlaps the one before \(ended 3724.5 s\)/,
  );
});

Deno.test("the parsers read what other tools write and name the line of a malformed cue", () => {
  const srt =
    "\uFEFF1\r\n00:00:01,000 --> 00:00:02,000 X1:10 X2:20\r\nHello\r\nthere\r\n\r\n\r\n2\r\n00:00:02,500 --> 00:00:03,000\r\nyou\r\n";
  assert.deepEqual(parseSrt(srt), [{ start: 1, end: 2, text: "Hello\nthere" }, {
    start: 2.5,
    end: 3,
    text: "you",
  }]);
  const vtt =
    "WEBVTT - made elsewhere\nKind: captions\n\nNOTE a comment\nover lines\n\nSTYLE\n::cue { color: red }\n\n" +
    "intro\n01:02.500 --> 01:03.000 align:start position:10%\n<v Roger>Hi &amp; <b>bye</b>\n";
  assert.deepEqual(parseVtt(vtt), [{ start: 62.5, end: 63, text: "Hi & bye" }]);
  assert.throws(
    () => parseSrt("1\n00:00:01.000 --> 00:00:02,000\nx\n", "a.srt"),
    /^SyntaxError: a\.srt:2: expected "HH:MM:SS,mmm/,
  );
  assert.throws(
    () => parseSrt("one\n00:00:01,000 --> 00:00:02,000\nx\n", "a.srt"),
    /a\.srt:1: expected a cue number/,
  );
  assert.throws(
    () => parseVtt("1\n00:01.000 --> 00:02.000\nx\n", "b.vtt"),
    /b\.vtt:1: a WebVTT file starts with "WEBVTT"/,
  );
  assert.throws(() => parseVtt("WEBVTT\n\nid\n00:01.000 -> 00:02.000\n", "b.vtt"), /b\.vtt:4: expected/);
});

Deno.test("timecodes round to milliseconds and read back; wrapping balances two lines", () => {
  assert.equal(formatTimecode(0.0004, ","), "00:00:00,000");
  assert.equal(formatTimecode(59.9996, "."), "00:01:00.000");
  assert.equal(formatTimecode(360000.123, ","), "100:00:00,123");
  assert.equal(parseTimecode("100:00:00,123", ","), 360000.123);
  assert.equal(parseTimecode("00:60:00,000", ","), null);
  assert.throws(() => formatTimecode(-1, ","), /finite number of seconds >= 0, got -1/);
  assert.deepEqual(wrapCueText("short one"), ["short one"]);
  const text = "the quick brown fox jumps over the lazy dog and then it runs away far";
  const lines = wrapCueText(text);
  assert.equal(lines.length, 2);
  assert.ok(Math.abs(lines[0].length - lines[1].length) <= 6, lines.join("|"));
  assert.equal(lines.join(" "), text);
  assert.deepEqual(wrapCueText("x".repeat(50) + " y"), ["x".repeat(50), "y"]);
});

Deno.test("JSON is Whisper's verbose_json shape; TSV is NAME<TAB>TEXT with optional word lines; txt a line a segment", () => {
  const doc = randomDocument(7, 30);
  const json = JSON.parse(formatDocument(doc, "json"));
  assert.deepEqual(Object.keys(json), ["text", "duration", "segments"]);
  assert.deepEqual(Object.keys(json.segments[0]), ["id", "start", "end", "text", "words"]);
  assert.deepEqual(Object.keys(json.segments[0].words[0]), ["word", "start", "end", "probability"]);
  assert.deepEqual(parseJson(formatDocument(doc, "json")), doc);
  const line = formatDocument(doc, "json", { jsonLine: true, name: "a.wav" });
  assert.equal(line.split("\n").length, 2);
  assert.equal(JSON.parse(line).file, "a.wav");
  assert.throws(() => parseJson('{"text": 1}', "x.json"), /x\.json: expected an object with text, duration/);

  const small: TranscriptDocument = {
    text: "hi there",
    duration: 1,
    segments: [{
      id: 0,
      start: 0.1,
      end: 0.6,
      text: "hi there",
      words: [{ word: "hi", start: 0.1, end: 0.2 }, { word: "there", start: 0.3, end: 0.6 }],
    }],
  };
  assert.equal(formatDocument(small, "tsv", { name: "a.wav" }), "a.wav\thi there\n");
  assert.equal(
    formatDocument(small, "tsv", { name: "a.wav", timestamps: true }),
    "a.wav\thi there\n\t0.100\t0.200\thi\n\t0.300\t0.600\tthere\n",
  );
  assert.equal(formatDocument(doc, "txt"), doc.segments.map((s) => s.text + "\n").join(""));
  assert.deepEqual([...OUTPUT_FORMATS], ["tsv", "txt", "json", "srt", "vtt"]);
});

Deno.test("written segment by segment, srt, vtt and txt are the whole document's bytes; json comes at the end", () => {
  const doc = randomDocument(11, 120);
  for (const format of ["srt", "vtt", "txt", "json"] as const) {
    const w = new SegmentStreamWriter(format);
    const pieces = [w.begin(), ...doc.segments.map((s) => w.segment(s)), w.end(doc)];
    assert.equal(pieces.join(""), formatDocument(doc, format), format);
    if (format !== "json") assert.equal(pieces.at(-1), "");
  }
  // tsv: a NAME<TAB>TEXT line per segment.
  const w = new SegmentStreamWriter("tsv", { name: "-" });
  assert.equal(w.segment(doc.segments[0]), `-\t${doc.segments[0].text}\n`);
  // Out of order is refused, as for the whole document.
  const srt = new SegmentStreamWriter("srt");
  srt.segment(doc.segments[1]);
  assert.throws(() => srt.segment(doc.segments[0]), /srt: segment 0 .* overlaps the one before/);
});
