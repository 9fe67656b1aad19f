import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { prefersCsv } from '../../plugins/routes/pools.js';
import { loadModelFile } from '../../src/runtime/index.js';
import { build, exampleLoan, holdoutLoans } from '../helpers/app.js';
import { tempDir } from '../helpers/temp.js';
import { baselinePds, close, expectedPool, parseCsv, toCsv, toFreddie } from './helpers.js';

const xgboost = await loadModelFile('model-artifacts/xgboost/1.0.0.json');
const gbm = await loadModelFile('model-artifacts/gradient_boosting/1.0.0.json');
const loans = holdoutLoans.slice(0, 1000);
const csv = toCsv(loans);

// One app per configuration within a test (helpers/app.ts closes them after each test).
const apps = new Map<string, Promise<FastifyInstance>>();
afterEach(() => apps.clear());
const appFor = (env: Record<string, string>) => {
  const key = JSON.stringify(env);
  if (!apps.has(key)) apps.set(key, build(env));
  return apps.get(key) as Promise<FastifyInstance>;
};

const post = async (
  payload: string | Buffer,
  {
    url = '/pools/score',
    type = 'text/csv',
    accept,
    env = {},
  }: { url?: string; type?: string; accept?: string; env?: Record<string, string> } = {},
) => {
  const app = await appFor(env);
  return app.inject({
    method: 'POST',
    url,
    payload,
    headers: { 'content-type': type, ...(accept ? { accept } : {}) },
  });
};

