/** POST /predict?explain=true: explanations and reason codes through the HTTP layer. */
import { describe, expect, it } from 'vitest';
import { fieldKind, MIN_REASON_CONTRIBUTION, REASON_CODES, reasonFor, topReasons } from '../../src/loan/reasons.js';
import { LOAN_FIELDS } from '../../src/loan/record.js';
import { type LoanRecord, loadModelFile, logit, type Model } from '../../src/runtime/index.js';
import { build, exampleLoan, holdoutLoans, MODEL_NAMES, withScenario } from '../helpers/app.js';

const runtime: Record<string, Model> = {};
for (const name of MODEL_NAMES) runtime[name] = await loadModelFile(`model-artifacts/${name}/1.0.0.json`);
const MODEL_FIELDS = LOAN_FIELDS.filter((f) => f.kind !== 'text').map((f) => f.name);
/** The model fields that give reason codes (not geography, vintage or the number of borrowers). */
const REASON_FIELDS = MODEL_FIELDS.filter((f) => fieldKind(f) === 'borrower_or_loan');

const post = async (payload: unknown, url: string) => {
  const app = await build();
  return app.inject({ method: 'POST', url, payload: payload as object });
};

interface Reason {
  code: string;
  field: string;
  contribution: number;
  text: string;
}
interface Prediction {
  model: string;
  probability_of_default: number;
  log_odds: number;
  explanation?: { base_value: number; contributions: Record<string, number>; reasons: Reason[] };
}

/** What every explained prediction must satisfy, for `loan`. */
function checkExplained(p: Prediction, loan: LoanRecord) {
  const e = p.explanation;
  if (!e) throw new Error(`${p.model}: no explanation`);
  const model = runtime[p.model] as Model;
  // Every field the model reads: loan fields and the scenario features computed for it.
  expect(Object.keys(e.contributions).sort()).toEqual(model.fields.map((f) => f.name).sort());
  const sum = Object.values(e.contributions).reduce((a, b) => a + b, e.base_value);
  // The log-odds exactly; the logit of the returned probability up to its rounding (XGBoost: float32).
  expect(Math.abs(sum - p.log_odds)).toBeLessThan(1e-5);
  expect(Math.abs(sum - logit(p.probability_of_default))).toBeLessThan(1e-5);
  // Reasons: the largest positive contributions of borrower and loan fields, in order, at most 4, each true of the loan.
  const positive = Object.entries(e.contributions)
    .filter(([f, c]) => c > MIN_REASON_CONTRIBUTION && REASON_FIELDS.includes(f))
    .sort(([, a], [, b]) => b - a);
  expect(e.reasons.map((r) => r.field)).toEqual(positive.slice(0, 4).map(([f]) => f));
  for (const r of e.reasons) {
    expect(r.contribution).toBe(e.contributions[r.field]);
    expect(r.code).toMatch(/^[A-Z][A-Z0-9_]*$/);
    expect(reasonFor(r.field, loan)).toEqual({ code: r.code, text: r.text });
  }
  // The runtime's own explanation of the loan under the request's scenario (baseline), unchanged by the HTTP layer.
  const direct = model.explain(withScenario(loan));
  expect(e.base_value).toBe(direct.baseValue);
  expect(e.contributions).toEqual(direct.fields);
}

