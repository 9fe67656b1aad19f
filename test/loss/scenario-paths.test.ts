/**
 * The scenario driving the lifetime projection (issue 22; docs/LOSS.md "House prices in the default hazard",
 * "Scenario prepayment"): the `house_prices` hazard (the timing curve × the simulated history's mark-to-market
 * CLTV multiplier, λ still calibrated to the 36-month PD) and `prepayment: scenario` (the history's turnover,
 * equity and refinancing process), against the PD constraint, closed forms and the scenarios' own paths.
 */
import { describe, expect, it } from 'vitest';
import {
  annualFromMonthly,
  BEHAVIOUR,
  cltvMultiplier,
  type LoanTerms,
  type LossOptions,
  loanTerms,
  lossOptionProblems,
  MonthlyVectors,
  markToMarketCltv,
  monthlyHpi,
  monthlyMarketRate,
  PoolLoss,
  paymentCents,
  plan,
  projectLoan,
  scenarioSmm,
} from '../../src/loss/index.js';
import { checkScenario, marketMonth, marketRate, type Scenario } from '../../src/scenario/index.js';
import { FLAT_HPI, LOAN, relClose } from './helpers.js';

const scenario = (name: string) => checkScenario(name).scenario as Scenario;
const HOUSE: LossOptions = {
  timing: 'seasoning',
  hazard: 'house_prices',
  prepayment: { kind: 'none' },
  recoveryLag: 0,
};
const CURVE: LossOptions = { ...HOUSE, hazard: 'timing_only' };
/** A California loan of 2023 at 80 % LTV (CA: the states' largest house-price swings in the presets). */
const RECORD = {
  original_upb: 250_000,
  original_interest_rate: 6.5,
  original_loan_term: 360,
  ltv: 80,
  cltv: 90,
  credit_score: 720,
  mi_percent: 0,
  property_state: 'CA',
  first_payment_date: 202301,
};

/** One loan's monthly vectors, CDR and CPR by month (1-based). */
function run(options: LossOptions, loan: LoanTerms, hpi: ArrayLike<number>, market?: ArrayLike<number>) {
  const into = new MonthlyVectors(loan.term + options.recoveryLag);
  const r = { ...projectLoan(plan(options), loan, hpi, into, undefined, market) };
  const mdr = (t: number) => (into.defaulted[t - 1] as number) / (into.beginBalance[t - 1] as number);
  const smm = (t: number) => {
    const i = t - 1;
    const after =
      (into.beginBalance[i] as number) - (into.defaulted[i] as number) - (into.scheduledPrincipal[i] as number);
    return (into.prepaid[i] as number) / after;
  };
  return { r, into, mdr, smm, cdr: (t: number) => annualFromMonthly(mdr(t)) };
}

