/**
 * Command-line flags declared once: each flag's name, type, default, help and validation live in one table, and
 * the help text, the parsing and the checks are all derived from it. Every malformed value (an unknown flag, a
 * missing value, a number that is not one or is out of range, a choice not offered, a size that is not a size)
 * is a {@link UsageError} of one line naming the flag.
 *
 * ```ts
 * const SPEC = defineCli({
 *   usage: "usage: deno task x [options] FILE...",
 *   positionals: "FILE...",
 *   flags: {
 *     "batch-size": { type: "integer", min: 1, default: 3, help: "windows per batch" },
 *     decoder: { type: "enum", choices: ["greedy", "beam"], default: "greedy", help: "CTC decoding" },
 *   },
 * });
 * const { values, positionals, help } = parseFlags(SPEC, Deno.args);
 * values["batch-size"]; // number
 * values.decoder; // "greedy" | "beam"
 * ```
 */
import { parseBytes, UsageError } from "./common.ts";
import { type ConfidenceCalibration, parseCalibration } from "../model/confidence.ts";
import { DEFAULT_HOTWORD_BOOST, type Hotword, parseHotword, readHotwordsFile } from "../model/hotwords.ts";

interface FlagBase {
  /** One line (or a paragraph: it is wrapped) for the help text; the default is appended to it. */
  help: string;
  /** A one-letter alias: `-h` for `--help`. */
  short?: string;
  /** The heading this flag is listed under (`data`, `model`); flags without one go under the spec's heading. */
  group?: string;
  /** The name shown for the value in the help text (default by type: N, X, SIZE, FILE, NAME, or the choices). */
  arg?: string;
  /** How the help text shows the default, when `default` is absent or says too little ("off", "all"). */
  defaultText?: string;
  /** The flag must be given; a string says what it is, after the flag's name, in the error. */
  required?: boolean | string;
}

/** A switch: true when given, false otherwise; it takes no value. */
export interface BooleanFlag extends FlagBase {
  type: "boolean";
}

/** Free text (`string`) or a file or folder (`path`: shown as FILE); `multiple` collects every occurrence. */
export interface StringFlag extends FlagBase {
  type: "string" | "path";
  default?: string;
  multiple?: boolean;
}

/** A whole number, optionally bounded (inclusive). */
export interface IntegerFlag extends FlagBase {
  type: "integer";
  default?: number;
  min?: number;
  max?: number;
}

/** A decimal number, finite unless `finite: false`, optionally bounded (inclusive unless `...Exclusive`). */
export interface NumberFlag extends FlagBase {
  type: "number";
  default?: number;
  min?: number;
  max?: number;
  minExclusive?: boolean;
  maxExclusive?: boolean;
  finite?: boolean;
}

/** One of a list of words. */
export interface EnumFlag extends FlagBase {
  type: "enum";
  choices: readonly string[];
  default?: string;
}

/** A byte count: "800MB", "1.5GB", "2GiB" or plain bytes (cli/common.ts parseBytes). */
export interface SizeFlag extends FlagBase {
  type: "size";
  default?: number;
}

export type Flag = BooleanFlag | StringFlag | IntegerFlag | NumberFlag | EnumFlag | SizeFlag;
export type FlagType = Flag["type"];

/** A command's flags and the text around them in its help. */
export interface CliSpec<F extends Record<string, Flag> = Record<string, Flag>> {
  /** The first line(s) of the help text, e.g. `usage: deno task eval --checkpoint CK [options]`. */
  usage: string;
  /** What the command does, printed after the usage line (kept as written: no rewrapping). */
  intro?: string;
  /** Printed after the flags. */
  footer?: string;
  /** The heading of flags without a group (default "options"). */
  heading?: string;
  /** Positional arguments are accepted only when this names them (e.g. "FILE..."). */
  positionals?: string;
  /** The help text of `-h, --help` (default "this text"); the flag is built in. */
  helpFlag?: string;
  flags: F;
}

type ValueOf<T> = T extends { type: "boolean" } ? boolean
  : T extends { type: "integer" | "number" | "size" } ? number
  : T extends { type: "enum"; choices: readonly (infer C)[] } ? C
  : T extends { multiple: true } ? string[]
  : string;

type AlwaysSet<T> = T extends { type: "boolean" } ? true
  : T extends { default: unknown } ? true
  : T extends { multiple: true } ? true
  : T extends { required: true | string } ? true
  : false;

/** The parsed values of a spec's flags, keyed by flag name; absent flags without a default are undefined. */
export type FlagValues<F extends Record<string, Flag>> = {
  -readonly [K in keyof F]: AlwaysSet<F[K]> extends true ? ValueOf<F[K]> : ValueOf<F[K]> | undefined;
};