describe('POST /predict?explain=true', () => {
  for (const name of MODEL_NAMES) {
    it(`explains one loan with ${name}: contributions sum to the log-odds, reasons raise the PD`, async () => {
      const res = await post({ ...exampleLoan, model: name }, '/predict?explain=true');
      expect(res.statusCode).toBe(200);
      const body = res.json() as Prediction & { loan_sequence_number: string };
      expect(body.loan_sequence_number).toBe('F06Q10000042');
      checkExplained(body, exampleLoan);
      expect(body.explanation?.reasons.length).toBeGreaterThan(0);
    });
  }

  it('names the layered risk of the example loan among XGBoost’s reasons, never the scenario or the borrowers', async () => {
    const body = (await post(exampleLoan, '/predict?explain=true&scenario=severely_adverse')).json() as Prediction;
    const codes = body.explanation?.reasons.map((r) => r.code) ?? [];
    expect(codes).toContain('CLTV_ABOVE_90');
    const fields = body.explanation?.reasons.map((r) => r.field) ?? [];
    for (const f of [
      'property_state',
      'first_payment_date',
      'number_of_borrowers',
      'mtm_cltv_trough',
      'hpi_change_12m',
    ]) {
      expect(fields).not.toContain(f);
    }
    // The scenario's features raise this loan's PD most: their contributions stay in the explanation.
    const c = body.explanation?.contributions ?? {};
    const largest = Object.entries(c).sort(([, a], [, b]) => b - a)[0]?.[0];
    expect(largest).toBe('mtm_cltv_trough');
    expect(c.number_of_borrowers).toBeGreaterThan(0);
  });

  it('explains every model with model "all", and every loan of a batch', async () => {
    const loans = holdoutLoans.slice(0, 20);
    const all = await post({ ...exampleLoan, model: 'all' }, '/predict?explain=true');
    expect(all.statusCode).toBe(200);
    for (const r of all.json().results as Prediction[]) checkExplained(r, exampleLoan);

    const batch = await post({ loans, model: 'all' }, '/predict?explain=true&model=all');
    expect(batch.statusCode).toBe(200);
    (batch.json().results as { results: Prediction[] }[]).forEach((entry, i) => {
      expect(entry.results).toHaveLength(4);
      for (const r of entry.results) checkExplained(r, loans[i] as LoanRecord);
    });

    const one = await post({ loans, model: 'lda' }, '/predict?explain=true');
    (one.json().results as Prediction[]).forEach((r, i) => {
      checkExplained(r, loans[i] as LoanRecord);
    });
  });

  it('explains loans with missing values (null and sentinels) with *_MISSING reasons', async () => {
    const loan = { ...exampleLoan, credit_score: null, dti: 999, occupancy_status: '9' };
    for (const name of MODEL_NAMES) {
      const body = (await post({ ...loan, model: name }, '/predict?explain=true')).json() as Prediction;
      checkExplained(body, loan);
      for (const r of body.explanation?.reasons ?? []) {
        if (['credit_score', 'dti', 'occupancy_status'].includes(r.field)) expect(r.code).toMatch(/_MISSING$/);
      }
    }
  });

  it('answers exactly as before without explain, or with explain=false', async () => {
    for (const url of ['/predict', '/predict?explain=false']) {
      const body = (await post({ ...exampleLoan, model: 'all' }, url)).json();
      for (const r of body.results) expect(r).not.toHaveProperty('explanation');
    }
    const plain = (await post(exampleLoan, '/predict')).json();
    const explicit = (await post(exampleLoan, '/predict?explain=false')).json();
    expect(explicit).toEqual(plain);
  });

  it('refuses explain values other than "true" and "false"', async () => {
    for (const value of ['1', 'yes', 'TRUE', '']) {
      const res = await post(exampleLoan, `/predict?explain=${value}`);
      expect(res.statusCode).toBe(400);
      expect(res.json().code).toBe('VALIDATION_FAILED');
      expect(res.json().details[0].field).toBe('query.explain');
    }
  });

  it('documents explain in the OpenAPI document', async () => {
    const app = await build();
    const doc = (await app.inject({ method: 'GET', url: '/openapi.json' })).json();
    const params = doc.paths['/predict'].post.parameters as { name: string; schema: { enum?: string[] } }[];
    expect(params.find((p) => p.name === 'explain')?.schema.enum).toEqual(['true', 'false']);
    expect(JSON.stringify(doc.paths['/predict'].post.responses['200'])).toContain('base_value');
  });
});

