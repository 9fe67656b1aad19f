import {
  CSV_COLUMNS,
  DEFAULT_RECOVERY_LAG,
  type Defaults,
  type Hazard,
  type LoanTerms,
  type PoolAnswer as LossAnswer,
  type LossOptions,
  type LossProblem,
  loanTermProblems,
  loanTerms,
  lossOptionProblems,
  MAX_TERM,
  type MonthVector,
  monthlyHpi,
  monthlyMarketRate,
  type Plan,
  PoolLoss,
  type PoolPartial,
  type Prepayment,
  plan,
  seasonedInputs,
  type Timing,
  vectorsCsv,
} from '../loss/index.js';
import { firstNonFinite, type Model } from '../runtime/index.js';
import {
  checkScenario,
  HISTORICAL,
  marketMonth,
  readsScenario,
  SCENARIO_NAMES,
  type Scenario,
  ScenarioFeatureWriter,
  sameScenarios,
} from '../scenario/index.js';
import type { CellProblem } from './cells.js';
import type { BlockTarget, DelimitedFormat } from './delimited.js';
import { type RejectedRow, rejectedRow, TapeError, type TapeFormat } from './errors.js';
import { GROUP_RECORDS } from './groups.js';
import type { LoanSink } from './lifetime-loans.js';
import { DEFAULT_MAX_LISTED, type OnError, type RowTarget, slotAt } from './scorer.js';
import { SEASONED_EXTRAS, seasoningProblems } from './seasoned.js';
import { type StrataLoan, type StrataPartial, type Stratification, Stratifier } from './strata.js';
import { TapeInput } from './tape.js';
import { DEFAULT_BLOCK_BYTES, RunSplitter, type RunsInOrder, type TapeThreads } from './threads.js';

/**
 * A loan tape's lifetime loss under one or more scenarios (issue 22; docs/LOSS.md, docs/API.md
 * "POST /pools/lifetime"): the tape formats of POST /pools/score read by TapeInput into this row target,
 * which scores each chunk of valid loans with the model under each scenario (a scenario-conditional model
 * scores `scenarioRecord(loan, scenario)`; another model scores the loan once, the same PD under every
 * scenario), and adds each loan with its PD to one PoolLoss per scenario and, once, to the pool's
 * stratification. Memory: one chunk of records, the pools' monthly arrays and the house-price paths
 * (cached per scenario and state, and for `historical` per state and first-payment quarter).
 */

export interface LifetimeOptions {
  readonly model: Model;
  /** One pool per scenario, in this order; at least one. */
  readonly scenarios: readonly Scenario[];
  readonly loss: LossOptions;
  readonly onError: OnError;
  readonly maxRows: number;
  readonly maxListed?: number;
  readonly maxBytes?: number;
  readonly chunkRows?: number;
  readonly format: TapeFormat | 'auto';
  readonly candidates?: readonly TapeFormat[];
  /** YYYYMM the stratification counts loan age to (none: no WA loan age). */
  readonly asOf?: number;
  /**
   * Worker threads (POOL_THREADS, the CLI's --threads) and the model's artifact for them
   * (`TapeThreads.artifact`): CSV and Freddie Mac tapes are read, scored and projected there, one group of
   * GROUP_RECORDS records a run. JSON tapes stay on this thread.
   */
  readonly threads?: { readonly pool: TapeThreads; readonly artifact: Uint8Array };
  /** Most runs out at a time (default twice the threads). */
  readonly maxInFlight?: number;
  /** Records per group (default GROUP_RECORDS; small in tests, to fold many groups). */
  readonly groupRecords?: number;
  /**
   * Told each loan's figures under each scenario (the per-loan CSV, src/pool/lifetime-loans.ts), in tape
   * order. On worker threads each run answers its rows (LifetimePart.lines), handed to `loans.lines` as the
   * runs are folded in input order; a sink without `lines` keeps the tape on this thread.
   */
  readonly loans?: LoanSink;
  /**
   * A JSON tape may name its own scenarios, `{"scenario": ..., "loans": [...]}` (before its loans): this
   * resolves them (throwing when they are invalid or conflict with the caller's), and the loans are projected
   * under the answer instead of `scenarios`. Without it, `scenario` is not a field of a JSON tape.
   */
  readonly bodyScenarios?: (spec: unknown) => readonly Scenario[];
}

/** One scenario's figures: the engine's pool answer and the loans the scenario could not place. */
export interface ScenarioLoss extends LossAnswer {
  readonly scenario: string;
  /**
   * Loans whose house-price path the scenario could not place (`historical`: a first payment outside its
   * market): projected on flat house prices. `rows`: the first `maxListed` of them.
   */
  readonly unplaced: { readonly count: number; readonly rows: readonly number[] };
}

export interface LifetimeResult {
  readonly format: TapeFormat;
  readonly bytes: number;
  /** Data rows read, valid or not. */
  readonly rows: number;
  readonly loanCount: number;
  readonly rejectedCount: number;
  readonly rejected: readonly RejectedRow[];
  readonly modelReadsScenario: boolean;
  readonly scenarios: readonly ScenarioLoss[];
  /** The pool's stratification, PD shares from the first scenario's PDs. */
  readonly stratification: Stratification;
}

