/**
 * The scenarios' market-rate path (issue 22, docs/LOSS.md "The market rate"): the presets' `rates` (the Federal
 * Reserve's 2025 supervisory "Mortgage rate", as quarterly changes from the loan's first-payment-month rate), a
 * custom scenario's `rates`, read by `prepayment: scenario` only: flat after its end, a flat path the answer of no
 * path bit for bit, rates up → less prepayment, refusals, and the models' features untouched.
 */
import { describe, expect, it } from 'vitest';
import {
  type LoanTerms,
  type LossOptions,
  loanTerms,
  MonthlyVectors,
  monthlyHpi,
  monthlyMarketRate,
  PoolLoss,
  plan,
  projectLoan,
} from '../../src/loss/index.js';
import { MAX_PROBLEMS } from '../../src/problems.js';
import {
  checkScenario,
  describeScenarios,
  marketMonth,
  marketRate,
  SCENARIO_FILE,
  type Scenario,
  scenarioFeatures,
} from '../../src/scenario/index.js';

const scenario = (spec: unknown) => checkScenario(spec).scenario as Scenario;
const SCENARIO: LossOptions = {
  timing: 'seasoning',
  hazard: 'house_prices',
  prepayment: { kind: 'scenario' },
  recoveryLag: 6,
};
/** A premium loan: a note rate 1.5 points over the market of its first payment (2015-03). */
const RECORD = {
  original_upb: 200_000,
  original_interest_rate: 5.25,
  original_loan_term: 360,
  ltv: 75,
  cltv: 75,
  credit_score: 740,
  mi_percent: 0,
  property_state: 'TX',
  first_payment_date: 201503,
};
const R0 = marketRate(marketMonth(201503));
const FLAT12 = new Array(12).fill(0);

/** The Fed's 2025 supervisory Mortgage rate, 2024Q4 (jump-off) then 2025Q1…2028Q1 (Tables 1A, 2A, 3A). */
const FED = {
  jumpOff: 6.6,
  baseline: [6.4, 6.2, 6.1, 6.0, 5.9, 5.8, 5.7, 5.7, 5.7, 5.6, 5.6, 5.6, 5.6],
  severely_adverse: [4.0, 3.7, 3.8, 3.8, 3.8, 3.7, 3.6, 3.6, 3.5, 3.4, 3.3, 3.3, 3.2],
};

/** The loan's SMM by month (1-based) and its lifetime figures under a scenario. */
function project(spec: unknown, record: Record<string, unknown> = RECORD) {
  const s = scenario(spec);
  const loan = loanTerms(record, 0.02) as LoanTerms;
  const into = new MonthlyVectors(loan.term + SCENARIO.recoveryLag);
  const market = monthlyMarketRate(record, s, loan.term);
  const r = projectLoan(plan(SCENARIO), loan, monthlyHpi(record, s, loan.term).ratio, into, undefined, market);
  const smm = (t: number) => {
    const i = t - 1;
    const after =
      (into.beginBalance[i] as number) - (into.defaulted[i] as number) - (into.scheduledPrincipal[i] as number);
    return (into.prepaid[i] as number) / after;
  };
  return { r, smm, prepaid: into.prepaid.reduce((a, b) => a + b, 0) };
}

describe('the presets’ market-rate path', () => {
  it('baseline and severely_adverse follow the Fed’s Mortgage rate as changes from the first-payment month’s rate', () => {
    for (const name of ['baseline', 'severely_adverse'] as const) {
      const rates = monthlyMarketRate(RECORD, scenario(name), 480) as Float64Array;
      expect(rates.length).toBe(481);
      expect(rates[0]).toBe(R0);
      FED[name].forEach((level, k) => {
        // Quarter k + 1 ends at month 3(k + 1): the start plus the Fed's change since its jump-off.
        expect(Math.abs((rates[3 * (k + 1)] as number) - (R0 + level - FED.jumpOff))).toBeLessThan(1e-12);
      });
      // Linear between quarter ends, flat after the path's 13 quarters.
      const q1 = rates[3] as number;
      expect(Math.abs((rates[1] as number) - (R0 + (q1 - R0) / 3))).toBeLessThan(1e-12);
      for (let t = 39; t <= 480; t++) expect(rates[t]).toBe(rates[39]);
    }
    // The presets' source is written beside them; adverse has no published counterpart and holds the rate flat.
    expect(SCENARIO_FILE.presets.adverse?.rates).toBeUndefined();
    expect(monthlyMarketRate(RECORD, scenario('adverse'), 480)).toEqual(Float64Array.of(R0));
    const listed = describeScenarios();
    expect(listed.find((s) => s.name === 'severely_adverse')?.rates).toHaveLength(13);
    expect(listed.find((s) => s.name === 'adverse')?.rates).toBeUndefined();
  });

  it('a custom path: quarterly changes in points, linear by month, held after its end; none without a date', () => {
    const rates = monthlyMarketRate(RECORD, scenario({ national: FLAT12, rates: [0.75, -0.3] }), 30) as Float64Array;
    expect(rates.length).toBe(31);
    expect(rates[3]).toBe(R0 + 0.75);
    expect(rates[2]).toBe(R0 + (2 / 3) * 0.75);
    expect(rates[6]).toBe(R0 + (0.75 + -0.3));
    expect(rates[30]).toBe(rates[6]);
    expect(
      monthlyMarketRate({ ...RECORD, first_payment_date: null }, scenario({ national: FLAT12, rates: [1] }), 30),
    ).toBe(undefined);
  });
});

