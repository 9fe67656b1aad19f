import { describe, expect, it } from 'vitest';
import {
  checkScenario,
  featureWriter,
  SCENARIO_FEATURES,
  type Scenario,
  ScenarioFeatureWriter,
  scenarioProblem,
  scenarioRecord,
} from '../../src/scenario/index.js';
import { holdoutLoans } from '../helpers/app.js';
import { seededRandom } from '../helpers/random.js';

/**
 * The tape scorer's memoised features (ScenarioFeatureWriter) equal scenarioRecord's and scenarioProblem's
 * bit for bit, whatever the loan: every state, no state, first payments across and beyond the market,
 * missing CLTV, LTV and note rate, under every named scenario and custom paths.
 */

const resolve = (spec: unknown) => checkScenario(spec).scenario as Scenario;
const scenarios = [
  ...['baseline', 'adverse', 'severely_adverse', 'historical'].map(resolve),
  resolve({
    national: new Array(20).fill(-0.02),
    states: { CA: new Array(12).fill(-0.1), NV: new Array(40).fill(0.01) },
  }),
  resolve({ national: new Array(12).fill(0.03) }),
];

const random = seededRandom(21);
const pick = <T>(xs: readonly T[]) => xs[Math.floor(random() * xs.length)] as T;
const states = [...new Set(holdoutLoans.map((l) => l.property_state))];
const loans = Array.from({ length: 3000 }, (_, i) => {
  const loan: Record<string, unknown> = { ...(holdoutLoans[i % holdoutLoans.length] as object) };
  loan.property_state = random() < 0.05 ? pick([null, 'ZZ', undefined]) : pick(states);
  loan.first_payment_date = (1995 + Math.floor(random() * 32)) * 100 + 1 + Math.floor(random() * 12);
  if (random() < 0.1) loan.cltv = null;
  if (random() < 0.05) loan.ltv = null;
  if (random() < 0.05) loan.original_interest_rate = null;
  return loan;
});

describe('ScenarioFeatureWriter', () => {
  it.each(scenarios.map((s) => [s.name, s] as const))(
    'equals scenarioRecord and scenarioProblem under %s',
    (_, scenario) => {
      const writer = new ScenarioFeatureWriter(scenario);
      let refused = 0;
      for (const loan of loans) {
        const expected = scenarioRecord(loan, scenario);
        const record = { ...loan };
        writer.write(record);
        for (const f of SCENARIO_FEATURES) expect(Object.is(record[f], expected[f])).toBe(true);
        expect(writer.problem(loan)).toEqual(scenarioProblem(loan, scenario));
        if (writer.problem(loan) !== undefined) refused++;
      }
      // Under historical the generated first payments fall both inside and outside the market.
      if (scenario.kind === 'historical') expect(refused).toBeGreaterThan(100);
    },
  );
});

describe('featureWriter (the serving path: /predict, batches, /v2 infer)', () => {
  it('resolves each preset once, so that its writer serves every request', () => {
    for (const name of ['baseline', 'adverse', 'severely_adverse', 'historical']) {
      expect(resolve(name)).toBe(resolve(name));
      expect(featureWriter(resolve(name))).toBe(featureWriter(resolve(name)));
    }
    // A custom path is its own scenario each time (and its writer goes with it).
    const custom = { national: new Array(12).fill(0.01) };
    expect(resolve(custom)).not.toBe(resolve(custom));
  });

  it.each(scenarios.map((s) => [s.name, s] as const))('records equal scenarioRecord under %s', (_, scenario) => {
    const writer = featureWriter(scenario);
    for (const loan of loans.slice(0, 500)) {
      // As a request body arrives: parsed JSON.
      const body = JSON.parse(JSON.stringify(loan)) as Record<string, unknown>;
      const record = writer.record(body);
      const expected = scenarioRecord(body, scenario);
      expect(Object.keys(record)).toEqual(Object.keys(expected));
      for (const key of Object.keys(expected)) expect(Object.is(record[key], expected[key])).toBe(true);
      expect(body).not.toHaveProperty('hpi_change_12m'); // the body itself is left as it came
    }
  });
});
