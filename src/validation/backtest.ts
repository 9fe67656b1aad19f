import {
  BandAccumulator,
  brier as brierScore,
  type CalibrationOptions,
  type CalibrationRow,
  type CalibrationTable,
  calibrationInTheLarge,
  calibrationRow,
  calibrationSlope,
  calibrationTable,
  DEFAULT_BANDS,
  DEFAULT_POLICY,
  type Estimate,
  type GroupCounts,
  hosmerLemeshow,
  type Light,
  quantileGroups,
} from './calibration.js';
import { aucDeLong, auc as aucOf, compareAuc, ks as ksOf } from './discrimination.js';
import { fail, ValidationInputError } from './problems.js';
import { OutcomeSample } from './sample.js';

/**
 * A backtest of scored loans against observed outcomes (issue 23 item 1; docs/VALIDATION.md): the loans'
 * PDs (and a challenger's, for champion and challenger) and 0/1 outcomes are added one by one, with the
 * loan's group in each `by` dimension (vintage, state, FICO band, channel); `report()` composes every
 * statistic of this module. Memory: the OutcomeSample (9 bytes a loan, 17 with a challenger) and 4 bytes a
 * loan per `by` dimension; everything else is counted per band.
 *
 * A statistic that the outcomes cannot support (fewer than two defaults for the AUC's interval, a group
 * without a default) is `null` with the reason, never NaN and never a refusal of the whole report.
 */

export interface BacktestOptions extends CalibrationOptions {
  /** PD band edges from 0 to 1 (DEFAULT_BANDS). */
  readonly bands?: readonly number[];
  /** Equal-count groups for the decile table and Hosmer–Lemeshow (10). */
  readonly quantiles?: number;
  /** The `by` dimensions, in the order their keys are given to `add`. */
  readonly by?: readonly string[];
  /** Score a challenger beside the PD (its PDs are given to `add`). */
  readonly challenger?: boolean;
}

/** A figure, or why it cannot be computed from these outcomes. */
export type Maybe<T> = T | { readonly unavailable: string };

export interface RowJson {
  readonly group: string;
  readonly loans: number;
  readonly defaults: number;
  readonly mean_pd: number;
  readonly observed_rate: number;
  readonly expected_defaults: number;
  readonly binomial_p: number;
  readonly jeffreys_p: number;
  readonly observed_rate_lower: number;
  readonly observed_rate_upper: number;
  readonly vasicek_p: number;
  readonly vasicek_critical_rate: number;
  readonly light: Light;
}

export interface TableJson {
  readonly light: Light;
  readonly worst: string | null;
  readonly rows: readonly RowJson[];
  readonly pool: RowJson;
}

export interface DiscriminationJson {
  readonly auc: Maybe<{ value: number; lower: number; upper: number; se: number; level: number }>;
  readonly gini: Maybe<{ value: number; lower: number; upper: number }>;
  readonly ks: Maybe<{ value: number; at: number }>;
}

export interface GroupJson extends Omit<RowJson, 'group'> {
  readonly group: string;
  readonly auc: number | null;
}

export interface BacktestReport extends DiscriminationJson {
  readonly loans: number;
  readonly defaults: number;
  readonly brier: number;
  readonly calibration: {
    readonly light: Light;
    readonly policy: CalibrationTable['policy'];
    readonly rho: number;
    readonly pd_bands: TableJson;
    readonly deciles: TableJson;
    readonly hosmer_lemeshow: Maybe<{ statistic: number; df: number; p: number }>;
    readonly in_the_large: Maybe<{
      mean_pd: number;
      observed_rate: number;
      difference: number;
      observed_rate_lower: number;
      observed_rate_upper: number;
      z: number;
      p: number;
      intercept: Estimate;
    }>;
    readonly slope: Maybe<{ intercept: Estimate; slope: Estimate; z: number; p: number }>;
  };
  readonly by: Readonly<Record<string, readonly GroupJson[]>>;
  readonly challenger?: DiscriminationJson & {
    readonly brier: number;
    readonly comparison: Maybe<{ difference: number; z: number; p: number }>;
  };
}

