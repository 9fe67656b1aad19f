import type { CellProblem } from './cells.js';
import { TapeError } from './errors.js';

/**
 * Outcomes of a backtest from Freddie Mac monthly performance files (issue 23; POST /pools/backtest's
 * `performance` parts, the CLI's `--performance`), with the training pipeline's label rule and censoring
 * (scripts/loanmodel/freddie.py, docs/DATA.md), applied the same way loan by loan:
 *
 * - a loan defaults when, at a reporting period within its first 36 months (period ≤ first payment + 35
 *   months), it is 90+ days delinquent (status ≥ 3 or `RA`, REO acquisition) or leaves the book with zero
 *   balance code 02, 03, 09 or 15;
 * - without such an event it is a non-default when observed through month 36 (its last reporting period
 *   ≥ first payment + 35 months) or prepaid (code 01) within the window;
 * - otherwise it has no label: **censored** when it was still active when the files end (observed less than
 *   36 months), **removed** when it left the book within the window for another reason (96 repurchase, 16
 *   reperforming sale, ...), **without performance** when no file has a row of it.
 *
 * The files are read as a stream, line by line, before the origination tape (their loans' first payment
 * dates are not known yet): each loan keeps four month indices — the first period of a default event, of a
 * prepayment, of another removal, and its last period — so that "an event within the window" is "the first
 * such event ≤ the window's last month". Memory is one map entry and 16 bytes a loan, whatever the number of
 * rows. Fields read (the General User Guide's layout, pipe-separated): 1 loan sequence number, 2 monthly
 * reporting period (YYYYMM), 4 current loan delinquency status (a number of months, `RA`, `XX` or empty:
 * unknown), 9 zero balance code (1 or 2 digits, or empty). A line the rule cannot read refuses the request,
 * naming the file, the line and the field.
 */

export const WINDOW_MONTHS = 36;
const DEFAULT_ZERO_BALANCE = new Set([2, 3, 9, 15]);
const PREPAID = 1;
/** The month index of "never". */
const NEVER = 0x7fffffff;
const PIPE = 0x7c;
const NEWLINE = 0x0a;
/** The longest performance line accepted (the published layout's lines are ~200 bytes). */
const MAX_LINE_BYTES = 64 * 1024;

/** How a loan of the tape came out. */
export type OutcomeCategory =
  | 'default'
  | 'non_default_full_window'
  | 'non_default_prepaid'
  | 'censored'
  | 'removed'
  | 'without_performance';

export interface PerformanceCounts {
  /** Performance files (parts) read. */
  readonly files: number;
  /** Data lines read. */
  readonly performance_rows: number;
  /** Distinct loans in the performance files. */
  readonly performance_loans: number;
  /** Scored loans of the tape by outcome. */
  readonly defaults: number;
  readonly non_defaults_full_window: number;
  readonly non_defaults_prepaid_early: number;
  readonly censored: number;
  readonly removed: number;
  readonly without_performance: number;
}

export interface PerformanceOptions {
  /** Most distinct loans held (memory: one entry a loan); one more refuses with `too_many_rows`. */
  readonly maxLoans: number;
  /** Most bytes over all files; one more refuses with `too_many_bytes`. */
  readonly maxBytes?: number;
}

/** YYYYMM (a whole number) → months since year 0, as freddie.py's `_month_index`. */
export function monthIndex(yyyymm: number): number {
  return Math.floor(yyyymm / 100) * 12 + (yyyymm % 100) - 1;
}

export class PerformanceOutcomes {
  private readonly index = new Map<string, number>();
  private firstEvent = new Int32Array(1024);
  private firstPrepaid = new Int32Array(1024);
  private firstRemoved = new Int32Array(1024);
  private lastMonth = new Int32Array(1024);
  /** Whether a loan of the tape took this loan's outcome already (a duplicate is refused). */
  private used = new Uint8Array(1024);
  private pending: Buffer | undefined;
  private fileName = '';
  private line = 0;
  private files = 0;
  private rows = 0;
  private bytes = 0;
  private readonly maxBytes: number;
  private readonly tally: Record<OutcomeCategory, number> = {
    default: 0,
    non_default_full_window: 0,
    non_default_prepaid: 0,
    censored: 0,
    removed: 0,
    without_performance: 0,
  };

