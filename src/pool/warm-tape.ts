import { LOAN_FIELDS, type LoanField } from '../loan/record.js';
import { recordProblem } from '../loan/validate.js';
import type { Model } from '../runtime/index.js';
import { seededRandom } from '../runtime/random.js';
import type { Scenario } from '../scenario/index.js';
import { GROUP_RECORDS } from './groups.js';
import { DEFAULT_LGD } from './index.js';
import { csvCell, ResultBuffer } from './output.js';
import { TapeRun, type TapeThreads } from './threads.js';

/**
 * Warms the tape worker threads before a service takes its first tape (issue 20, item 4: no cold start).
 *
 * A worker makes its own copy of the tape code hot: the reader, the record checks, the encoder, the
 * packed trees, the groups' sums. Cold, its first two runs of 8,192 loans or more took 180–350 ms
 * against 64–86 ms later, and the service's workers start with its first tape: that tape took 7× a
 * later one (docs/PERFORMANCE.md, "The first tape after a start"). So, before the server listens, the
 * service sends synthetic tapes through the very TapeRun a request uses, on the same threads: some
 * with per-loan results (the columns the workers send back for `?loans=true` and CSV answers), some
 * without, until every worker has scored `groupsPerThread` groups of 8,192 loans or the time budget is spent.
 *
 * The loans are drawn from the loan contract (src/loan/record.ts), every field within its range, its
 * codes or its sentinel, ~10 % of the optional ones left blank, from a fixed seed: the same work at
 * every start, valid records (the rules across fields hold), and nothing read from outside the model.
 */

/** Synthetic loan records as a CSV tape body (header and `n` rows), deterministic in `seed`. */
export function syntheticTapeRows(n: number, seed = 20_261_207): { header: string; rows: string } {
  const next = seededRandom(seed);
  const lines: string[] = [];
  for (let i = 0; i < n; i++) {
    const loan: Record<string, string | number | null> = {};
    for (const field of LOAN_FIELDS) loan[field.name] = draw(field, next, i);
    // The only rule across fields today is a YYYYMM date's month (validate.ts recordProblem): drawn again.
    for (let attempt = 0, problem = recordProblem(loan); problem !== undefined; problem = recordProblem(loan)) {
      const field = LOAN_FIELDS.find((f) => f.name === problem?.field) as LoanField;
      loan[field.name] = attempt++ < 20 ? draw(field, next, i) : field.example;
    }
    lines.push(LOAN_FIELDS.map((f) => csvCell(String(loan[f.name] ?? ''))).join(','));
  }
  return { header: `${LOAN_FIELDS.map((f) => f.name).join(',')}\n`, rows: `${lines.join('\n')}\n` };
}

function draw(field: LoanField, next: () => number, i: number): string | number | null {
  if (!field.required && next() < 0.1) return null;
  if (field.kind === 'text') return field.name === 'loan_sequence_number' ? `WARM${String(i).padStart(8, '0')}` : null;
  if (field.kind === 'code') {
    const codes = Object.keys(field.codes);
    if (field.sentinel !== undefined && next() < 0.05) return field.sentinel;
    return codes[Math.floor(next() * codes.length)] as string;
  }
  if (field.sentinel !== undefined && next() < 0.05) return field.sentinel;
  const v = field.min + next() * (field.max - field.min);
  return field.integer ? Math.round(v) : Math.round(v * 100) / 100;
}

export interface TapeWarmOptions {
  readonly pool: TapeThreads;
  /** The model's artifact for the workers (`TapeThreads.artifact`). */
  readonly artifact: Uint8Array;
  readonly model: Model;
  readonly scenario: Scenario;
  /** Most time spent, in ms; past it no new tape is started. */
  readonly budgetMs: number;
  /** Rows scored together, as the route's tapes are (TapeOptions.chunkRows). */
  readonly chunkRows?: number;
  /**
   * Groups of GROUP_RECORDS loans each worker should score (default 4: 32,768 loans, sent as two runs of
   * ~1 MiB; cold, a worker's first two such runs were the slow ones).
   */
  readonly groupsPerThread?: number;
}

export interface TapeWarmReport {
  readonly tapes: number;
  /** Loans scored (synthetic rows the checks refused are counted out: there should be none). */
  readonly loans: number;
  readonly rows: number;
  readonly ms: number;
  readonly stopped?: string;
}

/**
 * Scores synthetic tapes on `pool`, about `groupsPerThread` groups a thread, half of them with per-loan
 * results. Never throws: a failure is reported (the service still starts,
 * and its first tape is then merely slower).
 */
export async function warmTapeThreads(options: TapeWarmOptions): Promise<TapeWarmReport> {
  const started = performance.now();
  const groups = Math.max(1, options.groupsPerThread ?? 4) * options.pool.size;
  const { header, rows } = syntheticTapeRows(GROUP_RECORDS);
  const body = Buffer.from(rows);
  // Two tapes: half the groups with per-loan results, half without, each of at least one group a thread.
  const perTape = Math.max(options.pool.size, Math.ceil(groups / 2));
  let tapes = 0;
  let loans = 0;
  let rowsRead = 0;
  try {
    for (const withResults of [false, true]) {
      if (performance.now() - started > options.budgetMs) {
        return { tapes, loans, rows: rowsRead, ms: elapsed(started), stopped: 'budget' };
      }
      const tape = new TapeRun({
        model: options.model,
        lgd: DEFAULT_LGD,
        onError: 'skip',
        maxRows: Number.POSITIVE_INFINITY,
        format: 'csv',
        scenario: options.scenario,
        ...(options.chunkRows === undefined ? {} : { chunkRows: options.chunkRows }),
        threads: { pool: options.pool, artifact: options.artifact },
        ...(withResults ? { results: new ResultBuffer(options.model.decisionThreshold, false) } : {}),
      });
      await tape.push(Buffer.from(header));
      for (let r = 0; r < perTape; r++) await tape.push(body);
      const result = await tape.end();
      tapes++;
      loans += result.rows - result.rejectedCount;
      rowsRead += result.rows;
    }
  } catch (err) {
    return { tapes, loans, rows: rowsRead, ms: elapsed(started), stopped: (err as Error).message ?? String(err) };
  }
  return { tapes, loans, rows: rowsRead, ms: elapsed(started) };
}

const elapsed = (started: number) => Math.round(performance.now() - started);
