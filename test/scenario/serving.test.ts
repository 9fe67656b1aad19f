import { describe, expect, it } from 'vitest';
import { checkScenario, SCENARIO_FEATURES, type Scenario, scenarioRecord } from '../../src/scenario/index.js';
import { build, exampleLoan } from '../helpers/app.js';
import { housePricesMargin, scenarioModelDir } from '../helpers/scenario-model.js';

/** Scenarios in POST /predict and GET /scenarios (issue 21 item 3), on hand-written models whose PD is known. */

const dir = scenarioModelDir();
const app = () => build({ MODEL_DIR: dir, DEFAULT_MODEL: 'house_prices' });
const scenario = (spec: unknown) => checkScenario(spec).scenario as Scenario;
const expectedPd = (loan: Record<string, unknown>, spec: unknown) =>
  1 / (1 + Math.exp(-housePricesMargin(scenarioRecord(loan, scenario(spec)))));

const post = async (url: string, payload: unknown) => {
  const a = await app();
  const res = await a.inject({ method: 'POST', url, payload: payload as object });
  return { status: res.statusCode, body: res.json() };
};

const FLAT = { name: 'flat', national: new Array(12).fill(0) };
const FALL = { national: new Array(12).fill(-0.05), states: { FL: new Array(12).fill(-0.1) } };

