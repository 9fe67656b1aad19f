import { CONTRACT } from '../contract/index.js';
import scenariosJson from '../contract/scenarios.json' with { type: 'json' };
import { type LoanProblem, quotedName } from '../loan/validate.js';
import { ProblemList } from '../problems.js';

/**
 * Scenarios and the per-loan scenario features of the scenario-conditional models (issue 21 item 3;
 * docs/MODELS.md, "Next: scenario-conditional models (not yet served)"). Pure: no Fastify, no I/O.
 *
 * The presets and the synthetic historical market are written once, in src/contract/scenarios.json,
 * which scripts/loanmodel/scenario.py and hpi.py read too. The features are computed as scenario.py
 * computes them (same operations, same order, IEEE doubles); test/scenario/features.test.ts checks the
 * two on test/fixtures/scenario-features.json to 1e-12.
 *
 * With C_k the cumulative log house-price change k quarters after the first-payment quarter (C_0 = 0):
 * hpi_change_12m = C_4, hpi_change_36m = C_12, hpi_trough_36m = min(C_0…C_12), mtm_cltv_trough = CLTV
 * (LTV when CLTV is missing) × exp(−trough), note_rate_spread = note rate − the market rate in the
 * first-payment month. NaN marks a feature the loan cannot have (see scenario.py).
 */

export interface ScenarioFile {
  readonly horizon_quarters: number;
  readonly limits: {
    readonly min_quarters: number;
    readonly max_quarters: number;
    readonly max_abs_quarterly_log_change: number;
    readonly max_rate_quarters: number;
    readonly max_abs_quarterly_rate_change: number;
    readonly max_states: number;
  };
  readonly historical: {
    readonly description: string;
    readonly start_year: number;
    readonly end_year: number;
    readonly national_log_growth_per_year: Readonly<Record<string, number>>;
    readonly national_quarterly_log_growth_override: Readonly<Record<string, readonly number[]>>;
    readonly boom_end: readonly [number, number];
    readonly bust_end: readonly [number, number];
    readonly state_beta: Readonly<Record<string, readonly [number, number, number]>>;
    readonly default_beta: readonly [number, number, number];
    readonly pmms_annual: Readonly<Record<string, number>>;
  };
  readonly rates_source: string;
  readonly presets: Readonly<
    Record<
      string,
      {
        readonly description: string;
        readonly sensitivity: Phase;
        readonly national: readonly number[];
        /** Quarterly changes of the market rate, in points, from the first-payment month (rates_source). */
        readonly rates?: readonly number[];
      }
    >
  >;
}

export type Phase = 'boom' | 'bust' | 'recovery';
const PHASES: readonly Phase[] = ['boom', 'bust', 'recovery'];

export const SCENARIO_FILE = scenariosJson as unknown as ScenarioFile;
export const HORIZON = SCENARIO_FILE.horizon_quarters;
export const HISTORICAL = 'historical';
export const PRESET_NAMES: readonly string[] = Object.keys(SCENARIO_FILE.presets);
export const SCENARIO_NAMES: readonly string[] = [...PRESET_NAMES, HISTORICAL];

/** The scenario of a request, or a tape scored through the library, that names none. */
export const DEFAULT_SCENARIO = 'baseline';

export const SCENARIO_FEATURES = [
  'hpi_change_12m',
  'hpi_change_36m',
  'hpi_trough_36m',
  'mtm_cltv_trough',
  'note_rate_spread',
] as const;
export type ScenarioFeature = (typeof SCENARIO_FEATURES)[number];
if (CONTRACT.scenario_fields.map((f) => f.name).join() !== SCENARIO_FEATURES.join()) {
  throw new Error('src/contract/loan-contract.json scenario_fields must list the scenario features in order');
}
const SCENARIO_FEATURE_NAMES: ReadonlySet<string> = new Set(SCENARIO_FEATURES);

/** Is this a scenario feature (a field the service computes from the scenario, never sent by a client)? */
export function isScenarioFeature(name: string): boolean {
  return SCENARIO_FEATURE_NAMES.has(name);
}

/** Does a model with these fields read scenario features (and so need a scenario to score)? */
export function readsScenario(fields: readonly { readonly name: string }[]): boolean {
  return fields.some((f) => SCENARIO_FEATURE_NAMES.has(f.name));
}
export type ScenarioFeatures = Record<ScenarioFeature, number>;

