/** Real speech for the audio tests: FLAC files of the bundled sample corpus, whatever its speaker folders. */

/** The first `n` FLAC files (by path) under data/sample/dev. */
export function sampleFlacs(n: number): string[] {
  const found: string[] = [];
  const walk = (dir: string) => {
    for (const e of [...Deno.readDirSync(dir)].sort((a, b) => a.name < b.name ? -1 : 1)) {
      if (e.isDirectory) walk(`${dir}/${e.name}`);
      else if (e.name.endsWith(".flac")) found.push(`${dir}/${e.name}`);
    }
  };
  walk(new URL("../../data/sample/dev", import.meta.url).pathname);
  return found.slice(0, n);
}
