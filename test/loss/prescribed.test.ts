/**
 * Prescribed default vectors (docs/LOSS.md "Prescribed default vectors"): a CDR (one rate or a vector by
 * projection month) or a multiple of the SDA curve in place of the hazard calibrated to the model's PD. 100 %
 * and 200 % SDA equal the published curve (× 2) month by month by loan age; a constant CDR with a constant CPR
 * gives the closed forms; the loan's PD plays no part.
 */
import { describe, expect, it } from 'vitest';
import {
  type LoanTerms,
  type LossOptions,
  lossOptionProblems,
  MonthlyVectors,
  monthlyFromAnnual,
  PoolLoss,
  plan,
  projectLoan,
  sdaCdr,
} from '../../src/loss/index.js';
import { FLAT_HPI, LOAN, relClose } from './helpers.js';

const NONE: LossOptions = { timing: 'seasoning', prepayment: { kind: 'none' }, recoveryLag: 0 };

/** The loan's MDR month by month: defaulted / begin balance. */
function mdrs(options: LossOptions, loan: LoanTerms): number[] {
  const into = new MonthlyVectors(loan.term);
  projectLoan(plan(options), loan, FLAT_HPI, into);
  return Array.from(into.defaulted, (d, i) => d / (into.beginBalance[i] as number));
}

describe('x % SDA: x × the SDA CDR by loan age', () => {
  for (const multiple of [1, 2, 0.5]) {
    for (const age of [0, 40]) {
      it(`${multiple * 100} % SDA, age ${age}: MDR_t = 1 − (1 − ${multiple} × CDR_SDA(age + t))^(1/12) every month`, () => {
        const loan = { ...LOAN, age, term: 300 };
        const got = mdrs({ ...NONE, defaults: { kind: 'sda', multiple } }, loan);
        for (let t = 1; t <= loan.term; t++) {
          relClose(got[t - 1] as number, monthlyFromAnnual(Math.min(1, multiple * sdaCdr(age + t))), 1e-12);
        }
      });
    }
  }

  it('100 % SDA is the published curve: CDR 0.6 % from month 30 to 60, 0.315 % at 90, 0.03 % from 120', () => {
    const got = mdrs({ ...NONE, defaults: { kind: 'sda', multiple: 1 } }, LOAN);
    for (const [month, cdr] of [
      [1, 0.0002],
      [30, 0.006],
      [60, 0.006],
      [61, 0.005905],
      [90, 0.00315],
      [120, 0.0003],
      [300, 0.0003],
    ] as const) {
      relClose(got[month - 1] as number, 1 - (1 - cdr) ** (1 / 12), 1e-12);
    }
  });

  it('200 % SDA is 2 × the CDR (the market convention), not the calibrated hazard scaled by 2', () => {
    const market = mdrs({ ...NONE, defaults: { kind: 'sda', multiple: 2 } }, LOAN);
    relClose(market[59] as number, monthlyFromAnnual(0.012), 1e-12);
    let survival = 1;
    for (let a = 1; a <= 36; a++) survival *= 1 - monthlyFromAnnual(sdaCdr(a));
    const hazard = mdrs({ ...NONE, timing: 'sda' }, { ...LOAN, pd: 1 - survival ** 2 }); // λ = 2
    expect(hazard[59]).not.toBeCloseTo(market[59] as number, 12);
  });

  it('the largest multiple, 100 (10,000 % SDA): a CDR of 60 % on the plateau', () => {
    const got = mdrs({ ...NONE, defaults: { kind: 'sda', multiple: 100 } }, LOAN);
    relClose(got[44] as number, monthlyFromAnnual(0.6), 1e-12);
  });
});