describe('POST /pools/score', () => {
  it('answers the pool figures of a CSV tape, equal to an independent computation', async () => {
    const res = await post(csv, { url: '/pools/score?model=gradient_boosting&lgd=0.4' });
    expect(res.statusCode).toBe(200);
    const body = res.json();
    const expected = expectedPool(gbm, loans, 0.4);
    expect(body).toMatchObject({
      model: 'gradient_boosting',
      version: '1.0.0',
      format: 'csv',
      lgd: 0.4,
      ead: 'original_upb',
    });
    expect(body.rows).toBe(1000);
    expect(body.loan_count).toBe(1000);
    expect(body.total_original_upb).toBe(expected.total_original_upb);
    expect(close(body.upb_weighted_pd, expected.upb_weighted_pd)).toBe(true);
    expect(close(body.expected_loss, expected.expected_loss)).toBe(true);
    expect(body.rejected).toEqual({ count: 0, rows: [] });
    expect(body.by_vintage.map((b: { band: string }) => b.band)).toEqual(Object.keys(expected.by_vintage).sort());
    expect(body.results).toBeUndefined();
  });

  it('uses DEFAULT_MODEL and LGD 0.35 by default, and takes Freddie Mac and JSON tapes', async () => {
    const a = (await post(csv)).json();
    expect(a.model).toBe('xgboost');
    expect(a.lgd).toBe(0.35);
    const freddie = (await post(toFreddie(loans))).json();
    expect(freddie.format).toBe('freddie');
    expect(freddie.upb_weighted_pd).toBe(a.upb_weighted_pd);
    expect((await post(toFreddie(loans), { url: '/pools/score?format=freddie' })).json().format).toBe('freddie');
    const json = (await post(JSON.stringify({ loans }), { type: 'application/json; charset=utf-8' })).json();
    expect(json.format).toBe('json');
    expect(json.expected_loss).toBe(a.expected_loss);
    expect((await post(csv, { env: { DEFAULT_MODEL: 'lda' } })).json().model).toBe('lda');
  });

  it('adds per-loan results in input order with ?loans=true', async () => {
    const res = await post(csv, { url: '/pools/score?loans=true' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    const body = res.json();
    const pd = baselinePds(xgboost, loans);
    expect(body.loan_count).toBe(1000);
    expect(body.results).toHaveLength(1000);
    expect(body.results[0]).toEqual({
      row: 2,
      loan_sequence_number: loans[0]?.loan_sequence_number,
      probability_of_default: pd[0],
      log_odds: expect.any(Number),
      above_cutoff: (pd[0] as number) >= xgboost.decisionThreshold,
      expected_loss: (pd[0] as number) * 0.35 * (loans[0]?.original_upb as number),
    });
    expect(body.results.map((r: { probability_of_default: number }) => r.probability_of_default)).toEqual([...pd]);
  });

  it('answers per-loan CSV for Accept: text/csv, with the pool figures in X-Pool-* headers', async () => {
    const res = await post(csv, { accept: 'text/csv' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('text/csv; charset=utf-8');
    const lines = res.body.trim().split('\n');
    expect(lines[0]).toBe('row,loan_sequence_number,probability_of_default,log_odds,above_cutoff,expected_loss');
    expect(lines).toHaveLength(1001);
    const pd = baselinePds(xgboost, loans);
    expect(lines.slice(1).map((l) => Number(l.split(',')[2]))).toEqual([...pd]);
    const summary = (await post(csv)).json();
    expect(Number(res.headers['x-pool-loan-count'])).toBe(1000);
    expect(Number(res.headers['x-pool-expected-loss'])).toBe(summary.expected_loss);
    expect(Number(res.headers['x-pool-upb-weighted-pd'])).toBe(summary.upb_weighted_pd);
    expect(res.headers['x-pool-rows-rejected']).toBe('0');
  });

  it('neutralises spreadsheet formulas in per-loan CSV (OWASP): a leading =, +, -, @, tab or CR gets a quote', async () => {
    // (Tab and CR, which the tape readers may refuse in an identifier, are covered by csvCell's own test.)
    const ids = ['=1+2', '+SUM(A1)', '-2+3', '@cmd', 'F05Q1,=x', 'plain-1', 'a"b'];
    const tape = toCsv(ids.map((id) => ({ ...exampleLoan, loan_sequence_number: id })));
    const res = await post(tape, { accept: 'text/csv' });
    expect(res.statusCode).toBe(200);
    const cells = parseCsv(res.body)
      .slice(1)
      .map((r) => r[1]);
    expect(cells).toEqual(["'=1+2", "'+SUM(A1)", "'-2+3", "'@cmd", 'F05Q1,=x', 'plain-1', 'a"b']);
    // Every altered cell is quoted, so a spreadsheet reads the quote as text, not as a prefix.
    expect(res.body).toContain(`,"'=1+2",`);
    // JSON answers echo the identifiers unchanged.
    const json = (await post(tape, { url: '/pools/score?loans=true' })).json();
    expect(json.results.map((r: { loan_sequence_number: string }) => r.loan_sequence_number)).toEqual(ids);
  });

  it('never answers a non-finite score: a model that gives one fails the tape with a generic 500', async () => {
    // An LDA without `impute` for credit_score scores a loan without one as NaN (an artifact defect
    // that loads); the tape must not come back as 200 with NaN in it, nor count the loan in a band.
    const modelDir = tempDir('nan-model-');
    mkdirSync(join(modelDir, 'lda'));
    const doc = JSON.parse(readFileSync('model-artifacts/lda/1.0.0.json', 'utf8'));
    delete doc.columns[0].impute;
    writeFileSync(join(modelDir, 'lda', '1.0.0.json'), JSON.stringify(doc));
    const env = { MODEL_DIR: modelDir, DEFAULT_MODEL: 'lda' };
    const tape = toCsv([exampleLoan, { ...exampleLoan, credit_score: null }]);
    for (const options of [{ env }, { env, accept: 'text/csv' }, { env, url: '/pools/score?loans=true' }]) {
      const res = await post(tape, options);
      expect([options, res.statusCode]).toEqual([options, 500]);
      expect(res.json().message).not.toMatch(/lda|credit|NaN/); // generic: details go to the log
      expect(res.body).not.toMatch(/NaN|Infinity|lda/);
    }
    expect((await post(toCsv([exampleLoan]), { env })).statusCode).toBe(200);
  });

  it('refuses a tape with bad rows: 400 naming the first rows and fields, nothing scored', async () => {
    const lines = csv.trim().split('\n');
    // Column 2 is credit_score (toCsv writes the loan record's order, the identifier first).
    const setScore = (line: string, value: string) => line.replace(/^([^,]*),[^,]*,/, `$1,${value},`);
    lines[3] = setScore(lines[3] as string, '12abc');
    lines[200] = setScore(lines[200] as string, '1e999');
    const res = await post(`${lines.join('\n')}\n`);
    expect(res.statusCode).toBe(400);
    const body = res.json();
    expect(body.code).toBe('VALIDATION_FAILED');
    expect(body.message).toMatch(/^2 invalid rows/);
    expect(body.message).toMatch(/on_error=skip/);
    expect(body.details).toEqual([
      {
        field: 'line 4, credit_score',
        message: 'must be an integer from 300 to 850 (FICO points), or 9999 / null when not available, got "12abc"',
      },
      {
        field: 'line 201, credit_score',
        message: 'must be an integer from 300 to 850 (FICO points), or 9999 / null when not available, got "1e999"',
      },
    ]);
  });

  it('lists at most 100 bad rows but counts them all', async () => {
    const bad = `${toCsv([]).trim()}\n${Array(250).fill('x').join('\n')}\n`;
    const body = (await post(bad)).json();
    expect(body.message).toMatch(/^250 invalid rows/);
    expect(body.details).toHaveLength(100);
    const skipped = (
      await post(`${bad}${csv.split('\n').slice(1).join('\n')}`, { url: '/pools/score?on_error=skip' })
    ).json();
    expect(skipped.rejected.count).toBe(250);
    expect(skipped.rejected.rows).toHaveLength(100);
    expect(skipped.loan_count).toBe(1000);
  });

  it('skips bad rows with ?on_error=skip and lists them', async () => {
    const text = `${csv}${toCsv([{ ...exampleLoan, property_state: 'ZZ' }]).split('\n')[1]}\n`;
    const res = await post(text, { url: '/pools/score?on_error=skip' });
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body.rows).toBe(1001);
    expect(body.loan_count).toBe(1000);
    expect(body.rejected).toEqual({
      count: 1,
      rows: [
        {
          row: 1002,
          loan_sequence_number: 'F06Q10000042',
          problems: [{ field: 'line 1002, property_state', message: 'must be a two-letter USPS state code, got "ZZ"' }],
        },
      ],
    });
  });

  it('names wrong header columns', async () => {
    const res = await post(csv.replace('credit_score', 'fico'));
    expect(res.statusCode).toBe(400);
    expect(res.json().details).toEqual([
      { field: 'line 1 (header)', message: 'column 2, "fico", is not a loan-record field' },
      { field: 'line 1 (header)', message: 'the required column "credit_score" is missing' },
    ]);
  });

  it('answers 413 over POOL_MAX_ROWS and over POOL_MAX_BYTES (declared or streamed)', async () => {
    const rows = await post(csv, { env: { POOL_MAX_ROWS: '999' } });
    expect(rows.statusCode).toBe(413);
    expect(rows.json()).toMatchObject({
      code: 'TAPE_TOO_LARGE',
      message: 'a tape holds at most 999 rows (POOL_MAX_ROWS)',
    });
    expect((await post(csv, { env: { POOL_MAX_ROWS: '1000' } })).statusCode).toBe(200);
    const bytes = await post(csv, { env: { POOL_MAX_BYTES: '10000' } });
    expect(bytes.statusCode).toBe(413);
    expect(bytes.json().code).toBe('FST_ERR_CTP_BODY_TOO_LARGE');
    expect(bytes.json().message).toMatch(/POOL_MAX_BYTES/);
    expect(bytes.headers.connection).toBe('close');
    // A JSON tape may be larger than BODY_LIMIT: this route has its own limit.
    const json = JSON.stringify({ loans });
    expect(json.length).toBeGreaterThan(100_000);
    expect((await post(json, { type: 'application/json', env: { BODY_LIMIT: '100000' } })).statusCode).toBe(200);
    const app = await build({ POOL_MAX_BYTES: '10000' });
    const streamed = await app.inject({
      method: 'POST',
      url: '/pools/score',
      headers: { 'content-type': 'text/csv', 'transfer-encoding': 'chunked' },
      payload: csv,
    });
    expect(streamed.statusCode).toBe(413);
  });

  it('answers 415 for other content types and encodings, 400 for an empty body or a bad query', async () => {
    for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'application/octet-stream']) {
      const res = await post('a,b', { type });
      expect(res.statusCode).toBe(415);
      expect(res.json().message).toMatch(/send text\/csv .*, application\/json .* or multipart\/form-data/);
    }
    const app = await build();
    const gz = await app.inject({
      method: 'POST',
      url: '/pools/score',
      headers: { 'content-type': 'text/csv', 'content-encoding': 'gzip' },
      payload: csv,
    });
    expect(gz.statusCode).toBe(415);
    const empty = await app.inject({ method: 'POST', url: '/pools/score' });
    expect(empty.statusCode).toBe(400);
    expect(empty.json().code).toBe('INVALID_TAPE');
    expect((await post('')).json().message).toMatch(/the tape is empty/);
    expect((await post('{"loans": [', { type: 'application/json' })).json().code).toBe('INVALID_TAPE');
    const bad = async (url: string) => (await post(csv, { url })).json();
    expect((await bad('/pools/score?lgd=0')).details).toEqual([
      {
        field: 'query.lgd',
        message: 'must be a number in (0, 1], the loss given default as a share of the original balance, got "0"',
      },
    ]);
    expect((await bad('/pools/score?lgd=abc')).code).toBe('VALIDATION_FAILED');
    expect((await bad('/pools/score?lgd=1')).lgd).toBe(1);
    expect((await bad('/pools/score?model=all')).details[0].field).toBe('query.model');
    expect((await bad('/pools/score?model=nope')).code).toBe('MODEL_NOT_FOUND');
    expect((await bad('/pools/score?on_error=ignore')).details[0].field).toBe('query.on_error');
    expect((await bad('/pools/score?format=json')).details[0].field).toBe('query.format');
    expect((await bad('/pools/score?colour=red')).details[0].field).toBe('query.colour');
  });

  it('keeps /predict on its own JSON parser and limits', async () => {
    const app = await build({ BODY_LIMIT: '2000' });
    const ok = await app.inject({ method: 'POST', url: '/predict', payload: exampleLoan });
    expect(ok.statusCode).toBe(200);
    const big = await app.inject({ method: 'POST', url: '/predict', payload: { loans: loans.slice(0, 20) } });
    expect(big.statusCode).toBe(413);
    const csvToPredict = await app.inject({
      method: 'POST',
      url: '/predict',
      headers: { 'content-type': 'text/csv' },
      payload: 'a,b',
    });
    expect(csvToPredict.statusCode).toBe(415);
  });

  it('counts tapes, loans and rejected rows in the metrics, with bounded labels', async () => {
    const app = await build();
    const send = (payload: string, url = '/pools/score') =>
      app.inject({ method: 'POST', url, payload, headers: { 'content-type': 'text/csv' } });
    expect((await send(csv)).statusCode).toBe(200);
    expect((await send(toFreddie(loans.slice(0, 10)), '/pools/score?model=lda')).statusCode).toBe(200);
    const withBad = `${csv}x\n`;
    expect((await send(withBad)).statusCode).toBe(400);
    expect((await send(withBad, '/pools/score?on_error=skip')).statusCode).toBe(200);
    const text = (await app.inject({ method: 'GET', url: '/metrics' })).body;
    expect(text).toContain('pool_tapes_scored_total{model="xgboost",format="csv"} 2');
    expect(text).toContain('pool_tapes_scored_total{model="lda",format="freddie"} 1');
    expect(text).toContain('pool_tapes_scored_total{model="logistic_regression",format="json"} 0');
    expect(text).toContain('pool_loans_scored_total{model="xgboost"} 2000');
    expect(text).toContain('pool_rows_rejected_total{model="xgboost"} 2');
    expect(text).toContain('pool_tape_size_loans_bucket{le="1000"} 3');
    expect(text).toContain('pool_tape_size_loans_count 3');
    expect(text).toContain('pool_tapes_in_flight 0');
  });

  it('documents the route in the OpenAPI document', async () => {
    const app = await build();
    const doc = (await app.inject({ method: 'GET', url: '/openapi.json' })).json();
    const op = doc.paths['/pools/score'].post;
    expect(op.parameters.map((p: { name: string }) => p.name).sort()).toEqual([
      'format',
      'lgd',
      'loans',
      'model',
      'on_error',
      'reasons',
      'scenario',
      'version',
    ]);
    expect(op.responses['200']).toBeDefined();
  });
});

describe('content negotiation', () => {
  it('answers CSV only when text/csv comes before JSON in Accept', () => {
    expect(prefersCsv('text/csv')).toBe(true);
    expect(prefersCsv('text/csv; charset=utf-8, application/json')).toBe(true);
    expect(prefersCsv('application/json, text/csv')).toBe(false);
    expect(prefersCsv('text/csv;q=0, application/json')).toBe(false);
    expect(prefersCsv('*/*')).toBe(false);
    expect(prefersCsv(undefined)).toBe(false);
  });
});
