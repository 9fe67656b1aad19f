/**
 * Seasoned loans (issue 22; docs/LOSS.md "Seasoned loans"): a tape record with `loan_age` and `current_upb`
 * projects from its age on its current balance, with the original level payment, its value marked to the house
 * prices since origination, and λ calibrated on the original window (ages 1–36), where the model's PD is.
 */
import { describe, expect, it } from 'vitest';
import {
  CURRENT_UPB,
  type Hazard,
  hazardScale,
  LOAN_AGE,
  type LoanTerms,
  type LossOptions,
  loanTerms,
  MonthlyVectors,
  monthlyHpi,
  monthlyMarketRate,
  PD_HORIZON,
  plan,
  projectLoan,
  seasonedInputs,
  type Timing,
} from '../../src/loss/index.js';
import { checkScenario, type Scenario } from '../../src/scenario/index.js';

const scenario = (name: string) => checkScenario(name).scenario as Scenario;
const RECORD = {
  original_upb: 250_000,
  original_interest_rate: 4.25,
  original_loan_term: 360,
  ltv: 80,
  cltv: 90,
  credit_score: 700,
  mi_percent: 0,
  property_state: 'CA',
  first_payment_date: 200501,
};
const NONE: LossOptions = { timing: 'seasoning', prepayment: { kind: 'none' }, recoveryLag: 12 };

/** The loan's origination projection (months 1…360) on the scenario's path from its first payment. */
function origination(options: LossOptions, pd: number, hpi: ArrayLike<number>, record = RECORD) {
  const terms = loanTerms(record, pd) as LoanTerms;
  const into = new MonthlyVectors(terms.term + options.recoveryLag);
  const r = { ...projectLoan(plan(options), terms, hpi, into) };
  return { terms, into, r };
}

/** The seasoned record's projection under `historical` (its own market from the first payment on). */
function seasoned(options: LossOptions, pd: number, age: number, balance: number, record = RECORD) {
  const s = scenario('historical');
  const terms = loanTerms({ ...record, [LOAN_AGE]: age, [CURRENT_UPB]: balance }, pd) as LoanTerms;
  const inputs = seasonedInputs(terms, monthlyHpi(record, s, 480).ratio);
  const into = new MonthlyVectors(inputs.terms.term + options.recoveryLag);
  const r = { ...projectLoan(plan(options), inputs.terms, inputs.hpi, into) };
  return { ...inputs, into, r };
}

/** The expected number of loans defaulting in month t. */
const mdr = (into: MonthlyVectors, t: number) => into.defaults[t - 1] as number;

describe('seasoned loans: the projection from the current age', () => {
  const hist = monthlyHpi(RECORD, scenario('historical'), 480).ratio;
  const base = origination(NONE, 0, hist);
  const scheduled = (k: number) => (k === 0 ? RECORD.original_upb : (base.into.scheduledBalance[k - 1] as number));

  it('on the schedule with no default or prepayment: months k+1… of the origination projection, to the cent', () => {
    for (const k of [0, 1, 12, 35, 36, 59, 120, 300, 359]) {
      const { terms, into } = seasoned(NONE, 0, k, scheduled(k));
      expect(terms.term).toBe(360 - k);
      expect(terms.age).toBe(k);
      for (const name of ['scheduledBalance', 'beginBalance', 'balance', 'interest', 'scheduledPrincipal'] as const) {
        expect(Array.from(into[name].subarray(0, 360 - k)), `${name} at age ${k}`).toEqual(
          Array.from(base.into[name].subarray(k, 360)),
        );
      }
    }
  });

  it('an explicit age 0 at the original balance is the origination record, bit for bit', () => {
    for (const hazard of ['timing_only', 'house_prices'] as const) {
      for (const name of ['baseline', 'severely_adverse', 'historical']) {
        const s = scenario(name);
        const options: LossOptions = { ...NONE, hazard, prepayment: { kind: 'scenario' } };
        const path = monthlyHpi(RECORD, s, 480).ratio;
        const plain = origination(options, 0.05, path);
        const market = monthlyMarketRate(RECORD, s, 480);
        const plainR = projectLoan(plan(options), plain.terms, path, undefined, undefined, market);
        const terms = loanTerms({ ...RECORD, [LOAN_AGE]: 0, [CURRENT_UPB]: RECORD.original_upb }, 0.05) as LoanTerms;
        const history = monthlyHpi(RECORD, scenario('historical'), 480).ratio;
        const inputs = name === 'historical' ? seasonedInputs(terms, path) : seasonedInputs(terms, history, path);
        const r = projectLoan(plan(options), inputs.terms, inputs.hpi, undefined, undefined, market);
        expect(r, `${hazard} ${name}`).toEqual(plainR);
      }
    }
  });

  it('the default rates of months k+1… are the origination projection’s (the same hazard, λ of the original window)', () => {
    for (const hazard of ['timing_only', 'house_prices'] as Hazard[]) {
      const options = { ...NONE, hazard };
      const o = origination(options, 0.08, hist);
      for (const k of [6, 30, 75, 130]) {
        const { into, r } = seasoned(options, 0.08, k, scheduled(k));
        expect(r.scale).toBe(o.r.scale);
        // MDR_t = defaults_t / alive_{t−1}: the seasoned loan starts alive (1), the origination one at S_k.
        let alive = 1;
        let aliveOrig = 1;
        for (let t = 1; t <= k; t++) aliveOrig -= mdr(o.into, t);
        for (let t = 1; t <= 360 - k; t++) {
          const m = mdr(into, t) / alive;
          const mo = mdr(o.into, k + t) / aliveOrig;
          expect(Math.abs(m - mo)).toBeLessThan(1e-12 * Math.max(1, mo) + 1e-15);
          alive -= mdr(into, t);
          aliveOrig -= mdr(o.into, k + t);
        }
      }
    }
  });
});

