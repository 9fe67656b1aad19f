import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LOAN_FIELDS } from '../../src/loan/record.js';
import {
  DEFAULT_RECOVERY_LAG,
  type LossOptions,
  loanTerms,
  MAX_TERM,
  monthlyFromAnnual,
  monthlyHpi,
  monthlyMarketRate,
  PoolLoss,
  plan,
  sdaCdr,
  vectorsCsv,
} from '../../src/loss/index.js';
import { LifetimeTape, scenarioVectorsCsv } from '../../src/pool/lifetime.js';
import { type StrataLoan, Stratifier } from '../../src/pool/strata.js';
import { type LoanRecord, loadModelFile, type Model } from '../../src/runtime/index.js';
import { checkScenario, type Scenario, scenarioRecord } from '../../src/scenario/index.js';
import { build, exampleLoan, holdoutLoans } from '../helpers/app.js';
import { housePricesMargin, scenarioModelDir } from '../helpers/scenario-model.js';
import { parseCsv, toCsv } from './helpers.js';

/** POST /pools/lifetime (issue 22): the route against PoolLoss and Stratifier driven directly on the same loans. */

const loans = holdoutLoans.slice(0, 120);
const tape = toCsv(loans);
const dir = scenarioModelDir();
const scenario = (name: string) => checkScenario(name).scenario as Scenario;
const SEASONING_PSA: LossOptions = {
  timing: 'seasoning',
  prepayment: { kind: 'psa', multiple: 1 },
  recoveryLag: DEFAULT_RECOVERY_LAG,
};

const SENTINEL = new Map(
  LOAN_FIELDS.flatMap((f) => ('sentinel' in f && f.sentinel !== undefined ? [[f.name, f.sentinel]] : [])),
);
/** A loan record as the tape reader gives it: missing values (empty, null, a sentinel) as null. */
const asRead = (loan: LoanRecord): Record<string, unknown> =>
  Object.fromEntries(
    LOAN_FIELDS.map((f) => {
      const v = loan[f.name];
      return [f.name, v === undefined || v === SENTINEL.get(f.name) ? null : v];
    }),
  );

/** Each loan's PD under the scenario, as the route scores it. */
function pds(model: Model, records: readonly Record<string, unknown>[], s: Scenario, reads: boolean): Float64Array {
  return model.scoreMany((reads ? records.map((r) => scenarioRecord(r, s)) : records) as LoanRecord[]).probability;
}

/**
 * PoolLoss over the loans with these PDs, as docs/LOSS.md drives it; the hazard, when the options name none,
 * the default for a model that reads the scenario (these tests' models do): house_prices.
 */
function direct(records: readonly Record<string, unknown>[], pd: Float64Array, s: Scenario, options: LossOptions) {
  const pool = new PoolLoss(plan({ hazard: 'house_prices', ...options }), MAX_TERM + options.recoveryLag);
  records.forEach((r, i) => {
    pool.add(
      loanTerms(r, pd[i] as number) as NonNullable<ReturnType<typeof loanTerms>>,
      monthlyHpi(r, s, MAX_TERM).ratio,
      monthlyMarketRate(r, s, MAX_TERM),
    );
  });
  return pool.answer();
}

async function post(url: string, payload: string, env: Record<string, string> = {}, headers: object = {}) {
  const app = await build(env);
  const res = await app.inject({
    method: 'POST',
    url,
    payload,
    headers: { 'content-type': 'text/csv', ...headers },
  });
  return res;
}