describe('hazard house_prices: the default rate follows the scenario’s house prices', () => {
  it('with no prepayment the cumulative default at month 36 equals the PD to 1e-12 under every scenario', () => {
    for (const name of ['baseline', 'adverse', 'severely_adverse', 'historical']) {
      for (const state of ['CA', 'TX', 'NV']) {
        const record = { ...RECORD, property_state: state };
        const hpi = monthlyHpi(record, scenario(name), 480).ratio;
        for (const timing of ['seasoning', 'sda', 'flat'] as const) {
          for (const pd of [1e-6, 0.003, 0.05, 0.4, 0.999]) {
            for (const [age, term, second] of [
              [0, 360, 25_000],
              [24, 336, 0],
              [100, 120, 0],
              [0, 24, 10_000],
            ] as const) {
              const loan = { ...(loanTerms(record, pd) as LoanTerms), age, term, secondLien: second };
              const { r, into } = run({ ...HOUSE, timing }, loan, hpi);
              let cum = 0;
              for (let i = 0; i < Math.min(36, term); i++) cum += into.defaults[i] as number;
              expect(Math.abs(cum - pd)).toBeLessThan(1e-12);
              expect(Math.abs(r.pd36 - pd)).toBeLessThan(1e-12);
            }
          }
        }
      }
    }
  });

  it('MDR follows the curve × exp(B_CLTV (min(CLTV, 160) − 80)) month by month (a zero-rate loan: known CLTV)', () => {
    // Flat timing, note rate 0: the balance falls by the level payment each month, so CLTV_t is known exactly.
    const loan: LoanTerms = { ...LOAN, rate: 0, term: 240, pd: 1e-6, value: 300_000, secondLien: 30_000 };
    const hpi = Array.from({ length: 241 }, (_, t) => 1 + 0.4 * Math.sin(t / 30));
    const { mdr } = run({ ...HOUSE, timing: 'flat' }, loan, hpi);
    const pmt = paymentCents(loan.balance * 100, 0, loan.term) / 100;
    const mult = (t: number) =>
      cltvMultiplier(((loan.balance - (t - 1) * pmt + 30_000) / (300_000 * (hpi[t] as number))) * 100);
    for (const [s, t] of [
      [1, 10],
      [10, 50],
      [50, 200],
    ] as const) {
      relClose(Math.log1p(-mdr(t)) / Math.log1p(-mdr(s)), mult(t) / mult(s), 1e-9);
    }
    expect(cltvMultiplier(80)).toBe(1);
    expect(cltvMultiplier(200)).toBe(cltvMultiplier(160)); // capped at 160, as the history caps it
    relClose(cltvMultiplier(100), Math.exp(BEHAVIOUR.default.b_cltv * 20), 1e-15);
  });

  it('closed form: while the CLTV stays above the 160 cap the multiplier is constant: the same MDR as timing_only', () => {
    // CLTV 500 % at the start: above 160 until the balance falls below 32 % of the original (month ~300).
    const loan: LoanTerms = { ...LOAN, pd: 0.2, value: 50_000 };
    const a = run(HOUSE, loan, FLAT_HPI);
    const b = run(CURVE, loan, FLAT_HPI);
    for (const t of [1, 12, 36, 120, 250]) relClose(a.mdr(t), b.mdr(t), 1e-12);
    relClose(a.r.pd36, b.r.pd36, 1e-12);
    relClose(a.r.expectedLoss36m, b.r.expectedLoss36m, 1e-12);
    relClose(a.r.scale * Math.exp(BEHAVIOUR.default.b_cltv * 80), b.r.scale, 1e-12);
  });

  it('severely_adverse: the CDR peaks in the stress and falls as its house prices recover (timing_only holds it up)', () => {
    const s = scenario('severely_adverse');
    const hpi = monthlyHpi(RECORD, s, 480).ratio;
    const loan = loanTerms(RECORD, 0.08) as LoanTerms;
    const house = run(HOUSE, loan, hpi);
    const curve = run(CURVE, loan, hpi);
    // Both give the PD at month 36; house_prices puts more of it in the stress (prices falling to month 27).
    expect(Math.abs(house.r.pd36 - curve.r.pd36)).toBeLessThan(1e-12);
    expect(house.cdr(27)).toBeGreaterThan(curve.cdr(27));
    // Prices recover after nine quarters: the CDR falls with the CLTV, well below the curve's by year 10 and 30.
    expect(house.cdr(120)).toBeLessThan(0.85 * curve.cdr(120));
    expect(house.cdr(359)).toBeLessThan(0.2 * curve.cdr(359));
    expect(house.r.lifetimePd).toBeLessThan(curve.r.lifetimePd);
    // The ratio of the two hazards tracks the path: highest at the trough, falling as the prices rise.
    const ratio = (t: number) => Math.log1p(-house.mdr(t)) / Math.log1p(-curve.mdr(t));
    expect(ratio(27)).toBeGreaterThan(ratio(60));
    expect(ratio(60)).toBeGreaterThan(ratio(120));
    expect(ratio(120)).toBeGreaterThan(ratio(240));
  });

  it('baseline is nearly unchanged: the same 36-month PD, its CDR within 20 %, 36-month loss within 15 %, lifetime PD within 25 %', () => {
    const within = (a: number, b: number, tol: number) => expect(Math.abs(a / b - 1)).toBeLessThan(tol);
    for (const state of ['CA', 'TX']) {
      const record = { ...RECORD, property_state: state };
      const hpi = monthlyHpi(record, scenario('baseline'), 480).ratio;
      const loan = loanTerms(record, 0.02) as LoanTerms;
      const psa = { kind: 'psa', multiple: 1 } as const;
      const house = run({ ...HOUSE, prepayment: psa }, loan, hpi);
      const curve = run({ ...CURVE, prepayment: psa }, loan, hpi);
      for (const t of [1, 6, 12, 24, 36]) within(house.cdr(t), curve.cdr(t), 0.2);
      within(house.r.pd36, curve.r.pd36, 0.005);
      within(house.r.expectedLoss36m, curve.r.expectedLoss36m, 0.15);
      // Baseline prices rise: the CLTV falls and so, slowly, does the hazard (docs/LOSS.md: about −20 % lifetime).
      within(house.r.lifetimePd, curve.r.lifetimePd, 0.25);
      expect(house.r.lifetimePd).toBeLessThan(curve.r.lifetimePd);
    }
  });
});

