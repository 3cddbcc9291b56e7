/**
 * How the command-line tool writes: aligned tables or JSON on stdout,
 * progress on stderr (only on a terminal), never an escape code where the
 * reader is not a terminal.
 */

/** Where the tool writes, and whether each end is a terminal. */
export interface Terminal {
  readonly out: NodeJS.WriteStream | { write(text: string): unknown; isTTY?: boolean };
  readonly err: NodeJS.WriteStream | { write(text: string): unknown; isTTY?: boolean };
}

/** One line of text. */
export function line(term: Terminal, text = ''): void {
  term.out.write(`${text}\n`);
}

/** A value as JSON, one document. */
export function json(term: Terminal, value: unknown): void {
  term.out.write(`${JSON.stringify(value, jsonReplacer)}\n`);
}

/** BigInts (the JSON serializer reads integers beyond 2^53 as BigInt) as their digits. */
function jsonReplacer(_key: string, value: unknown): unknown {
  return typeof value === 'bigint' ? value.toString() : value;
}

/** A cell of a table: text, or a number (aligned right). */
export type Cell = string | number;

/** Rows under a header, each column as wide as its widest cell, numbers aligned right. */
export function table(term: Terminal, header: readonly string[], rows: readonly (readonly Cell[])[]): void {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i] ?? '').length)));
  const numeric = header.map((_, i) => rows.length > 0 && rows.every((r) => typeof r[i] === 'number'));
  const render = (cells: readonly Cell[]) =>
    cells
      .map((c, i) => (numeric[i] ? String(c).padStart(widths[i] ?? 0) : String(c).padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  line(term, render(header));
  for (const row of rows) line(term, render(row));
}

/**
 * A progress bar on stderr, redrawn at most every 100 ms, when stderr is a
 * terminal; nothing otherwise (a script's stderr stays clean).
 */
export class Progress {
  readonly #term: Terminal;
  readonly #what: string;
  readonly #total: number | undefined;
  #done = 0;
  #drawn = 0;
  readonly #active: boolean;

  constructor(term: Terminal, what: string, total?: number) {
    this.#term = term;
    this.#what = what;
    this.#total = total;
    this.#active = term.err.isTTY === true;
  }

  /** Counts `n` more done. */
  add(n: number): void {
    this.#done += n;
    const now = Date.now();
    if (this.#active && now - this.#drawn >= 100) {
      this.#drawn = now;
      this.#draw();
    }
  }

  /** Draws the final state and ends the line. */
  finish(): void {
    if (!this.#active) return;
    this.#draw();
    this.#term.err.write('\n');
  }

  #draw(): void {
    const total = this.#total;
    if (total === undefined || total === 0) {
      this.#term.err.write(`\r${this.#what} ${this.#done}`);
      return;
    }
    const share = Math.min(1, this.#done / total);
    const width = 30;
    const full = Math.round(share * width);
    this.#term.err.write(`\r${this.#what} [${'#'.repeat(full)}${'.'.repeat(width - full)}] ${Math.floor(share * 100)}% ${this.#done}/${total}`);
  }
}
