import type { LoanRecord, Model } from '../runtime/index.js';
import { readsScenario, type Scenario, ScenarioFeatureWriter } from '../scenario/index.js';
import {
  Backtest,
  type BacktestOptions,
  type BacktestReport,
  BaselineDrift,
  DEFAULT_STABILITY,
  type DriftJson,
  type DriftPartial,
  readStabilityBaseline,
  type StabilityBaseline,
  type StabilityPolicy,
} from '../validation/index.js';
import { bandIndexer, bandLabels, FICO_BANDS } from './bands.js';
import type { CellProblem, CellReader } from './cells.js';
import type { BlockTarget, DelimitedFormat } from './delimited.js';
import { type RejectedRow, RowTally, TapeError, type TapeFormat } from './errors.js';
import { GROUP_RECORDS } from './groups.js';
import { type PerformanceCounts, type PerformanceOutcomes, WINDOW_MONTHS } from './performance.js';
import { DEFAULT_MAX_LISTED, type OnError, type RowTarget, slotAt } from './scorer.js';
import { type TapeExtras, TapeInput } from './tape.js';
import { DEFAULT_BLOCK_BYTES, RunSplitter, type RunsInOrder, type TapeThreads } from './threads.js';

/**
 * A backtest of a loan tape against observed outcomes (issue 23; POST /pools/backtest and
 * `npm run score -- backtest`): the tape formats of /pools/score with one more column, `default_36m`
 * (0/1), read as a stream; each labelled loan's PD (and a challenger's) and outcome go into a `Backtest`
 * (src/validation/backtest.ts), every scored loan's score and fields into the artifact's stability
 * baseline's bins when it has one (drift). On worker threads when given some (CSV tapes, runs of GROUP_RECORDS
 * records folded in input order: the answer of one thread, byte for byte); memory is the runs out (at most
 * twice the threads) plus the Backtest's 9–17 bytes a labelled loan (4 more per `by` dimension).
 *
 * The outcome: 1 = default within 36 months, 0 = none. Empty (CSV) or null (JSON): not known yet, the loan
 * is unlabelled (scored for drift, left out of the backtest, counted). A CSV header without the column, a
 * JSON loan without the property, or any other value is refused, naming `default_36m`.
 */

export const OUTCOME_COLUMN = 'default_36m';

/** The `by` dimensions a backtest groups by. */
export const BY_DIMENSIONS = ['vintage', 'state', 'fico_band', 'channel'] as const;
export type ByDimension = (typeof BY_DIMENSIONS)[number];

const OUTCOME_MESSAGE = 'must be 0 or 1 (empty or null when the outcome is not known yet)';

function outcomeOf(text: string, problems: CellProblem[]): 0 | 1 | null | undefined {
  const t = text.trim();
  if (t === '') return null;
  if (t === '0') return 0;
  if (t === '1') return 1;
  problems.push({ field: OUTCOME_COLUMN, message: `${OUTCOME_MESSAGE}, got ${JSON.stringify(t.slice(0, 40))}` });
  return undefined;
}

/** The outcome cell of a CSV tape (a lone 0 or 1 read from its byte, without a string). */
const outcomeCell: CellReader = (buf, start, end, problems) => {
  if (end - start === 1) {
    if (buf[start] === 0x30) return 0;
    if (buf[start] === 0x31) return 1;
  }
  return outcomeOf(buf.toString('utf8', start, end), problems);
};

/** The outcome property of a JSON loan: 0, 1 or null; absent is refused. */
function outcomeProperty(value: unknown, problems: CellProblem[]): 0 | 1 | null | undefined {
  if (value === 0 || value === 1 || value === null) return value;
  if (value === undefined) {
    problems.push({ field: OUTCOME_COLUMN, message: `is required: ${OUTCOME_MESSAGE}` });
    return undefined;
  }
  problems.push({ field: OUTCOME_COLUMN, message: `${OUTCOME_MESSAGE}, got ${JSON.stringify(value)?.slice(0, 40)}` });
  return undefined;
}

/** The outcome column of a backtest tape, as the tape readers take it. */
export const OUTCOME_EXTRAS: TapeExtras = {
  csv: { [OUTCOME_COLUMN]: outcomeCell },
  json: { [OUTCOME_COLUMN]: outcomeProperty },
};