const DEFAULT_CHUNK_ROWS = 4096;
/** The largest double below 1: a PD that rounds to 1 is projected as this (the engine needs PD < 1). */
const BELOW_ONE = 1 - 2 ** -53;

// The pools' and the stratification's sums are folded group by group (groups.ts GROUP_RECORDS, the groups
// /pools/score folds too): the loans of records [k·GROUP_RECORDS, (k+1)·GROUP_RECORDS) are summed into fresh
// partial sums, in input order, and the partials are added to the totals in the order of k. A worker thread
// projects one group a run (the reader cuts the runs there, delimited.ts `cutRecords`), this thread the same
// groups: so the figures are the same, bit for bit, on any number of threads, whatever chunks the input came in,
// and in any layout of the same loans (CSV, Freddie Mac, JSON).

/** What a run (one group) of a tape adds up to: a worker's answer, plain data (LifetimeCore.part). */
export interface LifetimePart {
  readonly rows: number;
  readonly rejectedCount: number;
  readonly rejected: readonly RejectedRow[];
  readonly loans: number;
  /** Per scenario, in order. */
  readonly pools: readonly {
    readonly partial: PoolPartial;
    readonly unplaced: number;
    readonly unplacedRows: readonly number[];
  }[];
  readonly strata: StrataPartial;
  /** The run's per-loan CSV rows (UTF-8, no header), when the task asked for them (LoanSink.lines). */
  readonly lines?: Uint8Array;
}

/**
 * The hazard a request gets (docs/LOSS.md "House prices in the default hazard"): the one it names, else
 * `house_prices` when the model reads the scenario (its PD already responds to the scenario's house prices;
 * the path then times the defaults too) and `timing_only` when it does not (the same PD under every scenario:
 * letting the path re-time it would move a stress's defaults by an assumption the model does not make).
 */
export function resolvedHazard(loss: LossOptions, modelReadsScenario: boolean): Hazard {
  return loss.hazard ?? (modelReadsScenario ? 'house_prices' : 'timing_only');
}

/** The cache key of a loan's historical house-price path: its state and first-payment quarter. */
function historicalKey(loan: Readonly<Record<string, unknown>>): string {
  const state = typeof loan.property_state === 'string' ? loan.property_state : '';
  const fpd = loan.first_payment_date;
  return `${state}|${typeof fpd === 'number' ? `${Math.floor(fpd / 100)}Q${Math.floor(((fpd % 100) - 1) / 3)}` : ''}`;
}

const HISTORICAL_SCENARIO = checkScenario(HISTORICAL).scenario as Scenario;

class ScenarioPool {
  /** The totals, and the sums of the group being read. */
  readonly pool: PoolLoss;
  group: PoolLoss;
  readonly writer: ScenarioFeatureWriter;
  readonly paths = new Map<string, ReturnType<typeof monthlyHpi>>();
  /** The historical market's paths by state and first-payment quarter (a preset's seasoned loans). */
  private readonly histories = new Map<string, Float64Array>();
  /** Market-rate paths by the month the projection starts (prepayment `scenario` only). */
  private readonly rates = new Map<unknown, Float64Array | undefined>();
  unplaced = 0;
  readonly unplacedRows: number[] = [];
  private readonly plan: Plan;
  constructor(
    readonly scenario: Scenario,
    loss: LossOptions,
  ) {
    this.plan = plan(loss);
    this.pool = new PoolLoss(this.plan, MAX_TERM + loss.recoveryLag);
    this.group = this.fresh();
    this.writer = new ScenarioFeatureWriter(scenario);
  }

  /** A worker's next run: the sums and the unplaced loans start again, the house-price paths are kept. */
  restart(): void {
    this.group = this.fresh();
    this.unplaced = 0;
    this.unplacedRows.length = 0;
  }

  private fresh(): PoolLoss {
    return new PoolLoss(this.plan, this.pool.vectors.months);
  }

  /** Adds the group's sums to the totals and starts the next group. */
  foldGroup(): void {
    if (this.group.vectors.loans === 0) return;
    this.pool.merge(this.group.partial());
    this.group = this.fresh();
  }

  /** The loan's house-price path (MAX_TERM months), shared by the loans of its state (and quarter, historical). */
  path(loan: Readonly<Record<string, unknown>>): ReturnType<typeof monthlyHpi> {
    const state = typeof loan.property_state === 'string' ? loan.property_state : '';
    const key = this.scenario.kind === 'historical' ? historicalKey(loan) : state;
    let path = this.paths.get(key);
    if (path === undefined) {
      path = monthlyHpi(loan, this.scenario, MAX_TERM);
      this.paths.set(key, path);
    }
    return path;
  }

  /**
   * The loan's market-rate path (MAX_TERM months) when the prepayment reads it, shared by the loans whose
   * projection starts in the same month (the first-payment month + age): at most one per month of the
   * contract's first-payment range + MAX_TERM, whatever the tape.
   */
  market(loan: Readonly<Record<string, unknown>>, age: number): Float64Array | undefined {
    if (!this.plan.scenarioPrepayment) return undefined;
    const fpd = loan.first_payment_date;
    const key = typeof fpd === 'number' ? marketMonth(fpd) + age : undefined;
    if (!this.rates.has(key)) this.rates.set(key, monthlyMarketRate(loan, this.scenario, MAX_TERM, age));
    return this.rates.get(key);
  }

