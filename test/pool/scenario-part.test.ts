import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import type { FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { CONTRACT } from '../../src/contract/index.js';
import { MAX_SCENARIO_BYTES } from '../../src/pool/index.js';
import { TapeThreads } from '../../src/pool/threads.js';
import type { LoanRecord } from '../../src/runtime/index.js';
import { checkScenario, type Scenario, scenarioRecord } from '../../src/scenario/index.js';
import { MAX_QUERY_SCENARIO_CHARS } from '../../src/serving/index.js';
import { build, holdoutLoans } from '../helpers/app.js';
import { seededRandom } from '../helpers/random.js';
import { housePricesMargin, scenarioModelDir } from '../helpers/scenario-model.js';
import { parseCsv, toCsv } from './helpers.js';

/**
 * A CSV tape under a custom path too long for a query (a state-level path: every state, 40 quarters):
 * a multipart/form-data body with a `scenario` part (JSON, as a JSON tape's own "scenario") and then the
 * `tape` part, on POST /pools/score and POST /pools/lifetime. Checked against the hand-written scenario
 * model's known PD, against the same loans as a JSON tape naming the same scenario, and on one and two
 * threads; every refusal names its part.
 */

const dir = scenarioModelDir();
const loans = holdoutLoans.slice(0, 200);
const csv = toCsv(loans);

/** Every state, 40 quarters, at full precision: far longer than a query may hold, well within a part. */
const random = seededRandom(41);
const path = (n: number) => Array.from({ length: n }, () => (random() - 0.6) * 0.05);
const BIG = {
  name: 'every_state',
  national: path(40),
  states: Object.fromEntries(CONTRACT.us_states.map((s) => [s, path(40)])),
};
const BIG_TEXT = JSON.stringify(BIG);

// build() closes its apps after each test (test/helpers/app.ts): one per thread count and test.
const appFor = new Map<string, Promise<FastifyInstance>>();
afterEach(() => appFor.clear());
const app = (threads = '1') => {
  let a = appFor.get(threads);
  if (a === undefined) {
    a = build({ MODEL_DIR: dir, DEFAULT_MODEL: 'house_prices', POOL_THREADS: threads });
    appFor.set(threads, a);
  }
  return a;
};

type Part = [name: string, content: string, type?: string];
const BOUNDARY = 'scenario-part-7MA4YWxkTrZu0gW';
const multipart = (parts: readonly Part[], boundary = BOUNDARY) =>
  `${parts
    .map(
      ([name, content, type]) =>
        `--${boundary}\r\nContent-Disposition: form-data; name="${name}"; filename="${name}"\r\n` +
        `${type === undefined ? '' : `Content-Type: ${type}\r\n`}\r\n${content}\r\n`,
    )
    .join('')}--${boundary}--\r\n`;

const post = async (
  url: string,
  payload: string,
  { type = `multipart/form-data; boundary=${BOUNDARY}`, accept, threads = '1' } = {} as {
    type?: string;
    accept?: string;
    threads?: string;
  },
) =>
  (await app(threads)).inject({
    method: 'POST',
    url,
    payload,
    headers: { 'content-type': type, ...(accept === undefined ? {} : { accept }) },
  });

const resolve = (spec: unknown) => checkScenario(spec).scenario as Scenario;
const expectedPd = (loan: LoanRecord, spec: unknown) =>
  1 / (1 + Math.exp(-housePricesMargin(scenarioRecord(loan, resolve(spec)))));

describe('POST /pools/score with a scenario part', () => {
  it('scores a CSV tape under a state-level path no query can hold, on one thread and on two alike', async () => {
    expect(BIG_TEXT.length).toBeGreaterThan(MAX_QUERY_SCENARIO_CHARS);
    expect(BIG_TEXT.length).toBeLessThan(MAX_SCENARIO_BYTES);
    const tooLong = await post(`/pools/score?scenario=${encodeURIComponent(BIG_TEXT)}`, csv, { type: 'text/csv' });
    expect(tooLong.statusCode).toBe(400);

    const body = multipart([
      ['scenario', BIG_TEXT, 'application/json'],
      ['tape', csv, 'text/csv'],
    ]);
    const one = await post('/pools/score', body, { accept: 'text/csv' });
    expect(one.statusCode, one.body).toBe(200);
    expect(one.headers['x-pool-scenario']).toBe('every_state');
    const rows = parseCsv(one.body).slice(1);
    expect(rows).toHaveLength(loans.length);
    // The model's own PD under the path, loan by loan (the scenario's features differ state by state).
    rows.forEach((r, i) => {
      expect(Number(r[2])).toBeCloseTo(expectedPd(loans[i] as LoanRecord, BIG), 14);
    });
    const baseline = loans.map((l) => expectedPd(l, 'baseline'));
    expect(rows.filter((r, i) => Math.abs(Number(r[2]) - (baseline[i] as number)) > 1e-6).length).toBeGreaterThan(
      loans.length / 2,
    );
    // The tape part on the worker threads, whatever its declared type: the same bytes.
    for (const type of ['text/csv', 'application/octet-stream', undefined]) {
      const two = await post(
        '/pools/score',
        multipart([
          ['scenario', BIG_TEXT],
          ['tape', csv, type],
        ]),
        { accept: 'text/csv', threads: '2' },
      );
      expect(two.statusCode, String(type)).toBe(200);
      expect(two.body).toBe(one.body);
      expect(two.headers['x-pool-expected-loss']).toBe(one.headers['x-pool-expected-loss']);
    }
  });

  it('reads a CSV tape part on the worker threads, and a JSON one on the event loop', async () => {
    // A worker exits on a run holding the marker: the answer then is a 500, which only a worker can cause.
    TapeThreads.crashMarkerForTests = 'CRASH-NOW';
    try {
      const id = loans[0]?.loan_sequence_number as string;
      const marked = csv.replace(id, 'CRASH-NOW');
      const parts = (tape: string, type: string) =>
        multipart([
          ['scenario', BIG_TEXT],
          ['tape', tape, type],
        ]);
      expect((await post('/pools/score', parts(marked, 'text/csv'), { threads: '2' })).statusCode).toBe(500);
      expect((await post('/pools/score', parts(marked, 'text/csv'))).statusCode).toBe(200);
      const json = JSON.stringify({ loans: [{ ...loans[0], loan_sequence_number: 'CRASH-NOW' }, ...loans.slice(1)] });
      expect((await post('/pools/score', parts(json, 'application/json'), { threads: '2' })).statusCode).toBe(200);
    } finally {
      TapeThreads.crashMarkerForTests = undefined;
    }
  });

  it('answers what the same loans as a JSON tape naming the same scenario answer, a JSON tape part too', async () => {
    const asJson = await post('/pools/score', JSON.stringify({ scenario: BIG, loans }), { type: 'application/json' });
    const asCsv = await post(
      '/pools/score',
      multipart([
        ['scenario', BIG_TEXT],
        ['tape', csv],
      ]),
    );
    const jsonPart = await post(
      '/pools/score',
      multipart([
        ['scenario', BIG_TEXT],
        ['tape', JSON.stringify({ loans }), 'application/json'],
      ]),
    );
    expect(asJson.statusCode).toBe(200);
    expect(asCsv.statusCode).toBe(200);
    expect(jsonPart.statusCode).toBe(200);
    const { format: _f1, ...fromJson } = asJson.json();
    const { format, ...fromCsv } = asCsv.json();
    expect(format).toBe('csv');
    expect(fromCsv).toEqual(fromJson);
    expect(jsonPart.json()).toEqual(asJson.json());
    // No scenario part: the query's scenario, as for a plain CSV body.
    const plain = await post('/pools/score?scenario=adverse', csv, { type: 'text/csv' });
    const tapeOnly = await post('/pools/score?scenario=adverse', multipart([['tape', csv, 'text/csv']]));
    expect(tapeOnly.statusCode).toBe(200);
    expect(tapeOnly.json()).toEqual(plain.json());
  });

  it('takes the same scenario in the part and the query or the JSON tape; a different one conflicts', async () => {
    const same = await post(
      '/pools/score?scenario=adverse',
      multipart([
        ['scenario', '"adverse"'],
        ['tape', csv],
      ]),
    );
    expect(same.statusCode).toBe(200);
    expect(same.json().scenario).toBe('adverse');
    const clash = await post(
      '/pools/score?scenario=adverse',
      multipart([
        ['scenario', '"severely_adverse"'],
        ['tape', csv],
      ]),
    );
    expect(clash.statusCode).toBe(400);
    expect(clash.json().code).toBe('SCENARIO_CONFLICT');
    expect(clash.json().message).toMatch(/in the scenario part but "adverse" in the query/);
    const tapeClash = await post(
      '/pools/score',
      multipart([
        ['scenario', BIG_TEXT],
        ['tape', JSON.stringify({ scenario: 'adverse', loans }), 'application/json'],
      ]),
    );
    expect(tapeClash.statusCode).toBe(400);
    expect(tapeClash.json().code).toBe('SCENARIO_CONFLICT');
    expect(tapeClash.json().message).toMatch(/in the tape but a custom path in the scenario part/);
  });

  it.each<[string, string, string | RegExp, string]>([
    [
      'a scenario part after the tape',
      'body.scenario',
      /must come before the tape part/,
      multipart([
        ['tape', csv],
        ['scenario', '"adverse"'],
      ]),
    ],
    [
      'two scenario parts',
      'body.scenario',
      /is given twice/,
      multipart([
        ['scenario', '"adverse"'],
        ['scenario', '"adverse"'],
        ['tape', csv],
      ]),
    ],
    [
      'a scenario part that is not JSON',
      'body.scenario',
      /must be JSON, as a JSON tape's "scenario"/,
      multipart([
        ['scenario', 'adverse'],
        ['tape', csv],
      ]),
    ],
    [
      'an empty scenario part',
      'body.scenario',
      /is empty/,
      multipart([
        ['scenario', ' \r\n '],
        ['tape', csv],
      ]),
    ],
    [
      'a scenario part longer than a JSON tape may name',
      'body.scenario',
      `is longer than ${MAX_SCENARIO_BYTES} bytes`,
      multipart([
        ['scenario', JSON.stringify({ national: new Array(20_000).fill(0.01) })],
        ['tape', csv],
      ]),
    ],
    [
      'an invalid custom path',
      'scenario.national',
      /./,
      multipart([
        ['scenario', '{"national": "down"}'],
        ['tape', csv],
      ]),
    ],
    ['no tape part', 'body.tape', /is required/, multipart([['scenario', '"adverse"']])],
    [
      'two tape parts',
      'body.tape',
      /is given twice/,
      multipart([
        ['tape', csv],
        ['tape', csv],
      ]),
    ],
    ['a part of another name', 'body.loans', /is not a part of this request/, multipart([['loans', csv]])],
    ['a body without its closing boundary', 'body', /closing boundary/, multipart([['tape', csv]]).slice(0, -10)],
  ])('refuses %s, naming %s', async (_, field, message, payload) => {
    const res = await post('/pools/score', payload);
    expect(res.statusCode, res.body).toBe(400);
    const detail = res.json().details.find((d: { field: string }) => d.field === field);
    expect(detail, JSON.stringify(res.json().details)).toBeDefined();
    expect(detail.message).toMatch(message);
  });

  it('refuses a multipart body without a boundary, and a format its tape part contradicts', async () => {
    const noBoundary = await post('/pools/score', multipart([['tape', csv]]), { type: 'multipart/form-data' });
    expect(noBoundary.statusCode).toBe(400);
    expect(noBoundary.json().details[0].field).toBe('headers.content-type');
    const contradicted = await post(
      '/pools/score?format=csv',
      multipart([['tape', '{"loans": []}', 'application/json']]),
    );
    expect(contradicted.statusCode).toBe(400);
    expect(contradicted.json().details[0].field).toBe('query.format');
    // ?format= decides for a part of no declared type.
    const asked = await post('/pools/score?format=csv', multipart([['tape', csv]]));
    expect(asked.statusCode).toBe(200);
    expect(asked.json().format).toBe('csv');
  });

  it('counts every byte of the body against POOL_MAX_BYTES', async () => {
    const small = await build({ MODEL_DIR: dir, DEFAULT_MODEL: 'house_prices', POOL_MAX_BYTES: '20000' });
    try {
      const res = await small.inject({
        method: 'POST',
        url: '/pools/score',
        payload: multipart([
          ['scenario', BIG_TEXT],
          ['tape', csv.slice(0, 2000)],
        ]),
        headers: { 'content-type': `multipart/form-data; boundary=${BOUNDARY}`, 'transfer-encoding': 'chunked' },
      });
      expect(res.statusCode).toBe(413);
    } finally {
      await small.close();
    }
  });
});

describe('a null scenario is no scenario', () => {
  it('answers as if it were left out, beside a query or alone, in a body, a JSON tape or a scenario part', async () => {
    const few = loans.slice(0, 30);
    const asJson = (extra: object) => JSON.stringify({ ...extra, loans: few });
    const json = { type: 'application/json' };
    const pairs: [string, string, string, string, { type: string }][] = [];
    for (const query of ['', '?scenario=adverse']) {
      const and = query === '' ? '?' : '&';
      pairs.push(
        ['/predict', query, JSON.stringify({ ...few[0], scenario: null }), JSON.stringify(few[0]), json],
        ['/pools/score', `${query}${and}loans=true`, asJson({ scenario: null }), asJson({}), json],
        ['/pools/lifetime', query, asJson({ scenario: null }), asJson({}), json],
      );
    }
    for (const [route, query, withNull, without, options] of pairs) {
      const a = await post(`${route}${query}`, withNull, options);
      const b = await post(`${route}${query}`, without, options);
      expect(a.statusCode, `${route}${query}: ${a.body.slice(0, 200)}`).toBe(200);
      expect(a.json(), `${route}${query}`).toEqual(b.json());
    }
    // The scenario part: null, beside the query.
    const tape = toCsv(few);
    const part = await post(
      '/pools/score?scenario=adverse',
      multipart([
        ['scenario', 'null'],
        ['tape', tape],
      ]),
    );
    const plain = await post('/pools/score?scenario=adverse', tape, { type: 'text/csv' });
    expect(part.statusCode, part.body.slice(0, 200)).toBe(200);
    expect(part.json()).toEqual(plain.json());
    expect(part.json().scenario).toBe('adverse');
  });
});

describe('samples/bust-replay-scenario.json', () => {
  it('is what scripts/scenario-sample.ts writes, a valid path longer than a query holds', async () => {
    const { stdout } = await promisify(execFile)(process.execPath, [
      '--import',
      'tsx',
      'scripts/scenario-sample.ts',
      '--check',
    ]);
    expect(stdout).toMatch(/is current/);
    const text = readFileSync('samples/bust-replay-scenario.json', 'utf8');
    expect(text.length).toBeGreaterThan(MAX_QUERY_SCENARIO_CHARS);
    expect(checkScenario(JSON.parse(text)).scenario?.name).toBe('bust_2006_replay');
  });
});

describe('POST /pools/lifetime with a scenario part', () => {
  it('projects a CSV tape under the scenarios of the part, as a JSON tape naming them, on one thread and two', async () => {
    const pool = loans.slice(0, 40);
    const spec = [BIG, 'adverse'];
    const url = '/pools/lifetime?prepayment=scenario';
    const fromJson = await post(url, JSON.stringify({ scenario: spec, loans: pool }), { type: 'application/json' });
    expect(fromJson.statusCode, fromJson.body).toBe(200);
    expect(fromJson.json().scenarios.map((s: { scenario: string }) => s.scenario)).toEqual(['every_state', 'adverse']);
    const body = multipart([
      ['scenario', JSON.stringify(spec), 'application/json'],
      ['tape', toCsv(pool), 'text/csv'],
    ]);
    for (const threads of ['1', '2']) {
      const fromPart = await post(url, body, { threads });
      expect(fromPart.statusCode, fromPart.body).toBe(200);
      const { format, ...rest } = fromPart.json();
      const { format: _f, ...expected } = fromJson.json();
      expect(format).toBe('csv');
      expect(rest).toEqual(expected);
    }
    // The per-loan CSV names the part's scenarios, in its header and its rows.
    const perLoan = await post('/pools/lifetime?loans=csv', body);
    expect(perLoan.statusCode).toBe(200);
    expect(perLoan.headers['x-pool-scenarios']).toBe('every_state,adverse');
    const [head = [], ...rows] = parseCsv(perLoan.body);
    expect(rows).toHaveLength(2 * pool.length);
    const column = head.indexOf('scenario');
    expect(new Set(rows.map((r) => r[column]))).toEqual(new Set(['every_state', 'adverse']));
  });

  it('refuses a part naming other scenarios than the query, and names a bad one in the part', async () => {
    const pool = toCsv(loans.slice(0, 10));
    const clash = await post(
      '/pools/lifetime?scenario=adverse',
      multipart([
        ['scenario', '["baseline", "adverse"]'],
        ['tape', pool],
      ]),
    );
    expect(clash.statusCode).toBe(400);
    expect(clash.json().code).toBe('SCENARIO_CONFLICT');
    expect(clash.json().message).toMatch(/in the scenario part but "adverse" in the query/);
    const same = await post(
      '/pools/lifetime?scenario=baseline,adverse',
      multipart([
        ['scenario', '["baseline", "adverse"]'],
        ['tape', pool],
      ]),
    );
    expect(same.statusCode).toBe(200);
    const invalid = await post(
      '/pools/lifetime',
      multipart([
        ['scenario', '["baseline", {"name": "short", "national": [0.01]}]'],
        ['tape', pool],
      ]),
    );
    expect(invalid.statusCode).toBe(400);
    expect(invalid.json().details.map((d: { field: string }) => d.field)).toContain('scenario[1].national');
    const late = await post(
      '/pools/lifetime',
      multipart([
        ['tape', pool],
        ['scenario', '"adverse"'],
      ]),
    );
    expect(late.statusCode).toBe(400);
    expect(late.json().details[0].field).toBe('body.scenario');
  });
});