describe('reason codes', () => {
  it('are unique, UPPER_SNAKE, and cover every borrower and loan field', () => {
    const codes = REASON_CODES.map((r) => r.code);
    expect(new Set(codes).size).toBe(codes.length);
    for (const c of codes) expect(c).toMatch(/^[A-Z][A-Z0-9_]*$/);
    expect(new Set(REASON_CODES.map((r) => r.field))).toEqual(new Set(REASON_FIELDS));
    expect(REASON_FIELDS).toHaveLength(MODEL_FIELDS.length - 3);
  });

  it('give a sentence true of the loan for every field, value band and missing value', () => {
    const base = { ...exampleLoan } as Record<string, unknown>;
    const cases: [string, unknown, string, string][] = [
      ['credit_score', 580, 'CREDIT_SCORE_VERY_LOW', 'Credit score below 620'],
      ['credit_score', 640, 'CREDIT_SCORE_LOW', 'Credit score below 660'],
      ['credit_score', 660, 'CREDIT_SCORE_FAIR', 'Credit score below 700'],
      ['credit_score', 745, 'CREDIT_SCORE', 'Credit score of 745'],
      ['credit_score', 9999, 'CREDIT_SCORE_MISSING', 'Credit score not available'],
      ['credit_score', null, 'CREDIT_SCORE_MISSING', 'Credit score not available'],
      ['cltv', 97, 'CLTV_ABOVE_95', 'Combined loan-to-value ratio above 95%'],
      ['cltv', 95, 'CLTV_ABOVE_90', 'Combined loan-to-value ratio above 90%'],
      ['cltv', 85, 'CLTV_ABOVE_80', 'Combined loan-to-value ratio above 80%'],
      ['cltv', 80, 'CLTV', 'Combined loan-to-value ratio of 80%'],
      ['ltv', 999, 'LTV_MISSING', 'Loan-to-value ratio not available'],
      ['dti', 50, 'DTI_ABOVE_45', 'Debt-to-income ratio above 45%'],
      ['dti', 42, 'DTI_ABOVE_36', 'Debt-to-income ratio above 36%'],
      ['dti', 28.5, 'DTI', 'Debt-to-income ratio of 28.5%'],
      ['mi_percent', 25, 'MI_COVERAGE', 'Mortgage insurance coverage of 25% (a high loan-to-value loan)'],
      ['mi_percent', 0, 'MI_NONE', 'No mortgage insurance'],
      ['occupancy_status', 'I', 'OCCUPANCY_INVESTMENT', 'Investment property'],
      ['occupancy_status', '9', 'OCCUPANCY_MISSING', 'Occupancy status not available'],
      ['loan_purpose', 'C', 'CASH_OUT_REFINANCE', 'Cash-out refinance'],
      ['number_of_units', 3, 'MULTI_UNIT_PROPERTY', '3-unit property'],
      ['original_upb', 312000, 'LOAN_AMOUNT', 'Original loan amount of $312,000'],
      ['original_upb', 85000, 'LOAN_AMOUNT_SMALL', 'Loan amount below $100,000'],
      ['original_interest_rate', 7.25, 'INTEREST_RATE_ABOVE_7', 'Original interest rate above 7% (7.25%)'],
      ['original_interest_rate', 6.125, 'INTEREST_RATE', 'Original interest rate of 6.13%'],
      ['channel', 'B', 'CHANNEL_BROKER', 'Originated through a mortgage broker'],
      ['amortization_type', 'ARM', 'ADJUSTABLE_RATE', 'Adjustable-rate mortgage'],
      ['property_type', 'MH', 'MANUFACTURED_HOUSING', 'Manufactured housing'],
      ['original_loan_term', 480, 'LOAN_TERM_OVER_30_YEARS', 'Loan term over 30 years (480 months)'],
      ['first_time_homebuyer_flag', 'Y', 'FIRST_TIME_HOMEBUYER', 'First-time homebuyer'],
    ];
    for (const [field, value, code, text] of cases) {
      expect(reasonFor(field, { ...base, [field]: value }), `${field} = ${value}`).toEqual({ code, text });
    }
    // Every field has a sentence for any valid value, and for a missing one.
    for (const loan of holdoutLoans.slice(0, 300)) {
      for (const field of REASON_FIELDS) {
        const r = reasonFor(field, loan);
        expect(REASON_CODES.some((c) => c.code === r.code && c.field === field)).toBe(true);
        expect(r.text).not.toMatch(/undefined|NaN|\{/);
      }
    }
  });

  it('report only positive contributions, largest first, at most four', () => {
    const reasons = topReasons(
      { credit_score: 0.4, dti: -0.2, cltv: 0.7, ltv: 1e-9, channel: 0.1, loan_purpose: 0.05, property_state: 0.2 },
      exampleLoan,
    );
    expect(reasons.map((r) => r.field)).toEqual(['cltv', 'credit_score', 'channel', 'loan_purpose']);
    expect(reasons[0]).toEqual({
      code: 'CLTV_ABOVE_90',
      field: 'cltv',
      contribution: 0.7,
      text: 'Combined loan-to-value ratio above 90%',
    });
    expect(topReasons({ dti: -1 }, exampleLoan)).toEqual([]);
  });
});

describe('explain=true bounds', () => {
  it('refuses to explain more than 1,000 loan-model pairs in one request', async () => {
    const { build, exampleLoan } = await import('../helpers/app.js');
    const app = await build();
    const res = await app.inject({
      method: 'POST',
      url: '/predict?explain=true&model=all',
      payload: { loans: Array(251).fill(exampleLoan) },
    });
    expect(res.statusCode).toBe(413);
    expect(res.json()).toMatchObject({
      code: 'EXPLAIN_BATCH_TOO_LARGE',
      message: expect.stringContaining('1004 (251 loans × 4 models)'),
    });
    const ok = await app.inject({
      method: 'POST',
      url: '/predict?explain=true&model=all',
      payload: { loans: Array(250).fill(exampleLoan) },
    });
    expect(ok.statusCode).toBe(200);
  });
});