  /**
   * A seasoned loan's terms and house-price path (docs/LOSS.md "Seasoned loans"): marked to the historical
   * market's prices at its age (the scenario's own path under `historical`), then on the scenario's `path`.
   */
  seasoned(
    terms: LoanTerms,
    loan: Readonly<Record<string, unknown>>,
    path: ArrayLike<number>,
  ): { readonly terms: LoanTerms; readonly hpi: ArrayLike<number> } {
    if (this.scenario.kind === 'historical') return seasonedInputs(terms, path);
    return seasonedInputs(terms, this.history(loan), path);
  }

  /** A preset's seasoned loans: the historical market's path since the first-payment quarter, by state and quarter. */
  private history(loan: Readonly<Record<string, unknown>>): Float64Array {
    const key = historicalKey(loan);
    let path = this.histories.get(key);
    if (path === undefined) {
      path = monthlyHpi(loan, HISTORICAL_SCENARIO, MAX_TERM).ratio;
      this.histories.set(key, path);
    }
    return path;
  }
}

/** LifetimeCore's options: a tape's, without its input. */
export type LifetimeCoreOptions = Pick<
  LifetimeOptions,
  'model' | 'scenarios' | 'loss' | 'onError' | 'maxRows' | 'maxListed' | 'chunkRows' | 'asOf' | 'groupRecords' | 'loans'
> & {
  /** A worker's run: one group only (a second one is a fault), answered by part(). */
  readonly oneGroup?: boolean;
};

/**
 * Where the rows of a tape go, on this thread or on a worker: validates each loan, scores the valid ones a
 * chunk at a time under each scenario and adds them to the group's partial sums, folded into the totals
 * group by group (GROUP_RECORDS).
 */
export class LifetimeCore implements RowTarget {
  private readonly model: Model;
  readonly reads: boolean;
  private pools: ScenarioPool[];
  private readonly loss: LossOptions;
  private readonly strata: Stratifier;
  private groupStrata: Stratifier;
  private readonly asOf: number | undefined;
  private readonly onError: OnError;
  private readonly maxRows: number;
  private readonly maxListed: number;
  private readonly chunkRows: number;
  private readonly lag: number;
  private readonly oneGroup: boolean;
  private readonly groupRecords: number;
  private readonly sink: LoanSink | undefined;
  private readonly records: Record<string, unknown>[];
  private readonly rowOf: Float64Array;
  private group = -1;
  private count = 0;
  private seen = 0;
  private loans = 0;
  private refused = 0;
  private readonly listed: RejectedRow[] = [];

  constructor(options: LifetimeCoreOptions) {
    if (options.scenarios.length === 0) throw new RangeError('name at least one scenario');
    this.model = options.model;
    this.reads = readsScenario(options.model.fields);
    const loss = { ...options.loss, hazard: resolvedHazard(options.loss, this.reads) };
    this.loss = loss;
    this.pools = options.scenarios.map((s) => new ScenarioPool(s, loss));
    this.asOf = options.asOf;
    this.strata = new Stratifier(options.asOf);
    this.groupStrata = new Stratifier(options.asOf);
    this.onError = options.onError;
    this.maxRows = options.maxRows;
    this.maxListed = options.maxListed ?? DEFAULT_MAX_LISTED;
    this.chunkRows = options.chunkRows ?? DEFAULT_CHUNK_ROWS;
    this.lag = options.loss.recoveryLag;
    this.oneGroup = options.oneGroup === true;
    this.groupRecords = options.groupRecords ?? GROUP_RECORDS;
    this.sink = options.loans;
    this.records = [];
    this.rowOf = new Float64Array(this.chunkRows);
  }

  get rows(): number {
    return this.seen;
  }

  get rejectedCount(): number {
    return this.refused;
  }

  /** A JSON tape's own scenarios (read before its first loan): one pool per scenario, in this order. */
  useScenarios(scenarios: readonly Scenario[]): void {
    if (this.seen > 0) throw new Error('the scenarios are set before the first loan');
    if (scenarios.length === 0) throw new RangeError('name at least one scenario');
    this.pools = scenarios.map((s) => new ScenarioPool(s, this.loss));
  }

  slot(): Record<string, unknown> {
    return slotAt(this.records, this.count);
  }

  accept(row: number): void {
    // Groups count records; a worker's run starts a group (threads.ts cuts the runs there).
    const record = this.seen;
    this.countRow();
    const loan = this.slot();
    const problems = this.loanProblems(loan);
    if (problems.length > 0) {
      this.refuse(row, problems, loan.loan_sequence_number);
      return;
    }
    // A failing tape: every invalid row is still named (as a worker names those of its run), none projected.
    if (this.refused > 0 && this.onError === 'fail') return;
    const group = Math.floor(record / this.groupRecords);
    if (group !== this.group) {
      if (this.group !== -1 && this.oneGroup) throw new Error(`a run holds records of two groups (line ${row})`);
      const n = this.count;
      this.flush();
      this.foldGroup();
      this.group = group;
      // The loan just read is in slot n: it starts the next chunk.
      const first = this.records[0] as Record<string, unknown>;
      this.records[0] = loan;
      this.records[n] = first;
    }
    this.rowOf[this.count] = row;
    if (++this.count === this.chunkRows) this.flush();
  }