describe('what the path changes', () => {
  it('a flat path gives the answer of no path, bit for bit (the presets as they were)', () => {
    const answer = (spec: unknown) => {
      const s = scenario(spec);
      const pool = new PoolLoss(plan(SCENARIO), 480 + 6);
      for (const fpd of [201503, 200607, 201911]) {
        const record = { ...RECORD, first_payment_date: fpd };
        const t = loanTerms(record, 0.05) as LoanTerms;
        pool.add(t, monthlyHpi(record, s, t.term).ratio, monthlyMarketRate(record, s, t.term));
      }
      return pool.answer();
    };
    const national = SCENARIO_FILE.presets.baseline?.national as number[];
    const none = answer({ national });
    for (const rates of [[0], FLAT12, new Array(40).fill(0)]) {
      expect(answer({ national, rates })).toStrictEqual(none);
    }
  });

  it('rates up → the premium loan’s SMM down, month by month and over its life (monotone in the shift)', () => {
    const shifts = [-2, -1, 0, 0.5, 1, 2, 4];
    const runs = shifts.map((up) => project({ national: FLAT12, rates: [up] }));
    for (let i = 1; i < runs.length; i++) {
      const [lo, hi] = [runs[i - 1], runs[i]] as [ReturnType<typeof project>, ReturnType<typeof project>];
      for (const t of [1, 3, 12, 36, 120]) expect(hi.smm(t)).toBeLessThan(lo.smm(t));
      expect(hi.prepaid).toBeLessThan(lo.prepaid);
      expect(hi.r.wal).toBeGreaterThan(lo.r.wal);
    }
    // A rise after a year leaves the first year as it was.
    const later = project({ national: FLAT12, rates: [0, 0, 0, 0, 2] });
    const flat = project({ national: FLAT12 });
    for (const t of [1, 6, 12]) expect(later.smm(t)).toBe(flat.smm(t));
    expect(later.smm(24)).toBeLessThan(flat.smm(24));
  });

  it('the models do not read the path: the scenario features are the same with and without it', () => {
    const national = SCENARIO_FILE.presets.severely_adverse?.national as number[];
    for (const record of [RECORD, { ...RECORD, first_payment_date: 200601, property_state: 'NV' }]) {
      expect(scenarioFeatures(record, scenario({ national, rates: [3, 3, 3] }))).toStrictEqual(
        scenarioFeatures(record, scenario({ national })),
      );
      const preset = scenario('severely_adverse');
      expect(scenarioFeatures(record, preset)).toStrictEqual(
        scenarioFeatures(record, { ...preset, rates: undefined } as Scenario),
      );
    }
  });
});

describe('refusals of a custom rate path', () => {
  const max = SCENARIO_FILE.limits.max_abs_quarterly_rate_change;
  it.each([
    ['not an array', 'up', 'scenario.rates', /array of quarterly changes/],
    ['empty', [], 'scenario.rates', /1 to 40 quarters, got 0/],
    ['too long', new Array(41).fill(0), 'scenario.rates', /1 to 40 quarters, got 41/],
    ['a NaN', [0, 0, Number.NaN], 'scenario.rates[2]', /finite number/],
    ['a null', [0, null], 'scenario.rates[1]', /finite number/],
    ['a string', ['1'], 'scenario.rates[0]', /finite number/],
    ['too large', [0, 0, 0, max + 0.01], 'scenario.rates[3]', new RegExp(`from -${max} to ${max}`)],
    ['too small', [-max - 1], 'scenario.rates[0]', /finite number/],
  ])('refuses a path %s, naming the field and index', (_, rates, field, message) => {
    const check = checkScenario({ national: FLAT12, rates });
    expect(check.scenario).toBeUndefined();
    expect(check.problems[0]?.field).toBe(field);
    expect(check.problems[0]?.message).toMatch(message);
  });

  it('lists rates among the scenario fields; bad paths name at most the problem limit', () => {
    expect(checkScenario({ national: FLAT12, rate: [1] }).problems).toEqual([
      { field: 'scenario.rate', message: 'is not a scenario field (name, national, states, rates)' },
    ]);
    const many = checkScenario({ national: FLAT12, rates: new Array(40).fill('x') });
    expect(many.problems.map((p) => p.field)).toEqual(Array.from({ length: 40 }, (_, i) => `scenario.rates[${i}]`));
    expect(many.problems.length).toBeLessThanOrEqual(MAX_PROBLEMS);
  });
});
