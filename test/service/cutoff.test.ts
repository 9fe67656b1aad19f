/**
 * No false verdicts (issue 21 item 6): no answer says a loan "predicts default". /predict compares the
 * PD with a cut-off the caller chooses (`cutoff` in the body or the query) or else the model's
 * configured one, and names it: `above_cutoff`, `cutoff`, `cutoff_source`.
 */
import { describe, expect, it } from 'vitest';
import { loadModelFile } from '../../src/runtime/index.js';
import { build, exampleLoan, holdoutLoans, MODEL_NAMES } from '../helpers/app.js';
import { toCsv } from '../pool/helpers.js';

const xgboost = await loadModelFile('model-artifacts/xgboost/1.0.0.json');

const post = async (url: string, payload: unknown) => {
  const app = await build();
  const res = await app.inject({ method: 'POST', url, payload: payload as object });
  return { status: res.statusCode, body: res.json(), text: res.body };
};

interface Answer {
  model: string;
  probability_of_default: number;
  above_cutoff: boolean;
  cutoff: number;
  cutoff_source: string;
}

describe('POST /predict names the cut-off it compares with', () => {
  it("uses the model's configured cut-off when the request names none, and says so", async () => {
    const { status, body, text } = await post('/predict', exampleLoan);
    expect(status).toBe(200);
    expect(body.cutoff).toBe(xgboost.decisionThreshold);
    expect(body.cutoff_source).toBe('model');
    expect(body.above_cutoff).toBe(body.probability_of_default >= xgboost.decisionThreshold);
    expect(body).not.toHaveProperty('default_predicted');
    expect(body).not.toHaveProperty('decision_threshold');
    expect(text).not.toMatch(/default_predicted|decision_threshold/);
  });

  // Under severely_adverse the example loan's PD is above the model's cut-off, below the caller's 0.7.
  const stressed = { ...exampleLoan, scenario: 'severely_adverse' };
  it.each([
    ['the body', '/predict', { ...stressed, cutoff: 0.7 }],
    ['the query', '/predict?cutoff=0.7', stressed],
    ['both, agreeing', '/predict?cutoff=0.70', { ...stressed, cutoff: 0.7 }],
  ])('takes the cut-off from %s', async (_, url, payload) => {
    const { status, body } = await post(url, payload);
    expect(status).toBe(200);
    expect(body.probability_of_default).toBeGreaterThan(xgboost.decisionThreshold);
    expect(body.probability_of_default).toBeLessThan(0.7);
    expect(body).toMatchObject({ cutoff: 0.7, cutoff_source: 'request', above_cutoff: false });
  });

  it('compares every prediction of a batch and of every model with the request cut-off', async () => {
    const loans = holdoutLoans.slice(0, 40);
    const { status, body } = await post('/predict?model=all', { loans, cutoff: 0.05 });
    expect(status).toBe(200);
    let above = 0;
    for (const entry of body.results as { results: Answer[] }[]) {
      expect(entry.results).toHaveLength(MODEL_NAMES.length);
      for (const r of entry.results) {
        expect(r.cutoff).toBe(0.05);
        expect(r.cutoff_source).toBe('request');
        expect(r.above_cutoff).toBe(r.probability_of_default >= 0.05);
        if (r.above_cutoff) above++;
      }
    }
    expect(above).toBeGreaterThan(0);
    expect(above).toBeLessThan(loans.length * MODEL_NAMES.length);
  });

  it.each([
    ['body', 0],
    ['body', 1],
    ['body', -0.1],
    ['body', 1.5],
    ['body', '0.5'],
    ['body', null],
    ['body', true],
    ['query', '0'],
    ['query', '1'],
    ['query', '1.5'],
    ['query', '-0.2'],
    ['query', 'abc'],
    ['query', ''],
    ['query', 'NaN'],
    ['query', 'Infinity'],
    ['query', '0x1'],
    ['query', '5%'],
  ])('refuses a cut-off in the %s of %j with a 400 naming cutoff', async (where, value) => {
    const { status, body } =
      where === 'body'
        ? await post('/predict', { ...exampleLoan, cutoff: value })
        : await post(`/predict?cutoff=${encodeURIComponent(String(value))}`, exampleLoan);
    expect(status).toBe(400);
    expect(body.code).toBe('VALIDATION_FAILED');
    expect(body.details[0].field).toMatch(/cutoff$/);
    expect(body.details[0].message).toMatch(/\(0, 1\)|must be/);
  });

  it('refuses a batch cut-off out of range, and a body and a query that disagree', async () => {
    const batch = await post('/predict', { loans: [exampleLoan], cutoff: 2 });
    expect(batch.status).toBe(400);
    expect(batch.body.details[0].field).toMatch(/cutoff$/);
    const conflict = await post('/predict?cutoff=0.2', { ...exampleLoan, cutoff: 0.1 });
    expect(conflict.status).toBe(400);
    expect(conflict.body.code).toBe('CUTOFF_CONFLICT');
    expect(conflict.body.message).toMatch(/cutoff/);
  });

  it('documents the cut-off and says no answer predicts default', async () => {
    const app = await build();
    const doc = (await app.inject({ method: 'GET', url: '/openapi.json' })).json();
    const predict = JSON.stringify(doc.paths['/predict']);
    expect(predict).toContain('above_cutoff');
    expect(predict).toContain('cutoff_source');
    expect(predict).not.toMatch(/default_predicted|decision_threshold/);
    const params = doc.paths['/predict'].post.parameters as { name: string }[];
    expect(params.map((p) => p.name)).toContain('cutoff');
  });
});

describe('GET /models shows the configured cut-off under a clear name, and the label', () => {
  it('lists cutoff (a ranking cut-off) and what the PD means', async () => {
    const app = await build();
    const body = (await app.inject({ method: 'GET', url: '/models' })).json();
    const x = body.models.find((m: { name: string }) => m.name === 'xgboost');
    expect(x.cutoff).toBe(xgboost.decisionThreshold);
    expect(x).not.toHaveProperty('decision_threshold');
    expect(x.label).toBe(xgboost.label);
    const doc = JSON.stringify((await app.inject({ method: 'GET', url: '/openapi.json' })).json().paths['/models']);
    expect(doc).toMatch(/not a prediction of default/);
  });
});

describe('the per-loan pool results name the flag above_cutoff', () => {
  it('in JSON and in CSV', async () => {
    const app = await build();
    const csv = toCsv(holdoutLoans.slice(0, 5));
    const json = await app.inject({
      method: 'POST',
      url: '/pools/score?loans=true',
      payload: csv,
      headers: { 'content-type': 'text/csv' },
    });
    expect(json.statusCode).toBe(200);
    const first = json.json().results[0];
    expect(first.above_cutoff).toBe(first.probability_of_default >= xgboost.decisionThreshold);
    expect(json.body).not.toContain('default_predicted');
    const text = await app.inject({
      method: 'POST',
      url: '/pools/score?loans=true',
      payload: csv,
      headers: { 'content-type': 'text/csv', accept: 'text/csv' },
    });
    expect(text.body.split('\n')[0]).toBe(
      'row,loan_sequence_number,probability_of_default,log_odds,above_cutoff,expected_loss',
    );
  });
});