describe('a prescribed CDR', () => {
  for (const [cdr, cpr] of [
    [0.05, 0.1],
    [0.002, 0],
    [0.4, 0.3],
  ] as const) {
    it(`constant CDR ${cdr} with CPR ${cpr}: the closed forms to 1e-12`, () => {
      const p = plan({ ...NONE, prepayment: { kind: 'cpr', cpr }, defaults: { kind: 'cdr', cdr } });
      const into = new MonthlyVectors(360);
      const r = projectLoan(p, LOAN, FLAT_HPI, into);
      const mdr = monthlyFromAnnual(cdr);
      const q = (1 - mdr) * (1 - monthlyFromAnnual(cpr));
      let cum = 0;
      for (let t = 1; t < 360; t++) {
        cum += into.defaults[t - 1] as number;
        relClose(cum, (mdr * (1 - q ** t)) / (1 - q), 1e-12);
        relClose(into.balance[t - 1] as number, q ** t * (into.scheduledBalance[t - 1] as number), 1e-12);
      }
      relClose(r.lifetimePd, (mdr * (1 - q ** 360)) / (1 - q), 1e-12);
      relClose(r.pd36, (mdr * (1 - q ** 36)) / (1 - q), 1e-12);
    });
  }

  it('a vector is by projection month, the last value holding', () => {
    const v = [0.01, 0.02, 0.05];
    const got = mdrs({ ...NONE, defaults: { kind: 'cdr', cdr: v } }, { ...LOAN, age: 50 });
    for (let t = 1; t <= 360; t++)
      relClose(got[t - 1] as number, monthlyFromAnnual(v[Math.min(t, 3) - 1] as number), 1e-12);
  });

  it('CDR 0: nothing defaults; the loan PD plays no part and the scale is 0', () => {
    const zero = projectLoan(plan({ ...NONE, defaults: { kind: 'cdr', cdr: 0 } }), { ...LOAN, pd: 0.5 }, FLAT_HPI);
    expect(zero.lifetimePd).toBe(0);
    const options: LossOptions = { ...NONE, defaults: { kind: 'cdr', cdr: 0.03 } };
    const a = { ...projectLoan(plan(options), { ...LOAN, pd: 0.01 }, FLAT_HPI) };
    const b = { ...projectLoan(plan(options), { ...LOAN, pd: 0.9 }, FLAT_HPI) };
    expect(a).toEqual(b);
    expect(a.scale).toBe(0);
  });

  it('the model-calibrated default is unchanged by naming it', () => {
    const a = { ...projectLoan(plan(NONE), LOAN, FLAT_HPI) };
    const b = { ...projectLoan(plan({ ...NONE, defaults: { kind: 'model' } }), LOAN, FLAT_HPI) };
    expect(b).toEqual(a);
    expect(a.pd36).toBeCloseTo(LOAN.pd, 12);
  });

  it('streams through PoolLoss like the calibrated hazard', () => {
    const pool = new PoolLoss(plan({ ...NONE, defaults: { kind: 'sda', multiple: 1 } }), 360);
    pool.add(LOAN, FLAT_HPI);
    relClose(pool.answer().vectors[44]?.cdr ?? Number.NaN, 0.006, 1e-12);
  });
});

describe('refusals name the field', () => {
  const problems = (defaults: unknown) => lossOptionProblems({ ...NONE, defaults } as LossOptions).map((p) => p.field);
  it.each([
    [{ kind: 'cdr', cdr: 1.5 }, 'cdr'],
    [{ kind: 'cdr', cdr: -0.1 }, 'cdr'],
    [{ kind: 'cdr', cdr: [0.1, Number.NaN] }, 'cdr[1]'],
    [{ kind: 'cdr', cdr: [] }, 'cdr'],
    [{ kind: 'cdr', cdr: new Array(481).fill(0.01) }, 'cdr'],
    [{ kind: 'sda', multiple: -1 }, 'sda'],
    [{ kind: 'sda', multiple: Number.POSITIVE_INFINITY }, 'sda'],
    [{ kind: 'sda', multiple: 1e6 }, 'sda'],
    [{ kind: 'other' }, 'defaults'],
  ])('%j → %s', (defaults, field) => {
    expect(problems(defaults)).toEqual([field]);
    expect(() => plan({ ...NONE, defaults } as LossOptions)).toThrow(RangeError);
  });
});