/** A resolved scenario: the historical market, or a quarterly path per state. */
export type Scenario =
  | { readonly kind: 'historical'; readonly name: string }
  | {
      readonly kind: 'path';
      readonly name: string;
      readonly national: readonly number[];
      readonly states: Readonly<Record<string, readonly number[]>>;
      /** Per-state multiplier of the national path (presets); undefined: 1 (custom paths). */
      readonly beta: Readonly<Record<string, number>> | undefined;
      /**
       * Quarterly changes of the market mortgage rate, in percentage points, from the loan's first-payment
       * month (held flat after the last); undefined: the rate held flat. Read by the lifetime engine's scenario
       * prepayment only (src/loss monthlyMarketRate), never by a model's features.
       */
      readonly rates?: readonly number[];
    };

export type ScenarioProblem = LoanProblem;

const STATES: readonly string[] = CONTRACT.us_states;
const STATE_INDEX: ReadonlyMap<string, number> = new Map(STATES.map((s, i) => [s, i]));
const LIMITS = SCENARIO_FILE.limits;
const H = SCENARIO_FILE.historical;
const QUARTERS = (H.end_year - H.start_year + 1) * 4;
const MONTH0 = H.start_year * 12;

function stateBeta(state: string): readonly [number, number, number] {
  return H.state_beta[state] ?? H.default_beta;
}

/** The national quarterly log growth of the historical market, index 0 = the first quarter (0). */
function nationalLogGrowth(): Float64Array {
  const g = new Float64Array(QUARTERS);
  for (let i = 1; i < QUARTERS; i++) {
    const year = H.start_year + Math.floor(i / 4);
    const override = H.national_quarterly_log_growth_override[String(year)];
    g[i] = override ? (override[i % 4] as number) : (H.national_log_growth_per_year[String(year)] as number) / 4;
  }
  return g;
}

function quarterIndex([year, q]: readonly [number, number]): number {
  return (year - H.start_year) * 4 + (q - 1);
}

interface Market {
  /** Cumulative log HPI per state (row = index in us_states), then the national index. */
  readonly logHpi: readonly Float64Array[];
  readonly national: Float64Array;
}

let market: Market | undefined;

/** The historical log HPI (hpi.state_log_hpi): cumulative sum of multiplier(phase) × national growth. */
function historicalMarket(): Market {
  if (market) return market;
  const g = nationalLogGrowth();
  const boomEnd = quarterIndex(H.boom_end);
  const bustEnd = quarterIndex(H.bust_end);
  const logHpi = STATES.map((state) => {
    const beta = stateBeta(state);
    const row = new Float64Array(QUARTERS);
    let sum = 0;
    for (let i = 0; i < QUARTERS; i++) {
      const phase = i <= boomEnd ? 0 : i <= bustEnd ? 1 : 2;
      sum += (beta[phase] as number) * (g[i] as number);
      row[i] = sum;
    }
    return row;
  });
  const national = new Float64Array(QUARTERS);
  let sum = 0;
  for (let i = 0; i < QUARTERS; i++) {
    sum += g[i] as number;
    national[i] = sum;
  }
  market = { logHpi, national };
  return market;
}

const PMMS_YEARS = Object.keys(H.pmms_annual)
  .map(Number)
  .sort((a, b) => a - b);
const PMMS_X = PMMS_YEARS.map((y) => (y - H.start_year) * 12 + 5.5);
const PMMS_Y = PMMS_YEARS.map((y) => H.pmms_annual[String(y)] as number);

/**
 * The last first-payment month (YYYYMM) of the market-rate table's years: later months get its last
 * annual average (a note-rate spread read against a rate the table does not know).
 */
export function marketRateTableEnd(): number {
  return (PMMS_YEARS[PMMS_YEARS.length - 1] as number) * 100 + 12;
}

/** The month index of a YYYYMM (months since January of the market's first year: marketRate's `month`). */
export function marketMonth(yyyymm: number): number {
  return Math.floor(yyyymm / 100) * 12 + (yyyymm % 100) - 1 - MONTH0;
}

