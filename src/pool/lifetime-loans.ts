import type { LoanResult } from '../loss/index.js';
import { csvCell } from './output.js';

/**
 * Per-loan lifetime figures as CSV (POST /pools/lifetime?loans=csv, the CLI's --loans FILE; docs/API.md):
 * one row per loan per scenario, in tape order, the scenarios of a loan in the order asked. Written a chunk
 * of loans at a time through `write`, so memory holds one chunk's lines, whatever the tape's size.
 */

export const LOAN_COLUMNS = [
  'row',
  'loan_sequence_number',
  'scenario',
  'probability_of_default',
  'balance',
  'expected_loss_12m',
  'expected_loss_36m',
  'expected_loss_lifetime',
  'expected_loss_12m_discounted',
  'expected_loss_36m_discounted',
  'expected_loss_lifetime_discounted',
  'pd_36m',
  'lifetime_pd',
  'wal_years',
] as const;

/** What LifetimeTape tells of each projected loan (src/pool/lifetime.ts). */
export interface LoanSink {
  /**
   * Loan `i` of the chunk (tape row `row`) under scenario `s` (its index in the scenarios asked), projected
   * with probability of default `pd` from balance `balance`; `r` is reused after the call.
   */
  add(s: number, i: number, row: number, id: unknown, pd: number, balance: number, r: LoanResult): void;
  /** The chunk's `n` loans have been added under every scenario. */
  chunk(n: number): void;
}

export class LoanCsv implements LoanSink {
  /** lines[i * scenarios + s]: loan i of the chunk under scenario s. */
  private readonly lines: string[] = [];

  /** Writes the header at once; then each chunk's lines when the chunk is complete. */
  constructor(
    private readonly scenarios: readonly string[],
    private readonly write: (text: string) => void,
  ) {
    write(`${LOAN_COLUMNS.join(',')}\n`);
  }

  add(s: number, i: number, row: number, id: unknown, pd: number, balance: number, r: LoanResult): void {
    this.lines[i * this.scenarios.length + s] =
      `${row},${typeof id === 'string' ? csvCell(id) : ''},${this.scenarios[s]},${pd},${balance},` +
      `${r.expectedLoss12m},${r.expectedLoss36m},${r.expectedLossLifetime},` +
      `${r.discountedLoss12m},${r.discountedLoss36m},${r.discountedLossLifetime},` +
      `${r.pd36},${r.lifetimePd},${r.wal}\n`;
  }

  chunk(n: number): void {
    const count = n * this.scenarios.length;
    let out = '';
    for (let k = 0; k < count; k++) out += this.lines[k];
    this.lines.length = 0;
    if (out !== '') this.write(out);
  }
}
