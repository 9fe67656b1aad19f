import { checkScenario, HISTORICAL, type Scenario } from '../scenario/index.js';
import {
  BandAccumulator,
  type CalibrationTest,
  DEFAULT_BANDS,
  DEFAULT_POLICY,
  type LightPolicy,
  ValidationInputError,
} from '../validation/index.js';
import { BY_DIMENSIONS, type ByDimension } from './backtest.js';

/**
 * The knobs of a backtest as text (POST /pools/backtest's query, the CLI's options), checked and read:
 * `by` (comma list of vintage, state, fico_band, channel), `bands` (PD band edges, comma list from 0 to 1),
 * `policy` (binomial, jeffreys or vasicek: the test behind the traffic lights), `green` and `red` (its
 * p-value thresholds), `overall` (pool or worst), `rho` (the Vasicek test's asset correlation) and
 * `scenario` (default historical). Every problem names its field (`${prefix}by`, …).
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
}

export interface BacktestSettings {
  readonly by: ByDimension[];
  readonly bands: number[];
  readonly policy: LightPolicy;
  readonly rho: number;
  readonly scenario: Scenario;
  readonly scenarioName: string;
}

export const DEFAULT_BACKTEST_SCENARIO = HISTORICAL;

const NUMBER = /^\s*[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?\s*$/;
const num = (text: string) => (NUMBER.test(text) ? Number(text) : Number.NaN);
const quoted = (text: string) => JSON.stringify(text.length > 40 ? `${text.slice(0, 40)}…` : text);

/** The settings, or a ValidationInputError naming every field in error. */
export function backtestSettings(knobs: BacktestKnobs, prefix = 'query.'): BacktestSettings {
  const problems: { field: string; message: string }[] = [];
  const problem = (field: string, message: string) => problems.push({ field: `${prefix}${field}`, message });

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
  };
}
