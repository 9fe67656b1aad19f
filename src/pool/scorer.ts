import { type Reason, topReasons } from '../loan/reasons.js';
import { LOAN_FIELDS } from '../loan/record.js';
import { firstNonFinite, type LoanRecord, type Model } from '../runtime/index.js';
import {
  checkScenario,
  DEFAULT_SCENARIO,
  readsScenario,
  SCENARIO_FEATURES,
  type Scenario,
  ScenarioFeatureWriter,
} from '../scenario/index.js';

let resolvedDefault: Scenario | undefined;
const defaultScenario = (): Scenario => {
  resolvedDefault ??= checkScenario(DEFAULT_SCENARIO).scenario as Scenario;
  return resolvedDefault;
};

import { type AggregatePartial, PoolAggregator, type PoolFigures, type PoolLoan } from './aggregate.js';
import type { CellProblem } from './cells.js';
import { type RejectedRow, RowTally } from './errors.js';
import { GroupedSums, type Summable } from './groups.js';
import { type StrataLoan, type StrataPartial, type Stratification, Stratifier } from './strata.js';

/**
 * Takes validated loan records one at a time from a tape reader, scores them in chunks with one
 * model and folds each chunk into the pool figures: memory is one chunk of records whatever the
 * length of the tape. Record objects are reused from chunk to chunk (the reader fills a slot; the
 * scorer keeps it only if the row is valid), so a million-loan tape allocates a few thousand objects,
 * not a million.
 */

export type OnError = 'fail' | 'skip';

export interface ScorerOptions {
  readonly model: Model;
  /** Loss given default for the whole pool, in (0, 1]. */
  readonly lgd: number;
  /** `fail`: any invalid row fails the tape (nothing is scored after the first); `skip`: it is left out. */
  readonly onError: OnError;
  /** Most data rows (valid or not) accepted; one more fails the tape with `too_many_rows`. */
  readonly maxRows: number;
  /** How many refused rows are kept with their problems (the rest are only counted). */
  readonly maxListed?: number;
  /**
   * Rows scored together. Bigger is faster for tree models (the generated code runs best over many
   * rows) but holds the event loop longer per chunk.
   */
  readonly chunkRows?: number;
  /** Called with each scored chunk, in input order: per-loan output. */
  readonly onScored?: (batch: ScoredBatch) => void;
  /** Each loan's reason codes in the scored chunks (`model.explain`, then `topReasons`): slow, ~1 ms a loan. */
  readonly reasons?: boolean;
  /** Records to fill, made as rows come (`slotAt`) and kept for a later scorer: a worker thread scores run after run. */
  readonly slots?: Record<string, unknown>[];
  /**
   * The house-price scenario (src/scenario; DEFAULT_SCENARIO when absent): when the model reads scenario features, each loan is
   * scored on its record with them (scenarioRecord), and a loan the scenario cannot place (under
   * `historical`, a first payment outside its market) is a rejected row. Ignored by other models.
   */
  readonly scenario?: Scenario;
  /** Keep the pool's stratification (default true). */
  readonly stratify?: boolean;
  /**
   * A worker thread's scorer: the sums of each group of records are kept for `takeParts` (answered with the run,
   * added on the main thread in input order) rather than added up here.
   */
  readonly parts?: boolean;
  /** Records per group of the pool's sums (groups.ts; default GROUP_RECORDS; small in tests, to fold many groups). */
  readonly groupRecords?: number;
}

/** The pool figures' and the stratification's sums of a group of records, as plain data (PoolSums.partial). */
export interface PoolPart {
  readonly pool: AggregatePartial;
  readonly strata?: StrataPartial;
}