/** The groups the score's PSI may be given per (`drift_by`): the month of the first payment, or its year. */
export const DRIFT_BY = ['first_payment_month', 'vintage'] as const;
export type DriftBy = (typeof DRIFT_BY)[number];

/**
 * A loan's drift group: `first_payment_month` YYYY-MM (the origination file's only date: the month-of-
 * origination cohort, the first payment falling due one to two months after origination), `vintage` YYYY.
 */
export function driftGroupKey(by: DriftBy, loan: Readonly<Record<string, unknown>>): string {
  const fpd = loan.first_payment_date as number;
  const year = String(Math.floor(fpd / 100));
  return by === 'vintage' ? year : `${year}-${String(fpd % 100).padStart(2, '0')}`;
}

const ficoBand = bandIndexer(FICO_BANDS);
const FICO_LABELS = bandLabels(FICO_BANDS);

/** A loan's group in a `by` dimension: vintage = year of the first payment, FICO bands as /pools/score's. */
export function groupKey(dimension: ByDimension, loan: Readonly<Record<string, unknown>>): string {
  switch (dimension) {
    case 'vintage':
      return String(Math.floor((loan.first_payment_date as number) / 100));
    case 'state':
      return typeof loan.property_state === 'string' ? loan.property_state : 'missing';
    case 'fico_band': {
      const s = loan.credit_score;
      return FICO_LABELS[ficoBand(typeof s === 'number' ? s : null)] as string;
    }
    case 'channel':
      return typeof loan.channel === 'string' ? loan.channel : 'missing';
  }
}

export interface BacktestTapeOptions {
  readonly model: Model;
  /** A second model scored on the same loans: champion/challenger. */
  readonly challenger?: Model;
  readonly scenario: Scenario;
  readonly by?: readonly ByDimension[];
  /** Bands, policy, ρ, α (src/validation/backtest.ts). */
  readonly backtest?: Omit<BacktestOptions, 'by' | 'challenger'>;
  readonly stability?: StabilityPolicy;
  /** The score's PSI per group too (`drift_by`), when the artifact has a baseline. */
  readonly driftBy?: DriftBy;
  readonly onError: OnError;
  readonly maxRows: number;
  readonly maxListed?: number;
  readonly maxBytes?: number;
  readonly chunkRows?: number;
  readonly format: TapeFormat | 'auto';
  /**
   * What `auto` may choose (default csv, freddie and json). Without `performance`, a Freddie Mac origination
   * file is refused: it has no outcome column.
   */
  readonly candidates?: readonly TapeFormat[];
  /**
   * Worker threads (POOL_THREADS, the CLI's --threads) and the artifacts of the model and the challenger for
   * them (`TapeThreads.artifact`): a CSV tape is read, scored and binned there, one group of GROUP_RECORDS
   * records a run. JSON tapes and outcomes from performance files stay on this thread.
   */
  readonly threads?: {
    readonly pool: TapeThreads;
    readonly artifact: Uint8Array;
    readonly challenger?: Uint8Array;
  };
  /** Most runs out at a time (default twice the threads). */
  readonly maxInFlight?: number;
  /** Records per group (default GROUP_RECORDS; small in tests, to fold many groups). */
  readonly groupRecords?: number;
  /**
   * Outcomes from Freddie Mac performance files, read before the tape (src/pool/performance.ts): each loan's
   * label by its loan sequence number and first payment date, with the training pipeline's rule and
   * censoring. The tape then has no `default_36m` column (any of the three formats).
   */
  readonly performance?: PerformanceOutcomes;
}

export interface BacktestResult {
  readonly format: TapeFormat;
  readonly bytes: number;
  /** Data rows read. */
  readonly rows: number;
  readonly labelled: number;
  readonly unlabelled: number;
  readonly refused: number;
  readonly rejected: readonly RejectedRow[];
  readonly report: BacktestReport;
  /** Drift against the artifact's stability baseline, or null with the reason. */
  readonly drift: DriftJson | null;
  readonly driftUnavailable?: string;
  /** With outcomes from performance files: what they held and how the tape's loans came out. */
  readonly performance?: PerformanceCounts;
}

