/**
 * A tape's sums folded by groups of records, so that they are the same, bit for bit, on any number of threads
 * and in any layout: the data records of a tape are numbered from 0 in input order (a CSV tape's header and
 * blank lines are not records; a record whose quoted cells hold line breaks is one), the loans of records
 * [k·GROUP_RECORDS, (k+1)·GROUP_RECORDS) are summed into fresh sums, in input order, and the groups' sums are
 * added to the totals in the order of k (src/pool/lifetime.ts and backtest.ts fold theirs the same way). A tape
 * worker thread sums whole groups (src/pool/threads.ts cuts its runs there) and answers each group's sums,
 * which the main thread only adds, in input order; one thread sums the same groups itself. Floating-point
 * addition is not associative: summed any other way, the last bits would depend on the threads, on the chunks
 * the input came in, or on the layout (the same loans as CSV, Freddie Mac or JSON: numbered by their lines,
 * a CSV tape's would be shifted by its header).
 */
export const GROUP_RECORDS = 8192;

/** Sums that give their state as plain data (to send between threads) and add another's. */
export interface Summable<P> {
  /** Loans added so far. */
  readonly loans: number;
  partial(): P;
  merge(partial: P): void;
}

/**
 * Sums made by `make`, folded by groups of `groupRecords` records. `keep`: a worker's, whose groups' partials are
 * kept for `takeParts` rather than added to the totals.
 */
export class GroupedSums<S extends Summable<P>, P> {
  private readonly totals: S;
  private current: S;
  /** The group being summed (-1: none). */
  private at = -1;
  private readonly kept: P[] | undefined;

  constructor(
    private readonly make: () => S,
    private readonly groupRecords: number = GROUP_RECORDS,
    keep = false,
  ) {
    this.totals = make();
    this.current = make();
    this.kept = keep ? [] : undefined;
  }

  /** The sums the loan of record number `record` goes into: records come in increasing order. */
  group(record: number): S {
    const group = Math.floor(record / this.groupRecords);
    if (group !== this.at) {
      this.fold();
      this.at = group;
    }
    return this.current;
  }

  /** Adds the group being summed to the totals (or keeps its partial), and starts a fresh one. */
  private fold(): void {
    if (this.current.loans === 0) return;
    const partial = this.current.partial();
    if (this.kept !== undefined) this.kept.push(partial);
    else this.totals.merge(partial);
    this.current = this.make();
  }

  /** Adds a whole group summed elsewhere (a worker's), after the groups before it. */
  merge(partial: P): void {
    this.fold();
    this.at = -1;
    this.totals.merge(partial);
  }

  /** A worker's run is over: the partials of its groups, in order; the next run starts afresh. */
  takeParts(): P[] {
    this.fold();
    this.at = -1;
    return this.kept?.splice(0) ?? [];
  }

  /** Every group added so far (a worker's totals hold none). */
  sums(): S {
    this.fold();
    this.at = -1;
    return this.totals;
  }
}