/** The market rate in month index `month` (months since January of the first year), as numpy.interp. */
export function marketRate(month: number): number {
  if (Number.isNaN(month)) return Number.NaN;
  const n = PMMS_X.length;
  if (month <= (PMMS_X[0] as number)) return PMMS_Y[0] as number;
  if (month >= (PMMS_X[n - 1] as number)) return PMMS_Y[n - 1] as number;
  let j = 0;
  while ((PMMS_X[j + 1] as number) <= month) j++;
  const x0 = PMMS_X[j] as number;
  const y0 = PMMS_Y[j] as number;
  const slope = ((PMMS_Y[j + 1] as number) - y0) / ((PMMS_X[j + 1] as number) - x0);
  return slope * (month - x0) + y0;
}

// --- Scenarios: names and custom paths -----------------------------------------------------------

function isFiniteNumber(x: unknown): x is number {
  return typeof x === 'number' && Number.isFinite(x);
}

interface PathRule {
  /** What the elements are (the message of a path that is no array). */
  readonly what: string;
  readonly min: number;
  readonly max: number;
  /** The largest absolute value of an element, and its unit in messages. */
  readonly bound: number;
  readonly unit: string;
}

const HOUSE_PRICES: PathRule = {
  what: 'quarterly log house-price changes',
  min: LIMITS.min_quarters,
  max: LIMITS.max_quarters,
  bound: LIMITS.max_abs_quarterly_log_change,
  unit: '',
};
const MARKET_RATE: PathRule = {
  what: 'quarterly changes of the market rate, in percentage points',
  min: 1,
  max: LIMITS.max_rate_quarters,
  bound: LIMITS.max_abs_quarterly_rate_change,
  unit: ' (points)',
};

/** Problems of one quarterly path; at most rule.max elements are looked at. */
function pathProblems(field: string, path: unknown, out: ProblemList<ScenarioProblem>, rule = HOUSE_PRICES): void {
  if (!Array.isArray(path)) {
    out.push({ field, message: `must be an array of ${rule.what}` });
    return;
  }
  if (path.length < rule.min || path.length > rule.max) {
    out.push({ field, message: `must hold ${rule.min} to ${rule.max} quarters, got ${path.length}` });
    return;
  }
  const bound = rule.bound;
  for (let i = 0; i < path.length && out.open; i++) {
    const x: unknown = path[i];
    if (!isFiniteNumber(x) || Math.abs(x) > bound) {
      out.push({ field: `${field}[${i}]`, message: `must be a finite number from ${-bound} to ${bound}${rule.unit}` });
    }
  }
}

const SPEC_KEYS = new Set(['name', 'national', 'states', 'rates']);

export interface ScenarioCheck {
  /** The resolved scenario, when there is no problem. */
  readonly scenario?: Scenario;
  readonly problems: readonly ScenarioProblem[];
  /** Problems found beyond the ones listed. */
  readonly omitted: number;
}

/**
 * Do two lists of resolved scenarios say the same thing, in the same order? Compared by what they
 * hold, not by how a client wrote them: a name given in two places, or the same custom path as a JSON
 * object in a tape and as URL-encoded JSON in a query (its keys and states in any order), are the same.
 */
export function sameScenarios(a: readonly Scenario[], b: readonly Scenario[]): boolean {
  return a.length === b.length && a.every((s, i) => canonical(s) === canonical(b[i]));
}

/** JSON of a resolved scenario with every object's keys sorted (numbers as JSON writes them). */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (typeof value === 'object' && value !== null) {
    const keys = Object.keys(value)
      .filter((k) => (value as Record<string, unknown>)[k] !== undefined)
      .sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonical((value as Record<string, unknown>)[k])}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/**
 * A scenario as a client may send it: a name (a preset or `historical`) or a custom path
 * `{ name?, national: number[], states?: { [USPS code]: number[] }, rates?: number[] }` of quarterly log
 * house-price changes (and quarterly market-rate changes in points, read by the lifetime engine only). Bounded
 * work whatever the input: at most max_states + 1 state keys, SPEC_KEYS.size + MAX_PROBLEMS top-level keys and
 * max_quarters (max_rate_quarters) elements per path are looked at, and at most MAX_PROBLEMS problems listed.
 */