  constructor(private readonly options: PerformanceOptions) {
    this.maxBytes = options.maxBytes ?? Number.POSITIVE_INFINITY;
  }

  /** Starts a file; `name` is how problems name it (`performance[0]`, a path). */
  startFile(name: string): void {
    this.fileName = name;
    this.line = 0;
    this.pending = undefined;
    this.files++;
  }

  push(chunk: Buffer): void {
    this.bytes += chunk.length;
    if (this.bytes > this.maxBytes) {
      throw new TapeError('too_many_bytes', `the performance files are larger than ${this.maxBytes} bytes`);
    }
    let buf = chunk;
    if (this.pending !== undefined) {
      buf = Buffer.concat([this.pending, chunk]);
      this.pending = undefined;
    }
    let start = 0;
    for (;;) {
      const nl = buf.indexOf(NEWLINE, start);
      if (nl < 0) break;
      this.readLine(buf, start, nl);
      start = nl + 1;
    }
    if (start < buf.length) {
      if (buf.length - start > MAX_LINE_BYTES) this.refuse('', `is longer than ${MAX_LINE_BYTES} bytes`, 1);
      this.pending = buf.subarray(start);
    }
  }

  /** The file is over: reads its last line (without a line break). */
  endFile(): void {
    const rest = this.pending;
    this.pending = undefined;
    if (rest !== undefined && rest.length > 0) this.readLine(rest, 0, rest.length);
  }

  private readLine(buf: Buffer, start: number, end: number): void {
    this.line++;
    let e = end;
    if (e > start && buf[e - 1] === 0x0d) e--;
    if (e === start) return;
    // The first nine fields' ends.
    const ends: number[] = [];
    let p = start;
    while (ends.length < 9) {
      const bar = buf.indexOf(PIPE, p);
      if (bar < 0 || bar >= e) {
        ends.push(e);
        break;
      }
      ends.push(bar);
      p = bar + 1;
    }
    if (ends.length < 9) {
      this.refuse('', `has ${ends.length} fields: a Freddie Mac performance record has 32 (at least 9 are read)`);
    }
    const field = (k: number) =>
      buf.toString('latin1', k === 0 ? start : (ends[k - 1] as number) + 1, ends[k] as number).trim();
    const loan = field(0);
    if (loan === '') this.refuse('loan_sequence_number', 'is empty');
    const periodText = field(1);
    const period = /^\d{6}$/.test(periodText) ? Number(periodText) : Number.NaN;
    if (!(period % 100 >= 1 && period % 100 <= 12)) {
      this.refuse('monthly_reporting_period', `must be a month YYYYMM, got ${quoted(periodText)}`);
    }
    const month = monthIndex(period);
    const status = field(3);
    let delinquent: boolean;
    if (status === 'RA') delinquent = true;
    else if (status === 'XX' || status === '') delinquent = false;
    else if (/^\d{1,3}$/.test(status)) delinquent = Number(status) >= 3;
    else {
      this.refuse(
        'current_loan_delinquency_status',
        `must be months delinquent (0, 1, 2, ...), RA, XX or empty, got ${quoted(status)}`,
      );
    }
    const zbText = field(8);
    let zb = 0;
    if (zbText !== '') {
      if (!/^\d{1,2}$/.test(zbText)) {
        this.refuse(
          'zero_balance_code',
          `must be a code of 1 or 2 digits (01, 02, 03, 09, 15, 96, ...), got ${quoted(zbText)}`,
        );
      }
      zb = Number(zbText);
    }
    this.rows++;
    const i = this.loanIndex(loan);
    if (delinquent || DEFAULT_ZERO_BALANCE.has(zb)) {
      if (month < (this.firstEvent[i] as number)) this.firstEvent[i] = month;
    } else if (zb === PREPAID) {
      if (month < (this.firstPrepaid[i] as number)) this.firstPrepaid[i] = month;
    } else if (zbText !== '') {
      if (month < (this.firstRemoved[i] as number)) this.firstRemoved[i] = month;
    }
    if (month > (this.lastMonth[i] as number)) this.lastMonth[i] = month;
  }