/** The pool figures' and (when kept) the stratification's sums, added loan by loan or group by group. */
class PoolSums implements Summable<PoolPart> {
  readonly aggregator: PoolAggregator;
  readonly strata: Stratifier | undefined;
  constructor(lgd: number, stratify: boolean) {
    this.aggregator = new PoolAggregator(lgd);
    this.strata = stratify ? new Stratifier() : undefined;
  }
  get loans(): number {
    return this.aggregator.loans;
  }
  partial(): PoolPart {
    const pool = this.aggregator.partial();
    return this.strata === undefined ? { pool } : { pool, strata: this.strata.partial() };
  }
  merge(part: PoolPart): void {
    this.aggregator.merge(part.pool);
    if (this.strata !== undefined && part.strata !== undefined) this.strata.merge(part.strata);
  }
}

/** One scored chunk. Only the first `count` entries of each array are this chunk's. */
export interface ScoredBatch {
  readonly count: number;
  /** Each loan's row (line number, or index in a JSON tape). */
  readonly rows: Float64Array;
  readonly loans: readonly LoanRecord[];
  readonly probability: Float64Array;
  readonly margin: Float64Array;
  readonly lgd: number;
  readonly decisionThreshold: number;
  /** Each loan's top reasons, when asked for (`reasons`). */
  readonly reasons?: readonly (readonly Reason[])[];
}

/**
 * A run of rows read, validated and scored elsewhere (a worker thread, src/pool/threads.ts): the rows
 * counted, the rejected ones (the first `maxListed` of the run, all counted) and the sums of its groups.
 */
export interface ScoredBlock {
  /** Data rows read, valid or not. */
  readonly rows: number;
  readonly rejectedCount: number;
  readonly rejected: readonly RejectedRow[];
  /**
   * The sums of each group of records of the run (groups.ts GROUP_RECORDS), in order: a run holds whole groups,
   * so the main thread only adds these, in input order.
   */
  readonly parts: readonly PoolPart[];
}

/** Where tape readers put rows. */
export interface RowTarget {
  /** A record to fill (every loan-record field is overwritten by the reader). */
  slot(): Record<string, unknown>;
  /** The slot holds a valid loan of this row. */
  accept(row: number): void;
  /** The row is invalid, for these reasons. */
  reject(row: number, problems: readonly CellProblem[], loanSequenceNumber?: unknown): void;
}

export interface ScoreOutcome {
  readonly rows: number;
  readonly figures: PoolFigures;
  readonly rejectedCount: number;
  readonly rejected: readonly RejectedRow[];
  /** The scenario the loans were scored under, when the model reads one (its name). */
  readonly scenario?: string;
  /** The pool's stratification (PDs of the scenario scored under); none when the scorer keeps none. */
  readonly stratification?: Stratification;
}

const DEFAULT_CHUNK_ROWS = 16_384;
export const DEFAULT_MAX_LISTED = 100;

/**
 * Every loan-record field and scenario feature null, the identifier undefined. Made by JSON.parse of one
 * template: V8 gives such objects fast properties (one shared shape), where adding this many properties
 * one by one with computed names turns an object into a slow dictionary.
 */
const EMPTY_RECORD = JSON.stringify(
  Object.fromEntries([...LOAN_FIELDS.map((f) => f.name), ...SCENARIO_FEATURES].map((name) => [name, null])),
);

export function emptyRecord(): Record<string, unknown> {
  const record = JSON.parse(EMPTY_RECORD) as Record<string, unknown>;
  record.loan_sequence_number = undefined;
  return record;
}

/** Records for a scorer's rows (`ScorerOptions.slots`). */
export function emptySlots(n: number): Record<string, unknown>[] {
  return Array.from({ length: n }, emptyRecord);
}

/**
 * The record of slot `i`, made when first asked for: a scorer's slots are made as its rows arrive (a
 * 20-loan tape makes 20, not a chunk's 16,384: that cost ~5 ms a request) and reused chunk after chunk.
 */
export function slotAt(records: Record<string, unknown>[], i: number): Record<string, unknown> {
  const record = records[i];
  if (record !== undefined) return record;
  const made = emptyRecord();
  records[i] = made;
  return made;
}