export function checkScenario(spec: unknown, field = 'scenario'): ScenarioCheck {
  const out = new ProblemList<ScenarioProblem>();
  if (typeof spec === 'string') {
    if (SCENARIO_NAMES.includes(spec)) return { scenario: resolvePreset(spec), problems: [], omitted: 0 };
    out.push({ field, message: `must be one of ${SCENARIO_NAMES.join(', ')} or a custom path` });
    return { problems: out.items, omitted: out.omitted };
  }
  if (typeof spec !== 'object' || spec === null || Array.isArray(spec)) {
    out.push({ field, message: 'must be a scenario name or an object with a national path' });
    return { problems: out.items, omitted: out.omitted };
  }
  const o = spec as Record<string, unknown>;
  let seen = 0;
  for (const key in o) {
    if (!Object.hasOwn(o, key)) continue;
    if (!SPEC_KEYS.has(key)) {
      out.push({
        field: `${field}.${quotedName(key)}`,
        message: 'is not a scenario field (name, national, states, rates)',
      });
    }
    if (++seen >= SPEC_KEYS.size + out.max) break;
  }
  const name = o.name;
  if (Object.hasOwn(o, 'name') && !(typeof name === 'string' && name.length > 0 && name.length <= 64)) {
    out.push({ field: `${field}.name`, message: 'must be a string of 1 to 64 characters' });
  }
  if (!Object.hasOwn(o, 'national')) out.push({ field: `${field}.national`, message: 'is required' });
  else pathProblems(`${field}.national`, o.national, out);
  const states = o.states;
  if (Object.hasOwn(o, 'states') && states !== null) {
    if (typeof states !== 'object' || Array.isArray(states)) {
      out.push({ field: `${field}.states`, message: 'must be an object of state code → path' });
    } else {
      const s = states as Record<string, unknown>;
      const keys: string[] = [];
      for (const key in s) {
        if (!Object.hasOwn(s, key)) continue;
        keys.push(key);
        if (keys.length > LIMITS.max_states) break;
      }
      if (keys.length > LIMITS.max_states) {
        out.push({ field: `${field}.states`, message: `must name at most ${LIMITS.max_states} states` });
      } else {
        for (const key of keys) {
          if (!STATE_INDEX.has(key)) {
            out.push({ field: `${field}.states.${quotedName(key)}`, message: 'is not a USPS state code' });
          } else pathProblems(`${field}.states.${key}`, s[key], out);
        }
      }
    }
  }
  if (Object.hasOwn(o, 'rates')) pathProblems(`${field}.rates`, o.rates, out, MARKET_RATE);
  if (out.size > 0) return { problems: out.items, omitted: out.omitted };
  const custom = o as { name?: string; national: number[]; states?: Record<string, number[]> | null; rates?: number[] };
  return {
    scenario: {
      kind: 'path',
      name: custom.name ?? 'custom',
      national: [...custom.national],
      states: Object.fromEntries(Object.entries(custom.states ?? {}).map(([k, v]) => [k, [...v]])),
      beta: undefined,
      ...(custom.rates === undefined ? {} : { rates: [...custom.rates] }),
    },
    problems: [],
    omitted: 0,
  };
}

/**
 * Resolved presets, by name: made once (a preset's per-state multipliers cost ~5 µs to build, which every
 * /predict paid until 2026-12-06), then the same object, so that the feature writers cached per scenario
 * (featureWriter) serve every request under it.
 */
const RESOLVED = new Map<string, Scenario>();

function resolvePreset(name: string): Scenario {
  let scenario = RESOLVED.get(name);
  if (scenario === undefined) {
    scenario = buildPreset(name);
    RESOLVED.set(name, scenario);
  }
  return scenario;
}

function buildPreset(name: string): Scenario {
  const preset = SCENARIO_FILE.presets[name];
  if (!preset) return { kind: 'historical', name: HISTORICAL };
  const k = PHASES.indexOf(preset.sensitivity);
  const beta = Object.fromEntries(STATES.map((s) => [s, stateBeta(s)[k] as number]));
  return {
    kind: 'path',
    name,
    national: preset.national,
    states: {},
    beta,
    ...(preset.rates === undefined ? {} : { rates: preset.rates }),
  };
}

// --- Features --------------------------------------------------------------------------------------

const SENTINELS: ReadonlyMap<string, unknown> = new Map(
  CONTRACT.loan_fields.flatMap((f) => ('sentinel' in f && f.sentinel !== undefined ? [[f.name, f.sentinel]] : [])),
);