  private loanIndex(loan: string): number {
    const known = this.index.get(loan);
    if (known !== undefined) return known;
    const i = this.index.size;
    if (i >= this.options.maxLoans) {
      throw new TapeError('too_many_rows', `the performance files hold more than ${this.options.maxLoans} loans`);
    }
    if (i === this.lastMonth.length) this.grow();
    this.index.set(loan, i);
    this.firstEvent[i] = NEVER;
    this.firstPrepaid[i] = NEVER;
    this.firstRemoved[i] = NEVER;
    this.lastMonth[i] = -NEVER;
    return i;
  }

  private grow(): void {
    const n = this.lastMonth.length * 2;
    const more = (a: Int32Array) => {
      const b = new Int32Array(n);
      b.set(a);
      return b;
    };
    this.firstEvent = more(this.firstEvent);
    this.firstPrepaid = more(this.firstPrepaid);
    this.firstRemoved = more(this.firstRemoved);
    this.lastMonth = more(this.lastMonth);
    const used = new Uint8Array(n);
    used.set(this.used);
    this.used = used;
  }

  private refuse(field: string, message: string, lineOffset = 0): never {
    const where = `${this.fileName}, line ${this.line + lineOffset}${field ? `, ${field}` : ''}`;
    throw new TapeError('layout', `a performance file cannot be read (${where})`, {
      details: [{ field: where, message }],
    });
  }

  /**
   * The outcome of a loan of the tape (its record: `loan_sequence_number`, `first_payment_date` YYYYMM):
   * 1, 0 or null (no label), counted by category; a problem when the tape has the loan twice.
   */
  outcome(loan: Readonly<Record<string, unknown>>): { label: 0 | 1 | null } | { problem: CellProblem } {
    const id = loan.loan_sequence_number;
    const i = typeof id === 'string' ? this.index.get(id.trim()) : undefined;
    if (i === undefined) {
      this.tally.without_performance++;
      return { label: null };
    }
    if (this.used[i] === 1) {
      return {
        problem: {
          field: 'loan_sequence_number',
          message: `${quoted(id as string)} appears twice in the tape: each loan takes its outcome from the performance files once`,
        },
      };
    }
    this.used[i] = 1;
    const last = monthIndex(loan.first_payment_date as number) + (WINDOW_MONTHS - 1);
    if ((this.firstEvent[i] as number) <= last) {
      this.tally.default++;
      return { label: 1 };
    }
    if ((this.lastMonth[i] as number) >= last) {
      this.tally.non_default_full_window++;
      return { label: 0 };
    }
    if ((this.firstPrepaid[i] as number) <= last) {
      this.tally.non_default_prepaid++;
      return { label: 0 };
    }
    if ((this.firstRemoved[i] as number) <= last) this.tally.removed++;
    else this.tally.censored++;
    return { label: null };
  }

  /** Whether no performance file held a data line. */
  get empty(): boolean {
    return this.rows === 0;
  }

  counts(): PerformanceCounts {
    const t = this.tally;
    return {
      files: this.files,
      performance_rows: this.rows,
      performance_loans: this.index.size,
      defaults: t.default,
      non_defaults_full_window: t.non_default_full_window,
      non_defaults_prepaid_early: t.non_default_prepaid,
      censored: t.censored,
      removed: t.removed,
      without_performance: t.without_performance,
    };
  }
}

const quoted = (text: string) => JSON.stringify(text.length > 40 ? `${text.slice(0, 40)}…` : text);
