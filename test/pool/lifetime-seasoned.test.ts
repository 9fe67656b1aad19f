import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LOAN_FIELDS } from '../../src/loan/record.js';
import {
  CURRENT_UPB,
  LOAN_AGE,
  type LoanTerms,
  type LossOptions,
  loanTerms,
  MAX_TERM,
  monthlyHpi,
  monthlyMarketRate,
  PoolLoss,
  plan,
  seasonedInputs,
} from '../../src/loss/index.js';
import { type LoanRecord, loadModelFile } from '../../src/runtime/index.js';
import { checkScenario, type Scenario } from '../../src/scenario/index.js';
import { build, holdoutLoans } from '../helpers/app.js';
import { scenarioModelDir } from '../helpers/scenario-model.js';
import { toCsv } from './helpers.js';

/**
 * POST /pools/lifetime with seasoned loans (issue 22; docs/LOSS.md "Seasoned loans", docs/API.md): the optional
 * tape-only columns `loan_age` and `current_upb` in CSV and JSON tapes, the answer against the engine driven
 * directly, and the refusals (field, line, reason) under on_error.
 */

const dir = scenarioModelDir();
const env = { MODEL_DIR: dir, DEFAULT_MODEL: 'plain' };
const plain = await loadModelFile(join(dir, 'plain', '1.0.0.json'));
const scenario = (name: string) => checkScenario(name).scenario as Scenario;
const HISTORICAL = scenario('historical');
const loans = holdoutLoans.slice(0, 40);
const OPTIONS: LossOptions = {
  timing: 'seasoning',
  hazard: 'timing_only',
  prepayment: { kind: 'psa', multiple: 1 },
  recoveryLag: 12,
};

/** Every third loan seasoned: ages 0…120, balances at 50–100 % of the original; the others origination records. */
const seasoning = loans.map((l, i) =>
  i % 3 === 0
    ? { [LOAN_AGE]: (i * 7) % 121, [CURRENT_UPB]: Math.round((l.original_upb as number) * (0.5 + (i % 6) / 10)) }
    : { [LOAN_AGE]: null, [CURRENT_UPB]: null },
);

function csvWith(rows: readonly Record<string, unknown>[]): string {
  const names = [...LOAN_FIELDS.map((f) => f.name), LOAN_AGE, CURRENT_UPB];
  const cell = (v: unknown) => (v === null || v === undefined ? '' : String(v));
  return `${[names.join(','), ...rows.map((r) => names.map((n) => cell(r[n])).join(','))].join('\n')}\n`;
}
const rows: Record<string, unknown>[] = loans.map((l, i) => ({ ...l, ...seasoning[i] }));

async function post(url: string, payload: string, contentType = 'text/csv') {
  const app = await build(env);
  return app.inject({ method: 'POST', url, payload, headers: { 'content-type': contentType } });
}

const SENTINEL = new Map(
  LOAN_FIELDS.flatMap((f) => ('sentinel' in f && f.sentinel !== undefined ? [[f.name, f.sentinel]] : [])),
);
const asRead = (loan: Record<string, unknown>): Record<string, unknown> => ({
  ...Object.fromEntries(
    LOAN_FIELDS.map((f) => {
      const v = loan[f.name];
      return [f.name, v === undefined || v === SENTINEL.get(f.name) ? null : v];
    }),
  ),
  [LOAN_AGE]: loan[LOAN_AGE] ?? null,
  [CURRENT_UPB]: loan[CURRENT_UPB] ?? null,
});

/** The pool as docs/LOSS.md drives the engine: a seasoned loan marked by the historical market, then the scenario. */
function direct(records: readonly Record<string, unknown>[], s: Scenario, options = OPTIONS) {
  const pd = plain.scoreMany(records as LoanRecord[]).probability;
  const pool = new PoolLoss(plan(options), MAX_TERM + options.recoveryLag);
  records.forEach((r, i) => {
    const terms = loanTerms(r, pd[i] as number) as LoanTerms;
    const path = monthlyHpi(r, s, MAX_TERM).ratio;
    const history = monthlyHpi(r, HISTORICAL, MAX_TERM).ratio;
    const inputs = s.kind === 'historical' ? seasonedInputs(terms, path) : seasonedInputs(terms, history, path);
    pool.add(inputs.terms, inputs.hpi, monthlyMarketRate(r, s, MAX_TERM, terms.age));
  });
  return pool.answer();
}

const URL = '/pools/lifetime?scenario=baseline,severely_adverse,historical&hazard=timing_only';