export class PoolScorer implements RowTarget {
  private readonly model: Model;
  private readonly onError: OnError;
  private readonly tally: RowTally;
  private readonly chunkRows: number;
  private readonly reasons: boolean;
  /** Whether the model reads scenario features, and the scenario they are computed under. */
  private readonly readsScenario: boolean;
  private scenario: ScenarioFeatureWriter | undefined;
  private readonly onScored: ((batch: ScoredBatch) => void) | undefined;
  private readonly lgd: number;
  private readonly sums: GroupedSums<PoolSums, PoolPart>;
  private readonly records: Record<string, unknown>[];
  private readonly rowOf: Float64Array;
  /**
   * The number of each held row's record (from 0): the groups of the sums count records. A worker counts
   * from its run's first record, which starts a group (threads.ts cuts the runs there): the same groups.
   */
  private readonly recordOf: Float64Array;
  private readonly keepsParts: boolean;
  private readonly stratify: boolean;
  private count = 0;

  constructor(options: ScorerOptions) {
    if (!(options.lgd > 0 && options.lgd <= 1)) throw new RangeError(`lgd must lie in (0, 1], got ${options.lgd}`);
    this.model = options.model;
    this.onError = options.onError;
    this.tally = new RowTally(options.maxRows, options.maxListed ?? DEFAULT_MAX_LISTED);
    this.chunkRows = options.chunkRows ?? DEFAULT_CHUNK_ROWS;
    this.onScored = options.onScored;
    this.reasons = options.reasons === true;
    this.readsScenario = readsScenario(this.model.fields);
    this.useScenario(options.scenario);
    this.lgd = options.lgd;
    this.stratify = options.stratify !== false;
    this.keepsParts = options.parts === true;
    const stratify = this.stratify;
    this.sums = new GroupedSums(() => new PoolSums(options.lgd, stratify), options.groupRecords, this.keepsParts);
    this.records = options.slots ?? [];
    this.rowOf = new Float64Array(this.chunkRows);
    this.recordOf = new Float64Array(this.chunkRows);
  }

  /** Data rows seen so far, valid or not. */
  get rows(): number {
    return this.tally.seen;
  }

  get rejectedCount(): number {
    return this.tally.refused;
  }

  /**
   * The scenario the rows from now on are scored under (a JSON tape's own `scenario`, read before its
   * loans; a worker's next run). Kept only when the model reads scenario features.
   */
  useScenario(scenario: Scenario | undefined): void {
    if (!this.readsScenario) {
      this.scenario = undefined;
      return;
    }
    // A model that reads scenario features is never scored without them (they would be imputed): no
    // scenario means DEFAULT_SCENARIO, as over HTTP.
    const s = scenario ?? defaultScenario();
    if (this.scenario?.scenario !== s) this.scenario = new ScenarioFeatureWriter(s);
  }

  /** The scenario the loans are scored under, when the model reads one. */
  get scenarioInUse(): Scenario | undefined {
    return this.scenario?.scenario;
  }

  slot(): Record<string, unknown> {
    return slotAt(this.records, this.count);
  }

  accept(row: number): void {
    const record = this.tally.seen;
    const scenario = this.scenario;
    if (scenario?.scenario.kind === 'historical') {
      // A backtest has no path for a loan outside the market: refused like any invalid row, never imputed.
      const slot = this.records[this.count] as Record<string, unknown>;
      const problem = scenario.problem(slot);
      if (problem !== undefined) {
        this.reject(row, [problem], slot.loan_sequence_number);
        return;
      }
    }
    this.tally.count();
    // Once a row has failed the tape there is no point scoring the others: only count them.
    if (this.tally.failing(this.onError)) return;
    this.rowOf[this.count] = row;
    this.recordOf[this.count] = record;
    if (++this.count === this.chunkRows) this.flush();
  }

  reject(row: number, problems: readonly CellProblem[], loanSequenceNumber?: unknown): void {
    this.tally.count();
    this.tally.refuse(row, problems, loanSequenceNumber);
  }