/**
 * What a run of a tape (one group of GROUP_RECORDS records, read on a worker thread) adds up to, plain data
 * (BacktestCore.part): its counts and refused rows, its labelled loans' PDs (and the challenger's), outcomes
 * and groups in input order, and its drift counts. The main thread adds the loans to the Backtest one by one
 * in input order, as one thread does: the same report, byte for byte.
 */
export interface BacktestPart {
  readonly rows: number;
  readonly rejectedCount: number;
  readonly rejected: readonly RejectedRow[];
  readonly unlabelled: number;
  /** Labelled loans. */
  readonly count: number;
  readonly pd: Float64Array;
  readonly outcome: Uint8Array;
  readonly challenger?: Float64Array;
  /** Per `by` dimension: the distinct keys, and each labelled loan's index among them. */
  readonly groups: readonly { readonly keys: readonly string[]; readonly index: Uint32Array }[];
  readonly drift?: DriftPartial;
}

/** BacktestCore's options: a tape's, without its input; `collect`: a worker's run, answered by part(). */
export type BacktestCoreOptions = Pick<
  BacktestTapeOptions,
  | 'model'
  | 'challenger'
  | 'scenario'
  | 'by'
  | 'backtest'
  | 'driftBy'
  | 'onError'
  | 'maxRows'
  | 'maxListed'
  | 'chunkRows'
  | 'groupRecords'
  | 'performance'
> & { readonly collect?: boolean };

/** A worker's labelled loans, in growable columns. */
class PartColumns {
  count = 0;
  pd = new Float64Array(1024);
  outcome = new Uint8Array(1024);
  challenger = new Float64Array(1024);
  readonly groups: { keys: string[]; at: Map<string, number>; index: Uint32Array }[];

  constructor(dimensions: number) {
    this.groups = Array.from({ length: dimensions }, () => ({ keys: [], at: new Map(), index: new Uint32Array(1024) }));
  }

  add(pd: number, outcome: 0 | 1, groups: readonly string[], challenger: number | undefined): void {
    const i = this.count++;
    if (i === this.pd.length) {
      const grow = <T extends Float64Array | Uint8Array | Uint32Array>(a: T): T => {
        const b = new (a.constructor as new (n: number) => T)(2 * a.length);
        b.set(a);
        return b;
      };
      this.pd = grow(this.pd);
      this.outcome = grow(this.outcome);
      this.challenger = grow(this.challenger);
      for (const g of this.groups) g.index = grow(g.index);
    }
    this.pd[i] = pd;
    this.outcome[i] = outcome;
    if (challenger !== undefined) this.challenger[i] = challenger;
    for (let d = 0; d < this.groups.length; d++) {
      const g = this.groups[d] as PartColumns['groups'][number];
      const key = groups[d] as string;
      let at = g.at.get(key);
      if (at === undefined) {
        at = g.keys.length;
        g.keys.push(key);
        g.at.set(key, at);
      }
      g.index[i] = at;
    }
  }
}

/**
 * Where the rows of a backtest tape go, on this thread or on a worker: validated rows → scored chunks →
 * the Backtest (or, on a worker, the run's columns) and the drift counters. Chunks end at each group of
 * GROUP_RECORDS records, as a worker's runs do: the same chunks on any number of threads.
 */
export class BacktestCore implements RowTarget {
  private readonly records: Record<string, unknown>[];
  private readonly rowOf: Float64Array;
  private readonly chunkRows: number;
  private readonly groupRecords: number;
  readonly tally: RowTally;
  /**
   * When the model (or the challenger) reads scenario features: their writer, as /pools/score's scorer uses
   * it (src/pool/scorer.ts): the features written into the reused records, the same numbers as
   * scenarioRecord bit for bit (test/scenario/writer.test.ts), without a new record a loan.
   */
  private readonly scenario: ScenarioFeatureWriter | undefined;
  private readonly groups: string[];
  readonly backtest: Backtest;
  private columns: PartColumns | undefined;
  drift: BaselineDrift | undefined;
  readonly driftUnavailable: string | undefined;
  private readonly baseline: StabilityBaseline | undefined;
  private group = -1;
  private count = 0;
  labelled = 0;
  unlabelled = 0;

