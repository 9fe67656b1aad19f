import type { LoanResult } from '../loss/index.js';
import { csvCell } from './output.js';

/**
 * Per-loan lifetime figures as CSV (POST /pools/lifetime?loans=csv, the CLI's --loans FILE; docs/API.md):
 * one row per loan per scenario, in tape order, the scenarios of a loan in the order asked. Written a chunk
 * of loans at a time through `write`, so memory holds one chunk's lines, whatever the tape's size. On worker
 * threads each run's rows are written on the worker by a LoanCsv without header (`RunLines`), sent back with
 * the run's figures as UTF-8 bytes and handed to the main thread's sink (`lines`) in tape order, as the runs
 * are folded: the same bytes as one thread writes.
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
  /**
   * A worker's run of rows (what add and chunk would have written for its loans), in tape order. A sink
   * without it keeps the tape on one thread.
   */
  lines?(bytes: Uint8Array): void;
  /** A JSON tape named its own scenarios, before its first loan: these names, in this order. */
  useScenarios?(names: readonly string[]): void;
}

export class LoanCsv implements LoanSink {
  /** rows[i * scenarios + s]: loan i of the chunk under scenario s. */
  private readonly rows: string[] = [];

  /** Writes the header at once (unless `header` is false); then each chunk's lines when the chunk is complete. */
  constructor(
    private scenarios: readonly string[],
    private readonly write: (text: string | Uint8Array) => void,
    header = true,
  ) {
    if (header) write(`${LOAN_COLUMNS.join(',')}\n`);
  }

  lines(bytes: Uint8Array): void {
    if (bytes.length > 0) this.write(bytes);
  }

  useScenarios(names: readonly string[]): void {
    this.scenarios = names;
  }

  add(s: number, i: number, row: number, id: unknown, pd: number, balance: number, r: LoanResult): void {
    this.rows[i * this.scenarios.length + s] =
      `${row},${typeof id === 'string' ? csvCell(id) : ''},${this.scenarios[s]},${pd},${balance},` +
      `${r.expectedLoss12m},${r.expectedLoss36m},${r.expectedLossLifetime},` +
      `${r.discountedLoss12m},${r.discountedLoss36m},${r.discountedLossLifetime},` +
      `${r.pd36},${r.lifetimePd},${r.wal}\n`;
  }

  chunk(n: number): void {
    const count = n * this.scenarios.length;
    let out = '';
    for (let k = 0; k < count; k++) out += this.rows[k];
    this.rows.length = 0;
    if (out !== '') this.write(out);
  }
}

/**
 * A worker's sink: a run's rows (no header), encoded to UTF-8 a chunk at a time (the chunk's string is
 * short-lived), taken as one buffer once the run is read.
 */
export class RunLines {
  private readonly pieces: Uint8Array[] = [];
  private bytes = 0;
  private readonly encoder = new TextEncoder();
  /** The sink the worker's LifetimeCore is given. */
  readonly sink: LoanCsv;

  constructor(scenarios: readonly string[]) {
    this.sink = new LoanCsv(
      scenarios,
      (text) => {
        const piece = this.encoder.encode(text as string);
        this.pieces.push(piece);
        this.bytes += piece.length;
      },
      false,
    );
  }

  /** The rows written since the last take, in a buffer of their own (transferable). */
  take(): Uint8Array {
    const out = new Uint8Array(this.bytes);
    let at = 0;
    for (const p of this.pieces) {
      out.set(p, at);
      at += p.length;
    }
    this.pieces.length = 0;
    this.bytes = 0;
    return out;
  }
}
