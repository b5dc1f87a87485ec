/**
 * Finds `Deno.` uses in a bundle that would throw in a browser. A use is guarded when its function tests
 * `typeof Deno` before it, or when that function is only ever called behind `typeof Deno !== "undefined")`.
 * Functions are found by the nearest `function NAME(` before the use, so a use in a method or arrow function is
 * reported (conservatively) unless a `typeof Deno` test precedes it in the same stretch.
 */

/** One line per unguarded use: its line number and text. */
export function unguardedDenoUses(js: string): string[] {
  const code = withoutComments(js);
  const out: string[] = [];
  for (const m of code.matchAll(/\bDeno\./g)) {
    const at = m.index!;
    if (code.slice(Math.max(0, at - 7), at) === "typeof ") continue;
    const fn = enclosingFunction(code, at);
    if (fn && code.slice(fn.start, at).includes("typeof Deno")) continue;
    if (fn && onlyCalledBehindGuard(code, fn.name)) continue;
    const line = code.slice(0, at).split("\n").length;
    out.push(`line ${line}: ${code.split("\n")[line - 1].trim()}`);
  }
  return out;
}

/** Block and line comments blanked out (keeping line breaks, so line numbers stay). */
function withoutComments(js: string): string {
  return js.replace(/\/\*[\s\S]*?\*\//g, (c) => c.replace(/[^\n]/g, " "))
    .replace(/^\s*\/\/.*$/gm, "");
}

function enclosingFunction(code: string, at: number): { name: string; start: number } | null {
  let found: { name: string; start: number } | null = null;
  for (const m of code.slice(0, at).matchAll(/\bfunction\s*\*?\s*([\w$]+)\s*\(/g)) {
    found = { name: m[1], start: m.index! };
  }
  return found;
}

function onlyCalledBehindGuard(code: string, name: string): boolean {
  const calls = [...code.matchAll(new RegExp(`(?<!function\\s*)\\b${name.replace(/\$/g, "\\$")}\\(`, "g"))];
  if (calls.length === 0) return false;
  return calls.every((c) =>
    /typeof Deno !== "undefined"\)\s*$/.test(code.slice(Math.max(0, c.index! - 40), c.index))
  );
}
