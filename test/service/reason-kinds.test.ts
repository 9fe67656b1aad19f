/**
 * Reason codes fit for lending use (issue 21 item 5): `reasons` name only borrower and loan attributes.
 * Geography, timing (vintage), the number of borrowers (a possible marital-status proxy under ECOA) and
 * the scenario features stay in the explanation's contributions, labelled by kind, and never become a
 * reason code, on every path that gives reasons (/predict, /pools/score, the CLI through the pool).
 */
import { describe, expect, it } from 'vitest';
import { EXPLANATION_KINDS, fieldKind, REASON_CODES, reasonFor, topReasons } from '../../src/loan/reasons.js';
import { SCENARIO_FEATURES } from '../../src/scenario/index.js';
import { build, exampleLoan, holdoutLoans, MODEL_NAMES } from '../helpers/app.js';
import { scenarioModelDir } from '../helpers/scenario-model.js';
import { toCsv } from '../pool/helpers.js';

const NOT_REASONS = ['property_state', 'first_payment_date', 'number_of_borrowers', ...SCENARIO_FEATURES];

interface Explained {
  model: string;
  log_odds: number;
  explanation: {
    base_value: number;
    contributions: Record<string, number>;
    kinds: Record<string, string>;
    groups: Record<string, number>;
    reasons: { code: string; field: string; contribution: number }[];
  };
}

/** The kinds label every contribution, the groups sum them by kind and add up to the log-odds. */
function checkGroups(p: Explained) {
  const e = p.explanation;
  expect(Object.keys(e.kinds).sort()).toEqual(Object.keys(e.contributions).sort());
  expect(Object.keys(e.groups).sort()).toEqual([...EXPLANATION_KINDS].sort());
  for (const kind of EXPLANATION_KINDS) {
    const sum = Object.entries(e.contributions)
      .filter(([f]) => e.kinds[f] === kind)
      .reduce((a, [, c]) => a + c, 0);
    expect(e.groups[kind]).toBeCloseTo(sum, 12);
  }
  const total = Object.values(e.groups).reduce((a, b) => a + b, e.base_value);
  expect(Math.abs(total - p.log_odds)).toBeLessThan(1e-5);
  for (const r of e.reasons) {
    expect(e.kinds[r.field]).toBe('borrower_or_loan');
    expect(NOT_REASONS).not.toContain(r.field);
  }
}

describe('reason codes name only borrower and loan attributes', () => {
  it('never turn geography, vintage, the number of borrowers or a scenario feature into a reason', () => {
    const contributions = {
      property_state: 3,
      first_payment_date: 2.5,
      number_of_borrowers: 2,
      hpi_change_36m: 1.5,
      mtm_cltv_trough: 1.4,
      credit_score: 0.4,
      cltv: 0.2,
    };
    const reasons = topReasons(contributions, exampleLoan);
    expect(reasons.map((r) => r.field)).toEqual(['credit_score', 'cltv']);
    expect(topReasons({ property_state: 1, number_of_borrowers: 1 }, exampleLoan)).toEqual([]);
  });

  it('have no code about those fields in the table (STATE_HIGH_RISK_REGION, VINTAGE_2005_2007, SINGLE_BORROWER are gone)', () => {
    const codes = REASON_CODES.map((r) => r.code);
    for (const gone of [
      'STATE_HIGH_RISK_REGION',
      'VINTAGE_2005_2007',
      'SINGLE_BORROWER',
      'PROPERTY_STATE',
      'VINTAGE',
    ]) {
      expect(codes).not.toContain(gone);
    }
    for (const r of REASON_CODES) expect(NOT_REASONS).not.toContain(r.field);
    for (const f of NOT_REASONS) expect(() => reasonFor(f, exampleLoan)).toThrow(/not a reason/);
  });

  it('label each field with its kind; a field outside the reviewed table is "other", never a reason', () => {
    expect(fieldKind('credit_score')).toBe('borrower_or_loan');
    expect(fieldKind('property_state')).toBe('geography');
    expect(fieldKind('first_payment_date')).toBe('vintage');
    expect(fieldKind('number_of_borrowers')).toBe('household');
    for (const f of SCENARIO_FEATURES) expect(fieldKind(f)).toBe('scenario');
    expect(fieldKind('mean_radius')).toBe('other');
    expect(topReasons({ mean_radius: 2 }, { mean_radius: 14 })).toEqual([]);
  });
});

describe('POST /predict?explain=true labels the contributions by kind', () => {
  it('gives kinds and groups for every shipped model, the reasons only borrower and loan fields', async () => {
    const app = await build();
    const loans = [exampleLoan, ...holdoutLoans.slice(0, 30)];
    const res = await app.inject({ method: 'POST', url: '/predict?explain=true&model=all', payload: { loans } });
    expect(res.statusCode).toBe(200);
    let reasons = 0;
    for (const entry of res.json().results as { results: Explained[] }[]) {
      expect(entry.results).toHaveLength(MODEL_NAMES.length);
      for (const p of entry.results) {
        checkGroups(p);
        reasons += p.explanation.reasons.length;
      }
    }
    expect(reasons).toBeGreaterThan(0);
  });

  it("sums a scenario model's scenario features into groups.scenario, never into reasons", async () => {
    const app = await build({ MODEL_DIR: scenarioModelDir(), DEFAULT_MODEL: 'house_prices' });
    const res = await app.inject({
      method: 'POST',
      url: '/predict?explain=true&scenario=severely_adverse',
      payload: exampleLoan,
    });
    expect(res.statusCode).toBe(200);
    const p = res.json() as Explained;
    checkGroups(p);
    const scenario = SCENARIO_FEATURES.reduce((a, f) => a + (p.explanation.contributions[f] as number), 0);
    expect(scenario).toBeGreaterThan(0);
    expect(p.explanation.groups.scenario).toBeCloseTo(scenario, 12);
    for (const f of SCENARIO_FEATURES) expect(p.explanation.kinds[f]).toBe('scenario');
  });

  it('documents kinds and groups in the OpenAPI document', async () => {
    const app = await build();
    const doc = JSON.stringify((await app.inject({ method: 'GET', url: '/openapi.json' })).json());
    expect(doc).toContain('borrower_or_loan');
    expect(doc).toContain('adverse-action');
  });
});

describe('pool reasons (?reasons=true, the CLI --reasons) follow the same rule', () => {
  it('name no geography, vintage or household code on a tape', async () => {
    const app = await build();
    const res = await app.inject({
      method: 'POST',
      url: '/pools/score?reasons=true',
      headers: { 'content-type': 'text/csv' },
      payload: toCsv(holdoutLoans.slice(0, 200)),
    });
    expect(res.statusCode).toBe(200);
    const fields = (res.json().results as { reasons: { field: string }[] }[]).flatMap((r) =>
      r.reasons.map((x) => x.field),
    );
    expect(fields.length).toBeGreaterThan(0);
    for (const f of fields) expect(NOT_REASONS).not.toContain(f);
  });
});