  reject(row: number, problems: readonly CellProblem[], loanSequenceNumber?: unknown): void {
    this.countRow();
    this.refuse(row, problems, loanSequenceNumber);
  }

  /**
   * A worker's next run (the same model and options): counts and sums start again; the compiled plans, the
   * house-price paths and the scenario features' paths are kept (computing them anew each run cost more
   * than its reading).
   */
  restart(): void {
    this.count = 0;
    this.seen = 0;
    this.loans = 0;
    this.refused = 0;
    this.listed.length = 0;
    this.group = -1;
    for (const p of this.pools) p.restart();
    this.groupStrata = new Stratifier(this.asOf);
  }

  /** A worker's run is read: its figures, the group's sums. */
  part(): LifetimePart {
    this.flush();
    return {
      rows: this.seen,
      rejectedCount: this.refused,
      rejected: this.listed,
      loans: this.loans,
      pools: this.pools.map((p) => ({
        partial: p.group.partial(),
        unplaced: p.unplaced,
        unplacedRows: p.unplacedRows,
      })),
      strata: this.groupStrata.partial(),
    };
  }

  /**
   * Folds a run (one group) read on a worker, in input order; false when the tape is failing (its loans
   * are left out, as one thread leaves them out).
   */
  addPart(part: LifetimePart): boolean {
    if (this.seen + part.rows > this.maxRows) {
      throw new TapeError('too_many_rows', `the tape has more than ${this.maxRows} rows`);
    }
    this.seen += part.rows;
    this.refused += part.rejectedCount;
    for (const r of part.rejected) {
      if (this.listed.length >= this.maxListed) break;
      this.listed.push(r);
    }
    if (this.refused > 0 && this.onError === 'fail') return false;
    this.loans += part.loans;
    this.pools.forEach((p, s) => {
      const from = part.pools[s] as LifetimePart['pools'][number];
      if (from.partial.loans > 0) p.pool.merge(from.partial);
      p.unplaced += from.unplaced;
      for (const row of from.unplacedRows) {
        if (p.unplacedRows.length >= this.maxListed) break;
        p.unplacedRows.push(row);
      }
    });
    if (part.strata.count > 0) this.strata.merge(part.strata);
    return true;
  }

  /** Every row is in: the figures (after a refusal check: throws the tape's refusal, a TapeError). */
  finish(format: TapeFormat, bytes: number): LifetimeResult {
    if (this.refused > 0 && this.onError === 'fail') {
      throw new TapeError('invalid_rows', `${this.refused} of ${this.seen} rows are invalid`, {
        rejected: this.listed,
        rejectedCount: this.refused,
      });
    }
    this.flush();
    this.foldGroup();
    return {
      format,
      bytes,
      rows: this.seen,
      loanCount: this.loans,
      rejectedCount: this.refused,
      rejected: this.listed,
      modelReadsScenario: this.reads,
      scenarios: this.pools.map((p) => ({
        scenario: p.scenario.name,
        unplaced: { count: p.unplaced, rows: p.unplacedRows },
        ...p.pool.answer(),
      })),
      stratification: this.strata.figures(),
    };
  }

  private foldGroup(): void {
    for (const p of this.pools) p.foldGroup();
    if (this.groupStrata.loans > 0) {
      this.strata.merge(this.groupStrata.partial());
      this.groupStrata = new Stratifier(this.asOf);
    }
  }

  /**
   * Why a valid loan record cannot be projected: terms outside the engine's ranges (the contract's
   * ranges lie inside them, so only a changed contract would see this), or, for a scenario-conditional
   * model, a scenario that cannot place the loan (never imputed, as POST /predict refuses it).
   */
  private loanProblems(loan: Readonly<Record<string, unknown>>): CellProblem[] {
    const seasoned = seasoningProblems(loan);
    if (seasoned.length > 0) return seasoned;
    const terms = loanTerms(loan, 0);
    if (terms === undefined) {
      return [
        { field: 'original_upb', message: 'original_upb, original_interest_rate and original_loan_term are needed' },
      ];
    }
    const out: CellProblem[] = loanTermProblems(terms, MAX_TERM + this.lag, this.lag).map((p) => ({
      field: p.field,
      message: p.message,
    }));
    if (this.reads) {
      for (const p of this.pools) {
        const problem = p.writer.problem(loan);
        if (problem !== undefined) {
          out.push({ field: problem.field, message: `${problem.message} (scenario ${p.scenario.name})` });
        }
      }
    }
    return out;
  }

  private countRow(): void {
    if (++this.seen > this.maxRows) throw new TapeError('too_many_rows', `the tape has more than ${this.maxRows} rows`);
  }

  private refuse(row: number, problems: readonly CellProblem[], loanSequenceNumber: unknown): void {
    this.refused++;
    if (this.listed.length < this.maxListed) this.listed.push(rejectedRow(row, problems, loanSequenceNumber));
  }

