import { describe, expect, it } from 'vitest';
import type { LoanRecord } from '../../src/runtime/index.js';
import { checkScenario, SCENARIO_FEATURES, type Scenario, scenarioRecord } from '../../src/scenario/index.js';
import { build, v2Columns as columns, holdoutLoans } from '../helpers/app.js';
import { housePricesMargin, scenarioModelDir } from '../helpers/scenario-model.js';

/** Scenarios in the Open Inference Protocol (V2) routes (issue 21 item 3), on the hand-written scenario model. */

const dir = scenarioModelDir();
const app = () => build({ MODEL_DIR: dir, DEFAULT_MODEL: 'house_prices' });
const loans = holdoutLoans.slice(0, 20);

const infer = async (payload: unknown, model = 'house_prices') => {
  const a = await app();
  const res = await a.inject({ method: 'POST', url: `/v2/models/${model}/infer`, payload: payload as object });
  return { status: res.statusCode, body: res.json() };
};

const resolve = (spec: unknown) => checkScenario(spec).scenario as Scenario;
const expectPds = (outputs: { name: string; data: number[] }[], spec: unknown, rows = loans) => {
  const proba = outputs.find((o) => o.name === 'predict_proba')?.data as number[];
  expect(proba).toHaveLength(2 * rows.length);
  for (const [i, loan] of rows.entries()) {
    const pd = 1 / (1 + Math.exp(-housePricesMargin(scenarioRecord(loan, resolve(spec)))));
    expect(proba[2 * i + 1]).toBeCloseTo(pd, 14);
  }
};

const FALL = { name: 'fall', national: new Array(12).fill(-0.05), states: { CA: new Array(12).fill(-0.1) } };

describe('V2 inference under a scenario', () => {
  it.each([
    ['baseline when the request names none', undefined, 'baseline', 'baseline'],
    ['baseline when it names null (no scenario)', null, 'baseline', 'baseline'],
    ['a preset', 'severely_adverse', 'severely_adverse', 'severely_adverse'],
    ['a custom path', FALL, FALL, 'fall'],
    ['historical', 'historical', 'historical', 'historical'],
  ])('scores loan fields under %s, naming it in the answer', async (_, given, spec, name) => {
    const { status, body } = await infer({
      ...(given === undefined ? {} : { parameters: { scenario: given } }),
      inputs: columns(loans),
    });
    expect(status).toBe(200);
    expect(body.parameters).toEqual({ scenario: name });
    expectPds(body.outputs, spec);
  });

  it('names no scenario for a model that reads none', async () => {
    const { status, body } = await infer({ parameters: { scenario: 'adverse' }, inputs: columns(loans) }, 'plain');
    expect(status).toBe(200);
    expect(body).not.toHaveProperty('parameters');
  });

  it.each([
    [
      'an unknown scenario',
      { parameters: { scenario: 'doom' }, inputs: columns(loans) },
      /parameters\.scenario must be one of/,
    ],
    [
      'a custom path out of bounds',
      { parameters: { scenario: { national: [0.5] } }, inputs: columns(loans) },
      /parameters\.scenario\.national must hold 12 to 40 quarters/,
    ],
    [
      'under historical, a loan outside the market',
      {
        parameters: { scenario: 'historical' },
        inputs: columns([loans[0] as LoanRecord, { ...(loans[1] as LoanRecord), first_payment_date: 202601 }]),
      },
      /inputs\[\d+\] \(first_payment_date\)\.data\[1\]: is outside the historical scenario's market/,
    ],
    [
      'a scenario feature sent as an input',
      {
        inputs: [
          ...columns(loans),
          { name: 'hpi_change_12m', shape: [loans.length], datatype: 'FP64', data: loans.map(() => 0.5) },
        ],
      },
      /hpi_change_12m is a scenario feature, computed by the service from parameters\.scenario; it is not an input/,
    ],
    [
      'a feature tensor',
      { inputs: [{ name: 'features', shape: [1, 6], datatype: 'FP64', data: [[700, 0, 0, 0, 80, 0]] }] },
      /model house_prices reads house-price scenario features.*send the loan fields as named inputs, not a feature tensor/,
    ],
  ])('refuses %s (400)', async (_, payload, message) => {
    const { status, body } = await infer(payload);
    expect(status).toBe(400);
    expect(body.error).toMatch(message);
  });

  it('lists the loan fields as inputs and the scenario features apart in the metadata, with no feature tensor', async () => {
    const meta = (await (await app()).inject('/v2/models/house_prices')).json();
    expect(meta.inputs.map((i: { name: string }) => i.name)).toEqual(['credit_score']);
    expect(meta.parameters.scenario_features).toEqual([...SCENARIO_FEATURES]);
    expect(meta.parameters).not.toHaveProperty('tensor_input');
    const plain = (await (await app()).inject('/v2/models/plain')).json();
    expect(plain.parameters.tensor_input.columns).toEqual(['credit_score']);
    expect(plain.parameters).not.toHaveProperty('scenario_features');
  });
});