export interface ParsedFlags<F extends Record<string, Flag>> {
  values: FlagValues<F>;
  positionals: string[];
  /** -h or --help was given: the caller prints {@link helpText}; required flags were not checked. */
  help: boolean;
  /** The flags the command line gave (the rest took their defaults). */
  given: ReadonlySet<string>;
}

/** Declares a spec, keeping its literal types (flag types, choices) so {@link parseFlags} can type the values. */
export function defineCli<const F extends Record<string, Flag>>(spec: CliSpec<F>): CliSpec<F> {
  for (const [name, flag] of Object.entries(spec.flags)) {
    if (name === "help" || flag.short === "h") throw new Error(`--help is built in; do not declare ${name}`);
    if (!/^[a-z][a-z0-9-]*$/.test(name)) throw new Error(`flag name "${name}" must be lowercase-with-dashes`);
    if (flag.short !== undefined && !/^[a-zA-Z]$/.test(flag.short)) {
      throw new Error(`--${name}: short alias must be one letter`);
    }
  }
  return spec;
}

const NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i;

function andList(words: readonly string[]): string {
  return words.length <= 1
    ? words.join("")
    : `${words.slice(0, -1).join(", ")} or ${words[words.length - 1]}`;
}

/** What a numeric flag accepts, as the error message says it: "an integer >= 1", "a number in [0, 1)". */
export function describeRange(flag: IntegerFlag | NumberFlag): string {
  const kind = flag.type === "integer"
    ? "an integer"
    : flag.finite === false
    ? "a number"
    : "a finite number";
  const lo = flag.min, hi = flag.max;
  if (flag.type === "integer") {
    if (lo !== undefined && hi !== undefined) return `${kind} from ${lo} to ${hi}`;
    if (lo !== undefined) return `${kind} >= ${lo}`;
    if (hi !== undefined) return `${kind} <= ${hi}`;
    return kind;
  }
  const loEx = flag.minExclusive === true, hiEx = flag.maxExclusive === true;
  if (lo !== undefined && hi !== undefined) {
    return `a number in ${loEx ? "(" : "["}${lo}, ${hi}${hiEx ? ")" : "]"}`;
  }
  if (lo !== undefined) return lo === 0 && loEx ? "a positive number" : `a number ${loEx ? ">" : ">="} ${lo}`;
  if (hi !== undefined) return `a number ${hiEx ? "<" : "<="} ${hi}`;
  return kind;
}

