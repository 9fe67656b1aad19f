import { describe, expect, it } from 'vitest';
import { closestField, editDistance, MAX_SUGGESTED_NAME } from '../../src/loan/validate.js';
import { MAX_PROBLEMS } from '../../src/problems.js';
import { build, exampleLoan } from '../helpers/app.js';

/**
 * Issue 18: one request must not block the event loop (suggestions for unknown names cost work
 * bounded by the name's length and the number of names listed), and no 4xx body grows with the
 * input (every list of problems is capped and says how many it left out).
 */

/** A 4xx body is small whatever the input. */
const SMALL_BODY = 64 * 1024;

describe('suggestions for unknown names are bounded in work', () => {
  it('computes no suggestion for a name longer than MAX_SUGGESTED_NAME, and stops a distance past its limit', () => {
    expect(closestField('credit_scroe')).toBe('credit_score');
    expect(closestField(`credit_score${'x'.repeat(MAX_SUGGESTED_NAME)}`)).toBeUndefined();
    // Banded: past the limit it answers limit + 1, whatever the lengths.
    expect(editDistance('a'.repeat(100_000), 'credit_score', 3)).toBe(4);
    expect(editDistance('credit_scroe', 'credit_score', 3)).toBe(2);
    expect(editDistance('kitten', 'sitting', 10)).toBe(3);
  });

  it('answers a body of one 300,000-character unknown key at once, without a suggestion', async () => {
    const app = await build();
    const name = `credit_score${'x'.repeat(300_000)}`;
    const res = await app.inject({ method: 'POST', url: '/predict', payload: { ...exampleLoan, [name]: 1 } });
    expect(res.statusCode).toBe(400);
    expect(res.body.length).toBeLessThan(SMALL_BODY);
    expect(res.body).not.toContain('did you mean');
    expect(res.json().details).toHaveLength(1);
  });

  it('answers a tape header of long unknown names without suggestions and small', async () => {
    const app = await build();
    const header = Array.from({ length: 3 }, (_, i) => `c${i}${'y'.repeat(200_000)}`).join(',');
    const res = await app.inject({
      method: 'POST',
      url: '/pools/score',
      headers: { 'content-type': 'text/csv' },
      payload: `${header}\n1,2,3\n`,
    });
    expect(res.statusCode).toBe(400);
    expect(res.body.length).toBeLessThan(SMALL_BODY);
    expect(res.body).not.toContain('did you mean');
  });
});

describe('error lists are capped, and say how many were left out', () => {
  it('a 1 MiB CSV header of empty columns: a small 400 (header columns are capped)', async () => {
    const app = await build();
    const res = await app.inject({
      method: 'POST',
      url: '/pools/score',
      headers: { 'content-type': 'text/csv' },
      payload: `${','.repeat(1024 * 1024)}\n`,
    });
    expect(res.statusCode).toBe(400);
    expect(res.body.length).toBeLessThan(SMALL_BODY);
    expect(res.json().message).toMatch(/columns/);
  });

  it('a CSV header of many unknown names: at most MAX_PROBLEMS details and the count of the others', async () => {
    const app = await build();
    const header = Array.from({ length: 250 }, (_, i) => `col${i}`).join(',');
    const res = await app.inject({
      method: 'POST',
      url: '/pools/score',
      headers: { 'content-type': 'text/csv' },
      payload: `${header}\n`,
    });
    expect(res.statusCode).toBe(400);
    const body = res.json();
    expect(body.details.length).toBeLessThanOrEqual(MAX_PROBLEMS);
    expect(body.details_omitted).toBeGreaterThan(0);
    expect(body.details.length + body.details_omitted).toBeGreaterThanOrEqual(250);
  });

  it('a JSON tape loan with 50,000 unknown fields: every row lists at most MAX_PROBLEMS problems', async () => {
    const app = await build();
    const loan: Record<string, unknown> = { ...exampleLoan };
    for (let i = 0; i < 50_000; i++) loan[`u${i}`] = 1;
    const res = await app.inject({
      method: 'POST',
      url: '/pools/score',
      headers: { 'content-type': 'application/json' },
      payload: { loans: [loan, loan] },
    });
    expect(res.statusCode).toBe(400);
    expect(res.body.length).toBeLessThan(SMALL_BODY);
    expect(res.json().details.length).toBeLessThanOrEqual(MAX_PROBLEMS);
    expect(res.json().details_omitted).toBeGreaterThan(0);
  });

  it('a /predict batch with unknown fields in every loan: small 400, capped details, the rest counted', async () => {
    const app = await build();
    const loans = Array.from({ length: 2000 }, (_, i) => {
      const loan: Record<string, unknown> = { ...exampleLoan };
      for (let k = 0; k < 20; k++) loan[`credit_scroe_${i}_${k}`] = 1;
      return loan;
    });
    const res = await app.inject({ method: 'POST', url: '/predict', payload: { loans } });
    expect(res.statusCode).toBe(400);
    expect(res.body.length).toBeLessThan(SMALL_BODY);
    const body = res.json();
    expect(body.code).toBe('VALIDATION_FAILED');
    expect(body.details.length).toBeLessThanOrEqual(MAX_PROBLEMS);
    expect(body.details_omitted).toBeGreaterThan(0);
    expect(body.details[0].field).toMatch(/^loans\[0\]\.credit_scroe_0_/);
  });

  it('a /predict body of 500,000 unknown keys: a small 400 naming the first', async () => {
    const app = await build();
    const parts = Array.from({ length: 500_000 }, (_, i) => `"k${i}":1`);
    const res = await app.inject({
      method: 'POST',
      url: '/predict',
      headers: { 'content-type': 'application/json' },
      payload: `{${parts.join(',')}}`,
    });
    expect(res.statusCode).toBe(400);
    expect(res.body.length).toBeLessThan(SMALL_BODY);
    expect(res.json().details.length).toBeLessThanOrEqual(MAX_PROBLEMS);
  });

  it('a /predict batch with every field of every loan wrong: capped details', async () => {
    const app = await build();
    const loans = Array.from({ length: 1000 }, () =>
      Object.fromEntries(Object.keys(exampleLoan).map((k) => [k, [1, 2]])),
    );
    const res = await app.inject({ method: 'POST', url: '/predict', payload: { loans } });
    expect(res.statusCode).toBe(400);
    expect(res.body.length).toBeLessThan(SMALL_BODY);
    expect(res.json().details).toHaveLength(MAX_PROBLEMS);
    expect(res.json().details_omitted).toBeGreaterThan(10_000);
    expect(res.json().message).toMatch(/more/);
  });

  it('V2: an input with a million unknown keys, a shape of a million items: a small 400', async () => {
    const app = await build();
    const input: Record<string, unknown> = { name: 'credit_score', shape: [1], datatype: 'FP64', data: [700] };
    for (let i = 0; i < 200_000; i++) input[`x${i}`] = 1;
    const res = await app.inject({ method: 'POST', url: '/v2/models/xgboost/infer', payload: { inputs: [input] } });
    expect(res.statusCode).toBe(400);
    expect(res.body.length).toBeLessThan(SMALL_BODY);
    const shape = await app.inject({
      method: 'POST',
      url: '/v2/models/xgboost/infer',
      payload: { inputs: [{ name: 'credit_score', shape: Array(1_000_000).fill('a'), datatype: 'FP64', data: [] }] },
    });
    expect(shape.statusCode).toBe(400);
    expect(shape.body.length).toBeLessThan(SMALL_BODY);
  });
});
