import type { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { HeldCsv } from '../../plugins/routes/held-csv.js';
import { LOANS_HOLD_CHARS } from '../../plugins/routes/lifetime.js';
import { loanTerms, MAX_TERM, monthlyHpi, plan, projectLoan } from '../../src/loss/index.js';
import { LifetimeTape } from '../../src/pool/lifetime.js';
import { LOAN_COLUMNS, type LoanSink } from '../../src/pool/lifetime-loans.js';
import { type LoanRecord, loadModelFile } from '../../src/runtime/index.js';
import { checkScenario, type Scenario, scenarioRecord } from '../../src/scenario/index.js';
import { build, exampleLoan, holdoutLoans } from '../helpers/app.js';
import { parseCsv, postStreamed, toCsv } from './helpers.js';

/**
 * Per-loan lifetime figures (issue 22): POST /pools/lifetime?loans=csv and the LoanCsv sink of LifetimeTape.
 * One row per loan per scenario, whose sums are the pool's answer; held while small (a refusal still answers
 * 400), streamed after (a refusal then aborts the transfer).
 */

const loans = holdoutLoans.slice(0, 120);

async function post(url: string, payload: string) {
  const app = await build();
  return app.inject({ method: 'POST', url, payload, headers: { 'content-type': 'text/csv' } });
}

const rowsOf = (csv: string) => {
  const [head, ...rows] = parseCsv(csv);
  return rows.map((r) => Object.fromEntries((head as string[]).map((h, i) => [h, r[i] as string])));
};

describe('POST /pools/lifetime?loans=csv', () => {
  it('answers one row per loan per scenario, in tape order, summing to the pool answer', async () => {
    const url = '/pools/lifetime?model=lda&scenario=baseline,severely_adverse&cpr=0.06';
    const [csv, json] = await Promise.all([post(`${url}&loans=csv`, toCsv(loans)), post(url, toCsv(loans))]);
    expect(csv.statusCode).toBe(200);
    expect(csv.headers['content-type']).toBe('text/csv; charset=utf-8');
    expect(csv.headers['x-pool-scenarios']).toBe('baseline,severely_adverse');
    expect(csv.body.slice(0, csv.body.indexOf('\n'))).toBe(LOAN_COLUMNS.join(','));
    const rows = rowsOf(csv.body);
    expect(rows).toHaveLength(2 * loans.length);
    // Tape order, the scenarios of each loan in the order asked.
    rows.forEach((r, k) => {
      expect(r.row).toBe(String(2 + Math.floor(k / 2)));
      expect(r.scenario).toBe(k % 2 === 0 ? 'baseline' : 'severely_adverse');
      expect(r.loan_sequence_number).toBe(loans[Math.floor(k / 2)]?.loan_sequence_number);
    });
    // The sums are the pool's figures (one loan's own figures: the next test).
    for (const s of json.json().scenarios) {
      const mine = rows.filter((r) => r.scenario === s.scenario);
      const sum = (f: string) => mine.reduce((a, r) => a + Number(r[f]), 0);
      const weighted = (f: string) =>
        mine.reduce((a, r) => a + Number(r[f]) * Number(r.balance), 0) / s.initial_balance;
      for (const f of LOAN_COLUMNS.filter((c) => c.startsWith('expected_loss'))) {
        expect(sum(f) / s[f]).toBeCloseTo(1, 12);
      }
      expect(sum('balance')).toBeCloseTo(s.initial_balance, 4);
      expect(weighted('lifetime_pd') / s.lifetime_pd).toBeCloseTo(1, 12);
      expect(weighted('pd_36m') / s.pd_36m).toBeCloseTo(1, 12);
      expect(weighted('wal_years') / s.wal_years).toBeCloseTo(1, 12);
    }
  }, 60_000);

  it("gives one loan's figures as the engine projects it", async () => {
    const loan = { ...exampleLoan, original_loan_term: 240 } as unknown as LoanRecord;
    const res = await post('/pools/lifetime?model=lda&scenario=adverse&sda=2&loans=csv', toCsv([loan]));
    expect(res.statusCode).toBe(200);
    const [row] = rowsOf(res.body);
    const lda = await loadModelFile('model-artifacts/lda/1.0.0.json');
    const scenario = checkScenario('adverse').scenario as Scenario;
    const pd = lda.scoreMany([scenarioRecord(loan, scenario)]).probability[0] as number;
    const terms = loanTerms(loan as unknown as Record<string, unknown>, pd);
    if (terms === undefined) throw new Error('the example loan has terms');
    const p = plan({
      timing: 'seasoning',
      prepayment: { kind: 'psa', multiple: 1 },
      recoveryLag: 12,
      defaults: { kind: 'sda', multiple: 2 },
    });
    const r = projectLoan(p, terms, monthlyHpi(loan as unknown as Record<string, unknown>, scenario, MAX_TERM).ratio);
    expect(row).toEqual({
      row: '2',
      loan_sequence_number: String(loan.loan_sequence_number),
      scenario: 'adverse',
      probability_of_default: String(pd),
      balance: String(terms.balance),
      expected_loss_12m: String(r.expectedLoss12m),
      expected_loss_36m: String(r.expectedLoss36m),
      expected_loss_lifetime: String(r.expectedLossLifetime),
      expected_loss_12m_discounted: String(r.discountedLoss12m),
      expected_loss_36m_discounted: String(r.discountedLoss36m),
      expected_loss_lifetime_discounted: String(r.discountedLossLifetime),
      pd_36m: String(r.pd36),
      lifetime_pd: String(r.lifetimePd),
      wal_years: String(r.wal),
    });
  }, 60_000);

  it('refuses a tape with a bad row with 400 while the answer is held, and an unknown loans value', async () => {
    const bad = `${toCsv(loans).trim()}\nnot,a,loan\n`;
    const [refused, skipped, unknown] = await Promise.all([
      post('/pools/lifetime?model=lda&loans=csv', bad),
      post('/pools/lifetime?model=lda&loans=csv&on_error=skip', bad),
      post('/pools/lifetime?model=lda&loans=json', toCsv(loans)),
    ]);
    expect(refused.statusCode).toBe(400);
    expect(refused.json().details[0].field).toBe(`line ${loans.length + 2}`);
    expect(skipped.statusCode).toBe(200);
    expect(rowsOf(skipped.body)).toHaveLength(loans.length);
    expect(unknown.statusCode).toBe(400);
    expect(unknown.json().details[0].field).toBe('query.loans');
  }, 60_000);

  it('streams an answer larger than the hold; a refusal after that aborts the transfer', async () => {
    // About 180 characters a row: 2 scenarios × 4,000 loans is above the 1 MiB hold.
    const many = Array.from({ length: 4000 }, (_, i) => holdoutLoans[i % holdoutLoans.length] as LoanRecord);
    const app = await build();
    await app.listen({ port: 0, host: '127.0.0.1' });
    const port = (app.server.address() as { port: number }).port;
    const send = (payload: string) =>
      postStreamed(port, '/pools/lifetime?model=lda&scenario=baseline,adverse&loans=csv', payload);
    const good = await send(toCsv(many));
    expect(good.status).toBe(200);
    expect(good.complete).toBe(true);
    expect(good.body.length).toBeGreaterThan(LOANS_HOLD_CHARS);
    expect(rowsOf(good.body)).toHaveLength(2 * many.length);
    const late = await send(`${toCsv(many).trim()}\nnot,a,loan\n`);
    expect(late.status).toBe(200); // the answer had started
    expect(late.complete).toBe(false);
    expect(late.body.length).toBeLessThan(good.body.length);
  }, 60_000);
});

describe('LoanCsv and HeldCsv: memory bounded', () => {
  it('LifetimeTape tells the sink chunk by chunk: each write holds at most one chunk of loans', async () => {
    const lda = await loadModelFile('model-artifacts/lda/1.0.0.json');
    const calls: { adds: number; chunk: number }[] = [];
    let adds = 0;
    const sink: LoanSink = {
      add: () => {
        adds++;
      },
      chunk: (n) => {
        calls.push({ adds, chunk: n });
        adds = 0;
      },
    };
    const scenarios = ['baseline', 'adverse'].map((n) => checkScenario(n).scenario as Scenario);
    const tape = new LifetimeTape({
      model: lda,
      scenarios,
      loss: { timing: 'seasoning', prepayment: { kind: 'none' }, recoveryLag: 0 },
      onError: 'fail',
      maxRows: 1e6,
      chunkRows: 50,
      format: 'csv',
      loans: sink,
    });
    tape.push(Buffer.from(toCsv(loans)));
    await tape.end();
    expect(calls).toEqual([
      { adds: 100, chunk: 50 },
      { adds: 100, chunk: 50 },
      { adds: 40, chunk: 20 },
    ]);
  });

  it('HeldCsv holds up to its bound, then sends once and streams, pausing the reader while the client lags', async () => {
    let sent: PassThrough | undefined;
    let starts = 0;
    const held = new HeldCsv(100, (out) => {
      starts++;
      sent = out;
    });
    held.write('a'.repeat(60));
    expect(held.started).toBe(false);
    expect(held.wait()).toBeUndefined();
    held.write('b'.repeat(60));
    expect(held.started).toBe(true);
    expect(starts).toBe(1);
    expect(held.text()).toBe('');
    held.write('c'.repeat(64 * 1024)); // above the stream's high-water mark: nobody reads yet
    const waiting = held.wait();
    expect(waiting).toBeInstanceOf(Promise);
    let body = '';
    sent?.setEncoding('utf8');
    sent?.on('data', (d: string) => {
      body += d;
    });
    await waiting;
    held.end();
    await new Promise((resolve) => sent?.on('end', resolve));
    expect(body).toBe(`${'a'.repeat(60)}${'b'.repeat(60)}${'c'.repeat(64 * 1024)}`);
    expect(starts).toBe(1);
  });
});
