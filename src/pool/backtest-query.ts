import type { Model } from '../runtime/index.js';
import { checkScenario, HISTORICAL, type Scenario } from '../scenario/index.js';
import {
  BandAccumulator,
  type CalibrationTest,
  DEFAULT_BANDS,
  DEFAULT_POLICY,
  DEFAULT_STABILITY,
  type LightPolicy,
  type StabilityPolicy,
  ValidationInputError,
} from '../validation/index.js';
import { type BacktestTapeOptions, BY_DIMENSIONS, type ByDimension, DRIFT_BY, type DriftBy } from './backtest.js';

/**
 * The knobs of a backtest as text (POST /pools/backtest's query, the CLI's options), checked and read:
 * `by` (comma list of vintage, state, fico_band, channel), `bands` (PD band edges, comma list from 0 to 1),
 * `policy` (binomial, jeffreys or vasicek: the test behind the traffic lights), `green` and `red` (its
 * p-value thresholds), `overall` (pool or worst), `rho` (the Vasicek test's asset correlation) and
 * `scenario` (default historical); the drift's `psi_bands` (moderate,significant: 0.1,0.25), `epsilon` (the share
 * of a bin empty on one side, 1e-4) and `drift_by` (first_payment_month or vintage: the score PSI per group);
 * `alpha` (0.05: the DeLong, Jeffreys and calibration intervals and the PSI critical values). Every problem
 * names its field (`${prefix}by`, …; the CLI's options spell `_` as `-`).
 */

export interface BacktestKnobs {
  readonly by?: string;
  readonly bands?: string;
  readonly policy?: string;
  readonly green?: string;
  readonly red?: string;
  readonly overall?: string;
  readonly rho?: string;
  readonly scenario?: string;
  readonly alpha?: string;
  readonly psi_bands?: string;
  readonly epsilon?: string;
  readonly drift_by?: string;
}

export interface BacktestSettings {
  readonly by: ByDimension[];
  readonly bands: number[];
  readonly policy: LightPolicy;
  readonly rho: number;
  readonly scenario: Scenario;
  readonly scenarioName: string;
  readonly alpha: number;
  readonly stability: StabilityPolicy;
  readonly driftBy?: DriftBy;
}

export const DEFAULT_BACKTEST_SCENARIO = HISTORICAL;