describe('POST /pools/lifetime: seasoned loans (loan_age, current_upb)', () => {
  it('projects each seasoned loan from its age and current balance, as the engine driven directly', async () => {
    const res = await post(URL, csvWith(rows));
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body).toMatchObject({ rows: loans.length, loan_count: loans.length, rejected: { count: 0 } });
    const records = rows.map(asRead);
    for (const [i, name] of ['baseline', 'severely_adverse', 'historical'].entries()) {
      const { scenario: named, unplaced, ...figures } = body.scenarios[i];
      expect(named).toBe(name);
      expect(figures).toEqual(direct(records, scenario(name)));
    }
    // The balance projected is the current one.
    const current = rows.reduce((sum, r) => sum + ((r[CURRENT_UPB] as number | null) ?? (r.original_upb as number)), 0);
    expect(body.scenarios[0].initial_balance).toBeCloseTo(current, 6);
    // The same tape as JSON (null or absent: an origination record).
    const json = JSON.stringify({
      loans: rows.map((r, i) => (i % 2 === 1 && r[LOAN_AGE] === null ? loans[i] : r)),
    });
    const fromJson = await post(URL, json, 'application/json');
    expect(fromJson.statusCode).toBe(200);
    expect(fromJson.json().scenarios).toEqual(body.scenarios);

    // The house-price hazard and the scenario's prepayment (the market rate from the loan's age on).
    const house = await post(
      URL.replace('hazard=timing_only', 'hazard=house_prices&prepayment=scenario'),
      csvWith(rows),
    );
    expect(house.statusCode).toBe(200);
    const options: LossOptions = { ...OPTIONS, hazard: 'house_prices', prepayment: { kind: 'scenario' } };
    for (const [i, name] of ['baseline', 'severely_adverse', 'historical'].entries()) {
      const { scenario: _, unplaced: __, ...figures } = house.json().scenarios[i];
      expect(figures).toEqual(direct(records, scenario(name), options));
    }
  }, 60_000);

  it('empty cells, or no columns at all, are origination records: the answer of the tape without them', async () => {
    const without = await post(URL, toCsv(loans));
    const empty = await post(URL, csvWith(loans.map((l) => ({ ...l }))));
    const explicit = await post(
      URL,
      csvWith(loans.map((l) => ({ ...l, [LOAN_AGE]: 0, [CURRENT_UPB]: l.original_upb }))),
    );
    expect(without.statusCode).toBe(200);
    expect(empty.json().scenarios).toEqual(without.json().scenarios);
    // Age 0 at the original balance: the same loans, the same figures.
    expect(explicit.json().scenarios).toEqual(without.json().scenarios);
  }, 60_000);

  const original = loans[4]?.original_upb as number;
  const term = loans[4]?.original_loan_term as number;
  const cases: [string, Record<string, unknown>, string, RegExp][] = [
    ['loan_age alone', { [LOAN_AGE]: 12, [CURRENT_UPB]: null }, CURRENT_UPB, /is required with loan_age/],
    ['current_upb alone', { [LOAN_AGE]: null, [CURRENT_UPB]: 1000 }, LOAN_AGE, /is required with current_upb/],
    ['a fractional age', { [LOAN_AGE]: 1.5, [CURRENT_UPB]: 1000 }, LOAN_AGE, /whole number of months from 0 to/],
    ['a negative age', { [LOAN_AGE]: -1, [CURRENT_UPB]: 1000 }, LOAN_AGE, /whole number.*got -1/],
    ['an age of the whole term', { [LOAN_AGE]: term, [CURRENT_UPB]: 1000 }, LOAN_AGE, new RegExp(`to ${term - 1}`)],
    ['a zero balance', { [LOAN_AGE]: 12, [CURRENT_UPB]: 0 }, CURRENT_UPB, /must be above 0/],
    ['a negative balance', { [LOAN_AGE]: 12, [CURRENT_UPB]: -5 }, CURRENT_UPB, /must be above 0/],
    [
      'a balance above the original',
      { [LOAN_AGE]: 12, [CURRENT_UPB]: original + 0.01 },
      CURRENT_UPB,
      new RegExp(`must not exceed original_upb \\(${original}\\)`),
    ],
    ['a word', { [LOAN_AGE]: 'twelve', [CURRENT_UPB]: 1000 }, LOAN_AGE, /whole number of months.*"twelve"/],
    ['infinity', { [LOAN_AGE]: 12, [CURRENT_UPB]: 'Infinity' }, CURRENT_UPB, /number of dollars.*"Infinity"/],
  ];
  for (const [what, values, field, message] of cases) {
    it(`refuses ${what}, naming ${field} and the line; on_error=skip counts it`, async () => {
      const bad = rows.map((r, i) => (i === 4 ? { ...r, ...values } : r));
      const refused = await post(URL, csvWith(bad));
      expect(refused.statusCode).toBe(400);
      const body = refused.json();
      expect(body.details).toHaveLength(1);
      expect(body.details[0].field).toBe(`line 6, ${field}`);
      expect(body.details[0].message).toMatch(message);
      const skipped = await post(`${URL}&on_error=skip`, csvWith(bad));
      expect(skipped.statusCode).toBe(200);
      expect(skipped.json()).toMatchObject({
        rows: loans.length,
        loan_count: loans.length - 1,
        rejected: { count: 1, rows: [{ row: 6 }] },
      });
    });
  }

  it('JSON tapes: the same rules, a string or a boolean refused, the loan named by its index', async () => {
    for (const [values, field, message] of [
      [{ [LOAN_AGE]: '12', [CURRENT_UPB]: 1000 }, LOAN_AGE, /whole number of months \(null for.*string "12"/],
      [{ [LOAN_AGE]: 12, [CURRENT_UPB]: true }, CURRENT_UPB, /number of dollars \(null for.*boolean/],
      [{ [LOAN_AGE]: 12 }, CURRENT_UPB, /is required with loan_age/],
      [{ [LOAN_AGE]: 12, [CURRENT_UPB]: original * 2 }, CURRENT_UPB, /must not exceed original_upb/],
    ] as const) {
      const bad = loans.map((l, i) => (i === 2 ? { ...l, ...values } : l));
      const refused = await post(URL, JSON.stringify({ loans: bad }), 'application/json');
      expect(refused.statusCode).toBe(400);
      const [detail] = refused.json().details;
      expect(detail.field).toBe(`loans[2].${field}`);
      expect(detail.message).toMatch(message);
    }
  }, 60_000);
});
