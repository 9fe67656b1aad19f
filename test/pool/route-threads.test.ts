import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { TapeThreads } from '../../src/pool/index.js';
import { build, holdoutLoans } from '../helpers/app.js';
import { tempDir } from '../helpers/temp.js';
import { toCsv, toFreddie } from './helpers.js';

/** POST /pools/score on POOL_THREADS worker threads answers what one thread answers, byte for byte. */

const loans = holdoutLoans.slice(0, 800);
const csv = toCsv(loans.map((l, i) => ({ ...l, loan_sequence_number: i % 9 === 0 ? `=A${i},"x"` : `L${i}` })));
const badLines = csv.trim().split('\n');
for (let i = 3; i < badLines.length; i += 41) badLines[i] = 'not,a,loan';
const bad = `${badLines.join('\n')}\n`;

afterEach(() => {
  TapeThreads.crashMarkerForTests = undefined;
});

type Answer = { status: number; type: unknown; headers: Record<string, unknown>; body: string };

async function answers(threads: string, requests: { url: string; payload: string; accept?: string }[]) {
  const app = await build({ POOL_THREADS: threads });
  const out: Answer[] = [];
  for (const { url, payload, accept } of requests) {
    const res = await app.inject({
      method: 'POST',
      url,
      payload,
      headers: { 'content-type': 'text/csv', ...(accept ? { accept } : {}) },
    });
    const pool = Object.fromEntries(Object.entries(res.headers).filter(([k]) => k.startsWith('x-pool-')));
    out.push({ status: res.statusCode, type: res.headers['content-type'], headers: pool, body: res.body });
  }
  return out;
}

describe('POST /pools/score on worker threads', () => {
  it('answers as one thread does: summary, per-loan JSON and CSV, reasons, refusals, Freddie Mac', async () => {
    const requests = [
      { url: '/pools/score', payload: csv },
      { url: '/pools/score?loans=true&model=lda', payload: csv },
      { url: '/pools/score', payload: csv, accept: 'text/csv' },
      { url: '/pools/score?reasons=true', payload: toCsv(loans.slice(0, 80)) },
      { url: '/pools/score?reasons=true', payload: toCsv(loans.slice(0, 80)), accept: 'text/csv' },
      { url: '/pools/score', payload: bad },
      { url: '/pools/score?on_error=skip&loans=true', payload: bad },
      { url: '/pools/score', payload: toFreddie(loans) },
      { url: '/pools/score', payload: '' },
    ];
    const [one, two, three] = await Promise.all([
      answers('1', requests),
      answers('2', requests),
      answers('3', requests),
    ]);
    expect(two).toEqual(one);
    expect(three).toEqual(one);
    expect(one.map((a) => a.status)).toEqual([200, 200, 200, 200, 200, 400, 200, 200, 400]);
    // The stratification is folded from the workers' columns, in input order, as one thread adds it.
    const pool = JSON.parse(one[0]?.body as string);
    expect(pool.stratification.loans).toBe(loans.length);
    expect(pool.stratification.strata.occupancy.length).toBeGreaterThan(1);
    expect(JSON.parse(one[6]?.body as string).stratification.loans).toBe(loans.length - 20);
    const reasons = JSON.parse(one[3]?.body as string);
    expect(reasons.results).toHaveLength(80);
    expect(reasons.results[0].reasons[0]).toEqual({
      code: expect.any(String),
      field: expect.any(String),
      contribution: expect.any(Number),
      text: expect.any(String),
    });
    expect(one[4]?.body.split('\n')[0]).toMatch(/,expected_loss,reason_1,reason_2,reason_3,reason_4$/);
    // reasons=false keeps today's answer.
    expect(JSON.parse(one[1]?.body as string).results[0]).not.toHaveProperty('reasons');
  }, 120_000);

  it('refuses ?reasons=true for a model without an explainer, naming the query field', async () => {
    const dir = tempDir('reasons-models-');
    cpSync('model-artifacts', dir, { recursive: true });
    const path = join(dir, 'logistic_regression', '1.0.0.json');
    const doc = JSON.parse(readFileSync(path, 'utf8'));
    delete doc.model.reference;
    writeFileSync(path, JSON.stringify(doc));
    const app = await build({ MODEL_DIR: dir, POOL_THREADS: '2' });
    const res = await app.inject({
      method: 'POST',
      url: '/pools/score?model=logistic_regression&reasons=true',
      payload: csv,
      headers: { 'content-type': 'text/csv' },
    });
    expect(res.statusCode).toBe(400);
    expect(res.json().details[0].field).toBe('query.reasons');
    expect(res.json().details[0].message).toMatch(/model logistic_regression cannot explain/);
  }, 60_000);

  it('answers 500 when a worker crashes, and scores the next tape', async () => {
    TapeThreads.crashMarkerForTests = 'CRASH-NOW';
    const app = await build({ POOL_THREADS: '2' });
    const post = (payload: string) =>
      app.inject({ method: 'POST', url: '/pools/score', payload, headers: { 'content-type': 'text/csv' } });
    const crashing = await post(csv.replace('L400', 'CRASH-NOW'));
    expect(crashing.statusCode).toBe(500);
    const next = await post(csv);
    expect(next.statusCode).toBe(200);
    const [expected] = await answers('1', [{ url: '/pools/score', payload: csv }]);
    expect(next.body).toBe(expected?.body);
  }, 60_000);
});
