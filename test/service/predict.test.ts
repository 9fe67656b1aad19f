import { describe, expect, it } from 'vitest';
import { type LoanRecord, loadModelFile, type Model } from '../../src/runtime/index.js';
import { outOfDomain } from '../../src/serving/index.js';
import { build, exampleLoan, holdoutLoans, MODEL_NAMES, withScenario } from '../helpers/app.js';

const runtime: Record<string, Model> = {};
for (const name of MODEL_NAMES) runtime[name] = await loadModelFile(`model-artifacts/${name}/1.0.0.json`);

const post = async (payload: unknown, url = '/predict', env: Record<string, string> = {}) => {
  const app = await build(env);
  return app.inject({ method: 'POST', url, payload: payload as object });
};

describe('POST /predict, one loan', () => {
  for (const name of MODEL_NAMES) {
    it(`scores with ${name} exactly as the runtime does`, async () => {
      const res = await post({ ...exampleLoan, model: name });
      expect(res.statusCode).toBe(200);
      const body = res.json();
      const model = runtime[name] as Model;
      const expected = model.score(withScenario(exampleLoan));
      const flags = outOfDomain(model, withScenario(exampleLoan));
      expect(body).toEqual({
        model: name,
        version: '1.0.0',
        probability_of_default: expected.probability,
        above_cutoff: expected.probability >= model.decisionThreshold,
        cutoff: model.decisionThreshold,
        cutoff_source: 'model',
        log_odds: expected.margin,
        scenario: 'baseline',
        ...(flags.length > 0 ? { out_of_domain: flags } : {}),
        loan_sequence_number: 'F06Q10000042',
      });
      expect(res.headers['x-request-id']).toBeTruthy();
    });
  }

  it('uses DEFAULT_MODEL when no model is named, and ?model= from the query', async () => {
    expect((await post(exampleLoan, '/predict', { DEFAULT_MODEL: 'lda' })).json().model).toBe('lda');
    expect((await post(exampleLoan, '/predict?model=gradient_boosting')).json().model).toBe('gradient_boosting');
    expect((await post(exampleLoan)).json().model).toBe('xgboost');
  });

  it('answers model "all" with every model side by side', async () => {
    const res = await post({ ...exampleLoan, model: 'all' });
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body.model).toBe('all');
    expect(body.results.map((r: { model: string }) => r.model).sort()).toEqual(MODEL_NAMES);
    for (const r of body.results) {
      expect(r.probability_of_default).toBe((runtime[r.model] as Model).score(withScenario(exampleLoan)).probability);
    }
  });

  it('treats null and the Freddie Mac sentinel the same way', async () => {
    const withNull = await post({ ...exampleLoan, credit_score: null, dti: null, occupancy_status: null });
    const withSentinel = await post({ ...exampleLoan, credit_score: 9999, dti: 999, occupancy_status: '9' });
    expect(withNull.statusCode).toBe(200);
    expect(withNull.json().probability_of_default).toBe(withSentinel.json().probability_of_default);
  });
});

describe('POST /predict, batch', () => {
  it('returns results in input order, equal to the runtime on reference loans', async () => {
    const loans = holdoutLoans.slice(0, 500);
    for (const name of ['xgboost', 'logistic_regression']) {
      const res = await post({ loans, model: name });
      expect(res.statusCode).toBe(200);
      const body = res.json();
      expect(body.count).toBe(500);
      const expected = (runtime[name] as Model).scoreMany(loans.map((l) => withScenario(l)));
      body.results.forEach((r: { probability_of_default: number; loan_sequence_number?: string }, i: number) => {
        expect(r.probability_of_default).toBe(expected.probability[i]);
        expect(r.loan_sequence_number).toBe(loans[i]?.loan_sequence_number);
      });
    }
  });

  it('scores a batch with every model', async () => {
    const res = await post({ loans: holdoutLoans.slice(0, 3), model: 'all' });
    expect(res.statusCode).toBe(200);
    expect(res.json().results).toHaveLength(3);
    expect(res.json().results[2].results).toHaveLength(4);
  });

  it('refuses a batch over MAX_BATCH with 413', async () => {
    const res = await post({ loans: [exampleLoan, exampleLoan, exampleLoan] }, '/predict', { MAX_BATCH: '2' });
    expect(res.statusCode).toBe(413);
    expect(res.json()).toMatchObject({ code: 'BATCH_TOO_LARGE', message: expect.stringContaining('at most 2 loans') });
  });

  it('names the loan and the field of a bad batch row', async () => {
    const res = await post({ loans: [exampleLoan, { ...exampleLoan, ltv: '80' }] });
    expect(res.statusCode).toBe(400);
    expect(res.json().details).toEqual([
      {
        field: 'loans[1].ltv',
        message: 'must be a number from 1 to 200 (%), or 999 / null when not available, got the string "80"',
      },
    ]);
  });
});