/** Converts and checks one flag's raw value; throws a UsageError naming `--name`. */
export function parseFlagValue(name: string, flag: Flag, raw: string): string | number | boolean {
  const bad = (what: string): never => {
    throw new UsageError(`--${name} must be ${what}, got "${raw}"`);
  };
  switch (flag.type) {
    case "boolean":
      throw new UsageError(`--${name} takes no value, got "${raw}"`);
    case "string":
    case "path":
      if (flag.type === "path" && raw === "") bad("a path");
      return raw;
    case "enum":
      if (!flag.choices.includes(raw)) bad(andList(flag.choices));
      return raw;
    case "size":
      return parseBytes(`--${name}`, raw);
    case "integer":
    case "number": {
      const text = raw.trim();
      let n = NUMBER.test(text) ? Number(text) : NaN;
      if (flag.type === "number" && flag.finite === false && /^[+-]?inf(inity)?$/i.test(text)) {
        n = text.startsWith("-") ? -Infinity : Infinity;
      }
      const what = describeRange(flag);
      if (Number.isNaN(n)) bad(what);
      if (flag.type === "integer" && !Number.isSafeInteger(n)) bad(what);
      if (flag.type === "number" && flag.finite !== false && !Number.isFinite(n)) bad(what);
      if (flag.min !== undefined) {
        if (n < flag.min || (flag.type === "number" && flag.minExclusive && n === flag.min)) bad(what);
      }
      if (flag.max !== undefined) {
        if (n > flag.max || (flag.type === "number" && flag.maxExclusive && n === flag.max)) bad(what);
      }
      return n;
    }
  }
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      row[j] = Math.min(prev[j] + 1, row[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = row;
  }
  return prev[b.length];
}

function unknownFlag(token: string, names: string[]): UsageError {
  const given = token.replace(/^-+/, "");
  const near = names.filter((n) => editDistance(given, n) <= Math.min(2, Math.floor(n.length / 3)));
  const hint = near.length > 0 ? `did you mean ${andList(near.map((n) => `--${n}`))}? ` : "";
  return new UsageError(`unknown flag ${token} (${hint}see --help)`);
}

/**
 * Parses `args` by the spec: `--name value`, `--name=value`, `-x value`, booleans as bare `--name`, `--` ending
 * the flags. A value may start with "-" only when it is a negative number (`--beta -1`) or joined with "="
 * (`--name=-x`). A repeated flag keeps its last value unless it is `multiple`.
 */
export function parseFlags<F extends Record<string, Flag>>(spec: CliSpec<F>, args: readonly string[]) {
  const flags = spec.flags as Record<string, Flag>;
  const names = Object.keys(flags);
  const byShort = new Map<string, string>();
  for (const name of names) if (flags[name].short) byShort.set(flags[name].short!, name);
  const values: Record<string, unknown> = {};
  const positionals: string[] = [];
  let help = false;
  const positional = (token: string) => {
    if (spec.positionals === undefined) throw new UsageError(`unexpected argument "${token}" (see --help)`);
    positionals.push(token);
  };
  for (let i = 0; i < args.length; i++) {
    const token = args[i];
    if (token === "--") {
      for (const rest of args.slice(i + 1)) positional(rest);
      break;
    }
    if (!token.startsWith("-") || token === "-" || /^-(\d|\.\d)/.test(token)) {
      positional(token);
      continue;
    }
    let name: string | undefined;
    let inline: string | undefined;
    if (token.startsWith("--")) {
      const eq = token.indexOf("=");
      name = eq < 0 ? token.slice(2) : token.slice(2, eq);
      if (eq >= 0) inline = token.slice(eq + 1);
    } else if (token.length === 2) {
      name = token[1] === "h" ? "help" : byShort.get(token[1]);
    }
    if (name === "help") {
      if (inline !== undefined) throw new UsageError(`--help takes no value, got "${inline}"`);
      help = true;
      continue;
    }
    if (name === undefined || !Object.hasOwn(flags, name)) throw unknownFlag(token.split("=")[0], names);
    const flag = flags[name];
    let value: unknown;
    if (flag.type === "boolean") {
      if (inline !== undefined) parseFlagValue(name, flag, inline);
      value = true;
    } else {
      let raw = inline;
      if (raw === undefined) {
        const next = args[i + 1];
        if (next === undefined || (next.startsWith("-") && next !== "-" && !/^-(\d|\.\d)/.test(next))) {
          const arg = valueName(flag);
          throw new UsageError(`--${name} needs a value (--${name} ${arg}; see --help)`);
        }
        raw = next;
        i++;
      }
      value = parseFlagValue(name, flag, raw);
    }
    if ((flag.type === "string" || flag.type === "path") && flag.multiple) {
      ((values[name] ??= []) as unknown[]).push(value);
    } else {
      values[name] = value;
    }
  }
  // Before defaults fill in: a recipe may depend on whether the user chose a value or took the default.
  const given: ReadonlySet<string> = new Set(Object.keys(values));
  for (const name of names) {
    if (values[name] !== undefined) continue;
    const flag = flags[name];
    if (flag.type === "boolean") values[name] = false;
    else if ((flag.type === "string" || flag.type === "path") && flag.multiple) values[name] = [];
    else if ("default" in flag && flag.default !== undefined) values[name] = flag.default;
    else if (flag.required && !help) {
      const what = typeof flag.required === "string" ? `: ${flag.required}` : "";
      throw new UsageError(`--${name} is required${what} (see --help)`);
    }
  }
  return { values: values as FlagValues<F>, positionals, help, given } as ParsedFlags<F>;
}

/** The name shown for a flag's value in help and errors (`--lr X`, `--data DIR`). */
export function valueName(flag: Flag): string {
  if (flag.arg !== undefined) return flag.arg;
  switch (flag.type) {
    case "boolean":
      return "";
    case "integer":
      return "N";
    case "number":
      return "X";
    case "size":
      return "SIZE";
    case "path":
      return "FILE";
    case "string":
      return "NAME";
    case "enum":
      return flag.choices.join("|");
  }
}

function formatDefault(flag: Flag): string | undefined {
  if (flag.defaultText !== undefined) return flag.defaultText;
  if (flag.type === "boolean" || !("default" in flag) || flag.default === undefined) return undefined;
  const d = flag.default;
  if (typeof d === "number" && !Number.isInteger(d) && Math.abs(d) < 0.01 && d !== 0) {
    return d.toExponential();
  }
  return String(d);
}

function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  for (const paragraph of text.split("\n")) {
    let line = "";
    for (const word of paragraph.split(/ +/)) {
      if (line && line.length + 1 + word.length > width) {
        lines.push(line);
        line = word;
      } else {
        line = line ? `${line} ${word}` : word;
      }
    }
    lines.push(line);
  }
  return lines;
}

/** Total width the help text is wrapped to. */
const HELP_WIDTH = 110;

/**
 * The help text: the usage line(s), the intro, then the flags under their group headings (in order of first
 * appearance), each as `--name ARG` and its help with the default, descriptions aligned in one column and
 * wrapped under it; `-h, --help` last; then the footer.
 */