describe('POST /pools/lifetime', () => {
  it('answers, per scenario, PoolLoss driven directly on the same loans and PDs, and the Stratifier figures', async () => {
    const lda = await loadModelFile('model-artifacts/lda/1.0.0.json');
    const records = loans.map(asRead);
    const res = await post('/pools/lifetime?model=lda&scenario=baseline,severely_adverse&as_of=201206', tape);
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body).toMatchObject({
      model: 'lda',
      version: '1.0.0',
      model_reads_scenario: true,
      format: 'csv',
      rows: loans.length,
      loan_count: loans.length,
      options: {
        timing: 'seasoning',
        hazard: 'house_prices',
        prepayment: 'psa',
        psa: 1,
        recovery_lag: 12,
        as_of: 201206,
      },
      rejected: { count: 0, rows: [] },
    });
    expect(body.scenarios.map((s: { scenario: string }) => s.scenario)).toEqual(['baseline', 'severely_adverse']);
    for (const [i, name] of ['baseline', 'severely_adverse'].entries()) {
      const { scenario: named, unplaced, ...figures } = body.scenarios[i];
      expect(named).toBe(name);
      expect(unplaced).toEqual({ count: 0, rows: [] });
      // The shipped LDA reads the scenario: each scenario's own PDs.
      expect(figures).toEqual(direct(records, pds(lda, records, scenario(name), true), scenario(name), SEASONING_PSA));
    }
    // The stress raises the PDs and makes each default cost more.
    const [base, stress] = body.scenarios;
    expect(stress.lifetime_pd).toBeGreaterThan(base.lifetime_pd);
    expect(stress.expected_loss_lifetime).toBeGreaterThan(base.expected_loss_lifetime);
    expect(base.vectors[0].month).toBe(1);
    expect(base.vectors).toHaveLength(360 + 12);

    // The stratification's PDs are the first scenario's.
    const pd = pds(lda, records, scenario('baseline'), true);
    const strata = new Stratifier(201206);
    records.forEach((r, i) => {
      strata.add(r as unknown as StrataLoan, pd[i] as number);
    });
    expect(body.stratification).toEqual(JSON.parse(JSON.stringify(strata.figures())));
    expect(body.stratification.weighted_averages.credit_score.value).toBeGreaterThan(600);

    // The same tape as JSON gives the same figures.
    const app = await build();
    const json = await app.inject({
      method: 'POST',
      url: '/pools/lifetime?model=lda&scenario=baseline,severely_adverse&as_of=201206',
      payload: { loans },
    });
    expect(json.statusCode).toBe(200);
    expect({ ...json.json(), format: 'csv' }).toEqual(body);
  }, 60_000);

  it('scores each scenario with a scenario-conditional model: PDs and expected loss rise with the stress', async () => {
    const model = await loadModelFile(join(dir, 'house_prices', '1.0.0.json'));
    const pool = [
      exampleLoan,
      { ...exampleLoan, property_state: 'CA', credit_score: 640, loan_sequence_number: 'F06Q10000043' },
      { ...exampleLoan, property_state: 'TX', ltv: 70, cltv: 70, mi_percent: 0, loan_sequence_number: 'F06Q10000044' },
    ] as unknown as LoanRecord[];
    const records = pool.map(asRead);
    const names = ['baseline', 'adverse', 'severely_adverse'];
    const res = await post(`/pools/lifetime?scenario=${names.join(',')}`, toCsv(pool), {
      MODEL_DIR: dir,
      DEFAULT_MODEL: 'house_prices',
    });
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body.model_reads_scenario).toBe(true);
    const pd36: number[] = [];
    const loss: number[] = [];
    for (const [i, name] of names.entries()) {
      const s = scenario(name);
      const pd = pds(model, records, s, true);
      const { scenario: named, unplaced: _, ...figures } = body.scenarios[i];
      expect(named).toBe(name);
      expect(figures).toEqual(direct(records, pd, s, SEASONING_PSA));
      // The PDs are the hand-written model's under this scenario.
      const byHand = records.map((r) => 1 / (1 + Math.exp(-housePricesMargin(scenarioRecord(r, s)))));
      byHand.forEach((p, j) => {
        expect(pd[j]).toBeCloseTo(p, 14);
      });
      pd36.push(figures.pd_36m);
      loss.push(figures.expected_loss_lifetime);
    }
    expect(pd36[0]).toBeLessThan(pd36[1] as number);
    expect(pd36[1]).toBeLessThan(pd36[2] as number);
    expect(loss[0]).toBeLessThan(loss[1] as number);
    expect(loss[1]).toBeLessThan(loss[2] as number);
    // The stratification's PDs are the first scenario's.
    const strata = new Stratifier();
    const first = pds(model, records, scenario('baseline'), true);
    records.forEach((r, i) => {
      strata.add(r as unknown as StrataLoan, first[i] as number);
    });
    expect(body.stratification).toEqual(JSON.parse(JSON.stringify(strata.figures())));
  }, 60_000);

  it.each([
    ['psa=2', { timing: 'seasoning', prepayment: { kind: 'psa', multiple: 2 }, recoveryLag: 12 }],
    ['psa=0', { timing: 'seasoning', prepayment: { kind: 'none' }, recoveryLag: 12 }],
    ['cpr=0', { timing: 'seasoning', prepayment: { kind: 'none' }, recoveryLag: 12 }],
    ['cpr=0.08', { timing: 'seasoning', prepayment: { kind: 'cpr', cpr: 0.08 }, recoveryLag: 12 }],
    [
      'cpr=0.02,0.04,0.1',
      { timing: 'seasoning', prepayment: { kind: 'cpr', cpr: [0.02, 0.04, 0.1] }, recoveryLag: 12 },
    ],
    ['timing=sda', { timing: 'sda', prepayment: { kind: 'psa', multiple: 1 }, recoveryLag: 12 }],
    ['timing=flat&recovery_lag=0', { timing: 'flat', prepayment: { kind: 'psa', multiple: 1 }, recoveryLag: 0 }],
    ['recovery_lag=24&psa=1.5', { timing: 'seasoning', prepayment: { kind: 'psa', multiple: 1.5 }, recoveryLag: 24 }],
    [
      'hazard=timing_only',
      { timing: 'seasoning', hazard: 'timing_only', prepayment: { kind: 'psa', multiple: 1 }, recoveryLag: 12 },
    ],
    [
      'hazard=house_prices&timing=sda',
      { timing: 'sda', hazard: 'house_prices', prepayment: { kind: 'psa', multiple: 1 }, recoveryLag: 12 },
    ],
    ['prepayment=scenario', { timing: 'seasoning', prepayment: { kind: 'scenario' }, recoveryLag: 12 }],
    [
      'prepayment=none&hazard=timing_only',
      { timing: 'seasoning', hazard: 'timing_only', prepayment: { kind: 'none' }, recoveryLag: 12 },
    ],
    [
      'prepayment=scenario&sda=1',
      {
        timing: 'seasoning',
        prepayment: { kind: 'scenario' },
        recoveryLag: 12,
        defaults: { kind: 'sda', multiple: 1 },
      },
    ],
    [
      'sda=2',
      {
        timing: 'seasoning',
        prepayment: { kind: 'psa', multiple: 1 },
        recoveryLag: 12,
        defaults: { kind: 'sda', multiple: 2 },
      },
    ],
    [
      'cdr=0.01,0.03&cpr=0.1',
      {
        timing: 'seasoning',
        prepayment: { kind: 'cpr', cpr: 0.1 },
        recoveryLag: 12,
        defaults: { kind: 'cdr', cdr: [0.01, 0.03] },
      },
    ],
  ] as [string, LossOptions][])(
    'passes %s to the engine',
    async (query, options) => {
      const lda = await loadModelFile('model-artifacts/lda/1.0.0.json');
      const records = loans.slice(0, 40).map(asRead);
      const s = scenario('adverse');
      const res = await post(`/pools/lifetime?model=lda&scenario=adverse&${query}`, toCsv(loans.slice(0, 40)));
      expect(res.statusCode).toBe(200);
      const { scenario: _, unplaced: __, ...figures } = res.json().scenarios[0];
      expect(figures).toEqual(direct(records, pds(lda, records, s, true), s, options));
      expect(figures.vectors).toHaveLength(360 + options.recoveryLag);
    },
    60_000,
  );

  it('projects custom paths (house prices and market rate) side by side with a preset, as the engine does directly', async () => {
    const model = await loadModelFile(join(dir, 'house_prices', '1.0.0.json'));
    const pool = holdoutLoans.slice(0, 30) as unknown as LoanRecord[];
    const records = pool.map(asRead);
    // A house-price fall with rates up, and a rise with rates down: the rate path moves prepayment only.
    const quarters = (first: number[], then: number) => [...first, ...Array(12 - first.length).fill(then)];
    const crash = {
      name: 'crash_rates_up',
      national: quarters([-0.04, -0.04, -0.03, -0.02, -0.01], 0.005),
      rates: [0.5, 0.5, 0.5, 0.5],
    };
    const rally = { name: 'rates_down', national: quarters([], 0.01), rates: [-0.5, -0.5, -0.25] };
    const spec = ['baseline', crash, rally];
    const res = await post(
      `/pools/lifetime?prepayment=scenario&scenario=${encodeURIComponent(JSON.stringify(spec))}`,
      toCsv(pool),
      { MODEL_DIR: dir, DEFAULT_MODEL: 'house_prices' },
    );
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body.scenarios.map((s: { scenario: string }) => s.scenario)).toEqual([
      'baseline',
      'crash_rates_up',
      'rates_down',
    ]);
    const options: LossOptions = { ...SEASONING_PSA, prepayment: { kind: 'scenario' } };
    spec.forEach((entry, i) => {
      const s = checkScenario(entry).scenario as Scenario;
      const { scenario: named, unplaced: _, ...figures } = body.scenarios[i];
      expect(named).toBe(s.name);
      expect(figures).toEqual(direct(records, pds(model, records, s, true), s, options));
    });
    const [onBaseline, onCrash, onRally] = body.scenarios;
    // Falling prices raise the PD and the loss; falling rates speed prepayment (a shorter WAL).
    expect(onCrash.pd_36m).toBeGreaterThan(onBaseline.pd_36m);
    expect(onCrash.expected_loss_lifetime).toBeGreaterThan(onBaseline.expected_loss_lifetime);
    expect(onRally.wal_years).toBeLessThan(onBaseline.wal_years);
    // One custom path alone, as an object.
    const one = await post(`/pools/lifetime?scenario=${encodeURIComponent(JSON.stringify(crash))}`, toCsv(pool), {
      MODEL_DIR: dir,
      DEFAULT_MODEL: 'house_prices',
    });
    expect(one.statusCode).toBe(200);
    expect(one.json().scenarios.map((s: { scenario: string }) => s.scenario)).toEqual(['crash_rates_up']);
  });

  it('reads the scenarios a JSON tape names before its loans, as the query would give them', async () => {
    const pool = holdoutLoans.slice(0, 25);
    const custom = { name: 'rates_up', national: Array(12).fill(-0.01), rates: [0.5, 0.5, 0.5, 0.5] };
    const spec = ['baseline', custom];
    const env = { MODEL_DIR: dir, DEFAULT_MODEL: 'house_prices' };
    const json = (body: object) => ({ 'content-type': 'application/json', ...body });
    const inQuery = `/pools/lifetime?prepayment=scenario&scenario=${encodeURIComponent(JSON.stringify(spec))}`;
    const [fromQuery, fromTape, perLoan, same, conflict, invalid, sameList, reordered] = await Promise.all([
      post(inQuery, JSON.stringify({ loans: pool }), env, json({})),
      post('/pools/lifetime?prepayment=scenario', JSON.stringify({ scenario: spec, loans: pool }), env, json({})),
      post('/pools/lifetime?loans=csv', JSON.stringify({ scenario: spec, loans: pool }), env, json({})),
      post('/pools/lifetime?scenario=adverse', JSON.stringify({ scenario: 'adverse', loans: pool }), env, json({})),
      post('/pools/lifetime?scenario=adverse', JSON.stringify({ scenario: 'baseline', loans: pool }), env, json({})),
      post(
        '/pools/lifetime',
        JSON.stringify({ scenario: ['baseline', { name: 'short', national: [0.01] }], loans: pool }),
        env,
        json({}),
      ),
      // The same list in the tape and the query, written differently: accepted; in another order: not.
      post(
        '/pools/lifetime?scenario=baseline,%20adverse',
        JSON.stringify({ scenario: ['baseline', 'adverse'], loans: pool }),
        env,
        json({}),
      ),
      post(
        '/pools/lifetime?scenario=adverse,baseline',
        JSON.stringify({ scenario: ['baseline', 'adverse'], loans: pool }),
        env,
        json({}),
      ),
    ]);
    expect(fromQuery.statusCode).toBe(200);
    expect(fromTape.statusCode).toBe(200);
    expect(fromTape.json()).toEqual(fromQuery.json());
    expect(perLoan.statusCode).toBe(200);
    expect(perLoan.headers['x-pool-scenarios']).toBe('baseline,rates_up');
    const [head = [], ...rows] = parseCsv(perLoan.body);
    expect(rows).toHaveLength(2 * pool.length);
    const column = head.indexOf('scenario');
    expect(new Set(rows.map((r) => r[column]))).toEqual(new Set(['baseline', 'rates_up']));
    expect(same.statusCode).toBe(200);
    expect(same.json().scenarios.map((s: { scenario: string }) => s.scenario)).toEqual(['adverse']);
    expect(conflict.statusCode).toBe(400);
    expect(conflict.json().code).toBe('SCENARIO_CONFLICT');
    expect(invalid.statusCode).toBe(400);
    expect(invalid.json().details.map((d: { field: string }) => d.field)).toContain('scenario[1].national');
    expect(sameList.statusCode).toBe(200);
    expect(sameList.json().scenarios.map((s: { scenario: string }) => s.scenario)).toEqual(['baseline', 'adverse']);
    expect(reordered.statusCode).toBe(400);
    expect(reordered.json().code).toBe('SCENARIO_CONFLICT');
  });

  it.each([
    ['{"national": "down"}', 'query.scenario.national'],
    ['["baseline", {"name": "x", "national": [0.1], "rates": [99]}]', 'query.scenario[1].rates[0]'],
    [JSON.stringify([{ national: Array(12).fill(0.01) }, { national: Array(12).fill(-0.01) }]), 'query.scenario[1]'],
    ['["baseline", "baseline"]', 'query.scenario[1]'],
    ['["baseline", "mars"]', 'query.scenario[1]'],
    ['[]', 'query.scenario'],
    [
      JSON.stringify(Array.from({ length: 7 }, (_, i) => ({ name: `s${i}`, national: Array(12).fill(0) }))),
      'query.scenario',
    ],
    ['{"national": [0.01]', 'query.scenario'],
    ['{"national": [0.01], "hpi": 1}', 'query.scenario.hpi'],
  ])('refuses the custom scenario %s naming %s', async (json, field) => {
    const res = await post(`/pools/lifetime?model=lda&scenario=${encodeURIComponent(json)}`, tape);
    expect(res.statusCode).toBe(400);
    expect(res.json().details.map((d: { field: string }) => d.field)).toContain(field);
  });

  it("a model that reads the scenario: by default the stress's CDR falls as its house prices recover", async () => {
    // Issue 22: with one scale on the timing curve, severely_adverse kept its default rate high for 30 years
    // (its CDR a constant multiple of baseline's) although its house prices recover after nine quarters.
    // One loan (no pool composition): the ratio of its monthly hazards −log(1 − MDR) under the two scenarios
    // was λ_stress / λ_baseline in every month; now the stress's excess fades as its prices recover.
    const res = await post('/pools/lifetime?model=lda&scenario=baseline,severely_adverse&psa=0', toCsv([exampleLoan]));
    expect(res.statusCode).toBe(200);
    const [base, stress] = res.json().scenarios;
    const hazard = (s: { vectors: { mdr: number }[] }, t: number) => -Math.log1p(-(s.vectors[t - 1]?.mdr as number));
    const ratio = (t: number) => hazard(stress, t) / hazard(base, t);
    // The stress builds up as its prices fall (to quarter 9), then fades as the loan amortises below the
    // stressed value (the presets' paths hold flat after their 12 quarters: the CLTV falls with the balance).
    expect(ratio(12)).toBeLessThan(0.6 * ratio(36));
    expect(ratio(240)).toBeLessThan(0.7 * ratio(120));
    expect(ratio(300)).toBeLessThan(ratio(240));
    expect(ratio(350)).toBeLessThan(0.3 * ratio(36));
    expect(stress.pd_36m).toBeGreaterThan(base.pd_36m);
  }, 60_000);

  it('a model that does not read the scenario keeps the timing-only hazard unless hazard=house_prices', async () => {
    const records = loans.slice(0, 30).map(asRead);
    const env = { MODEL_DIR: dir, DEFAULT_MODEL: 'plain' };
    const plain = await loadModelFile(join(dir, 'plain', '1.0.0.json'));
    const s = scenario('severely_adverse');
    const pd = pds(plain, records, s, false);
    const auto = await post('/pools/lifetime?scenario=severely_adverse', toCsv(loans.slice(0, 30)), env);
    const asked = await post(
      '/pools/lifetime?scenario=severely_adverse&hazard=house_prices',
      toCsv(loans.slice(0, 30)),
      env,
    );
    expect(auto.statusCode).toBe(200);
    expect(auto.json().model_reads_scenario).toBe(false);
    expect(auto.json().options.hazard).toBe('timing_only');
    expect(asked.json().options.hazard).toBe('house_prices');
    const figures = (res: typeof auto) => {
      const { scenario: _, unplaced: __, ...rest } = res.json().scenarios[0];
      return rest;
    };
    expect(figures(auto)).toEqual(direct(records, pd, s, { ...SEASONING_PSA, hazard: 'timing_only' }));
    expect(figures(asked)).toEqual(direct(records, pd, s, SEASONING_PSA));
  }, 60_000);

  it.each([
    ['hazard=steep', 'query.hazard', /must be timing_only or house_prices/],
    ['prepayment=fast', 'query.prepayment', /must be scenario or none/],
    ['prepayment=scenario&psa=2', 'query.prepayment', /send prepayment or psa, not both/],
    ['prepayment=none&cpr=0.1', 'query.prepayment', /send prepayment or cpr, not both/],
    ['hazard=house_prices&cdr=0.01', 'query.hazard', /cdr prescribes it instead/],
  ])('refuses %s with a 400 naming %s', async (query, field, message) => {
    const res = await post(`/pools/lifetime?model=lda&${query}`, toCsv(loans.slice(0, 2)));
    expect(res.statusCode).toBe(400);
    const problem = res.json().details.find((d: { field: string }) => d.field === field);
    expect(problem?.message).toMatch(message);
  });

  it('gives the closed forms of a constant CDR and CPR for one loan (timing=flat, cpr)', async () => {
    const loan = { ...exampleLoan, original_loan_term: 120 } as unknown as LoanRecord;
    const lda = await loadModelFile('model-artifacts/lda/1.0.0.json');
    const pd = lda.scoreMany([scenarioRecord(loan, scenario('baseline'))]).probability[0] as number;
    const res = await post(
      '/pools/lifetime?model=lda&timing=flat&hazard=timing_only&cpr=0.1&recovery_lag=6',
      toCsv([loan]),
    );
    expect(res.statusCode).toBe(200);
    const [s] = res.json().scenarios;
    const mdr = 1 - (1 - pd) ** (1 / 36);
    const smm = monthlyFromAnnual(0.1);
    const q = (1 - mdr) * (1 - smm);
    for (const t of [1, 12, 36, 60, 119]) {
      const v = s.vectors[t - 1];
      expect(v.mdr).toBeCloseTo(mdr, 12);
      expect(v.smm).toBeCloseTo(smm, 12);
      expect(v.cpr).toBeCloseTo(0.1, 12);
    }
    // Cumulative default probability to month 36 in closed form (pd_36m is by loan count, one loan here).
    expect(s.pd_36m).toBeCloseTo((mdr * (1 - q ** 36)) / (1 - q), 12);
    // The recovery lag: losses are realised 6 months after the defaults, the vectors end at term + lag.
    expect(s.vectors).toHaveLength(120 + 6);
    expect(s.vectors.slice(0, 6).every((v: { loss: number }) => v.loss === 0)).toBe(true);
  }, 60_000);

  it('prescribed default vectors: 100 % SDA and a constant CDR whatever the PD, the answer naming the assumption', async () => {
    const loan = { ...exampleLoan, original_loan_term: 120 } as unknown as LoanRecord;
    const [sda, cdr, model] = await Promise.all([
      post('/pools/lifetime?model=lda&sda=1&psa=0&recovery_lag=0', toCsv([loan])),
      post('/pools/lifetime?model=lda&cdr=0.05&cpr=0.1', toCsv([loan])),
      post('/pools/lifetime?model=lda&psa=0', toCsv([loan])),
    ]);
    expect(sda.statusCode).toBe(200);
    expect(sda.json().options).toEqual({ default_assumption: 'sda', sda: 1, prepayment: 'none', recovery_lag: 0 });
    const [s] = sda.json().scenarios;
    for (let t = 1; t <= 120; t++) expect(s.vectors[t - 1].cdr).toBeCloseTo(sdaCdr(t), 12);
    expect(cdr.statusCode).toBe(200);
    expect(cdr.json().options).toMatchObject({ default_assumption: 'cdr', cdr: [0.05], prepayment: 'cpr' });
    expect(cdr.json().options.timing).toBeUndefined();
    const [c] = cdr.json().scenarios;
    const mdr = monthlyFromAnnual(0.05);
    const q = (1 - mdr) * (1 - monthlyFromAnnual(0.1));
    expect(c.pd_36m).toBeCloseTo((mdr * (1 - q ** 36)) / (1 - q), 12);
    expect(c.vectors[80].cdr).toBeCloseTo(0.05, 12);
    expect(model.json().options).toMatchObject({ default_assumption: 'model', timing: 'seasoning' });
  }, 60_000);

  it('answers the vectors as CSV on Accept: text/csv, a scenario column first when there are several', async () => {
    const url = '/pools/lifetime?model=lda&scenario=baseline,historical';
    const [json, csv, one] = await Promise.all([
      post(url, tape),
      post(url, tape, {}, { accept: 'text/csv' }),
      post('/pools/lifetime?model=lda', tape, {}, { accept: 'text/csv' }),
    ]);
    expect(csv.statusCode).toBe(200);
    expect(csv.headers['content-type']).toBe('text/csv; charset=utf-8');
    expect(csv.headers['x-pool-scenarios']).toBe('baseline,historical');
    expect(csv.headers['x-pool-loan-count']).toBe(String(loans.length));
    const scenarios = json.json().scenarios;
    expect(csv.body).toBe(scenarioVectorsCsv(scenarios));
    const rows = parseCsv(csv.body);
    expect(rows[0]?.slice(0, 3)).toEqual(['scenario', 'period', 'begin_balance']);
    expect(rows).toHaveLength(1 + scenarios[0].vectors.length + scenarios[1].vectors.length);
    expect(rows[1]?.[0]).toBe('baseline');
    expect(rows.at(-1)?.[0]).toBe('historical');
    expect(one.statusCode).toBe(200);
    expect(one.body).toBe(vectorsCsv(scenarios[0].vectors));
  }, 60_000);

  it('flags and counts loans a scenario cannot place; a scenario-conditional model refuses them', async () => {
    const late = { ...exampleLoan, first_payment_date: 202406, loan_sequence_number: 'F24Q20000001' };
    const pool = toCsv([exampleLoan, late, exampleLoan] as unknown as LoanRecord[]);
    // A model without scenario features (the shipped ones all read them) projects every loan, flagging those
    // whose house-price path the scenario cannot place.
    const res = await post('/pools/lifetime?model=plain&scenario=baseline,historical', pool, {
      MODEL_DIR: dir,
      DEFAULT_MODEL: 'plain',
    });
    expect(res.statusCode).toBe(200);
    const [base, hist] = res.json().scenarios;
    expect(base.unplaced).toEqual({ count: 0, rows: [] });
    expect(hist.unplaced).toEqual({ count: 1, rows: [3] });

    const env = { MODEL_DIR: dir, DEFAULT_MODEL: 'house_prices' };
    const refused = await post('/pools/lifetime?scenario=baseline,historical', pool, env);
    expect(refused.statusCode).toBe(400);
    expect(refused.json().details[0].field).toBe('line 3, first_payment_date');
    expect(refused.json().details[0].message).toMatch(/historical/);
    const skipped = await post('/pools/lifetime?scenario=baseline,historical&on_error=skip', pool, env);
    expect(skipped.statusCode).toBe(200);
    expect(skipped.json()).toMatchObject({ loan_count: 2, rows: 3, rejected: { count: 1 } });
  }, 60_000);

  it.each([
    ['psa=-1', 'query.psa'],
    ['psa=abc', 'query.psa'],
    ['psa=51', 'query.psa'],
    ['cpr=1.5', 'query.cpr'],
    ['cpr=0.1,x', 'query.cpr[1]'],
    ['psa=1&cpr=0.1', 'query.cpr'],
    ['timing=linear', 'query.timing'],
    ['cdr=1.5', 'query.cdr'],
    ['cdr=0.1,x', 'query.cdr[1]'],
    ['sda=-1', 'query.sda'],
    ['sda=101', 'query.sda'],
    ['sda=abc', 'query.sda'],
    ['cdr=0.1&sda=1', 'query.sda'],
    ['timing=flat&sda=1', 'query.timing'],
    ['timing=seasoning&cdr=0.02', 'query.timing'],
    ['recovery_lag=61', 'query.recovery_lag'],
    ['recovery_lag=1.5', 'query.recovery_lag'],
    ['scenario=nowhere', 'query.scenario'],
    ['scenario=baseline,baseline', 'query.scenario'],
    ['scenario=baseline,adverse,severely_adverse,historical,baseline', 'query.scenario'],
    ['as_of=202213', 'query.as_of'],
    ['on_error=ignore', 'query.on_error'],
    ['format=json', 'query.format'],
    ['version=x', 'query.version'],
  ])('refuses %s naming %s', async (query, field) => {
    const res = await post(`/pools/lifetime?model=lda&${query}`, tape);
    expect(res.statusCode).toBe(400);
    expect(res.json().details.map((d: { field: string }) => d.field)).toContain(field);
  });

  it('refuses bad rows as POST /pools/score does, or skips them', async () => {
    const bad = `${tape.trim()}\nnot,a,loan\n`;
    const [refused, skipped, empty, unknown] = await Promise.all([
      post('/pools/lifetime?model=lda', bad),
      post('/pools/lifetime?model=lda&on_error=skip', bad),
      post('/pools/lifetime?model=lda', ''),
      post('/pools/lifetime?model=nowhere', tape),
    ]);
    expect(refused.statusCode).toBe(400);
    expect(refused.json().details[0].field).toBe(`line ${loans.length + 2}`);
    expect(skipped.statusCode).toBe(200);
    expect(skipped.json()).toMatchObject({ rows: loans.length + 1, loan_count: loans.length, rejected: { count: 1 } });
    expect(empty.statusCode).toBe(400);
    expect(unknown.statusCode).toBe(404);
  });
});

describe('LifetimeTape', () => {
  it('answers the same whatever the chunk size, rows of unplaced loans included', async () => {
    // A model without scenario features, so loans outside the historical market are projected and flagged.
    const plain = await loadModelFile(join(dir, 'plain', '1.0.0.json'));
    const late = loans.slice(0, 30).map((l, i) => (i % 4 === 1 ? { ...l, first_payment_date: 202406 } : l));
    const text = Buffer.from(toCsv(late));
    const run = async (chunkRows: number) => {
      const t = new LifetimeTape({
        model: plain,
        scenarios: [scenario('historical'), scenario('baseline')],
        loss: SEASONING_PSA,
        onError: 'fail',
        maxRows: 1000,
        format: 'auto',
        chunkRows,
      });
      // Bytes in uneven pieces, as a network delivers them.
      for (let i = 0; i < text.length; i += 997) t.push(text.subarray(i, i + 997));
      return t.end();
    };
    const small = await run(7);
    expect(small).toEqual(await run(4096));
    expect(small.scenarios[0]?.unplaced).toEqual({ count: 8, rows: [3, 7, 11, 15, 19, 23, 27, 31] });
    expect(small.scenarios[1]?.unplaced.count).toBe(0);
  });
});