  /**
   * Folds a run of rows scored elsewhere, as if its rows had come one by one: the same counts, the
   * same refusals listed, the same sums in the same order (so the same figures, to the last bit).
   * Per-loan output of the run is the caller's, when this answers true (false: a row failed the tape,
   * and the run's loans are left out as the rows after a failing one are).
   */
  addBlock(block: ScoredBlock): boolean {
    this.tally.countMany(block.rows);
    this.tally.refuseMany(block.rejectedCount, block.rejected);
    if (this.tally.failing(this.onError)) return false;
    for (const part of block.parts) this.sums.merge(part);
    return true;
  }

  /** Scores the rows held so far. */
  private flush(): void {
    const n = this.count;
    if (n === 0) return;
    this.count = 0;
    const loans = n === this.records.length ? this.records : this.records.slice(0, n);
    const scenario = this.scenario;
    if (scenario !== undefined) for (let i = 0; i < n; i++) scenario.write(loans[i] as Record<string, unknown>);
    const { probability, margin } = this.model.scoreMany(loans);
    // Finite by construction (the margin bound checked at load); a fault otherwise, never a figure,
    // a PD band or a number in the answer (NaN is not JSON): the tape fails as a server error.
    const bad = firstNonFinite({ probability, margin });
    if (bad >= 0) {
      const { name, version } = this.model;
      throw new Error(
        `model ${name} ${version} gave a non-finite score (margin ${margin[bad]}) for row ${this.rowOf[bad]}`,
      );
    }
    const recordOf = this.recordOf;
    const grouped = this.sums;
    for (let i = 0; i < n; i++) {
      const { aggregator, strata } = grouped.group(recordOf[i] as number);
      const loan = loans[i] as unknown as PoolLoan & StrataLoan;
      const pd = probability[i] as number;
      aggregator.add(loan, pd);
      strata?.add(loan, pd);
    }
    this.onScored?.({
      count: n,
      rows: this.rowOf,
      loans,
      probability,
      margin,
      lgd: this.lgd,
      decisionThreshold: this.model.decisionThreshold,
      ...(this.reasons ? { reasons: this.reasonsOf(loans, n) } : {}),
    });
  }

  /** The top reasons of each loan, as /predict's explanations give them. */
  private reasonsOf(loans: readonly Record<string, unknown>[], n: number): Reason[][] {
    const out: Reason[][] = [];
    for (let i = 0; i < n; i++) {
      const loan = loans[i] as LoanRecord;
      out.push(topReasons(this.model.explain(loan).fields, loan));
    }
    return out;
  }

  /**
   * Starts over with no rows, for a worker thread's next run (threads.ts): made once, the scorer and
   * its reader keep their optimised code from run to run. The pool figures keep adding up, unread.
   */
  restart(): void {
    this.count = 0;
    this.tally.reset();
    if (this.keepsParts) this.sums.takeParts();
  }

  /** A worker's run is scored (after `finish`): the sums of its groups, in order (`parts`). */
  takeParts(): PoolPart[] {
    return this.sums.takeParts();
  }

  /** The pool's figures and stratification (a worker's scorer answers its sums instead: none). */
  private figures(): Pick<ScoreOutcome, 'figures' | 'stratification'> {
    const totals = this.sums.sums();
    const figures = totals.aggregator.figures();
    return this.stratify && !this.keepsParts && totals.strata !== undefined
      ? { figures, stratification: totals.strata.figures() }
      : { figures };
  }

  /** Scores what is left and answers the pool's figures, or throws `invalid_rows` under `fail`. */
  finish(): ScoreOutcome {
    if (this.tally.failing(this.onError)) throw this.tally.invalidRows();
    this.flush();
    return {
      rows: this.tally.seen,
      ...this.figures(),
      rejectedCount: this.tally.refused,
      rejected: this.tally.listed,
      ...(this.scenario === undefined ? {} : { scenario: this.scenario.scenario.name }),
    };
  }
}