const NUMBER = /^\s*[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?\s*$/;
const num = (text: string) => (NUMBER.test(text) ? Number(text) : Number.NaN);
const quoted = (text: string) => JSON.stringify(text.length > 40 ? `${text.slice(0, 40)}…` : text);

/** The settings, or a ValidationInputError naming every field in error. */
export function backtestSettings(knobs: BacktestKnobs, prefix = 'query.'): BacktestSettings {
  const problems: { field: string; message: string }[] = [];
  const problem = (field: string, message: string) =>
    problems.push({ field: `${prefix}${prefix === '--' ? field.replaceAll('_', '-') : field}`, message });

  const by: ByDimension[] = [];
  if (knobs.by !== undefined && knobs.by.trim() !== '') {
    for (const part of knobs.by.split(',').map((s) => s.trim())) {
      if (!(BY_DIMENSIONS as readonly string[]).includes(part)) {
        problem('by', `must be a comma list of ${BY_DIMENSIONS.join(', ')}; got ${quoted(part)}`);
        break;
      }
      if (by.includes(part as ByDimension)) {
        problem('by', `names ${part} twice`);
        break;
      }
      by.push(part as ByDimension);
    }
  }

  let bands = [...DEFAULT_BANDS];
  if (knobs.bands !== undefined) {
    const edges = knobs.bands.split(',').map(num);
    if (knobs.bands.length > 1000 || edges.length > 50) problem('bands', 'has more than 50 edges');
    else if (edges.some(Number.isNaN)) problem('bands', `must be a comma list of numbers, got ${quoted(knobs.bands)}`);
    else {
      try {
        new BandAccumulator(edges);
        bands = edges;
      } catch (err) {
        if (!(err instanceof ValidationInputError)) throw err;
        problem('bands', `${err.problems[0]?.message}, e.g. 0,0.01,0.05,1 (PD band edges)`);
      }
    }
  }

  const test = (knobs.policy ?? DEFAULT_POLICY.test) as CalibrationTest;
  if (!['binomial', 'jeffreys', 'vasicek'].includes(test)) {
    problem('policy', `must be binomial, jeffreys or vasicek, got ${quoted(test)}`);
  }
  const overall = knobs.overall ?? DEFAULT_POLICY.overall;
  if (overall !== 'pool' && overall !== 'worst') problem('overall', `must be pool or worst, got ${quoted(overall)}`);
  const threshold = (field: 'green' | 'red'): number => {
    const text = knobs[field];
    if (text === undefined) return DEFAULT_POLICY[field];
    const x = num(text);
    if (!(x >= 0 && x <= 1)) problem(field, `must be a p-value threshold from 0 to 1, got ${quoted(text)}`);
    return x;
  };
  const green = threshold('green');
  const red = threshold('red');
  if (red > green) problem('red', `must not exceed green (${green}): amber is red ≤ p < green, got ${red}`);

  let rho = 0.15;
  if (knobs.rho !== undefined) {
    rho = num(knobs.rho);
    if (!(rho > 0 && rho < 1)) {
      problem('rho', `must be an asset correlation strictly between 0 and 1, got ${quoted(knobs.rho)}`);
    }
  }

  let alpha = DEFAULT_STABILITY.alpha;
  if (knobs.alpha !== undefined) {
    alpha = num(knobs.alpha);
    if (!(alpha > 0 && alpha < 1)) {
      problem('alpha', `must be a level strictly between 0 and 1 (0.05: 95 % intervals), got ${quoted(knobs.alpha)}`);
    }
  }
  let { moderate, significant } = DEFAULT_STABILITY;
  if (knobs.psi_bands !== undefined) {
    const edges = knobs.psi_bands.split(',').map(num);
    const [m = Number.NaN, g = Number.NaN] = edges;
    if (edges.length !== 2 || !(m >= 0 && m <= g && Number.isFinite(g))) {
      problem(
        'psi_bands',
        `must be two PSI thresholds moderate,significant with 0 ≤ moderate ≤ significant (default 0.1,0.25), got ${quoted(knobs.psi_bands)}`,
      );
    } else [moderate, significant] = [m, g];
  }
  let epsilon = DEFAULT_STABILITY.epsilon;
  if (knobs.epsilon !== undefined) {
    epsilon = num(knobs.epsilon);
    if (!(epsilon > 0 && epsilon < 1)) {
      problem(
        'epsilon',
        `must be the share given to a bin empty on one side, strictly between 0 and 1 (default 0.0001), got ${quoted(knobs.epsilon)}`,
      );
    }
  }
  const driftBy = knobs.drift_by === undefined || knobs.drift_by.trim() === '' ? undefined : knobs.drift_by.trim();
  if (driftBy !== undefined && !(DRIFT_BY as readonly string[]).includes(driftBy)) {
    problem('drift_by', `must be ${DRIFT_BY.join(' or ')}, got ${quoted(driftBy)}`);
  }

  const scenarioName = knobs.scenario ?? DEFAULT_BACKTEST_SCENARIO;
  const check = checkScenario(scenarioName, `${prefix}scenario`);
  problems.push(...check.problems);

  if (problems.length > 0 || check.scenario === undefined) throw new ValidationInputError(problems);
  return {
    by,
    bands,
    policy: { test, green, red, overall: overall as LightPolicy['overall'] },
    rho,
    scenario: check.scenario,
    scenarioName,
    alpha,
    stability: { moderate, significant, epsilon, alpha },
    ...(driftBy === undefined ? {} : { driftBy: driftBy as DriftBy }),
  };
}

/** The options of a BacktestTape these settings (and a model, maybe a challenger) make: the route's and the CLI's. */
export function tapeOptionsOf(s: BacktestSettings, model: Model, challenger: Model | undefined) {
  return {
    model,
    ...(challenger === undefined ? {} : { challenger }),
    scenario: s.scenario,
    by: s.by,
    backtest: { bands: s.bands, policy: s.policy, rho: s.rho, alpha: s.alpha },
    stability: s.stability,
    ...(s.driftBy === undefined ? {} : { driftBy: s.driftBy }),
  } satisfies Partial<BacktestTapeOptions>;
}