describe('seasoned loans: λ is calibrated on the original window (ages 1–36), where the model’s PD is', () => {
  const timings: Timing[] = ['seasoning', 'sda', 'flat'];
  for (const hazard of ['timing_only', 'house_prices'] as Hazard[]) {
    it(`${hazard}: cumulative default over ages 1–36 with no prepayment = the PD to 1e-12, any age`, () => {
      const hist = monthlyHpi(RECORD, scenario('historical'), 480).ratio;
      for (const timing of timings) {
        const options: LossOptions = { ...NONE, timing, hazard };
        for (const pd of [1e-6, 0.003, 0.08, 0.6, 0.999]) {
          const o = origination(options, pd, hist);
          let cum = 0;
          for (let t = 1; t <= PD_HORIZON; t++) cum += o.into.defaults[t - 1] as number;
          expect(Math.abs(cum - pd)).toBeLessThan(1e-12);
          for (const k of [1, 12, 35, 36, 100, 250]) {
            // On the schedule: survival to age k (origination) × survival over ages k+1…36 (seasoned).
            const { into, r } = seasoned(options, pd, k, o.into.scheduledBalance[k - 1] as number);
            expect(r.scale).toBe(o.r.scale);
            let before = 0;
            for (let t = 1; t <= k && t <= PD_HORIZON; t++) before += o.into.defaults[t - 1] as number;
            let after = 0;
            for (let t = 1; t <= PD_HORIZON - k; t++) after += into.defaults[t - 1] as number;
            expect(Math.abs(1 - (1 - before) * (1 - after) - pd)).toBeLessThan(1e-12);
          }
        }
      }
    });
  }

  it('not on the next 36 months: a loan past month 36 keeps the origination λ; its pd36 is its next 36 months', () => {
    const s = scenario('historical');
    const hist = monthlyHpi(RECORD, s, 480).ratio;
    const o = origination(NONE, 0.05, hist);
    const { terms, r } = seasoned(NONE, 0.05, 100, o.into.scheduledBalance[99] as number);
    // A projection calibrated from age 100 (the engine without `origin`) would scale the curve's tail to the PD.
    const next = hazardScale(plan(NONE), { ...terms, origin: undefined }, hist);
    expect(next).toBeLessThan(0.9 * r.scale);
    // pd36 = 1 − (1 − PD)^(Σ h over ages 101–136 / Σ h over ages 1–36): above the PD on the seasoning curve.
    const shape = plan(NONE).shape;
    let window = 0;
    let ahead = 0;
    for (let a = 1; a <= 36; a++) {
      window += shape[a] as number;
      ahead += shape[100 + a] as number;
    }
    expect(Math.abs(r.pd36 - (1 - 0.95 ** (ahead / window)))).toBeLessThan(1e-12);
    expect(r.pd36).toBeGreaterThan(0.05);
  });

  it('under a preset: the window reads the historical prices to the loan’s age, then the preset’s path', () => {
    const preset = monthlyHpi(RECORD, scenario('severely_adverse'), 480).ratio;
    const history = monthlyHpi(RECORD, scenario('historical'), 480).ratio;
    const options: LossOptions = { ...NONE, hazard: 'house_prices' };
    const o = origination(options, 0, history);
    for (const k of [10, 30, 40]) {
      const terms = loanTerms(
        { ...RECORD, [LOAN_AGE]: k, [CURRENT_UPB]: o.into.scheduledBalance[k - 1] as number },
        0.08,
      ) as LoanTerms;
      const inputs = seasonedInputs(terms, history, preset);
      const mark = history[k] as number;
      expect(inputs.terms.value).toBe(terms.value * mark);
      expect(inputs.hpi).toBe(preset);
      // The same loan at origination on that path: history to age k, then the preset from there.
      const path = Float64Array.from({ length: 481 }, (_, a) =>
        a <= k ? (history[a] as number) : mark * (preset[a - k] as number),
      );
      const atOrigination = origination(options, 0.08, path);
      expect(projectLoan(plan(options), inputs.terms, inputs.hpi).scale).toBeCloseTo(atOrigination.r.scale, 15);
    }
  });
});