describe('POST /predict, every answer shape whole', () => {
  // Each of the four shapes has its own serializer: nothing may be dropped (ids, explanations) or added.
  const expected = (name: string, loan: LoanRecord, withId: boolean) => {
    const model = runtime[name] as Model;
    const s = model.score(withScenario(loan));
    const flags = outOfDomain(model, withScenario(loan));
    return {
      model: name,
      version: '1.0.0',
      probability_of_default: s.probability,
      above_cutoff: s.probability >= model.decisionThreshold,
      cutoff: model.decisionThreshold,
      cutoff_source: 'model',
      log_odds: s.margin,
      scenario: 'baseline',
      ...(flags.length > 0 ? { out_of_domain: flags } : {}),
      ...(withId ? { loan_sequence_number: loan.loan_sequence_number } : {}),
    };
  };
  const { loan_sequence_number: _, ...anonymous } = exampleLoan;
  const loans: LoanRecord[] = [exampleLoan, anonymous, holdoutLoans[3] as LoanRecord];
  const byModel = (a: { model: string }, b: { model: string }) => a.model.localeCompare(b.model);

  it('one loan, one model: with and without loan_sequence_number', async () => {
    expect((await post(exampleLoan)).json()).toEqual(expected('xgboost', exampleLoan, true));
    expect((await post(anonymous)).json()).toEqual(expected('xgboost', anonymous, false));
  });

  it('one loan, every model: the id once, beside the results', async () => {
    for (const [loan, withId] of [
      [exampleLoan, true],
      [anonymous, false],
    ] as const) {
      const body = (await post({ ...loan, model: 'all' })).json();
      expect({ ...body, results: [...body.results].sort(byModel) }).toEqual({
        model: 'all',
        ...(withId ? { loan_sequence_number: exampleLoan.loan_sequence_number } : {}),
        results: MODEL_NAMES.map((n) => expected(n, loan, false)).sort(byModel),
      });
    }
  });

  it('a batch, one model and every model: ids only where sent', async () => {
    expect((await post({ loans, model: 'lda' })).json()).toEqual({
      model: 'lda',
      count: 3,
      results: loans.map((l) => expected('lda', l, l.loan_sequence_number !== undefined)),
    });
    const all = (await post({ loans, model: 'all' })).json();
    expect(all.model).toBe('all');
    expect(all.count).toBe(3);
    all.results.forEach((r: { results: { model: string }[] }, i: number) => {
      const loan = loans[i] as LoanRecord;
      expect({ ...r, results: [...r.results].sort(byModel) }).toEqual({
        ...(loan.loan_sequence_number !== undefined ? { loan_sequence_number: loan.loan_sequence_number } : {}),
        results: MODEL_NAMES.map((n) => expected(n, loan, false)).sort(byModel),
      });
    });
  });

  it('keeps explanations in every shape', async () => {
    const one = (await post(exampleLoan, '/predict?explain=true')).json();
    const batch = (await post({ loans, model: 'all' }, '/predict?explain=true')).json();
    const explanations = [one, ...batch.results.flatMap((r: { results: unknown[] }) => r.results)];
    expect(explanations).toHaveLength(1 + loans.length * MODEL_NAMES.length);
    for (const p of explanations) {
      expect(Object.keys(p.explanation).sort()).toEqual(['base_value', 'contributions', 'groups', 'kinds', 'reasons']);
      expect(Object.keys(p.explanation.contributions).length).toBeGreaterThan(10);
    }
  });
});