/** A numeric loan-record value, NaN when null, absent, not a number or the field's sentinel. */
function numeric(loan: Readonly<Record<string, unknown>>, name: string): number {
  const v = loan[name];
  if (typeof v !== 'number' || !Number.isFinite(v) || v === SENTINELS.get(name)) return Number.NaN;
  return v;
}

/**
 * C_0…C_quarters for the loan: the cumulative log house-price change k quarters after its first-payment
 * quarter (historical) or after now (paths). A path holds flat after its last quarter and the historical
 * market after its last quarter; all NaN when the historical market cannot place the loan (no first-payment
 * date, or one before the index starts). The lifetime-loss engine (src/loss) reads house prices from it.
 */
export function cumulativeLogHpi(
  loan: Readonly<Record<string, unknown>>,
  scenario: Scenario,
  quarters: number,
): Float64Array {
  const C = new Float64Array(quarters + 1);
  const raw = loan.property_state;
  const state = typeof raw === 'string' && STATE_INDEX.has(raw) ? raw : undefined;
  if (scenario.kind === 'historical') {
    const fpd = numeric(loan, 'first_payment_date');
    const month = Math.floor(fpd / 100) * 12 + (fpd % 100) - 1 - MONTH0;
    const q0 = Math.floor(month / 3);
    if (Number.isNaN(q0) || q0 < 0 || q0 > QUARTERS - 1) return C.fill(Number.NaN);
    const m = historicalMarket();
    const row = state === undefined ? m.national : (m.logHpi[STATE_INDEX.get(state) as number] as Float64Array);
    const start = row[q0] as number;
    for (let k = 0; k <= quarters; k++) C[k] = (row[Math.min(q0 + k, QUARTERS - 1)] as number) - start;
    return C;
  }
  const own = state === undefined ? undefined : scenario.states[state];
  const beta = state === undefined || scenario.beta === undefined ? undefined : scenario.beta[state];
  const length = own ? own.length : scenario.national.length;
  let sum = 0;
  for (let k = 1; k <= quarters; k++) {
    if (k <= length) {
      sum += own
        ? (own[k - 1] as number)
        : beta === undefined
          ? (scenario.national[k - 1] as number)
          : (scenario.national[k - 1] as number) * beta;
    }
    C[k] = sum;
  }
  return C;
}

/** C_0…C_HORIZON for the loan (all NaN when the scenario cannot give it a path). */
function cumulativePath(loan: Readonly<Record<string, unknown>>, scenario: Scenario): Float64Array {
  if (scenario.kind === 'historical') {
    const fpd = numeric(loan, 'first_payment_date');
    const q0 = Math.floor((Math.floor(fpd / 100) * 12 + (fpd % 100) - 1 - MONTH0) / 3);
    if (Number.isNaN(q0) || q0 + HORIZON > QUARTERS - 1) return new Float64Array(HORIZON + 1).fill(Number.NaN);
  }
  return cumulativeLogHpi(loan, scenario, HORIZON);
}

/** The scenario features of one loan record (NaN where the loan cannot have one). */
export function scenarioFeatures(loan: Readonly<Record<string, unknown>>, scenario: Scenario): ScenarioFeatures {
  const C = cumulativePath(loan, scenario);
  let trough = C[0] as number;
  for (let k = 1; k <= HORIZON; k++) trough = Math.min(trough, C[k] as number);
  const cltv = numeric(loan, 'cltv');
  const base = Number.isNaN(cltv) ? numeric(loan, 'ltv') : cltv;
  const fpd = numeric(loan, 'first_payment_date');
  const month = Math.floor(fpd / 100) * 12 + (fpd % 100) - 1 - MONTH0;
  return {
    hpi_change_12m: C[4] as number,
    hpi_change_36m: C[HORIZON] as number,
    hpi_trough_36m: trough,
    mtm_cltv_trough: base * Math.exp(-trough),
    note_rate_spread: numeric(loan, 'original_interest_rate') - marketRate(month),
  };
}

/**
 * The record a scenario-conditional model encodes: the loan's fields and its scenario features, a NaN
 * feature written as null (the encoder's missing value, imputed as the model was trained).
 */