function attempt<T>(f: () => T): Maybe<T> {
  try {
    return f();
  } catch (err) {
    if (err instanceof ValidationInputError) return { unavailable: err.message };
    throw err;
  }
}

function rowJson(r: CalibrationRow): RowJson {
  return {
    group: r.label,
    loans: r.n,
    defaults: r.defaults,
    mean_pd: r.meanPd,
    observed_rate: r.observedRate,
    expected_defaults: r.expectedDefaults,
    binomial_p: r.binomialP,
    jeffreys_p: r.jeffreys.p,
    observed_rate_lower: r.jeffreys.lower,
    observed_rate_upper: r.jeffreys.upper,
    vasicek_p: r.vasicek.p,
    vasicek_critical_rate: r.vasicek.criticalRate,
    light: r.light,
  };
}

function tableJson(t: CalibrationTable): TableJson {
  return { light: t.light, worst: t.worst, rows: t.rows.map(rowJson), pool: rowJson(t.pool) };
}

function discrimination(scores: ArrayLike<number>, outcomes: ArrayLike<number>, alpha: number): DiscriminationJson {
  const a = attempt(() => aucDeLong(scores, outcomes, alpha));
  return {
    auc: 'unavailable' in a ? a : { value: a.auc, lower: a.lower, upper: a.upper, se: a.se, level: a.level },
    gini: 'unavailable' in a ? a : { value: a.gini, lower: 2 * a.lower - 1, upper: 2 * a.upper - 1 },
    ks: attempt(() => {
      const k = ksOf(scores, outcomes);
      return { value: k.ks, at: k.at };
    }),
  };
}

export class Backtest {
  private readonly sample: OutcomeSample;
  private readonly bands: BandAccumulator;
  private readonly by: readonly string[];
  /** Per dimension: the group index of each loan, and the group keys in first-seen order. */
  private readonly groupOf: Uint32Array[];
  private readonly keys: Map<string, number>[];

  constructor(private readonly options: BacktestOptions = {}) {
    this.by = [...(options.by ?? [])];
    this.sample = new OutcomeSample(options.challenger ? ['pd', 'challenger'] : ['pd']);
    this.bands = new BandAccumulator(options.bands ?? DEFAULT_BANDS);
    this.groupOf = this.by.map(() => new Uint32Array(1024));
    this.keys = this.by.map(() => new Map());
  }

  get size(): number {
    return this.sample.size;
  }

  /** One loan: its PD, outcome (0/1), its group key per `by` dimension, and the challenger's PD if any. */
  add(pd: number, outcome: number, groups: readonly string[] = [], challengerPd?: number): void {
    if (groups.length !== this.by.length)
      fail('groups', `expected ${this.by.length} group keys (${this.by.join(', ')})`);
    const n = this.sample.size;
    if (this.options.challenger) {
      if (challengerPd === undefined) fail('challenger', 'needs a PD for every loan');
      this.sample.add(outcome, pd, challengerPd);
    } else this.sample.add(outcome, pd);
    this.bands.add(pd, outcome);
    for (let d = 0; d < this.by.length; d++) {
      let column = this.groupOf[d] as Uint32Array;
      if (n === column.length) {
        const bigger = new Uint32Array(column.length * 2);
        bigger.set(column);
        this.groupOf[d] = column = bigger;
      }
      const keys = this.keys[d] as Map<string, number>;
      const key = groups[d] as string;
      let g = keys.get(key);
      if (g === undefined) {
        g = keys.size;
        keys.set(key, g);
      }
      column[n] = g;
    }
  }