describe('POST /predict under a scenario', () => {
  it('scores under baseline when the request names none, and says so', async () => {
    const { status, body } = await post('/predict', exampleLoan);
    expect(status).toBe(200);
    expect(body.scenario).toBe('baseline');
    expect(body.probability_of_default).toBeCloseTo(expectedPd(exampleLoan, 'baseline'), 14);
  });

  it.each([
    ['the query', '/predict?scenario=severely_adverse', exampleLoan, 'severely_adverse', 'severely_adverse'],
    ['the body', '/predict', { ...exampleLoan, scenario: 'adverse' }, 'adverse', 'adverse'],
    ['a custom path', '/predict', { ...exampleLoan, scenario: FLAT }, FLAT, 'flat'],
    ['an unnamed custom path', '/predict', { ...exampleLoan, scenario: FALL }, FALL, 'custom'],
    ['historical', '/predict?scenario=historical', exampleLoan, 'historical', 'historical'],
    ['both, agreeing', '/predict?scenario=adverse', { ...exampleLoan, scenario: 'adverse' }, 'adverse', 'adverse'],
    // A market-rate path is accepted and changes no PD: the models do not read it (the path without it: FLAT).
    ['a custom path with rates', '/predict', { ...exampleLoan, scenario: { ...FLAT, rates: [3, 2] } }, FLAT, 'flat'],
  ])('takes the scenario from %s', async (_, url, payload, spec, name) => {
    const { status, body } = await post(url, payload);
    expect(status).toBe(200);
    expect(body.scenario).toBe(name);
    expect(body.probability_of_default).toBeCloseTo(expectedPd(exampleLoan, spec), 14);
  });

  it('gives a different PD under each preset, higher as house prices fall', async () => {
    const pd: number[] = [];
    for (const s of ['baseline', 'adverse', 'severely_adverse']) {
      pd.push((await post(`/predict?scenario=${s}`, exampleLoan)).body.probability_of_default);
    }
    expect(pd[0]).toBeLessThan(pd[1] as number);
    expect(pd[1]).toBeLessThan(pd[2] as number);
  });

  it('scores a batch and every model side by side under one scenario; a model without scenario features names none', async () => {
    const loans = [exampleLoan, { ...exampleLoan, property_state: 'TX', cltv: 60, ltv: 60 }];
    const { status, body } = await post('/predict?model=all&scenario=adverse', { loans });
    expect(status).toBe(200);
    for (const [i, loan] of loans.entries()) {
      const [hp, plain] = body.results[i].results;
      expect(hp.model).toBe('house_prices');
      expect(hp.scenario).toBe('adverse');
      expect(hp.probability_of_default).toBeCloseTo(expectedPd(loan, 'adverse'), 14);
      expect(plain.model).toBe('plain');
      expect(plain).not.toHaveProperty('scenario');
    }
  });

  it('explains the scenario features beside the loan fields, adding up to the log-odds', async () => {
    const { body } = await post('/predict?explain=true&scenario=severely_adverse', exampleLoan);
    const e = body.explanation;
    for (const f of SCENARIO_FEATURES) expect(e.contributions).toHaveProperty(f);
    const sum = Object.values(e.contributions as Record<string, number>).reduce((a, b) => a + b, e.base_value);
    expect(sum).toBeCloseTo(body.log_odds, 12);
  });

  it.each([
    [
      'an unknown name',
      '/predict?scenario=doom',
      exampleLoan,
      'scenario',
      /must be one of baseline, adverse, severely_adverse, historical/,
    ],
    [
      'a path too short',
      '/predict',
      { ...exampleLoan, scenario: { national: [0, 0] } },
      'scenario.national',
      /12 to 40/,
    ],
    [
      'a value too large',
      '/predict',
      { ...exampleLoan, scenario: { national: [0, 0, 0, 0.3, 0, 0, 0, 0, 0, 0, 0, 0] } },
      'scenario.national[3]',
      /finite number/,
    ],
    [
      'an unknown state',
      '/predict',
      { ...exampleLoan, scenario: { national: new Array(12).fill(0), states: { XX: [] } } },
      'scenario.states.XX',
      /USPS/,
    ],
    ['a number', '/predict', { ...exampleLoan, scenario: 3 }, 'scenario', /scenario name or an object/],
    [
      'a market-rate change too large',
      '/predict',
      { ...exampleLoan, scenario: { national: new Array(12).fill(0), rates: [0, 0, 7] } },
      'scenario.rates[2]',
      /finite number from -5 to 5/,
    ],
  ])('refuses %s with a 400 naming the field', async (_, url, payload, field, message) => {
    const { status, body } = await post(url, payload);
    expect(status).toBe(400);
    expect(body.code).toBe('VALIDATION_FAILED');
    expect(body.details[0].field).toBe(field);
    expect(body.details[0].message).toMatch(message);
  });

  it('refuses a scenario named differently in the body and the query', async () => {
    const { status, body } = await post('/predict?scenario=baseline', { ...exampleLoan, scenario: 'adverse' });
    expect(status).toBe(400);
    expect(body.code).toBe('SCENARIO_CONFLICT');
  });

  it('takes the same name in the body and the query; a custom path named as a preset is another scenario', async () => {
    const inBody = await post('/predict', { ...exampleLoan, scenario: 'adverse' });
    const both = await post('/predict?scenario=adverse', { ...exampleLoan, scenario: 'adverse' });
    expect(both.status).toBe(200);
    expect(both.body).toEqual(inBody.body);
    const path = { name: 'baseline', national: new Array(12).fill(0) };
    const named = await post('/predict?scenario=baseline', { ...exampleLoan, scenario: path });
    expect(named.status).toBe(400);
    expect(named.body.code).toBe('SCENARIO_CONFLICT');
  });

  it('refuses, not imputes, a loan the historical market cannot place, naming it in a batch', async () => {
    const loans = [exampleLoan, { ...exampleLoan, first_payment_date: 202105 }];
    const { status, body } = await post('/predict?scenario=historical', { loans });
    expect(status).toBe(400);
    expect(body.details).toEqual([
      { field: 'loans[1].first_payment_date', message: expect.stringMatching(/from 1999-01 to 2019-12/) },
    ]);
    expect((await post('/predict?scenario=baseline', { loans })).status).toBe(200);
  });

  it('refuses a scenario feature sent as a loan field: the service computes them', async () => {
    for (const f of SCENARIO_FEATURES) {
      const { status, body } = await post('/predict', { ...exampleLoan, [f]: 0 });
      expect(status).toBe(400);
      expect(JSON.stringify(body.details)).toContain(f);
    }
  });
});