export function scenarioRecord<T extends Readonly<Record<string, unknown>>>(
  loan: T,
  scenario: Scenario,
): T & Record<ScenarioFeature, number | null> {
  const out: Record<string, unknown> = { ...loan };
  setScenarioFeatures(out, scenario);
  return out as T & Record<ScenarioFeature, number | null>;
}

/**
 * scenarioRecord in place: writes the record's scenario features (NaN as null) into it, computed from
 * its loan fields. The tape scorer (src/pool) fills the records it reuses from chunk to chunk this way.
 */
export function setScenarioFeatures(record: Record<string, unknown>, scenario: Scenario): void {
  const f = scenarioFeatures(record, scenario);
  for (const name of SCENARIO_FEATURES) record[name] = Number.isNaN(f[name]) ? null : f[name];
}

const orNull = (x: number) => (Number.isNaN(x) ? null : x);

/**
 * setScenarioFeatures and scenarioProblem for the many loans of a tape under one scenario: the same
 * numbers, bit for bit, about three times faster. A path scenario gives every loan of a state the same
 * house-price path, and `historical` every loan of a state and first-payment quarter: each such path's
 * changes, trough and exp(−trough) are computed once (at most 61 paths, or 61 × the market's quarters),
 * the market rate once per month. test/scenario/writer.test.ts compares it with scenarioRecord.
 */
export class ScenarioFeatureWriter {
  /**
   * Per path, by key: C_0, C_4, C_HORIZON, the trough, exp(−trough). Key: 0 for no known state (the
   * national path), else 1 + the state's index (< 64); under historical, + 64 × the first-payment quarter.
   */
  private readonly paths: (Float64Array | undefined)[] = [];
  /** The market rate by month index within the market (NaN: not computed yet). */
  private readonly rates = new Float64Array(QUARTERS * 3).fill(Number.NaN);

  constructor(readonly scenario: Scenario) {}

  private path(record: Readonly<Record<string, unknown>>, month: number): Float64Array {
    const raw = record.property_state;
    const s = typeof raw === 'string' ? (STATE_INDEX.get(raw) ?? -1) + 1 : 0;
    let key = s;
    if (this.scenario.kind === 'historical') {
      const q0 = Math.floor(month / 3);
      // Outside the market (or no date): not kept, the path is all NaN (and the loan refused).
      key = q0 >= 0 && q0 < QUARTERS ? q0 * 64 + s : -1;
    }
    let figures = key < 0 ? undefined : this.paths[key];
    if (figures === undefined) {
      const C = cumulativePath(record, this.scenario);
      let trough = C[0] as number;
      for (let k = 1; k <= HORIZON; k++) trough = Math.min(trough, C[k] as number);
      figures = Float64Array.of(C[0] as number, C[4] as number, C[HORIZON] as number, trough, Math.exp(-trough));
      if (key >= 0) this.paths[key] = figures;
    }
    return figures;
  }

  private rate(month: number): number {
    if (!(month >= 0 && month < this.rates.length && Number.isInteger(month))) return marketRate(month);
    let rate = this.rates[month] as number;
    if (Number.isNaN(rate)) {
      rate = marketRate(month);
      this.rates[month] = rate;
    }
    return rate;
  }

  /** scenarioProblem(record, this.scenario). */
  problem(record: Readonly<Record<string, unknown>>): LoanProblem | undefined {
    if (this.scenario.kind !== 'historical') return undefined;
    const c0 = this.path(record, firstPaymentMonth(record))[0] as number;
    return Number.isNaN(c0) ? scenarioProblem(record, this.scenario) : undefined;
  }

  /** scenarioRecord(loan, this.scenario): a copy of the loan with its scenario features. */
  record<T extends Readonly<Record<string, unknown>>>(loan: T): T & Record<ScenarioFeature, number | null> {
    // Object.assign, not a spread: on Node 20 (V8 11.3) a spread copy of a JSON.parse'd object takes ~5 µs
    // once properties are added to it (a request body: /predict paid it on every loan), Object.assign
    // ~0.2 µs; on Node 24 both are well under a microsecond (docs/PERFORMANCE.md, "Over HTTP").
    const out: Record<string, unknown> = Object.assign({}, loan);
    this.write(out);
    return out as T & Record<ScenarioFeature, number | null>;
  }