describe('POST /predict, errors a client can act on', () => {
  it('refuses a number sent as a string instead of coercing it', async () => {
    const res = await post({ ...exampleLoan, credit_score: '690' });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({ statusCode: 400, code: 'VALIDATION_FAILED', error: 'Bad Request' });
    expect(res.json().details).toEqual([
      {
        field: 'credit_score',
        message:
          'must be an integer from 300 to 850 (FICO points), or 9999 / null when not available, got the string "690"',
      },
    ]);
  });

  it('names every offending field at once', async () => {
    const { loan_sequence_number: _, dti: __, ...rest } = exampleLoan;
    const res = await post({ ...rest, credit_score: 900, ltv: -5, occupancy_status: 'X', credit_scroe: 700 });
    expect(res.statusCode).toBe(400);
    const fields = res
      .json()
      .details.map((d: { field: string }) => d.field)
      .sort();
    expect(fields).toEqual(['credit_score', 'credit_scroe', 'dti', 'ltv', 'occupancy_status']);
    const byField = Object.fromEntries(
      res.json().details.map((d: { field: string; message: string }) => [d.field, d.message]),
    );
    expect(byField.credit_scroe).toBe('is not a known field (did you mean credit_score?)');
    expect(byField.dti).toBe('is required (send null when the value is not available)');
    expect(byField.occupancy_status).toMatch(
      /^must be one of "P", "I", "S", or "9" \/ null when not available, got the string "X"$/,
    );
    expect(res.json().message).toMatch(/^5 invalid fields: /);
  });

  it('checks the month of first_payment_date', async () => {
    const res = await post({ ...exampleLoan, first_payment_date: 200613 });
    expect(res.statusCode).toBe(400);
    expect(res.json().details).toEqual([
      { field: 'first_payment_date', message: 'month 13 of 200613 is not 01–12 (YYYYMM)' },
    ]);
  });

  it('answers 404 for an unknown model, listing the available ones', async () => {
    const res = await post({ ...exampleLoan, model: 'random_forest' });
    expect(res.statusCode).toBe(404);
    expect(res.json()).toMatchObject({
      code: 'MODEL_NOT_FOUND',
      message: 'no model named "random_forest"; available: gradient_boosting, lda, logistic_regression, xgboost, all',
    });
  });

  it('answers 400 when body and query name different models', async () => {
    const res = await post({ ...exampleLoan, model: 'lda' }, '/predict?model=xgboost');
    expect(res.statusCode).toBe(400);
    expect(res.json().code).toBe('MODEL_CONFLICT');
  });

  it('answers 413 for a body over BODY_LIMIT, 415 for a wrong content type, 400 for broken JSON', async () => {
    const app = await build({ BODY_LIMIT: '2048' });
    const big = await app.inject({ method: 'POST', url: '/predict', payload: { loans: Array(40).fill(exampleLoan) } });
    expect(big.statusCode).toBe(413);
    expect(big.json().message).toMatch(/limit of 2048 bytes \(BODY_LIMIT\)/);
    const text = await app.inject({
      method: 'POST',
      url: '/predict',
      headers: { 'content-type': 'text/plain' },
      payload: 'credit_score=700',
    });
    expect(text.statusCode).toBe(415);
    expect(text.json().message).toMatch(/send application\/json/);
    const broken = await app.inject({
      method: 'POST',
      url: '/predict',
      headers: { 'content-type': 'application/json' },
      payload: '{"credit_score": 7',
    });
    expect(broken.statusCode).toBe(400);
    const empty = await app.inject({
      method: 'POST',
      url: '/predict',
      headers: { 'content-type': 'application/json' },
      payload: '',
    });
    expect(empty.statusCode).toBe(400);
    const array = await app.inject({ method: 'POST', url: '/predict', payload: [exampleLoan] });
    expect(array.statusCode).toBe(400);
    expect(array.json().message).toMatch(/must be a JSON object \(one loan, or \{"loans": \[\.\.\.\]\}\)/);
  });

  it('says why a body is not JSON, and answers an empty body apart', async () => {
    const app = await build();
    const send = (payload: string) =>
      app.inject({ method: 'POST', url: '/predict', headers: { 'content-type': 'application/json' }, payload });
    const broken = await send('{"ltv": 80,');
    expect(broken.statusCode).toBe(400);
    expect(broken.json()).toMatchObject({
      code: 'FST_ERR_CTP_INVALID_JSON_BODY',
      message: expect.stringMatching(/^The body cannot be read: it is not valid JSON \(.+\)$/),
    });
    expect((await send('')).json().code).toBe('FST_ERR_CTP_EMPTY_JSON_BODY');
  });

  it('names unknown fields as sent, "/" and "~" included', async () => {
    const res = await post({ loans: [{ ...exampleLoan, 'ltv/cltv': 80, 'a~b': 1 }] });
    expect(res.statusCode).toBe(400);
    expect(res.json().details.map((d: { field: string }) => d.field)).toEqual(['loans[0].ltv/cltv', 'loans[0].a~b']);
    const top = await post({ ...exampleLoan, 'dti/ratio': 36 });
    expect(top.json().details).toEqual([{ field: 'dti/ratio', message: 'is not a known field' }]);
  });

  it('refuses prototype poisoning', async () => {
    const app = await build();
    const res = await app.inject({
      method: 'POST',
      url: '/predict',
      headers: { 'content-type': 'application/json' },
      payload: `{"__proto__": {"admin": true}, ${JSON.stringify(exampleLoan).slice(1)}`,
    });
    expect(res.statusCode).toBe(400);
  });

  it('never answers 500 nor NaN for odd but well-formed inputs', async () => {
    const app = await build();
    const odd: LoanRecord[] = [
      {
        ...exampleLoan,
        credit_score: 300,
        ltv: 200,
        cltv: 200,
        dti: 65,
        original_upb: 10_000_000,
        original_interest_rate: 20,
      },
      {
        ...exampleLoan,
        credit_score: 850,
        ltv: 1,
        cltv: 1,
        dti: 0,
        original_upb: 1000,
        original_interest_rate: 0,
        mi_percent: 55,
      },
      Object.fromEntries(
        Object.entries(exampleLoan).map(([k, v]) => [
          k,
          k === 'loan_sequence_number' ||
          k === 'first_payment_date' ||
          k === 'original_upb' ||
          k === 'original_interest_rate' ||
          k === 'amortization_type' ||
          k === 'property_state' ||
          k === 'original_loan_term'
            ? v
            : null,
        ]),
      ),
    ];
    const res = await app.inject({ method: 'POST', url: '/predict', payload: { loans: odd, model: 'all' } });
    expect(res.statusCode).toBe(200);
    expect(res.body).not.toMatch(/NaN|Infinity|null/);
  });
});