describe('seasoned loans: the original level payment, a balance off the schedule', () => {
  const hist = monthlyHpi(RECORD, scenario('historical'), 480).ratio;
  const o = origination(NONE, 0, hist);
  it('a balance below the schedule (a curtailment) pays off early with the same payment; principal is conserved', () => {
    const k = 60;
    const balance = (o.into.scheduledBalance[k - 1] as number) - 50_000;
    const { terms, into, r } = seasoned({ ...NONE, prepayment: { kind: 'psa', multiple: 1 } }, 0.05, k, balance);
    expect(terms.term).toBeLessThan(300);
    expect(terms.term).toBeGreaterThan(200);
    expect(into.scheduledBalance[terms.term - 1]).toBe(0);
    expect(into.scheduledBalance[terms.term - 2]).toBeGreaterThan(0);
    // The payment (interest + scheduled principal of a performing month) is the original one.
    const payment = (t: number, v: MonthlyVectors) =>
      (v.interest[t - 1] as number) + (v.scheduledPrincipal[t - 1] as number);
    const pdFree = seasoned(NONE, 0, k, balance);
    expect(Math.round(payment(1, pdFree.into) * 100)).toBe(Math.round(payment(1, o.into) * 100));
    let principal = 0;
    for (let t = 1; t <= terms.term; t++) {
      principal += (into.scheduledPrincipal[t - 1] as number) + (into.prepaid[t - 1] as number);
      principal += into.defaulted[t - 1] as number;
    }
    expect(principal).toBeCloseTo(balance, 6);
    expect(r.lifetimePd).toBeGreaterThan(0);
  });

  it('a balance above the schedule leaves the residual to the last payment', () => {
    const k = 24;
    const balance = Math.min(250_000, (o.into.scheduledBalance[k - 1] as number) + 5_000);
    const { terms, into } = seasoned(NONE, 0, k, balance);
    expect(terms.term).toBe(336);
    const last = into.scheduledPrincipal[335] as number;
    expect(last).toBeGreaterThan(5_000);
    expect(into.scheduledBalance[335]).toBe(0);
  });

  it('under historical the market rate starts at the month of the next payment', () => {
    const s = scenario('historical');
    const fromOrigin = monthlyMarketRate(RECORD, s, 480) as Float64Array;
    const at40 = monthlyMarketRate(RECORD, s, 440, 40) as Float64Array;
    for (let t = 1; t <= 440; t++) expect(at40[t]).toBe(fromOrigin[Math.min(40 + t, 480)]);
    // A preset without a rate path (adverse) holds that month's rate; one with a path starts from it.
    const flat = monthlyMarketRate(RECORD, scenario('adverse'), 440, 40) as Float64Array;
    expect(Array.from(flat)).toEqual([fromOrigin[41]]);
    const path = monthlyMarketRate(RECORD, scenario('baseline'), 440, 40) as Float64Array;
    expect(path[0]).toBe(fromOrigin[41]);
    expect(path.length).toBe(441);
  });
});
