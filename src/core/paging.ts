// Pages of a listing, bounded in rows and in bytes (issue 19: four unbounded management answers
// cost the broker 1.25 GB). A listing is walked in key order; a page holds the rows after the
// caller's cursor until the row limit or the byte budget is reached, and `next` is the cursor to
// ask for the rest with (null when there is no more). Pure: the callers read the rows.
//
// Cursors are keys, not offsets: a row added or removed between two requests does not shift
// the others, so paging never repeats or skips a row that stayed. Each page is consistent in
// itself; a listing paged while it changes is not one snapshot.

/** Rows in a page when the caller does not say. */
export const PAGE_ROWS_DEFAULT = 1000;
/** The most rows a caller may ask for in one page. */
export const PAGE_ROWS_MAX = 10_000;
/** The rows of one page stop once their JSON reaches this many bytes (one row always fits:
 * every row kind is bounded on its own, and the transports cap the whole answer). */
export const PAGE_BYTES_MAX = 1024 * 1024;
/** No management answer, paged or not, is sent larger than this (RESPONSE_TOO_LARGE). */
export const RESPONSE_BYTES_MAX = 4 * 1024 * 1024;

export interface Page<T, K extends string | number = string> {
  readonly items: T[];
  /** The cursor for the next page (pass it as `after`), or null at the end. */
  readonly next: K | null;
}

export interface PageRequest<K extends string | number = string> {
  /** Rows with keys after this one (exclusive); absent: from the start. */
  readonly after?: K | undefined;
  readonly limit: number;
  readonly budgetBytes?: number;
}

/** JSON size of a value in bytes (what it costs in an answer). */
export function jsonBytes(value: unknown): number {
  return Buffer.byteLength(JSON.stringify(value) ?? 'null', 'utf8');
}

/** One page of `rows`, which must come in ascending `keyOf` order (strings compare by UTF-16
 * code units, as `<` does; numbers as numbers). */
export function takePage<T, K extends string | number = string>(rows: Iterable<T>, keyOf: (row: T) => K, request: PageRequest<K>): Page<T, K> {
  const budget = request.budgetBytes ?? PAGE_BYTES_MAX;
  const items: T[] = [];
  let bytes = 0;
  let lastKey: K | null = null;
  for (const row of rows) {
    const key = keyOf(row);
    if (request.after !== undefined && key <= request.after) continue;
    // Stopped with a row still to come: the page says where to go on from.
    if (items.length >= request.limit || (items.length > 0 && bytes >= budget)) return { items, next: lastKey };
    items.push(row);
    bytes += jsonBytes(row);
    lastKey = key;
  }
  return { items, next: null };
}

/** Rows sorted by key, for listings held in insertion order (maps of queues, exchanges). */
export function sortedBy<T>(rows: Iterable<T>, keyOf: (row: T) => string): T[] {
  return [...rows].sort((a, b) => {
    const ka = keyOf(a);
    const kb = keyOf(b);
    return ka < kb ? -1 : ka > kb ? 1 : 0;
  });
}