  /** Scores the chunk under each scenario and adds its loans to the group's sums (the stratification's once). */
  private flush(): void {
    const n = this.count;
    if (n === 0) return;
    this.count = 0;
    const loans = this.records.slice(0, n);
    // Scored under each scenario first (a model that reads the scenario again under each), then projected loan
    // by loan under the scenarios in turn: each scenario's sums still take the loans in order (the same bits),
    // and the engine reads a loan's schedule once for all its scenarios.
    const pds: Float64Array[] = [];
    this.pools.forEach((p, s) => {
      if (s === 0 || this.reads) {
        if (this.reads) for (const loan of loans) p.writer.write(loan);
        pds.push(Float64Array.from(this.score(loans)));
      } else pds.push(pds[0] as Float64Array);
    });
    const pools = this.pools;
    for (let i = 0; i < n; i++) {
      const loan = loans[i] as Record<string, unknown>;
      for (let s = 0; s < pools.length; s++) {
        const p = pools[s] as (typeof pools)[number];
        const pd = Math.min((pds[s] as Float64Array)[i] as number, BELOW_ONE);
        const path = p.path(loan);
        if (!path.placed) {
          p.unplaced++;
          if (p.unplacedRows.length < this.maxListed) p.unplacedRows.push(this.rowOf[i] as number);
        }
        let terms = loanTerms(loan, pd) as LoanTerms;
        let hpi: ArrayLike<number> = path.ratio;
        if (terms.origin !== undefined) ({ terms, hpi } = p.seasoned(terms, loan, hpi));
        const r = p.group.add(terms, hpi, p.market(loan, terms.age));
        this.sink?.add(s, i, this.rowOf[i] as number, loan.loan_sequence_number, pd, terms.balance, r);
        if (s === 0) this.groupStrata.add(loan as unknown as StrataLoan, pd);
      }
    }
    this.sink?.chunk(n);
    this.loans += n;
  }

  private score(records: readonly Record<string, unknown>[]): Float64Array {
    const { probability, margin } = this.model.scoreMany(records);
    const bad = firstNonFinite({ probability, margin });
    if (bad >= 0) {
      const { name, version } = this.model;
      throw new Error(
        `model ${name} ${version} gave a non-finite score (margin ${margin[bad]}) for row ${this.rowOf[bad]}`,
      );
    }
    return probability;
  }
}

/**
 * A tape's lifetime figures: push chunks as they arrive (a promise back: wait for it, the runs out are at
 * their bound), then `end()`. On worker threads when given some (CSV and Freddie Mac tapes: the reader cuts
 * the data records into runs of one group, each read, scored and projected on a worker, folded here in input
 * order), else on this thread, with the same answer byte for byte.
 */
export class LifetimeTape implements BlockTarget {
  private readonly input: TapeInput;
  private readonly core: LifetimeCore;
  private readonly options: LifetimeOptions;
  private readonly runs: RunsInOrder;
  private readonly splitter: RunSplitter;
  private chosen: readonly Scenario[];
  readonly cutRecords: number;

  constructor(options: LifetimeOptions) {
    this.options = options;
    this.cutRecords = options.groupRecords ?? GROUP_RECORDS;
    this.core = new LifetimeCore(options);
    const split = options.threads !== undefined && (options.loans === undefined || options.loans.lines !== undefined);
    // One group a run: a group of loans under every scenario is already seconds of a worker's time.
    this.splitter = new RunSplitter({
      maxInFlight: options.maxInFlight,
      threads: options.threads,
      cutRecords: this.cutRecords,
      minBytes: 0,
      sliceBytes: split ? DEFAULT_BLOCK_BYTES : Number.POSITIVE_INFINITY,
      send: (bytes, line) => this.send(bytes, line),
    });
    this.runs = this.splitter.runs;
    const resolve = options.bodyScenarios;
    this.input = new TapeInput(
      this.core,
      { ...options, extra: SEASONED_EXTRAS, ...(split ? { splitTo: this } : {}) },
      resolve === undefined
        ? undefined
        : (spec) => {
            // `"scenario": null` is no scenario: the options' (the query's, else the default) stay.
            if (spec === null) return;
            const scenarios = resolve(spec);
            this.core.useScenarios(scenarios);
            options.loans?.useScenarios?.(scenarios.map((s) => s.name));
            this.chosen = scenarios;
          },
    );
    this.chosen = options.scenarios;
  }

  /** The scenarios the loans are projected under: the tape's own (a JSON tape's `scenario`), else the options'. */
  get scenarios(): readonly Scenario[] {
    return this.chosen;
  }

  /** Runs sent to workers, and the most ever out at once (tests check the bound). */
  get blocks(): number {
    return this.runs.sent;
  }
  get maxInFlightSeen(): number {
    return this.runs.maxInFlightSeen;
  }
  get format(): TapeFormat | undefined {
    return this.input.format;
  }
  get bytes(): number {
    return this.input.bytes;
  }
  get rows(): number {
    return this.core.rows;
  }
  get rejectedCount(): number {
    return this.core.rejectedCount;
  }

  /** Takes a chunk; answers a promise when the input should wait (RunSplitter: never more than maxInFlight out). */
  push(chunk: Buffer): Promise<void> | undefined {
    return this.splitter.push(chunk, (c) => this.input.push(c));
  }

