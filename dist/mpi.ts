/**
 * The {@link Communicator} over an MPI library loaded with Deno's FFI: Open MPI (libmpi.so.40), whose handles
 * are the addresses of its globals (`MPI_COMM_WORLD` is `&ompi_mpi_comm_world`, `MPI_IN_PLACE` the pointer 1),
 * or the MPICH ABI (MPICH, Intel MPI, MVAPICH: libmpich.so.12), whose handles are integers fixed in its mpi.h.
 *
 * The collectives run with `nonblocking: true`, on a thread of Deno's pool, so that the event loop stays free
 * while a rank waits for the others (the watchdog's timer, the GPU readbacks of the next bucket). MPI is
 * initialised with MPI_THREAD_SERIALIZED and this class keeps exactly one call in flight: each collective waits
 * for the previous one. MPI_ERRORS_ARE_FATAL stays the error handler, so a failed collective (a peer gone) ends
 * the job rather than returning.
 */
import type { Communicator } from "./communicator.ts";

const MPI_THREAD_SERIALIZED = 2;

type Abi = "openmpi" | "mpich";

/**
 * The libraries tried, in order, for each launcher family (srun's PMI starts either family); MPI_LIBRARY names
 * another (its ABI guessed from its name: Open MPI's is libmpi.so.40).
 */
const LIBRARIES: Record<"openmpi" | "pmi", [string, Abi][]> = {
  openmpi: [["libmpi.so.40", "openmpi"]],
  pmi: [["libmpich.so.12", "mpich"], ["libmpi.so.12", "mpich"], ["libmpi.so.40", "openmpi"]],
};

/** The symbols of an ABI whose handles have FFI type `H` ("pointer" for Open MPI, "i32" for MPICH). */
function symbols<H extends "pointer" | "i32">(h: H) {
  return {
    MPI_Init_thread: { parameters: ["pointer", "pointer", "i32", "buffer"], result: "i32" },
    MPI_Comm_rank: { parameters: [h, "buffer"], result: "i32" },
    MPI_Comm_size: { parameters: [h, "buffer"], result: "i32" },
    MPI_Get_library_version: { parameters: ["buffer", "buffer"], result: "i32" },
    MPI_Allreduce: {
      parameters: ["pointer", "buffer", "i32", h, h, h],
      result: "i32",
      nonblocking: true,
    },
    MPI_Bcast: { parameters: ["buffer", "i32", h, "i32", h], result: "i32", nonblocking: true },
    MPI_Barrier: { parameters: [h], result: "i32", nonblocking: true },
    MPI_Abort: { parameters: [h, "i32"], result: "i32" },
    MPI_Finalize: { parameters: [], result: "i32" },
  } as const;
}

const OPEN_MPI_STATICS = {
  ompi_mpi_comm_world: { type: "pointer" },
  ompi_mpi_float: { type: "pointer" },
  ompi_mpi_byte: { type: "pointer" },
  ompi_mpi_op_sum: { type: "pointer" },
} as const;

/** MPICH's mpi.h: MPI_COMM_WORLD, MPI_FLOAT, MPI_BYTE, MPI_SUM; MPI_IN_PLACE is (void *) -1. */
const MPICH_HANDLES = { comm: 0x44000000, float: 0x4c00040a, byte: 0x4c00010d, sum: 0x58000003 };

type Handle = Deno.PointerValue | number;

/** What differs between the ABIs, behind one shape. */
interface Binding {
  // deno-lint-ignore no-explicit-any
  s: any;
  comm: Handle;
  float: Handle;
  byte: Handle;
  sum: Handle;
  inPlace: Deno.PointerValue;
  close(): void;
}

/** Why MPI could not be used: launched by a launcher, but no library loads or initialises. */
export class MpiUnavailableError extends Error {
  override name = "MpiUnavailableError";
}

function open(path: string, abi: Abi): Binding {
  if (abi === "openmpi") {
    const lib = Deno.dlopen(path, { ...symbols("pointer"), ...OPEN_MPI_STATICS });
    const s = lib.symbols;
    return {
      s,
      comm: s.ompi_mpi_comm_world,
      float: s.ompi_mpi_float,
      byte: s.ompi_mpi_byte,
      sum: s.ompi_mpi_op_sum,
      inPlace: Deno.UnsafePointer.create(1n),
      close: () => lib.close(),
    };
  }
  const lib = Deno.dlopen(path, symbols("i32"));
  return {
    s: lib.symbols,
    comm: MPICH_HANDLES.comm,
    float: MPICH_HANDLES.float,
    byte: MPICH_HANDLES.byte,
    sum: MPICH_HANDLES.sum,
    inPlace: Deno.UnsafePointer.create(0xffffffffffffffffn),
    close: () => lib.close(),
  };
}