  constructor(private readonly o: BacktestCoreOptions) {
    this.chunkRows = o.chunkRows ?? DEFAULT_CHUNK_ROWS;
    this.groupRecords = o.groupRecords ?? GROUP_RECORDS;
    this.tally = new RowTally(o.maxRows, o.maxListed ?? DEFAULT_MAX_LISTED);
    this.records = [];
    this.rowOf = new Float64Array(this.chunkRows);
    const reads = readsScenario(o.model.fields) || (o.challenger !== undefined && readsScenario(o.challenger.fields));
    this.scenario = reads ? new ScenarioFeatureWriter(o.scenario) : undefined;
    const by = o.by ?? [];
    this.groups = by.map(() => '');
    this.backtest = new Backtest({ ...o.backtest, by, challenger: o.challenger !== undefined });
    if (o.collect === true) this.columns = new PartColumns(by.length);
    const baseline = readStabilityBaseline(o.model.training);
    if ('reason' in baseline) this.driftUnavailable = baseline.reason;
    else {
      this.baseline = baseline;
      this.drift = this.newDrift();
    }
  }

  private newDrift(): BaselineDrift | undefined {
    const by = this.o.driftBy;
    const baseline = this.baseline;
    if (baseline === undefined) return undefined;
    return new BaselineDrift(baseline, by === undefined ? undefined : (loan) => driftGroupKey(by, loan));
  }

  slot(): Record<string, unknown> {
    return slotAt(this.records, this.count);
  }

  accept(row: number): void {
    // Groups count records; a worker's run starts a group (threads.ts cuts the runs there).
    const record = this.tally.seen;
    this.tally.count();
    const slot = this.slot();
    if (this.scenario !== undefined) {
      const problem = this.scenario.problem(slot);
      if (problem !== undefined) {
        this.tally.refuse(row, [problem], slot.loan_sequence_number);
        return;
      }
    }
    const performance = this.o.performance;
    if (performance !== undefined) {
      const outcome = performance.outcome(slot);
      if ('problem' in outcome) {
        this.tally.refuse(row, [outcome.problem], slot.loan_sequence_number);
        return;
      }
      slot[OUTCOME_COLUMN] = outcome.label;
    }
    // A failing tape: every invalid row is still named (as a worker names those of its run), none scored.
    if (this.tally.failing(this.o.onError)) return;
    const group = Math.floor(record / this.groupRecords);
    if (group !== this.group) {
      if (this.group !== -1 && this.columns !== undefined) {
        throw new Error(`a run holds records of two groups (line ${row})`);
      }
      const n = this.count;
      this.flush();
      this.group = group;
      // The loan just read is in slot n: it starts the next chunk.
      this.records[n] = this.records[0] as Record<string, unknown>;
      this.records[0] = slot;
    }
    this.rowOf[this.count] = row;
    if (++this.count === this.chunkRows) this.flush();
  }

  reject(row: number, problems: readonly CellProblem[], loanSequenceNumber?: unknown): void {
    this.tally.count();
    this.tally.refuse(row, problems, loanSequenceNumber);
  }

  /** A worker's next run (the same model and options): counts start again, the compiled models are kept. */
  restart(): void {
    this.count = 0;
    this.group = -1;
    this.labelled = 0;
    this.unlabelled = 0;
    this.tally.reset();
    this.columns = new PartColumns(this.groups.length);
    this.drift = this.newDrift();
  }

  /** A worker's run is read: its figures. */
  part(): BacktestPart {
    this.flush();
    const c = this.columns as PartColumns;
    const n = c.count;
    return {
      rows: this.tally.seen,
      rejectedCount: this.tally.refused,
      rejected: this.tally.listed,
      unlabelled: this.unlabelled,
      count: n,
      pd: c.pd.slice(0, n),
      outcome: c.outcome.slice(0, n),
      ...(this.o.challenger === undefined ? {} : { challenger: c.challenger.slice(0, n) }),
      groups: c.groups.map((g) => ({ keys: g.keys, index: g.index.slice(0, n) })),
      ...(this.drift === undefined ? {} : { drift: this.drift.partial() }),
    };
  }