describe('prepayment scenario: the simulated history’s prepayment process', () => {
  const P = BEHAVIOUR.prepayment;
  it('closed forms of the SMM (turnover, equity, the refinancing logistic, FICO)', () => {
    // Seasoned, CLTV ≤ 80: full turnover and equity; an incentive of refi_mid: half the largest refinancing.
    relClose(scenarioSmm(30, 80, 6.8, 6, false), P.turnover + P.refi_max / 2, 1e-15);
    relClose(scenarioSmm(30, 80, 6.8, 6, true), P.turnover + (P.refi_max / 2) * P.low_fico_factor, 1e-15);
    // Half seasoned: half the turnover.
    relClose(scenarioSmm(15, 50, 6.8, 6, false), P.turnover / 2 + P.refi_max / 2, 1e-15);
    // Under water (CLTV ≥ 110): turnover at its floor, no refinancing.
    relClose(scenarioSmm(60, 120, 9, 3, false), P.turnover * P.equity_floor, 1e-15);
    // CLTV 95: equity (110 − 95)/30 = 0.5, refinancing equity (100 − 95)/20 = 0.25.
    const logistic = P.refi_max / (1 + Math.exp(-(7 - 5.5 - P.refi_mid) / P.refi_width));
    relClose(scenarioSmm(40, 95, 7, 5.5, false), P.turnover * 0.5 + logistic * 0.25, 1e-14);
  });

  it('the engine prepays scenarioSmm of the month’s CLTV and market rate (a zero-rate loan: known CLTV)', () => {
    const loan: LoanTerms = { ...LOAN, rate: 0, term: 240, pd: 0.01, value: 300_000, fico: 650 };
    const hpi = Array.from({ length: 241 }, (_, t) => 1 - 0.002 * t);
    const market = [0, -1, -0.5, 0.2];
    const { smm } = run({ ...CURVE, prepayment: { kind: 'scenario' } }, loan, hpi, market);
    const pmt = paymentCents(loan.balance * 100, 0, loan.term) / 100;
    for (const t of [1, 2, 3, 30, 150]) {
      const cltv = markToMarketCltv(loan.balance - (t - 1) * pmt, 0, 300_000, hpi[t] as number);
      relClose(smm(t), scenarioSmm(t, cltv, 0, market[Math.min(t, 3)] as number, true), 1e-9);
    }
    // No market path: the note rate (no incentive).
    const none = run({ ...CURVE, prepayment: { kind: 'scenario' } }, loan, hpi);
    const cltv = markToMarketCltv(loan.balance, 0, 300_000, hpi[1] as number);
    relClose(none.smm(1), scenarioSmm(1, cltv, 0, 0, true), 1e-9);
  });

  it('the stress’s falling prices take the equity away: less prepayment than baseline; a preset without rates holds the rate flat', () => {
    const loan = loanTerms(RECORD, 0.02) as LoanTerms;
    const project = (name: string) => {
      const s = scenario(name);
      const market = monthlyMarketRate(RECORD, s, 480);
      return run({ ...HOUSE, prepayment: { kind: 'scenario' } }, loan, monthlyHpi(RECORD, s, 480).ratio, market);
    };
    const base = project('baseline');
    const stress = project('severely_adverse');
    for (const t of [12, 27, 60]) expect(stress.smm(t)).toBeLessThan(base.smm(t));
    expect(monthlyMarketRate(RECORD, scenario('adverse'), 480)).toEqual(
      Float64Array.of(marketRate(marketMonth(202301))),
    );
    // historical: the market-rate table from the first-payment month on (month t: the t-th payment's month).
    const hist = monthlyMarketRate(
      { ...RECORD, first_payment_date: 200301 },
      scenario('historical'),
      480,
    ) as Float64Array;
    expect(hist[1]).toBe(marketRate(marketMonth(200301)));
    expect(hist[13]).toBe(marketRate(marketMonth(200401)));
    expect(monthlyMarketRate({ ...RECORD, first_payment_date: null }, scenario('historical'), 480)).toBeUndefined();
  });

  it('loanTerms: the second lien from CLTV − LTV, the FICO; a missing CLTV or FICO leaves them out', () => {
    const t = loanTerms(RECORD, 0.01) as LoanTerms;
    expect(t.secondLien).toBeCloseTo((250_000 * 10) / 80, 9);
    expect(t.fico).toBe(720);
    const missing = loanTerms({ ...RECORD, cltv: 999, credit_score: 9999 }, 0.01) as LoanTerms;
    expect(missing.secondLien).toBe(0);
    expect(missing.fico).toBeUndefined();
    expect((loanTerms({ ...RECORD, ltv: 999 }, 0.01) as LoanTerms).secondLien).toBe(0);
  });
});

describe('refusals', () => {
  it('names the hazard, the prepayment, the second lien, the FICO and a bad market-rate path', () => {
    expect(lossOptionProblems({ ...HOUSE, hazard: 'steep' as never })).toEqual([
      { field: 'hazard', message: 'must be timing_only or house_prices' },
    ]);
    expect(lossOptionProblems({ ...HOUSE, prepayment: { kind: 'fast' } as never })[0]?.field).toBe('prepayment');
    const pool = new PoolLoss(plan({ ...HOUSE, prepayment: { kind: 'scenario' } }), 372);
    expect(() => pool.add({ ...LOAN, secondLien: -1 }, FLAT_HPI)).toThrow(/secondLien must be a number from 0/);
    expect(() => pool.add({ ...LOAN, fico: Number.NaN }, FLAT_HPI)).toThrow(/fico must be a number/);
    expect(() => pool.add(LOAN, FLAT_HPI, [5, Number.NaN])).toThrow(/market\[1\] must be a finite rate/);
    expect(() => pool.add(LOAN, FLAT_HPI, [])).toThrow(/market must hold at least one rate/);
    expect(pool.vectors.loans).toBe(0);
  });
});