  /** setScenarioFeatures(record, this.scenario). */
  write(record: Record<string, unknown>): void {
    const month = firstPaymentMonth(record);
    const p = this.path(record, month);
    const cltv = numeric(record, 'cltv');
    const base = Number.isNaN(cltv) ? numeric(record, 'ltv') : cltv;
    record.hpi_change_12m = orNull(p[1] as number);
    record.hpi_change_36m = orNull(p[2] as number);
    record.hpi_trough_36m = orNull(p[3] as number);
    record.mtm_cltv_trough = orNull(base * (p[4] as number));
    record.note_rate_spread = orNull(numeric(record, 'original_interest_rate') - this.rate(month));
  }
}

const WRITERS = new WeakMap<Scenario, ScenarioFeatureWriter>();

/**
 * The feature writer of a scenario, kept as long as the scenario is: a preset's (one object, resolvePreset)
 * serves every request under it with its paths computed once. For requests scoring a loan or a batch.
 */
export function featureWriter(scenario: Scenario): ScenarioFeatureWriter {
  let writer = WRITERS.get(scenario);
  if (writer === undefined) {
    writer = new ScenarioFeatureWriter(scenario);
    WRITERS.set(scenario, writer);
  }
  return writer;
}

/** The first-payment month as an index from January of the market's first year (NaN without a date). */
function firstPaymentMonth(record: Readonly<Record<string, unknown>>): number {
  const fpd = numeric(record, 'first_payment_date');
  return Math.floor(fpd / 100) * 12 + (fpd % 100) - 1 - MONTH0;
}

/**
 * Why a loan cannot be scored under a scenario, if it cannot: under `historical`, a first payment whose
 * 36 months leave the synthetic market (the record rules already hold the date's form). Never imputed:
 * a backtest on a path the market does not have would be a made-up answer.
 */
export function scenarioProblem(loan: Readonly<Record<string, unknown>>, scenario: Scenario): LoanProblem | undefined {
  if (scenario.kind !== 'historical') return undefined;
  if (!Number.isNaN(cumulativePath(loan, scenario)[0] as number)) return undefined;
  return {
    field: 'first_payment_date',
    message: `is outside the historical scenario's market: its 36 months must fall within it, so the first payment must be from ${HISTORICAL_FIRST} to ${HISTORICAL_LAST}`,
  };
}

/** A scenario as GET /scenarios lists it. */
export interface ScenarioDescription {
  readonly name: string;
  readonly kind: 'preset' | 'historical';
  readonly description: string;
  /** Presets: the national quarterly log changes, and each state's multiplier of them (the phase they come from). */
  readonly national?: number[];
  readonly sensitivity?: Phase;
  readonly state_multipliers?: Readonly<Record<string, number>>;
  /** Presets with a market-rate path: its quarterly changes in points from the first-payment month's rate. */
  readonly rates?: number[];
  /** historical: the first payments it can place (YYYY-MM). */
  readonly first_payment_from?: string;
  readonly first_payment_to?: string;
}

const yyyymm = (m: number) => `${Math.floor(m / 12)}-${String((m % 12) + 1).padStart(2, '0')}`;
/** The first months whose 36 months the historical market holds. */
const HISTORICAL_FIRST = yyyymm(MONTH0);
const HISTORICAL_LAST = yyyymm(MONTH0 + QUARTERS * 3 - HORIZON * 3 - 1);

/** Every named scenario: the presets, then `historical`. */
export function describeScenarios(): ScenarioDescription[] {
  const presets = PRESET_NAMES.map((name): ScenarioDescription => {
    const preset = SCENARIO_FILE.presets[name] as ScenarioFile['presets'][string];
    const resolved = resolvePreset(name) as Extract<Scenario, { kind: 'path' }>;
    return {
      name,
      kind: 'preset',
      description: preset.description,
      national: [...preset.national],
      sensitivity: preset.sensitivity,
      state_multipliers: resolved.beta ?? {},
      ...(preset.rates === undefined ? {} : { rates: [...preset.rates] }),
    };
  });
  return [
    ...presets,
    {
      name: HISTORICAL,
      kind: 'historical',
      description: H.description,
      first_payment_from: HISTORICAL_FIRST,
      first_payment_to: HISTORICAL_LAST,
    },
  ];
}