  /** Folds a run read on a worker, in input order; false when the tape is failing (its loans are left out). */
  addPart(part: BacktestPart): boolean {
    const tally = this.tally;
    tally.countMany(part.rows);
    tally.refuseMany(part.rejectedCount, part.rejected);
    if (tally.failing(this.o.onError)) return false;
    this.unlabelled += part.unlabelled;
    this.labelled += part.count;
    if (part.drift !== undefined) this.drift?.merge(part.drift);
    const groups = this.groups;
    const challenger = part.challenger;
    for (let i = 0; i < part.count; i++) {
      for (let d = 0; d < groups.length; d++) {
        const g = part.groups[d] as BacktestPart['groups'][number];
        groups[d] = g.keys[g.index[i] as number] as string;
      }
      this.backtest.add(part.pd[i] as number, part.outcome[i] as 0 | 1, groups, challenger?.[i]);
    }
    return true;
  }

  flush(): void {
    const n = this.count;
    if (n === 0) return;
    this.count = 0;
    const slots = n === this.records.length ? this.records : this.records.slice(0, n);
    const scenario = this.scenario;
    if (scenario !== undefined) for (let i = 0; i < n; i++) scenario.write(slots[i] as Record<string, unknown>);
    const records = slots as LoanRecord[];
    const scored = this.o.model.scoreMany(records);
    const challenger = this.o.challenger?.scoreMany(records).probability;
    const by = this.o.by ?? [];
    const groups = this.groups;
    const columns = this.columns;
    this.drift?.addMany(scored.probability, scored.margin, slots, n);
    for (let i = 0; i < n; i++) {
      const loan = slots[i] as Record<string, unknown>;
      const pd = scored.probability[i] as number;
      const outcome = loan[OUTCOME_COLUMN];
      if (outcome !== 0 && outcome !== 1) {
        this.unlabelled++;
        continue;
      }
      this.labelled++;
      for (let d = 0; d < by.length; d++) groups[d] = groupKey(by[d] as ByDimension, loan);
      if (columns !== undefined) columns.add(pd, outcome, groups, challenger?.[i]);
      else this.backtest.add(pd, outcome, groups, challenger?.[i]);
    }
  }
}

const DEFAULT_CHUNK_ROWS = 4096;

/**
 * A backtest tape from its bytes: push chunks as they arrive (a promise back: wait for it, the runs out are
 * at their bound), then `end()`. On worker threads when given some (CSV tapes: the reader cuts the data
 * records into runs of one group, each read, scored and binned on a worker, folded here in input order),
 * else on this thread, with the same answer byte for byte. JSON tapes and outcomes from performance files
 * stay on this thread.
 */
export class BacktestTape implements BlockTarget {
  private readonly core: BacktestCore;
  private readonly input: TapeInput;
  private readonly runs: RunsInOrder;
  private readonly splitter: RunSplitter;
  readonly cutRecords: number;

  constructor(private readonly options: BacktestTapeOptions) {
    this.core = new BacktestCore(options);
    this.cutRecords = options.groupRecords ?? GROUP_RECORDS;
    const fromFiles = options.performance !== undefined;
    const split = options.threads !== undefined && !fromFiles;
    this.splitter = new RunSplitter({
      maxInFlight: options.maxInFlight,
      threads: options.threads,
      cutRecords: this.cutRecords,
      minBytes: 0,
      sliceBytes: split ? DEFAULT_BLOCK_BYTES : Number.POSITIVE_INFINITY,
      send: (bytes, line) => this.start(bytes, line),
    });
    this.runs = this.splitter.runs;
    this.input = new TapeInput(this.core, {
      format: options.format,
      candidates: options.candidates ?? ['csv', 'freddie', 'json'],
      ...(options.maxBytes === undefined ? {} : { maxBytes: options.maxBytes }),
      ...(fromFiles ? {} : { extra: OUTCOME_EXTRAS, onFormat: refuseFreddie }),
      ...(split ? { splitTo: this } : {}),
    });
  }

  get format(): TapeFormat | undefined {
    return this.input.format;
  }