  /** Reads what is left, projects the last chunk and answers; throws the tape's refusal (TapeError). */
  async end(): Promise<LifetimeResult> {
    await this.splitter.end(() => this.input.endInput());
    if (this.core.rows === 0) throw this.input.empty();
    return this.core.finish(this.input.format as TapeFormat, this.input.bytes);
  }

  /** Split mode: a run of whole records of one group (delimited.ts cuts at `cutRecords`). */
  block(bytes: Buffer, line: number, record: number): void {
    this.splitter.block(bytes, line, record);
  }

  /** Sends one run (one group). */
  private send(bytes: Uint8Array, line: number): void {
    const threads = this.options.threads;
    if (threads === undefined) return;
    const { model, scenarios, loss, asOf, maxListed, chunkRows } = this.options;
    const running = threads.pool.runLifetime({
      kind: 'lifetime',
      model: { sha256: model.sha256, source: model.source, bytes: threads.artifact },
      format: this.input.format as DelimitedFormat,
      header: this.input.header,
      line,
      bytes,
      scenarios,
      loss,
      ...(asOf === undefined ? {} : { asOf }),
      maxListed: maxListed ?? DEFAULT_MAX_LISTED,
      chunkRows: chunkRows ?? DEFAULT_CHUNK_ROWS,
      groupRecords: this.cutRecords,
      ...(this.options.loans === undefined ? {} : { loans: true }),
    });
    const sink = this.options.loans;
    this.runs.add(running, (part) => {
      // A failing tape's rows are left out, as one thread leaves out the loans after its first refusal.
      if (this.core.addPart(part) && part.lines !== undefined) sink?.lines?.(part.lines);
    });
  }
}

/**
 * The vectors of each scenario as one CSV (vectorsCsv's layout); with several scenarios a `scenario`
 * column first and the scenarios' months one after the other.
 */
export function scenarioVectorsCsv(
  scenarios: readonly { scenario: string; vectors: readonly MonthVector[] }[],
): string {
  if (scenarios.length === 1) return vectorsCsv((scenarios[0] as { vectors: readonly MonthVector[] }).vectors);
  let out = `scenario,${CSV_COLUMNS.join(',')}\n`;
  for (const { scenario, vectors } of scenarios) {
    const csv = vectorsCsv(vectors);
    for (const line of csv.slice(csv.indexOf('\n') + 1).split('\n')) if (line !== '') out += `${scenario},${line}\n`;
  }
  return out;
}

/** The lifetime options as a request or a command line spells them (text, each optional). */
export interface LifetimeSpec {
  readonly scenario?: string | undefined;
  readonly psa?: string | undefined;
  readonly cpr?: string | undefined;
  readonly prepayment?: string | undefined;
  readonly timing?: string | undefined;
  readonly hazard?: string | undefined;
  readonly cdr?: string | undefined;
  readonly sda?: string | undefined;
  readonly recovery_lag?: string | undefined;
  readonly as_of?: string | undefined;
}

export interface LifetimeChoice {
  readonly scenarios: readonly Scenario[];
  readonly loss: LossOptions;
  readonly asOf?: number;
}

/**
 * Defaults when a spec names none: baseline, 100 % PSA, seasoning timing, DEFAULT_RECOVERY_LAG, and the hazard
 * resolvedHazard picks for the model.
 */
export const LIFETIME_DEFAULTS = { scenario: 'baseline', psa: 1, timing: 'seasoning' } as const;

const DECIMAL = /^\s*[+]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*$/;
const decimal = (text: string) => (DECIMAL.test(text) ? Number(text) : Number.NaN);

/**
 * The scenarios and engine options of a spec, or the problems found, each naming its field as the spec
 * spells it (`scenario`, `psa`, `cpr`, `cpr[3]`, `timing`, `recovery_lag`, `as_of`). Bounded work: at most
 * MAX_TERM CPR values and SCENARIO_NAMES.length scenarios are looked at.
 */
