/**
 * Which rank a hang is waiting for. A collective cannot tell who has not arrived, so each rank of a
 * data-parallel run records, in a small file of the run folder, how many collectives it has entered and what
 * it is doing (`.heartbeats/rank-R.json`, rewritten at every collective and every labelled phase). Every rank
 * issues the same collectives in the same order, so when a rank's watchdog fires it reads the others' files:
 * one that has entered fewer collectives is the one that hangs (stopped, stuck in a driver, busy elsewhere).
 * A rank waiting inside a collective renews its file every second (dist/watchdog.ts), so one that entered
 * the same collective but whose file has gone stale was stopped or got stuck inside it.
 *
 * Ranks see the files of the ranks that share the run folder: those on rank 0's host, or on every host when
 * the folder is on a shared file system. A rank whose file this rank cannot see is reported as unknown. Rank 0
 * empties the folder before the other ranks start (so no file is left from an earlier job) and removes it at
 * the end of a run; after a crash it stays, and the next run in the folder empties it.
 */
import { join } from "node:path";

/** The heartbeat folder of a run folder. */
export function heartbeatDir(runDir: string): string {
  return join(runDir, ".heartbeats");
}

/** What a rank's heartbeat file says. */
export interface Beat {
  rank: number;
  pid: number;
  host: string;
  /** Collectives this rank has entered so far. */
  calls: number;
  /** What it is doing: the label of its current phase (e.g. "the gradient all-reduce of step 14"). */
  what: string;
  /** When it wrote this, in ms since the epoch. */
  at: number;
}

/** One rank's writer, and the reader of the others' files. */
export class Heartbeats {
  readonly #host: string;
  /**
   * This rank's file, open for the run; null where the folder is not on this host or a write failed (the
   * others then report this rank as unseen).
   */
  #file: Deno.FsFile | null = null;
  /** Bytes of the longest beat so far: shorter ones are padded to it, so no old bytes show after the JSON. */
  #length = 256;

  /** Heartbeats of `rank` of `size` in `dir`; writes only where the folder exists (rank 0 creates it). */
  constructor(readonly dir: string, readonly rank: number, readonly size: number) {
    this.#host = hostname();
    try {
      if (Deno.statSync(dir).isDirectory) {
        this.#file = Deno.openSync(join(dir, `rank-${rank}.json`), {
          write: true,
          create: true,
          truncate: true,
        });
      }
    } catch { /* not on this host */ }
  }

  /**
   * Rank 0, before any other rank has its communicator's first collective: an empty folder, so that every file
   * in it is this job's.
   */
  static prepare(dir: string): void {
    try {
      Deno.removeSync(dir, { recursive: true });
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    }
    Deno.mkdirSync(dir, { recursive: true });
  }

  /** Records that this rank has entered `calls` collectives and is in `what`. */
  beat(calls: number, what: string): void {
    if (!this.#file) return;
    const beat: Beat = { rank: this.rank, pid: Deno.pid, host: this.#host, calls, what, at: Date.now() };
    const json = JSON.stringify(beat);
    this.#length = Math.max(this.#length, json.length + 1);
    // One synchronous write in place (beats land in order; a reader that catches one half-written retries).
    // A new file renamed over the old one would be atomic but costs milliseconds on ext4, several per step.
    const bytes = new TextEncoder().encode(json.padEnd(this.#length));
    try {
      this.#file.seekSync(0, Deno.SeekMode.Start);
      for (let done = 0; done < bytes.length;) done += this.#file.writeSync(bytes.subarray(done));
    } catch {
      this.close();
    }
  }

  /** Closes this rank's file (it stays, with the last beat). */
  close(): void {
    this.#file?.close();
    this.#file = null;
  }

  /** The other ranks' last beats (null: no readable file of this job on this host). */
  others(): Map<number, Beat | null> {
    const out = new Map<number, Beat | null>();
    for (let r = 0; r < this.size; r++) {
      if (r === this.rank) continue;
      out.set(r, readBeat(join(this.dir, `rank-${r}.json`)));
    }
    return out;
  }

  /**
   * Who keeps waiting the collective that this rank entered as its `calls`-th: the ranks that have entered
   * fewer (named, with what they were last doing and how long ago), those that entered it but whose heartbeat
   * is older than `staleMs`, or why that is not known. One line.
   */
  blame(calls: number, staleMs: number, now = Date.now()): string {
    const behind: string[] = [];
    const unknown: number[] = [];
    for (const [r, beat] of this.others()) {
      const who = () => `rank ${r} (pid ${beat!.pid} on ${beat!.host})`;
      const ago = () => `${((now - beat!.at) / 1000).toFixed(1)} s ago`;
      if (!beat) unknown.push(r);
      else if (beat.calls < calls) {
        behind.push(
          `${who()} has not reached this collective: its last heartbeat, ${ago()}, was from ${beat.what}`,
        );
      } else if (beat.calls === calls && now - beat.at > staleMs) {
        behind.push(
          `${who()} entered this collective but stopped responding: its last heartbeat was ${ago()}`,
        );
      }
    }
    const parts = [...behind];
    if (unknown.length > 0) {
      parts.push(
        `${ranks(unknown)} ${
          unknown.length === 1 ? "has" : "have"
        } no heartbeat in ${this.dir} on this host ` +
          `(another host, without a shared run folder?)`,
      );
    }
    if (parts.length === 0) {
      return "every other rank has entered this collective too: MPI or the network between the ranks hangs";
    }
    return parts.join("; ");
  }

  /** Removes the folder (rank 0, at the end of a run). */
  static remove(dir: string): void {
    try {
      Deno.removeSync(dir, { recursive: true });
    } catch { /* gone already */ }
  }
}

function ranks(list: number[]): string {
  return list.length === 1 ? `rank ${list[0]}` : `ranks ${list.join(", ")}`;
}

function hostname(): string {
  try {
    return Deno.hostname();
  } catch {
    return "unknown host";
  }
}

/** A rank's last beat, or null (no file, or unreadable 3 times: a read racing a write sees it torn). */
function readBeat(path: string): Beat | null {
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const beat = JSON.parse(Deno.readTextFileSync(path)) as Beat;
      return typeof beat.calls === "number" && typeof beat.at === "number" ? beat : null;
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return null;
    }
  }
  return null;
}
