import type { LoanRecord, Model } from '../runtime/index.js';
import { readsScenario, type Scenario, ScenarioFeatureWriter } from '../scenario/index.js';
import {
  Backtest,
  type BacktestOptions,
  type BacktestReport,
  BaselineDrift,
  DEFAULT_STABILITY,
  type DriftJson,
  readStabilityBaseline,
  type StabilityPolicy,
} from '../validation/index.js';
import { bandIndexer, bandLabels, FICO_BANDS } from './bands.js';
import type { CellProblem, CellReader } from './cells.js';
import { type RejectedRow, RowTally, TapeError, type TapeFormat } from './errors.js';
import { type PerformanceCounts, type PerformanceOutcomes, WINDOW_MONTHS } from './performance.js';
import { DEFAULT_MAX_LISTED, emptySlots, type OnError, type RowTarget } from './scorer.js';
import { type TapeExtras, TapeInput } from './tape.js';

/**
 * A backtest of a loan tape against observed outcomes (issue 23; POST /pools/backtest and
 * `npm run score -- backtest`): the tape formats of /pools/score with one more column, `default_36m`
 * (0/1), read as a stream; each labelled loan's PD (and a challenger's) and outcome go into a `Backtest`
 * (src/validation/backtest.ts), every scored loan's score and fields into the artifact's stability
 * baseline's bins when it has one (drift). One thread; memory is a chunk of records plus the Backtest's
 * 9–17 bytes a labelled loan (4 more per `by` dimension).
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
const OUTCOME_EXTRAS: TapeExtras = {
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

/** Validated rows → scored chunks → the Backtest and the drift counters. */
class BacktestScorer implements RowTarget {
  private readonly records: Record<string, unknown>[];
  private readonly rowOf: Float64Array;
  private readonly chunkRows: number;
  readonly tally: RowTally;
  /**
   * When the model (or the challenger) reads scenario features: their writer, as /pools/score's scorer uses
   * it (src/pool/scorer.ts): the features written into the reused records, the same numbers as
   * scenarioRecord bit for bit (test/scenario/writer.test.ts), without a new record a loan.
   */
  private readonly scenario: ScenarioFeatureWriter | undefined;
  private readonly groups: string[];
  readonly backtest: Backtest;
  readonly drift: BaselineDrift | undefined;
  readonly driftUnavailable: string | undefined;
  private count = 0;
  labelled = 0;
  unlabelled = 0;

  constructor(private readonly o: BacktestTapeOptions) {
    this.chunkRows = o.chunkRows ?? 4096;
    this.tally = new RowTally(o.maxRows, o.maxListed ?? DEFAULT_MAX_LISTED);
    this.records = emptySlots(this.chunkRows);
    this.rowOf = new Float64Array(this.chunkRows);
    const reads = readsScenario(o.model.fields) || (o.challenger !== undefined && readsScenario(o.challenger.fields));
    this.scenario = reads ? new ScenarioFeatureWriter(o.scenario) : undefined;
    const by = o.by ?? [];
    this.groups = by.map(() => '');
    this.backtest = new Backtest({ ...o.backtest, by, challenger: o.challenger !== undefined });
    const baseline = readStabilityBaseline(o.model.training);
    if ('reason' in baseline) this.driftUnavailable = baseline.reason;
    else {
      const by = o.driftBy;
      this.drift = new BaselineDrift(baseline, by === undefined ? undefined : (loan) => driftGroupKey(by, loan));
    }
  }

  slot(): Record<string, unknown> {
    return this.records[this.count] as Record<string, unknown>;
  }

  accept(row: number): void {
    this.tally.count();
    if (this.tally.failing(this.o.onError)) return;
    if (this.scenario !== undefined) {
      const problem = this.scenario.problem(this.slot());
      if (problem !== undefined) {
        this.tally.refuse(row, [problem], this.slot().loan_sequence_number);
        return;
      }
    }
    const performance = this.o.performance;
    if (performance !== undefined) {
      const slot = this.slot();
      const outcome = performance.outcome(slot);
      if ('problem' in outcome) {
        this.tally.refuse(row, [outcome.problem], slot.loan_sequence_number);
        return;
      }
      slot[OUTCOME_COLUMN] = outcome.label;
    }
    this.rowOf[this.count] = row;
    if (++this.count === this.chunkRows) this.flush();
  }

  reject(row: number, problems: readonly CellProblem[], loanSequenceNumber?: unknown): void {
    this.tally.count();
    this.tally.refuse(row, problems, loanSequenceNumber);
  }

  flush(): void {
    const n = this.count;
    if (n === 0) return;
    this.count = 0;
    const slots = n === this.chunkRows ? this.records : this.records.slice(0, n);
    const scenario = this.scenario;
    if (scenario !== undefined) for (let i = 0; i < n; i++) scenario.write(slots[i] as Record<string, unknown>);
    const records = slots as LoanRecord[];
    const scored = this.o.model.scoreMany(records);
    const challenger = this.o.challenger?.scoreMany(records).probability;
    const by = this.o.by ?? [];
    const groups = this.groups;
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
      this.backtest.add(pd, outcome, groups, challenger?.[i]);
    }
  }
}

/** A backtest tape from its bytes: push chunks as they arrive, then `end()`. */
export class BacktestTape {
  private readonly scorer: BacktestScorer;
  private readonly input: TapeInput;

  constructor(private readonly options: BacktestTapeOptions) {
    this.scorer = new BacktestScorer(options);
    const fromFiles = options.performance !== undefined;
    this.input = new TapeInput(this.scorer, {
      format: options.format,
      candidates: options.candidates ?? ['csv', 'freddie', 'json'],
      ...(options.maxBytes === undefined ? {} : { maxBytes: options.maxBytes }),
      ...(fromFiles ? {} : { extra: OUTCOME_EXTRAS, onFormat: refuseFreddie }),
    });
  }

  get format(): TapeFormat | undefined {
    return this.input.format;
  }

  get rows(): number {
    return this.scorer.tally.seen;
  }

  get rejectedCount(): number {
    return this.scorer.tally.refused;
  }

  push(chunk: Buffer): void {
    this.input.push(chunk);
  }

  end(): BacktestResult {
    this.input.endInput();
    const s = this.scorer;
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
