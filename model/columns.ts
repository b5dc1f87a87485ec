/**
 * A growable struct-of-arrays: named typed-array columns that share one row count and grow together, doubling
 * their capacity (amortised O(1) per row), so a table of millions of rows costs no JS object per row.
 *
 *   const nodes = new Columns({ parent: "i32", score: "f64", words: { type: "i32", width: 3 } });
 *   const r = nodes.addRow();
 *   nodes.cols.parent[r] = -1;
 *   nodes.cols.words[r * 3 + 2] = 7;
 *
 * `cols` is one object whose arrays are replaced when the table grows: a loop may hold `nodes.cols` for good, but
 * an array read out of it (`const parent = nodes.cols.parent`) only until the next `addRow`/`reserve` that grows.
 * (So not `nodes.cols.parent[nodes.addRow()] = v`: JS reads the array before addRow grows it.)
 * A column of width w holds w values per row (row r at [r * w, (r + 1) * w)).
 */

/** Element types a column can have. */
export interface ColumnTypes {
  i8: Int8Array;
  u8: Uint8Array;
  i16: Int16Array;
  u16: Uint16Array;
  i32: Int32Array;
  u32: Uint32Array;
  f32: Float32Array;
  f64: Float64Array;
}

/** A column's type name. */
export type ColumnType = keyof ColumnTypes;

/** A column: its type, or its type and how many values each row holds (default 1). */
export type ColumnSpec = ColumnType | { type: ColumnType; width: number };

/** The arrays of a table with columns `S`. */
export type ColumnArrays<S extends Record<string, ColumnSpec>> = {
  [K in keyof S]: S[K] extends ColumnType ? ColumnTypes[S[K]]
    : S[K] extends { type: infer T extends ColumnType } ? ColumnTypes[T]
    : never;
};

type AnyColumn = ColumnTypes[ColumnType];

const MAKERS: { [T in ColumnType]: (n: number) => ColumnTypes[T] } = {
  i8: (n) => new Int8Array(n),
  u8: (n) => new Uint8Array(n),
  i16: (n) => new Int16Array(n),
  u16: (n) => new Uint16Array(n),
  i32: (n) => new Int32Array(n),
  u32: (n) => new Uint32Array(n),
  f32: (n) => new Float32Array(n),
  f64: (n) => new Float64Array(n),
};

/** Options of `reserve`. */
export interface ReserveOptions {
  /**
   * Keep the first `length` rows when growing (default true). Scratch tables refilled from row 0 after each
   * reserve can skip the copy.
   */
  preserve?: boolean;
}

/** Typed-array columns that grow together. */
export class Columns<S extends Record<string, ColumnSpec>> {
  /** The columns' arrays (replaced, in this same object, when the table grows). */
  readonly cols: ColumnArrays<S>;
  /**
   * Rows in use. `addRow` counts them; a caller that reserved room may also fill rows itself and set this (it
   * must stay within `capacity`).
   */
  length = 0;
  #capacity: number;
  readonly #names: (keyof S & string)[];
  readonly #widths: number[];
  readonly #makers: ((n: number) => AnyColumn)[];

  /** Columns described by `spec`, with room for `capacity` rows before the first growth (default 16). */
  constructor(spec: S, capacity = 16) {
    if (!Number.isInteger(capacity) || capacity < 0) throw new RangeError(`Columns: capacity ${capacity}`);
    this.#capacity = capacity;
    this.#names = Object.keys(spec) as (keyof S & string)[];
    this.#widths = [];
    this.#makers = [];
    const cols: Record<string, AnyColumn> = {};
    for (const name of this.#names) {
      const s: ColumnSpec = spec[name];
      const type: ColumnType = typeof s === "string" ? s : s.type;
      const width = typeof s === "string" ? 1 : s.width;
      if (!(type in MAKERS)) throw new TypeError(`Columns: column ${name} has unknown type ${type}`);
      if (!Number.isInteger(width) || width < 1) {
        throw new RangeError(`Columns: column ${name} has width ${width}`);
      }
      this.#widths.push(width);
      const make: (n: number) => AnyColumn = MAKERS[type];
      this.#makers.push(make);
      cols[name] = make(capacity * width);
    }
    this.cols = cols as ColumnArrays<S>;
  }

  /** Rows the columns hold before they grow again. */
  get capacity(): number {
    return this.#capacity;
  }

  /** Makes room for `rows` rows in all: at least double the capacity when it grows. */
  reserve(rows: number, options: ReserveOptions = {}): void {
    if (rows <= this.#capacity) return;
    const capacity = Math.max(rows, this.#capacity * 2);
    const preserve = options.preserve ?? true;
    const cols = this.cols as Record<string, AnyColumn>;
    for (let i = 0; i < this.#names.length; i++) {
      const name = this.#names[i];
      const width = this.#widths[i];
      const grown = this.#makers[i](capacity * width);
      if (preserve && this.length > 0) grown.set(cols[name].subarray(0, this.length * width) as never);
      cols[name] = grown;
    }
    this.#capacity = capacity;
  }

  /** Appends one row (its values are whatever the arrays hold there: zeros, or a row dropped by `clear`). */
  addRow(): number {
    if (this.length === this.#capacity) this.reserve(this.length + 1);
    return this.length++;
  }

  /** Forgets every row (keeps the capacity). */
  clear(): void {
    this.length = 0;
  }

  /** The filled part of a column, sharing memory (invalid after the next growth). */
  view<K extends keyof S & string>(name: K): ColumnArrays<S>[K] {
    const width = this.#widths[this.#names.indexOf(name)];
    return (this.cols[name] as AnyColumn).subarray(0, this.length * width) as ColumnArrays<S>[K];
  }

  /** A right-sized copy of a column's filled part. */
  toArray<K extends keyof S & string>(name: K): ColumnArrays<S>[K] {
    const width = this.#widths[this.#names.indexOf(name)];
    return (this.cols[name] as AnyColumn).slice(0, this.length * width) as ColumnArrays<S>[K];
  }
}