export function lifetimeChoice(spec: LifetimeSpec): { choice?: LifetimeChoice; problems: LossProblem[] } {
  const problems: LossProblem[] = [];
  const scenarios = lifetimeScenarios(spec.scenario ?? LIFETIME_DEFAULTS.scenario, problems);
  let prepayment: Prepayment = { kind: 'psa', multiple: LIFETIME_DEFAULTS.psa };
  if (spec.psa !== undefined && spec.cpr !== undefined) {
    problems.push({ field: 'cpr', message: 'send psa or cpr, not both' });
  } else if (spec.prepayment !== undefined && (spec.psa !== undefined || spec.cpr !== undefined)) {
    problems.push({
      field: 'prepayment',
      message: `send prepayment or ${spec.psa === undefined ? 'cpr' : 'psa'}, not both`,
    });
  } else if (spec.prepayment !== undefined) {
    const kind = spec.prepayment.trim();
    if (kind === 'scenario' || kind === 'none') prepayment = { kind };
    else {
      problems.push({
        field: 'prepayment',
        message: `must be scenario or none (psa and cpr are their own parameters), got ${JSON.stringify(kind.slice(0, 40))}`,
      });
    }
  } else if (spec.psa !== undefined) {
    const multiple = decimal(spec.psa);
    prepayment = multiple === 0 ? { kind: 'none' } : { kind: 'psa', multiple };
  } else if (spec.cpr !== undefined) {
    const cpr = rates(spec.cpr, 'cpr', problems);
    if (cpr !== undefined) prepayment = cpr === 0 ? { kind: 'none' } : { kind: 'cpr', cpr };
  }
  const defaults = defaultAssumption(spec, problems);
  const timing = (spec.timing ?? LIFETIME_DEFAULTS.timing) as Timing;
  const hazard = spec.hazard?.trim() as Hazard | undefined;
  const lagText = spec.recovery_lag;
  const recoveryLag =
    lagText === undefined ? DEFAULT_RECOVERY_LAG : /^\s*\d+\s*$/.test(lagText) ? Number(lagText) : Number.NaN;
  const loss: LossOptions = {
    timing,
    ...(hazard === undefined ? {} : { hazard }),
    prepayment,
    recoveryLag,
    ...(defaults.kind === 'model' ? {} : { defaults }),
  };
  const refused = new Set(problems.map((p) => p.field));
  for (const p of lossOptionProblems(loss)) {
    const prepaymentRefused =
      (refused.has('cpr') || refused.has('prepayment')) && /^(cpr|psa|prepayment)/.test(p.field);
    const defaultsRefused = (refused.has('sda') || refused.has('cdr')) && /^(cdr|sda)/.test(p.field);
    if (!(prepaymentRefused || defaultsRefused)) problems.push(p);
  }
  let asOf: number | undefined;
  if (spec.as_of !== undefined) {
    asOf = /^\s*\d{6}\s*$/.test(spec.as_of) ? Number(spec.as_of) : Number.NaN;
    if (!(asOf % 100 >= 1 && asOf % 100 <= 12 && asOf >= 190001)) {
      problems.push({
        field: 'as_of',
        message: `must be a month YYYYMM, got ${JSON.stringify(spec.as_of.slice(0, 40))}`,
      });
    }
  }
  if (problems.length > 0) return { problems };
  return { choice: { scenarios, loss, ...(asOf === undefined ? {} : { asOf }) }, problems };
}

/** Most scenarios projected side by side in one request: each costs a full projection of the tape. */
export const MAX_LIFETIME_SCENARIOS = 6;
/** Most characters of the scenario spec (a custom path's JSON in a query string, or read from a file). */
export const MAX_LIFETIME_SCENARIO_CHARS = 65_536;

/**
 * The scenarios of a spec's `scenario`: comma-separated preset names, or JSON (starting with `{` or `[`): one
 * custom path, `{"name"?, "national": [...], "states"?: {...}, "rates"?: [...]}` (docs/API.md "Scenarios"), or a
 * list of up to MAX_LIFETIME_SCENARIOS names and custom paths, side by side in that order. Problems are named
 * `scenario` (a name), `scenario.national[3]` (the one custom path) or `scenario[1].national[3]` (in a list).
 */