export function helpText(spec: CliSpec): string {
  const rows: { group: string; left: string; text: string }[] = [];
  const heading = spec.heading ?? "options";
  for (const [name, flag] of Object.entries(spec.flags)) {
    const arg = valueName(flag);
    const left = `${flag.short ? `-${flag.short}, ` : ""}--${name}${arg ? ` ${arg}` : ""}`;
    const shown = formatDefault(flag);
    const text = shown === undefined
      ? flag.help
      : flag.help
      ? `${flag.help} (default ${shown})`
      : `default ${shown}`;
    rows.push({ group: flag.group ?? heading, left, text });
  }
  const groups = [...new Set(rows.map((r) => r.group))];
  if (groups.length === 0) groups.push(heading);
  rows.push({ group: groups[groups.length - 1], left: "-h, --help", text: spec.helpFlag ?? "this text" });
  const column = Math.max(...rows.map((r) => r.left.length)) + 3;
  const out: string[] = [spec.usage];
  if (spec.intro) out.push("", spec.intro);
  out.push("");
  for (const group of groups) {
    out.push(`${group}:`);
    for (const r of rows.filter((r) => r.group === group)) {
      const lines = wrap(r.text, HELP_WIDTH - column - 2);
      out.push(`  ${r.left.padEnd(column)}${lines[0]}`.trimEnd());
      for (const more of lines.slice(1)) out.push(`  ${" ".repeat(column)}${more}`);
    }
  }
  if (spec.footer) out.push("", spec.footer);
  return out.join("\n");
}

/** The CTC decoding flags that eval and transcribe share (greedy, or beam search with an optional n-gram LM). */
export const DECODER_FLAGS = {
  decoder: {
    type: "enum",
    choices: ["greedy", "beam"],
    default: "greedy",
    help: "greedy CTC decoding or prefix beam search",
  },
  "beam-width": { type: "integer", min: 1, default: 100, help: "beam width" },
  lm: {
    type: "path",
    help: "ARPA n-gram language model for the beam search (.arpa or .arpa.gz)",
  },
  alpha: { type: "number", help: "language model weight", defaultText: "0.5" },
  beta: { type: "number", help: "word insertion bonus", defaultText: "1.0" },
  nbest: {
    type: "integer",
    min: 1,
    default: 1,
    arg: "K",
    help: "beam search: the K best distinct hypotheses, best first, each with its score (K > 1 implies beam)",
  },
  hotword: {
    type: "string",
    multiple: true,
    arg: "PHRASE[:BOOST]",
    help:
      "favour a word or phrase in the beam search (repeatable; implies beam): BOOST nats are added to a " +
      `hypothesis that contains it (default ${DEFAULT_HOTWORD_BOOST}); one that is not spoken is not forced in`,
  },
  hotwords: {
    type: "path",
    help: "a file of hotwords, one PHRASE[:BOOST] per line (blank lines and # comments skipped)",
  },
  "confidence-calibration": {
    type: "string",
    arg: "SLOPE,OFFSET",
    help:
      "map raw word confidence c to sigmoid(SLOPE * logit(c) + OFFSET); eval prints the map fitted on the " +
      "set it scores: fit it on a dev split, then use it on others",
    defaultText: "1,0 (raw)",
  },
} as const satisfies Record<string, Flag>;

/** What the decoder flags add to the basic decoder choice: n-best, hotwords, the confidence map. */
export interface DecoderFlagOptions {
  nBest: number;
  hotwords?: Hotword[];
  calibration?: ConfidenceCalibration;
  /** Present ("beam") when these options need the beam search although --decoder greedy was given. */
  decoder?: "beam";
}

/**
 * Reads and checks --nbest, --hotword, --hotwords and --confidence-calibration; a bad value or hotwords file
 * line is a UsageError naming the flag (and the file and line).
 */
export async function decoderFlagOptions(values: {
  nbest: number;
  hotword: string[];
  hotwords?: string;
  "confidence-calibration"?: string;
}): Promise<DecoderFlagOptions> {
  const out: DecoderFlagOptions = { nBest: values.nbest };
  const hotwords: Hotword[] = [];
  for (const spec of values.hotword) {
    try {
      hotwords.push(parseHotword(spec));
    } catch (e) {
      throw new UsageError(`--hotword: ${(e as Error).message}`);
    }
  }
  if (values.hotwords !== undefined) {
    try {
      hotwords.push(...await readHotwordsFile(values.hotwords));
    } catch (e) {
      throw new UsageError(`--hotwords: ${(e as Error).message}`);
    }
  }
  if (hotwords.length > 0) out.hotwords = hotwords;
  if (values["confidence-calibration"] !== undefined) {
    try {
      out.calibration = parseCalibration(values["confidence-calibration"]);
    } catch (e) {
      throw new UsageError(`--confidence-calibration: ${(e as Error).message}`);
    }
  }
  if (out.hotwords || out.nBest > 1) out.decoder = "beam";
  return out;
}