  get rows(): number {
    return this.core.tally.seen;
  }

  get rejectedCount(): number {
    return this.core.tally.refused;
  }

  /** Runs sent to workers, and the most ever out at once (tests check the bound). */
  get blocks(): number {
    return this.runs.sent;
  }
  get maxInFlightSeen(): number {
    return this.runs.maxInFlightSeen;
  }

  /**
   * Takes a chunk; answers a promise when the input should wait (RunSplitter: never more than the bound out).
   * A refusal with nothing out is thrown at once: the multipart reader pushes without awaiting.
   */
  push(chunk: Buffer): Promise<void> | undefined {
    return this.splitter.push(chunk, (c) => this.input.push(c));
  }

  /** Split mode: a run of whole records of one group (delimited.ts cuts at `cutRecords`). */
  block(bytes: Buffer, line: number, record: number): void {
    this.splitter.block(bytes, line, record);
  }

  /** Sends a run to the workers; its part is folded in input order. */
  private start(bytes: Uint8Array, line: number): void {
    const threads = this.options.threads as NonNullable<BacktestTapeOptions['threads']>;
    const { model, challenger, scenario, by, backtest, driftBy, maxListed, chunkRows } = this.options;
    const ref = (m: Model, artifact: Uint8Array | undefined) => ({
      sha256: m.sha256,
      source: m.source,
      ...(artifact === undefined ? {} : { bytes: artifact }),
    });
    const running = threads.pool.runBacktest({
      kind: 'backtest',
      model: ref(model, threads.artifact),
      ...(challenger === undefined ? {} : { challenger: ref(challenger, threads.challenger) }),
      format: this.input.format as DelimitedFormat,
      header: this.input.header,
      line,
      bytes,
      scenario,
      by: by ?? [],
      ...(backtest === undefined ? {} : { backtest }),
      ...(driftBy === undefined ? {} : { driftBy }),
      maxListed: maxListed ?? DEFAULT_MAX_LISTED,
      chunkRows: chunkRows ?? DEFAULT_CHUNK_ROWS,
      groupRecords: this.cutRecords,
    });
    this.runs.add(running, (part) => this.core.addPart(part));
  }

  /** Reads what is left, scores the last chunk and answers; throws the tape's refusal (TapeError). */
  async end(): Promise<BacktestResult> {
    await this.splitter.end(() => this.input.endInput());
    const s = this.core;
    const tally = s.tally;
    if (tally.seen === 0) throw this.input.empty();
    if (tally.failing(this.options.onError)) throw tally.invalidRows();
    s.flush();
    const performance = this.options.performance?.counts();
    if (s.labelled === 0) {
      const detail =
        performance === undefined
          ? {
              field: OUTCOME_COLUMN,
              message: `is empty or null on every scored loan (${s.unlabelled} unlabelled): a backtest needs outcomes`,
            }
          : {
              field: 'performance',
              message:
                `label no loan of the tape (${performance.censored} censored: observed less than ${WINDOW_MONTHS} months; ` +
                `${performance.removed} removed for another reason; ${performance.without_performance} without a ` +
                `performance row; the files hold ${performance.performance_loans} loans): a backtest needs outcomes`,
            };
      throw new TapeError('layout', 'no loan of the tape has a known outcome', { details: [detail] });
    }
    const policy = this.options.stability ?? DEFAULT_STABILITY;
    return {
      format: this.input.format as TapeFormat,
      bytes: this.input.bytes,
      rows: tally.seen,
      labelled: s.labelled,
      unlabelled: s.unlabelled,
      refused: tally.refused,
      rejected: tally.listed,
      report: s.backtest.report(),
      drift: s.drift ? s.drift.report(policy) : null,
      ...(s.driftUnavailable === undefined ? {} : { driftUnavailable: s.driftUnavailable }),
      ...(performance === undefined ? {} : { performance }),
    };
  }
}

function refuseFreddie(format: TapeFormat): void {
  if (format !== 'freddie') return;
  throw new TapeError('layout', 'a Freddie Mac origination file has no outcome column', {
    details: [
      {
        field: OUTCOME_COLUMN,
        message:
          'is not in a Freddie Mac origination file: send its performance files with it, or a CSV tape whose header ' +
          'names default_36m, or a JSON tape',
      },
    ],
  });
}

