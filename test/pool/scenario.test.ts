import type { FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import type { LoanRecord } from '../../src/runtime/index.js';
import { checkScenario, isScenarioFeature, type Scenario, scenarioRecord } from '../../src/scenario/index.js';
import { build, holdoutLoans } from '../helpers/app.js';
import { housePricesMargin, scenarioModelDir } from '../helpers/scenario-model.js';
import { parseCsv, toCsv } from './helpers.js';

/**
 * Scenarios in POST /pools/score (issue 21 item 3), on the hand-written scenario model whose PD is
 * known: the query or a JSON tape names the scenario (default baseline), each loan is scored on its
 * record with the scenario's features, the answer names it.
 */

const dir = scenarioModelDir();
const loans = holdoutLoans.slice(0, 300);
const csv = toCsv(loans);
const json = (extra: Record<string, unknown> = {}) => JSON.stringify({ ...extra, loans });

const apps = new Map<string, Promise<FastifyInstance>>();
afterEach(() => apps.clear());
const appFor = (threads: string) => {
  if (!apps.has(threads)) {
    apps.set(threads, build({ MODEL_DIR: dir, DEFAULT_MODEL: 'house_prices', POOL_THREADS: threads }));
  }
  return apps.get(threads) as Promise<FastifyInstance>;
};

const post = async (
  url: string,
  payload: string,
  { type = 'application/json', accept, threads = '1' }: { type?: string; accept?: string; threads?: string } = {},
) => {
  const app = await appFor(threads);
  return app.inject({
    method: 'POST',
    url,
    payload,
    headers: { 'content-type': type, ...(accept ? { accept } : {}) },
  });
};

const resolve = (spec: unknown) => checkScenario(spec).scenario as Scenario;
const expectedPd = (loan: LoanRecord, spec: unknown) =>
  1 / (1 + Math.exp(-housePricesMargin(scenarioRecord(loan, resolve(spec)))));
const pds = (body: { results: { probability_of_default: number }[] }) =>
  body.results.map((r) => r.probability_of_default);
const expectPds = (actual: number[], spec: unknown, tape: readonly LoanRecord[] = loans) => {
  expect(actual).toHaveLength(tape.length);
  for (const [i, p] of actual.entries()) expect(p).toBeCloseTo(expectedPd(tape[i] as LoanRecord, spec), 14);
};

const FALL = { name: 'fall', national: new Array(12).fill(-0.04), states: { CA: new Array(16).fill(-0.09) } };
const query = (spec: unknown) => encodeURIComponent(typeof spec === 'string' ? spec : JSON.stringify(spec));

describe('POST /pools/score under a scenario', () => {
  it('scores under baseline when nothing names a scenario, and says so', async () => {
    const res = await post('/pools/score?loans=true', json());
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body.scenario).toBe('baseline');
    expectPds(pds(body), 'baseline');
  });

  it.each([
    ['a preset in the query', '?scenario=severely_adverse', {}, 'severely_adverse', 'severely_adverse'],
    ['a custom path in the query (URL-encoded JSON)', `?scenario=${query(FALL)}`, {}, FALL, 'fall'],
    ['a preset in the JSON tape', '', { scenario: 'adverse' }, 'adverse', 'adverse'],
    ['a custom path in the JSON tape', '', { scenario: { ...FALL, name: undefined } }, FALL, 'custom'],
    ['both, the same name', '?scenario=adverse', { scenario: 'adverse' }, 'adverse', 'adverse'],
  ])('takes %s', async (_, q, extra, spec, name) => {
    const res = await post(`/pools/score${q}${q ? '&' : '?'}loans=true`, json(extra));
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body.scenario).toBe(name);
    expectPds(pds(body), spec);
    // The pool figures come from the same PDs.
    const mean = loans.reduce((a, l) => a + expectedPd(l, spec), 0) / loans.length;
    expect(body.average_pd).toBeCloseTo(mean, 12);
  });

  it('scores CSV tapes under the scenario on one thread and on worker threads alike, naming it in X-Pool-Scenario', async () => {
    const url = `/pools/score?scenario=${query(FALL)}`;
    const one = await post(url, csv, { type: 'text/csv', accept: 'text/csv' });
    const two = await post(url, csv, { type: 'text/csv', accept: 'text/csv', threads: '2' });
    expect(one.statusCode).toBe(200);
    expect(one.headers['x-pool-scenario']).toBe('fall');
    expect(two.body).toBe(one.body);
    expect(two.headers['x-pool-average-pd']).toBe(one.headers['x-pool-average-pd']);
    expect(two.headers['x-pool-scenario']).toBe('fall');
    expectPds(
      parseCsv(one.body)
        .slice(1)
        .map((r) => Number(r[2])),
      FALL,
    );
    // A custom name is the client's text: percent-encoded in the header, never a broken header.
    const odd = { ...FALL, name: 'é\r\nX-Evil: 1' };
    const res = await post(`/pools/score?scenario=${query(odd)}`, csv, { type: 'text/csv', accept: 'text/csv' });
    expect(res.statusCode).toBe(200);
    expect(decodeURIComponent(res.headers['x-pool-scenario'] as string)).toBe(odd.name);
    expect(res.headers['x-evil']).toBeUndefined();
  });

  it('explains each loan on the same records (?reasons=true)', async () => {
    const res = await post('/pools/score?reasons=true&scenario=severely_adverse', json());
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expectPds(pds(body), 'severely_adverse');
    // The scenario features move the margin most under a fall, but reason codes name only borrower and
    // loan attributes (src/loan/reasons.ts): never a scenario feature.
    expect(body.results.every((r: { reasons?: unknown[] }) => Array.isArray(r.reasons))).toBe(true);
    const fields = new Set<string>(
      body.results.flatMap((r: { reasons: { field: string }[] }) => r.reasons.map((x) => x.field)),
    );
    expect([...fields].filter((f) => isScenarioFeature(f))).toEqual([]);
  });

  it('refuses, under historical, the loans whose first payment is outside the market as rejected rows', async () => {
    const outside = loans.map((l, i) => (i % 100 === 3 ? { ...l, first_payment_date: 202601 } : l));
    const skipped = await post(
      '/pools/score?scenario=historical&on_error=skip&loans=true',
      JSON.stringify({ loans: outside }),
    );
    expect(skipped.statusCode).toBe(200);
    const body = skipped.json();
    expect(body.scenario).toBe('historical');
    expect(body.rejected.count).toBe(3);
    expect(body.rejected.rows[0].row).toBe(3);
    expect(body.rejected.rows[0].problems[0].field).toBe('loans[3].first_payment_date');
    expect(body.rejected.rows[0].problems[0].message).toMatch(/outside the historical scenario's market/);
    const kept = outside.filter((_, i) => i % 100 !== 3);
    expectPds(pds(body), 'historical', kept);

    const failed = await post('/pools/score?scenario=historical', toCsv(outside), { type: 'text/csv' });
    expect(failed.statusCode).toBe(400);
    expect(failed.json().code).toBe('VALIDATION_FAILED');
    expect(failed.json().details[0].field).toBe('line 5, first_payment_date');
  });

  it('names no scenario for a model that reads none, and scores it as before', async () => {
    const plain = await post('/pools/score?model=plain&scenario=severely_adverse', csv, {
      type: 'text/csv',
      accept: 'text/csv',
    });
    const before = await post('/pools/score?model=plain', csv, { type: 'text/csv', accept: 'text/csv' });
    expect(plain.statusCode).toBe(200);
    expect(plain.headers['x-pool-scenario']).toBeUndefined();
    expect(plain.body).toBe(before.body);
    const res = await post('/pools/score?model=plain', json({ scenario: 'adverse' }));
    expect(res.statusCode).toBe(200);
    expect(res.json()).not.toHaveProperty('scenario');
  });

  it.each([
    ['an unknown name', '?scenario=doom', json(), 'scenario', /must be one of baseline/],
    ['a custom path out of bounds', `?scenario=${query({ national: [0.9] })}`, json(), 'scenario.national', /12 to 40/],
    ['broken JSON in the query', `?scenario=${query('{"national": [0,')}`, json(), 'scenario', /URL-encoded JSON/],
    [
      'a custom path too long for a query',
      `?scenario=${query({ national: new Array(12).fill(0), pad: 'x'.repeat(9000) })}`,
      json(),
      'scenario',
      /at most 8192 characters/,
    ],
    // Checked before the tape is read: an unreadable tape does not hide it.
    ['an invalid query before an unreadable tape', '?scenario=doom', 'not json at all', 'scenario', /must be one of/],
    ['an invalid scenario in the tape', '', json({ scenario: { national: 'down' } }), 'scenario.national', /array/],
    ['a number as the tape scenario', '', '{"scenario": 5, "loans": []}', 'scenario', /a scenario name or an object/],
    ['a bare value just before the end', '', '{"scenario":true}', 'scenario', /a scenario name or an object/],
  ])('refuses %s (400 VALIDATION_FAILED naming it)', async (_, q, payload, field, message) => {
    const res = await post(`/pools/score${q}`, payload);
    expect(res.statusCode).toBe(400);
    const body = res.json();
    expect(body.code).toBe('VALIDATION_FAILED');
    expect(body.details[0].field).toBe(field);
    expect(body.details[0].message).toMatch(message);
  });

  it('takes the same custom path in the tape and the query, however written; another one conflicts', async () => {
    const path = {
      name: 'dip',
      national: [-0.02, -0.01, ...new Array(10).fill(0)],
      states: { CA: new Array(12).fill(-0.01) },
    };
    // The query's JSON with its keys in another order and spaces: the same scenario.
    const reordered = `{ "states": ${JSON.stringify(path.states)}, "national": ${JSON.stringify(path.national)}, "name": "dip" }`;
    const inTape = await post('/pools/score', json({ scenario: path }));
    const both = await post(`/pools/score?scenario=${encodeURIComponent(reordered)}`, json({ scenario: path }));
    expect(inTape.statusCode).toBe(200);
    expect(both.statusCode).toBe(200);
    expect(both.json()).toEqual(inTape.json());
    const other = { ...path, national: [-0.03, ...path.national.slice(1)] };
    const clash = await post(`/pools/score?scenario=${query(other)}`, json({ scenario: path }));
    expect(clash.statusCode).toBe(400);
    expect(clash.json().code).toBe('SCENARIO_CONFLICT');
  });

  it('refuses a tape naming another scenario than the query, or naming it after its loans', async () => {
    const conflict = await post('/pools/score?scenario=adverse', json({ scenario: 'baseline' }));
    expect(conflict.statusCode).toBe(400);
    expect(conflict.json().code).toBe('SCENARIO_CONFLICT');
    expect(conflict.json().message).toMatch(/"baseline" in the body but "adverse" in the query/);

    const late = await post('/pools/score', `{"loans": ${JSON.stringify(loans.slice(0, 3))}, "scenario": "adverse"}`);
    expect(late.statusCode).toBe(400);
    expect(late.json().details[0]).toEqual({
      field: 'scenario',
      message: 'must come before loans: the loans are scored as they are read',
    });

    const twice = await post('/pools/score', `{"scenario": "adverse", "scenario": "adverse", "loans": []}`);
    expect(twice.statusCode).toBe(400);
    expect(twice.json().message).toMatch(/"scenario" appears twice/);

    const long = await post('/pools/score', json({ scenario: { national: new Array(20_000).fill(0.01) } }));
    expect(long.statusCode).toBe(400);
    expect(long.json().message).toMatch(/scenario is longer than 65536 bytes/);
  });
});