function lifetimeScenarios(text: string, problems: LossProblem[]): Scenario[] {
  const scenarios: Scenario[] = [];
  const start = text.trimStart()[0];
  if (start === '{' || start === '[') {
    if (text.length > MAX_LIFETIME_SCENARIO_CHARS) {
      problems.push({ field: 'scenario', message: `is at most ${MAX_LIFETIME_SCENARIO_CHARS} characters of JSON` });
      return scenarios;
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (err) {
      problems.push({ field: 'scenario', message: `is not valid JSON: ${(err as Error).message.slice(0, 200)}` });
      return scenarios;
    }
    return scenarioList(parsed, 'scenario', problems);
  }
  const names = text.split(',').map((s) => s.trim());
  if (names.length > SCENARIO_NAMES.length) {
    problems.push({ field: 'scenario', message: `names at most ${SCENARIO_NAMES.length} scenarios, comma-separated` });
    return scenarios;
  }
  for (const name of names) {
    const check = checkScenario(name);
    if (check.scenario === undefined) {
      problems.push({
        field: 'scenario',
        message: `${JSON.stringify(name.slice(0, 40))}: must be one of ${SCENARIO_NAMES.join(', ')}, or JSON: a custom path or a list`,
      });
    } else addScenario(scenarios, check.scenario, 'scenario', problems);
  }
  return scenarios;
}

/**
 * The scenarios of a parsed spec (a JSON tape's `scenario`, or the query's JSON): a name, one custom path, or a
 * list of up to MAX_LIFETIME_SCENARIOS names and custom paths; problems named from `field` (`field[1].national`).
 */
export function scenarioList(spec: unknown, field: string, problems: LossProblem[]): Scenario[] {
  const scenarios: Scenario[] = [];
  const list = Array.isArray(spec) ? spec : [spec];
  if (list.length === 0 || list.length > MAX_LIFETIME_SCENARIOS) {
    problems.push({ field, message: `must list 1 to ${MAX_LIFETIME_SCENARIOS} scenarios` });
    return scenarios;
  }
  list.forEach((entry, i) => {
    const at = Array.isArray(spec) ? `${field}[${i}]` : field;
    const check = checkScenario(entry, at);
    if (check.scenario === undefined) {
      problems.push(...check.problems);
      if (check.omitted > 0) problems.push({ field: at, message: `and ${check.omitted} more problems` });
    } else addScenario(scenarios, check.scenario, at, problems);
  });
  return scenarios;
}

/**
 * A JSON tape's own scenarios (`{"scenario": ..., "loans": [...]}`: a name, a custom path or a list, as the
 * query's JSON), for `POST /pools/lifetime` and the CLI's `--lifetime` alike. Beside a scenario of the request
 * (`other`: the query's or the option's text, named `where` in the message, and the scenarios lifetimeChoice
 * read from it) only when both give the same scenarios in the same order, however written
 * (`["baseline","adverse"]` and `baseline,adverse`; sameScenarios): else `conflict` says so. Else the list
 * as `scenarioList` reads it, each problem naming its place (`scenario[1].national`). Each caller turns
 * either into its own refusal. `here` names where `spec` came from (a multipart body's scenario part too).
 */
export function tapeScenarioList(
  spec: unknown,
  other: { readonly text: string; readonly scenarios: readonly Scenario[] } | undefined,
  where: string,
  here = 'the tape',
): { conflict: string } | { scenarios: Scenario[]; problems: LossProblem[] } {
  const problems: LossProblem[] = [];
  const scenarios = scenarioList(spec, 'scenario', problems);
  if (other !== undefined && !(typeof spec === 'string' && spec === other.text.trim())) {
    if (problems.length > 0 || !sameScenarios(scenarios, other.scenarios)) {
      const named = typeof spec === 'string' ? JSON.stringify(spec.slice(0, 80)) : 'given';
      return {
        conflict: `scenario is ${named} in ${here} but ${JSON.stringify(other.text.slice(0, 80))} in ${where}; send one`,
      };
    }
  }
  return { scenarios, problems };
}

function addScenario(scenarios: Scenario[], scenario: Scenario, field: string, problems: LossProblem[]): void {
  if (scenarios.some((s) => s.name === scenario.name)) {
    const custom = scenario.kind === 'path' && scenario.beta === undefined;
    problems.push({
      field,
      message: `names ${scenario.name} twice${custom ? ' (give each custom path its own "name")' : ''}`,
    });
  } else scenarios.push(scenario);
}

/** One rate or a comma list of up to MAX_TERM (a vector by projection month), as text; undefined if refused. */
function rates(text: string, field: string, problems: LossProblem[]): number | number[] | undefined {
  const parts = text.split(',');
  if (parts.length > MAX_TERM) {
    problems.push({ field, message: `must hold 1 to ${MAX_TERM} monthly values` });
    return undefined;
  }
  const values = parts.map(decimal);
  return values.length === 1 ? (values[0] as number) : values;
}

/**
 * The default assumption of a spec: `cdr` or `sda` prescribe it (docs/LOSS.md "Prescribed default vectors"),
 * neither with the other nor with `timing` (which shapes the model-calibrated hazard); else the model's PD.
 */
function defaultAssumption(spec: LifetimeSpec, problems: LossProblem[]): Defaults {
  if (spec.cdr !== undefined && spec.sda !== undefined) {
    problems.push({ field: 'sda', message: 'send cdr or sda, not both' });
    return { kind: 'model' };
  }
  const prescribed = spec.cdr !== undefined ? 'cdr' : spec.sda !== undefined ? 'sda' : undefined;
  if (prescribed === undefined) return { kind: 'model' };
  for (const field of ['timing', 'hazard'] as const) {
    if (spec[field] === undefined) continue;
    problems.push({
      field,
      message: `shapes the default rate calibrated to the model's PD; ${prescribed} prescribes it instead: send one`,
    });
  }
  if (spec.sda !== undefined) return { kind: 'sda', multiple: decimal(spec.sda) };
  const cdr = rates(spec.cdr as string, 'cdr', problems);
  return cdr === undefined ? { kind: 'model' } : { kind: 'cdr', cdr };
}

/** The answer of POST /pools/lifetime and of the CLI's --json (docs/API.md "POST /pools/lifetime"). */
export function lifetimeAnswer(model: Pick<Model, 'name' | 'version'>, choice: LifetimeChoice, result: LifetimeResult) {
  const p = choice.loss.prepayment;
  const d = choice.loss.defaults ?? { kind: 'model' };
  return {
    model: model.name,
    version: model.version,
    model_reads_scenario: result.modelReadsScenario,
    format: result.format,
    rows: result.rows,
    loan_count: result.loanCount,
    options: {
      default_assumption: d.kind,
      ...(d.kind === 'model'
        ? { timing: choice.loss.timing, hazard: resolvedHazard(choice.loss, result.modelReadsScenario) }
        : {}),
      ...(d.kind === 'sda' ? { sda: d.multiple } : {}),
      ...(d.kind === 'cdr' ? { cdr: typeof d.cdr === 'number' ? [d.cdr] : [...d.cdr] } : {}),
      prepayment: p.kind,
      ...(p.kind === 'psa' ? { psa: p.multiple } : {}),
      ...(p.kind === 'cpr' ? { cpr: typeof p.cpr === 'number' ? [p.cpr] : [...p.cpr] } : {}),
      recovery_lag: choice.loss.recoveryLag,
      ...(choice.asOf === undefined ? {} : { as_of: choice.asOf }),
    },
    scenarios: result.scenarios,
    stratification: result.stratification,
    rejected: { count: result.rejectedCount, rows: result.rejected },
  };
}