function loadBinding(kind: "openmpi" | "pmi", override: string | undefined): Binding {
  const tried: string[] = [];
  const candidates: [string, Abi][] = override
    ? [[override, /libmpi\.so\.4\d/.test(override) ? "openmpi" : "mpich"]]
    : LIBRARIES[kind];
  for (const [path, abi] of candidates) {
    try {
      return open(path, abi);
    } catch (e) {
      tried.push(`${path}: ${(e as Error).message.split("\n")[0]}`);
    }
  }
  const hint = kind === "openmpi"
    ? "install Open MPI's library (Debian: libopenmpi-dev or libopenmpi3)"
    : "install the MPICH library (Debian: libmpich12)";
  throw new MpiUnavailableError(
    `launched by an MPI launcher, but no MPI library could be loaded (${tried.join("; ")}); ${hint}, or ` +
      `set MPI_LIBRARY to the library's path`,
  );
}

function check(rc: number, call: string): void {
  if (rc !== 0) throw new Error(`${call} failed with MPI error code ${rc}`);
}

export class MpiCommunicator implements Communicator {
  readonly rank: number;
  readonly size: number;
  readonly description: string;
  /** The last collective issued: the next one starts after it (MPI_THREAD_SERIALIZED). */
  #inFlight: Promise<unknown> = Promise.resolve();
  #closed = false;

  private constructor(private readonly b: Binding, readonly localRank: number) {
    const out = new Int32Array(1);
    check(b.s.MPI_Comm_rank(b.comm, out), "MPI_Comm_rank");
    this.rank = out[0];
    check(b.s.MPI_Comm_size(b.comm, out), "MPI_Comm_size");
    this.size = out[0];
    const version = new Uint8Array(8192);
    const length = new Int32Array(1);
    b.s.MPI_Get_library_version(version, length);
    this.description = new TextDecoder().decode(version.subarray(0, length[0])).split(/[,\n]/)[0].trim();
  }

  /** Loads the library for `kind`, initialises MPI (serialized threads) and reads rank and size. */
  static open(kind: "openmpi" | "pmi", localRank: number | null): MpiCommunicator {
    const b = loadBinding(kind, Deno.env.get("MPI_LIBRARY"));
    const provided = new Int32Array(1);
    check(b.s.MPI_Init_thread(null, null, MPI_THREAD_SERIALIZED, provided), "MPI_Init_thread");
    if (provided[0] < MPI_THREAD_SERIALIZED) {
      b.s.MPI_Abort(b.comm, 1);
      throw new MpiUnavailableError(
        `the MPI library provides thread level ${provided[0]}, below MPI_THREAD_SERIALIZED`,
      );
    }
    return new MpiCommunicator(b, localRank ?? 0);
  }

  #serial<T>(call: () => Promise<T>): Promise<T> {
    if (this.#closed) throw new Error("MPI communicator used after close()");
    const next = this.#inFlight.then(call);
    this.#inFlight = next.catch(() => {});
    return next;
  }

  allReduceSum(values: Float32Array): Promise<void> {
    return this.#serial(async () => {
      // Open MPI's count is an int: a buffer over 2^31 - 1 floats goes in pieces.
      const piece = 1 << 30;
      for (let start = 0; start < values.length; start += piece) {
        const part = values.subarray(start, Math.min(values.length, start + piece));
        const rc = await this.b.s.MPI_Allreduce(
          this.b.inPlace,
          part,
          part.length,
          this.b.float,
          this.b.sum,
          this.b.comm,
        );
        check(rc, "MPI_Allreduce");
      }
    });
  }

  broadcast(bytes: Uint8Array, root: number): Promise<void> {
    if (!(root >= 0 && root < this.size)) throw new RangeError(`broadcast: root ${root} is not a rank`);
    return this.#serial(async () => {
      check(await this.b.s.MPI_Bcast(bytes, bytes.length, this.b.byte, root, this.b.comm), "MPI_Bcast");
    });
  }

  barrier(): Promise<void> {
    return this.#serial(async () => check(await this.b.s.MPI_Barrier(this.b.comm), "MPI_Barrier"));
  }

  abort(code: number): never {
    // Safe with a collective in flight on another thread: Open MPI and MPICH end the job from their runtime.
    this.b.s.MPI_Abort(this.b.comm, code);
    Deno.exit(code);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    await this.#inFlight;
    this.#closed = true;
    check(this.b.s.MPI_Finalize(), "MPI_Finalize");
  }
}
