import type { CellProblem } from './cells.js';

/**
 * Why a tape was refused. The route turns each kind into an HTTP status and code, the CLI into a
 * message and an exit status; neither needs to know how the tape was read.
 */

export type TapeFormat = 'csv' | 'freddie' | 'json';

/** A row that could not be scored, with every problem found in it. */
export interface RejectedRow {
  /** CSV and Freddie Mac: the line number in the file (header = line 1). JSON: the index in `loans`. */
  readonly row: number;
  readonly loan_sequence_number?: string;
  readonly problems: readonly CellProblem[];
}

type TapeErrorKind =
  /** Rows failed validation and the policy is to fail the whole tape. */
  | 'invalid_rows'
  /**
   * The tape's layout is wrong: a CSV header naming unknown columns (or one twice, or lacking a
   * required one), a JSON body that is not `{"loans": [...]}`.
   */
  | 'layout'
  /** More data rows than the configured limit. */
  | 'too_many_rows'
  /** More bytes than the configured limit. */
  | 'too_many_bytes'
  /** The tape cannot be read: broken JSON, a record over the length limit, no loans at all. */
  | 'unreadable';

interface TapeErrorDetails {
  /** layout: the problems (at most MAX_PROBLEMS), each with where it is (`line 1 (header)`, `loans`, ...). */
  readonly details?: readonly CellProblem[];
  /** layout: problems found beyond `details`. */
  readonly omitted?: number;
  /** invalid_rows: the first rows refused, with their problems. */
  readonly rejected?: readonly RejectedRow[];
  /** invalid_rows: how many rows were refused in all (more than `rejected` lists, perhaps). */
  readonly rejectedCount?: number;
}

export class TapeError extends Error {
  override readonly name = 'TapeError';
  readonly details: readonly CellProblem[];
  readonly omitted: number;
  readonly rejected: readonly RejectedRow[];
  readonly rejectedCount: number;
  constructor(
    readonly kind: TapeErrorKind,
    message: string,
    more: TapeErrorDetails = {},
  ) {
    super(message);
    this.details = more.details ?? [];
    this.omitted = more.omitted ?? 0;
    this.rejected = more.rejected ?? [];
    this.rejectedCount = more.rejectedCount ?? this.rejected.length;
  }
}

/**
 * Where a problem is, in the file's own terms: `line 12, credit_score` for a CSV or Freddie Mac
 * tape, `loans[11].credit_score` for a JSON one (the index, as /predict names batch fields).
 */
export function locate(format: TapeFormat, row: number, field: string): string {
  if (format === 'json') return `loans[${row}]${field ? `.${field}` : ''}`;
  return `line ${row}${field ? `, ${field}` : ''}`;
}

/** A refused row as answers list it (the loan's identifier when the row had a readable one). */
export function rejectedRow(row: number, problems: readonly CellProblem[], loanSequenceNumber: unknown): RejectedRow {
  return {
    row,
    ...(typeof loanSequenceNumber === 'string' ? { loan_sequence_number: loanSequenceNumber } : {}),
    problems,
  };
}

/**
 * The rows of a tape as they are read: every data row counted against the limit (one more fails the tape
 * with `too_many_rows`), the refused ones counted and the first `maxListed` listed with their problems.
 * The scorers of /pools/score and /pools/backtest keep their books with it.
 */
export class RowTally {
  /** Data rows read, valid or not. */
  seen = 0;
  refused = 0;
  listed: RejectedRow[] = [];

  constructor(
    readonly maxRows: number,
    readonly maxListed: number,
  ) {}

  /** One more data row. */
  count(): void {
    if (++this.seen > this.maxRows) this.tooMany();
  }

  /** `rows` more data rows at once (a run read elsewhere). */
  countMany(rows: number): void {
    if (this.seen + rows > this.maxRows) this.tooMany();
    this.seen += rows;
  }

  refuse(row: number, problems: readonly CellProblem[], loanSequenceNumber: unknown): void {
    this.refused++;
    if (this.listed.length < this.maxListed) this.listed.push(rejectedRow(row, problems, loanSequenceNumber));
  }

  /** Refusals made elsewhere: all counted, listed while there is room. */
  refuseMany(count: number, rows: readonly RejectedRow[]): void {
    this.refused += count;
    for (const r of rows) {
      if (this.listed.length >= this.maxListed) break;
      this.listed.push(r);
    }
  }

  /** Whether a refused row fails the tape under this policy. */
  failing(onError: 'fail' | 'skip'): boolean {
    return this.refused > 0 && onError === 'fail';
  }

  /** The refusal of a tape with invalid rows (under `fail`). */
  invalidRows(): TapeError {
    return new TapeError('invalid_rows', `${this.refused} of ${this.seen} rows are invalid`, {
      rejected: this.listed,
      rejectedCount: this.refused,
    });
  }

  reset(): void {
    this.seen = 0;
    this.refused = 0;
    this.listed = [];
  }

  private tooMany(): never {
    throw new TapeError('too_many_rows', `the tape has more than ${this.maxRows} rows`);
  }
}
