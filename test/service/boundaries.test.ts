/**
 * Boundary cases that an outside mutation run showed no other test pinned down: a PD exactly on the
 * decision threshold, an observation exactly on a histogram bucket bound, and the model name in the
 * sticky A/B hash. Each test here fails if the comparison it names is turned the other way.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Histogram, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { FastHistogram } from '../../src/metrics/series.js';
import { type Arm, armFor, loanKey } from '../../src/routing.js';
import { loadModelFile, type Model } from '../../src/runtime/index.js';
import { build, exampleLoan, holdoutLoans, withScenario } from '../helpers/app.js';
import { tempDir } from '../helpers/temp.js';
import { toCsv } from '../pool/helpers.js';

/** The next float64 above `x` (x > 0). */
function nextUp(x: number): number {
  const f = new Float64Array([x]);
  const u = new BigUint64Array(f.buffer);
  u[0] = (u[0] as bigint) + 1n;
  return f[0] as number;
}

describe("above_cutoff is probability_of_default ≥ the model's cut-off (its decision_threshold), on every path", () => {
  const source = 'model-artifacts/logistic_regression/1.0.0.json';

  /** A model directory holding the logistic regression with its threshold set to `threshold`. */
  function modelDir(threshold: number): string {
    const dir = tempDir('threshold-');
    mkdirSync(join(dir, 'logistic_regression'));
    const doc = JSON.parse(readFileSync(source, 'utf8'));
    doc.decision_threshold = threshold;
    writeFileSync(join(dir, 'logistic_regression', '1.0.0.json'), JSON.stringify(doc));
    return dir;
  }

  it.each([
    ['on the threshold', 0, true],
    ['one float below the threshold', 1, false],
  ])('a loan %s', async (_, step, expected) => {
    const model = await loadModelFile(source);
    const pd = model.scoreMany([withScenario(exampleLoan)]).probability[0] as number;
    const threshold = step === 0 ? pd : nextUp(pd);
    const app = await build({ MODEL_DIR: modelDir(threshold), DEFAULT_MODEL: 'logistic_regression' });

    const one = (await app.inject({ method: 'POST', url: '/predict', payload: exampleLoan })).json();
    expect(one.probability_of_default).toBe(pd);
    expect(one.cutoff).toBe(threshold);
    expect(one.cutoff_source).toBe('model');
    expect(one.above_cutoff).toBe(expected);

    const csv = toCsv([exampleLoan]);
    const pool = await app.inject({
      method: 'POST',
      url: '/pools/score?model=logistic_regression&loans=true',
      payload: csv,
      headers: { 'content-type': 'text/csv' },
    });
    expect(pool.statusCode, pool.body).toBe(200);
    expect(pool.json().results[0].above_cutoff).toBe(expected);

    const perLoanCsv = await app.inject({
      method: 'POST',
      url: '/pools/score?model=logistic_regression&loans=true',
      payload: csv,
      headers: { 'content-type': 'text/csv', accept: 'text/csv' },
    });
    const [header, row] = perLoanCsv.body.trim().split('\n') as [string, string];
    const column = header.split(',').indexOf('above_cutoff');
    expect(column).toBeGreaterThanOrEqual(0);
    expect(row.split(',')[column]).toBe(String(expected));

    const inputs = Object.entries(exampleLoan)
      .filter(([name]) => name !== 'loan_sequence_number')
      .map(([name, value]) => ({
        name,
        shape: [1],
        datatype: typeof value === 'number' ? 'FP64' : 'BYTES',
        data: [value],
      }));
    const v2 = await app.inject({ method: 'POST', url: '/v2/models/logistic_regression/infer', payload: { inputs } });
    expect(v2.statusCode, v2.body).toBe(200);
    const predict = v2.json().outputs.find((o: { name: string }) => o.name === 'predict');
    expect(predict.data).toEqual([expected ? 1 : 0]);
  });
});

describe('FastHistogram counts as prom-client Histogram does', () => {
  it('puts a value equal to a bucket bound in that bucket (le is "less than or equal")', async () => {
    const buckets = [0.001, 0.01, 0.1, 0.5, 1];
    const fast = new FastHistogram('fast_seconds', 'h', ['route'], buckets, new Registry());
    const reference = new Histogram({ name: 'ref_seconds', help: 'h', labelNames: ['route'], buckets, registers: [] });
    const series = fast.series({ route: '/x' });
    // Every bound itself, values just around each bound, zero, and values above the last bound.
    const values = [0, 2, 1e9, ...buckets.flatMap((b) => [b, b * (1 - 1e-12), nextUp(b)])];
    for (const v of values) {
      series.observe(v);
      reference.observe({ route: '/x' }, v);
    }
    const strip = (m: { values: { value: number; labels: Record<string, string | number>; metricName?: string }[] }) =>
      m.values.map((v) => [v.metricName?.replace(/^(fast|ref)_seconds/, ''), String(v.labels.le ?? ''), v.value]);
    expect(strip(await fast.get())).toEqual(strip(await reference.get()));
  });
});

describe('sticky A/B arms are salted by the model name', () => {
  it('sends different loans to the challengers of two models with the same split', () => {
    const champion = { version: '1.0.0' } as unknown as Model;
    const challenger = { version: '1.1.0' } as unknown as Model;
    const split: Arm[] = [
      { model: champion, weight: 50, upTo: 50 },
      { model: challenger, weight: 50, upTo: 100 },
    ];
    const keys = holdoutLoans.slice(0, 2000).map((l, i) => loanKey({ ...l, loan_sequence_number: `F10Q${i}` }));
    const a = keys.map((k) => armFor('xgboost', split, k) === challenger);
    const b = keys.map((k) => armFor('lda', split, k) === challenger);
    // Independent 50/50 splits disagree on half the loans (binomial sd 1.1 points over 2,000);
    // unsalted splits would agree on every loan.
    const disagree = a.filter((x, i) => x !== b[i]).length / keys.length;
    expect(disagree).toBeGreaterThan(0.45);
    expect(disagree).toBeLessThan(0.55);
    // And each stays sticky: the same key, the same arm.
    expect(keys.map((k) => armFor('lda', split, k) === challenger)).toEqual(b);
  });
});