type Light = 'green' | 'amber' | 'red';
const LIGHTS: readonly Light[] = ['green', 'amber', 'red'];
const worst = (...lights: Light[]): Light => LIGHTS[Math.max(...lights.map((l) => LIGHTS.indexOf(l)))] as Light;
const BAND_LIGHT = { stable: 'green', moderate: 'amber', significant: 'red' } as const;

function stabilityJson(s: DriftJson['score']) {
  return {
    psi: s.psi,
    band: s.band,
    critical: s.critical,
    p: s.p,
    bins: s.bins,
    df: s.df,
    baseline_size: s.baselineSize,
    sample_size: s.sampleSize,
    labels: s.labels,
    contributions: s.contributions,
  };
}

/**
 * The answer of a backtest (POST /pools/backtest, the CLI's --json): the model, version and scenario, the
 * counts of rows, the Backtest report's figures at the top level (`auc`, `ks`, `gini`, `brier`,
 * `calibration`, `by`, `challenger`), `psi` (the score's, or null), `drift` (or null with
 * `drift_unavailable`), and `light`: the worst of the calibration light and the score PSI's band (stable
 * green, moderate amber, significant red), the figure the CLI's exit status follows.
 */
export function backtestAnswer(r: BacktestResult, model: Model, scenario: string, challenger?: Model) {
  const { challenger: versus, ...report } = r.report;
  const drift =
    r.drift === null
      ? null
      : {
          policy: r.drift.policy,
          score: stabilityJson(r.drift.score),
          fields: Object.fromEntries(Object.entries(r.drift.fields).map(([k, v]) => [k, stabilityJson(v)])),
          skipped: r.drift.skipped,
          ...(r.drift.groups === undefined
            ? {}
            : {
                by: r.drift.groups.map((g) => {
                  const { labels: _, ...rest } = stabilityJson({ ...g, labels: [] });
                  return { group: g.group, ...rest };
                }),
              }),
        };
  const psi = r.drift === null ? null : r.drift.score.psi;
  return {
    model: model.name,
    version: model.version,
    scenario,
    format: r.format,
    light: worst(report.calibration.light, r.drift === null ? 'green' : BAND_LIGHT[r.drift.score.band]),
    counts: {
      rows: r.rows,
      labelled: r.labelled,
      unlabelled: r.unlabelled,
      refused: r.refused,
      outcomes: r.performance === undefined ? OUTCOME_COLUMN : 'performance',
      ...(r.performance === undefined
        ? {}
        : {
            censored: r.performance.censored,
            removed: r.performance.removed,
            without_performance: r.performance.without_performance,
          }),
    },
    ...(r.performance === undefined ? {} : { performance: r.performance }),
    ...report,
    ...(challenger !== undefined && versus !== undefined
      ? { challenger: { model: challenger.name, version: challenger.version, ...versus } }
      : {}),
    psi,
    drift,
    ...(drift === null ? { drift_unavailable: r.driftUnavailable ?? 'no stability baseline' } : {}),
    rejected: { count: r.refused, rows: r.rejected },
  };
}

export type BacktestAnswer = ReturnType<typeof backtestAnswer>;

/** A figure of the answer, or NaN when it is unavailable (gauges). */
export function figureOf(x: { value: number } | { unavailable: string }): number {
  return 'value' in x ? x.value : Number.NaN;
}

/**
 * The answer's figures as counts for gauges: each baseline field's CSI, the PD bands per calibration light
 * and the fields per PSI band (all zero, no CSI, without a baseline).
 */
export function backtestBandCounts(a: BacktestAnswer) {
  const bandLights = { green: 0, amber: 0, red: 0 };
  for (const row of a.calibration.pd_bands.rows) bandLights[row.light]++;
  const fieldBands = { stable: 0, moderate: 0, significant: 0 };
  const csi: Record<string, number> = {};
  for (const [name, f] of Object.entries(a.drift?.fields ?? {})) {
    csi[name] = f.psi;
    fieldBands[f.band]++;
  }
  return { csi, bandLights, fieldBands };
}