describe('GET /scenarios', () => {
  it('lists the presets with their paths and state multipliers, historical with its range, and the custom rules', async () => {
    const a = await app();
    const res = await a.inject({ method: 'GET', url: '/scenarios' });
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body.default).toBe('baseline');
    expect(body.scenarios.map((s: { name: string }) => s.name)).toEqual([
      'baseline',
      'adverse',
      'severely_adverse',
      'historical',
    ]);
    const severe = body.scenarios[2];
    expect(severe.national).toHaveLength(12);
    // 25 % peak to trough nationally over nine quarters; NV's multiplier deepens it.
    expect(Math.exp(severe.national.slice(0, 9).reduce((a: number, b: number) => a + b, 0))).toBeCloseTo(0.75, 12);
    expect(severe.state_multipliers.NV).toBeGreaterThan(2);
    expect(body.scenarios[3]).toMatchObject({ first_payment_from: '1999-01', first_payment_to: '2019-12' });
    expect(body.custom).toMatchObject({ min_quarters: 12, max_quarters: 40, max_abs_quarterly_log_change: 0.25 });
    // The market-rate paths: the Fed's 2025 supervisory mortgage rate under baseline and severely adverse.
    expect(body.custom).toMatchObject({ max_rate_quarters: 40, max_abs_quarterly_rate_change: 5 });
    expect(body.rates_source).toMatch(/Federal Reserve.*2025/);
    expect(severe.rates).toHaveLength(13);
    expect(body.scenarios[1].rates).toBeUndefined();
    expect(body.synthetic).toMatch(/SYNTHETIC/);
    // Every listed name is accepted by /predict.
    for (const s of body.scenarios) {
      expect(
        (await a.inject({ method: 'POST', url: `/predict?scenario=${s.name}`, payload: exampleLoan })).statusCode,
      ).toBe(200);
    }
  });
});

describe('out-of-domain flags', () => {
  const flagsOf = async (url: string, payload: unknown) => (await post(url, payload)).body.out_of_domain;

  it('raises none for a loan and scenario inside the training support', async () => {
    expect(await flagsOf('/predict', exampleLoan)).toBeUndefined();
  });

  it('flags a scenario that takes the loan beyond the training range of a scenario feature', async () => {
    const nv = { ...exampleLoan, property_state: 'NV' };
    const flags = await flagsOf('/predict?scenario=severely_adverse', nv);
    const features = scenarioRecord(nv, scenario('severely_adverse'));
    expect(flags).toEqual([
      { field: 'hpi_trough_36m', value: features.hpi_trough_36m, reason: 'below the training range -0.69 to 0' },
      { field: 'hpi_change_12m', value: features.hpi_change_12m, reason: 'below the training range -0.3 to 0.12' },
    ]);
  });

  it('flags loan fields outside the support, never a missing value, and a first payment past the rate table', async () => {
    expect(await flagsOf('/predict', { ...exampleLoan, credit_score: 9999 })).toBeUndefined();
    expect(await flagsOf('/predict', { ...exampleLoan, credit_score: 830 })).toEqual([
      { field: 'credit_score', value: 830, reason: 'above the training range 500 to 820' },
    ]);
    const late = await flagsOf('/predict', { ...exampleLoan, first_payment_date: 202402 });
    expect(late.map((f: { field: string }) => f.field)).toEqual(['first_payment_date', 'first_payment_date']);
    expect(late[0].reason).toBe('above the training range 199901 to 201012');
    expect(late[1].reason).toMatch(/after the market-rate table \(last month 202212\)/);
  });

  it('raises none for a model without a stored support', async () => {
    expect(await flagsOf('/predict?model=plain', { ...exampleLoan, credit_score: 300 })).toBeUndefined();
  });
});