  report(): BacktestReport {
    const o = this.options;
    const alpha = o.alpha ?? 0.05;
    const pds = this.sample.scores(0);
    const outcomes = this.sample.outcomes;
    if (pds.length === 0) fail('outcomes', 'are empty: a backtest needs at least one labelled loan');
    const calibration = { rho: o.rho, alpha: o.alpha, policy: o.policy ?? DEFAULT_POLICY };
    const bands = calibrationTable(this.bands.groups(), calibration);
    const quantiles = o.quantiles ?? 10;
    const decileGroups = pds.length >= quantiles ? quantileGroups(pds, outcomes, quantiles) : [];
    const deciles = decileGroups.length > 0 ? calibrationTable(decileGroups, calibration) : bands;
    let defaults = 0;
    for (let i = 0; i < outcomes.length; i++) defaults += outcomes[i] as number;
    const report: BacktestReport = {
      loans: pds.length,
      defaults,
      ...discrimination(pds, outcomes, alpha),
      brier: brierScore(pds, outcomes),
      calibration: {
        light: bands.light,
        policy: bands.policy,
        rho: bands.rho,
        pd_bands: tableJson(bands),
        deciles: decileGroups.length > 0 ? tableJson(deciles) : { ...tableJson(bands), rows: [] },
        hosmer_lemeshow: attempt(() => hosmerLemeshow(decileGroups)),
        in_the_large: attempt(() => {
          const c = calibrationInTheLarge(pds, outcomes, alpha);
          return {
            mean_pd: c.meanPd,
            observed_rate: c.observedRate,
            difference: c.difference,
            observed_rate_lower: c.rateLower,
            observed_rate_upper: c.rateUpper,
            z: c.z,
            p: c.p,
            intercept: c.intercept,
          };
        }),
        slope: attempt(() => {
          const s = calibrationSlope(pds, outcomes, alpha);
          return { intercept: s.intercept, slope: s.slope, z: s.z, p: s.p };
        }),
      },
      by: Object.fromEntries(this.by.map((name, d) => [name, this.groups(d, pds, outcomes, calibration)])),
    };
    if (!o.challenger) return report;
    const challenger = this.sample.scores(1);
    return {
      ...report,
      challenger: {
        ...discrimination(challenger, outcomes, alpha),
        brier: brierScore(challenger, outcomes),
        comparison: attempt(() => {
          const c = compareAuc(pds, challenger, outcomes);
          return { difference: c.difference, z: c.z, p: c.p };
        }),
      },
    };
  }

  /** One row per group of dimension d (sorted by key): its calibration row and AUC (null without both classes). */
  private groups(d: number, pds: Float64Array, outcomes: Uint8Array, calibration: CalibrationOptions): GroupJson[] {
    const keys = this.keys[d] as Map<string, number>;
    const column = this.groupOf[d] as Uint32Array;
    const size = new Uint32Array(keys.size);
    for (let i = 0; i < pds.length; i++) {
      const g = column[i] as number;
      size[g] = (size[g] as number) + 1;
    }
    const members = Array.from(size, (n) => ({ pds: new Float64Array(n), outcomes: new Uint8Array(n), k: 0 }));
    for (let i = 0; i < pds.length; i++) {
      const m = members[column[i] as number] as (typeof members)[number];
      m.pds[m.k] = pds[i] as number;
      m.outcomes[m.k++] = outcomes[i] as number;
    }
    return [...keys.entries()]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([key, g]) => {
        const m = members[g] as (typeof members)[number];
        let defaults = 0;
        let sumPd = 0;
        let sumVar = 0;
        for (let i = 0; i < m.k; i++) {
          const p = m.pds[i] as number;
          defaults += m.outcomes[i] as number;
          sumPd += p;
          sumVar += p * (1 - p);
        }
        const counts: GroupCounts = { n: m.k, defaults, sumPd, sumVar };
        const row = calibrationRow(key, counts, calibration);
        const auc = attempt(() => aucOf(m.pds, m.outcomes));
        return { ...rowJson(row), auc: typeof auc === 'number' ? auc : null };
      });
  }
}
