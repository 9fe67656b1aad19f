/**
 * What the engine accepts (src/loss/validate.ts): loan terms and options outside their ranges are named with
 * the field and the reason, and PoolLoss.add refuses them instead of silently writing past its arrays or
 * answering NaN.
 */
import { describe, expect, it } from 'vitest';
import {
  type LoanTerms,
  type LossOptions,
  loanTermProblems,
  lossOptionProblems,
  PoolLoss,
  plan,
} from '../../src/loss/index.js';

const LOAN: LoanTerms = { balance: 250_000, rate: 6.5, term: 360, age: 0, pd: 0.03, value: 312_500, miPct: 0 };
const OPTIONS: LossOptions = { timing: 'seasoning', prepayment: { kind: 'psa', multiple: 1 }, recoveryLag: 12 };

describe('loan terms', () => {
  it('accepts a valid loan', () => {
    expect(loanTermProblems(LOAN, 372, 12)).toEqual([]);
  });
  const bad: [Partial<LoanTerms>, string][] = [
    [{ pd: 1 }, 'pd'],
    [{ pd: -0.1 }, 'pd'],
    [{ pd: Number.NaN }, 'pd'],
    [{ term: 0 }, 'term'],
    [{ term: 481 }, 'term'],
    [{ term: 12.5 }, 'term'],
    [{ age: -1 }, 'age'],
    [{ age: 481 }, 'age'],
    [{ balance: -1 }, 'balance'],
    [{ balance: Number.POSITIVE_INFINITY }, 'balance'],
    [{ balance: 1e13 }, 'balance'],
    [{ rate: -1 }, 'rate'],
    [{ rate: 101 }, 'rate'],
    [{ value: 0 }, 'value'],
    [{ miPct: 101 }, 'miPct'],
  ];
  for (const [change, field] of bad) {
    it(`names ${field} for ${JSON.stringify(change)}`, () => {
      const problems = loanTermProblems({ ...LOAN, ...change }, 500, 12);
      expect(problems.map((p) => p.field)).toEqual([field]);
      expect(problems[0]?.message.length).toBeGreaterThan(5);
    });
  }
  it('a seasoned loan’s origin: balance, term (at least age + term), value and its house-price window', () => {
    const origin = { balance: 250_000, term: 360, value: 312_500, hpi: [1] };
    const seasoned: LoanTerms = { ...LOAN, balance: 200_000, age: 60, term: 300, origin };
    expect(loanTermProblems(seasoned, 372, 12)).toEqual([]);
    for (const [change, field] of [
      [{ balance: -1 }, 'origin.balance'],
      [{ term: 359 }, 'origin.term'],
      [{ term: 36.5 }, 'origin.term'],
      [{ value: 0 }, 'origin.value'],
    ] as const) {
      const problems = loanTermProblems({ ...seasoned, origin: { ...origin, ...change } }, 372, 12);
      expect(problems.map((p) => p.field)).toEqual([field]);
    }
    const pool = new PoolLoss(plan(OPTIONS), 372);
    expect(() => pool.add({ ...seasoned, origin: { ...origin, hpi: [1, 0] } }, [1])).toThrow(/origin\.hpi\[1\]/);
    expect(pool.answer().loans).toBe(0);
  });
  it('names the term when term + lag does not fit the pool’s months', () => {
    expect(loanTermProblems({ ...LOAN, term: 361 }, 372, 12).map((p) => p.field)).toEqual(['term']);
  });
  it('PoolLoss.add refuses an invalid loan and leaves the pool unchanged', () => {
    const pool = new PoolLoss(plan(OPTIONS), 372);
    expect(() => pool.add({ ...LOAN, term: 400 }, [1])).toThrow(/term/);
    expect(() => pool.add({ ...LOAN, pd: 1.5 }, [1])).toThrow(/pd/);
    expect(pool.answer().loans).toBe(0);
    pool.add(LOAN, [1]);
    expect(pool.answer().loans).toBe(1);
  });
  it('PoolLoss.add refuses a house-price path with a non-positive or non-finite ratio', () => {
    const pool = new PoolLoss(plan(OPTIONS), 372);
    expect(() => pool.add(LOAN, [1, Number.NaN])).toThrow(/hpi/);
    expect(() => pool.add(LOAN, [])).toThrow(/hpi/);
  });
});

describe('options', () => {
  it('accepts valid options', () => {
    expect(lossOptionProblems(OPTIONS)).toEqual([]);
    expect(lossOptionProblems({ ...OPTIONS, prepayment: { kind: 'cpr', cpr: [0, 0.5, 1] } })).toEqual([]);
    expect(lossOptionProblems({ ...OPTIONS, prepayment: { kind: 'none' } })).toEqual([]);
  });
  const bad: [unknown, string][] = [
    [{ ...OPTIONS, timing: 'weekly' }, 'timing'],
    [{ ...OPTIONS, recoveryLag: 61 }, 'recovery_lag'],
    [{ ...OPTIONS, recoveryLag: 1.5 }, 'recovery_lag'],
    [{ ...OPTIONS, prepayment: { kind: 'psa', multiple: -1 } }, 'psa'],
    [{ ...OPTIONS, prepayment: { kind: 'psa', multiple: 1e9 } }, 'psa'],
    [{ ...OPTIONS, prepayment: { kind: 'cpr', cpr: 1.5 } }, 'cpr'],
    [{ ...OPTIONS, prepayment: { kind: 'cpr', cpr: [] } }, 'cpr'],
    [{ ...OPTIONS, prepayment: { kind: 'cpr', cpr: [0.1, Number.NaN] } }, 'cpr[1]'],
    [{ ...OPTIONS, prepayment: { kind: 'cpr', cpr: new Array(481).fill(0.1) } }, 'cpr'],
    [{ ...OPTIONS, prepayment: { kind: 'weekly' } }, 'prepayment'],
  ];
  for (const [options, field] of bad) {
    it(`names ${field}`, () => {
      expect(lossOptionProblems(options as LossOptions).map((p) => p.field)).toEqual([field]);
    });
  }
  it('plan() refuses invalid options', () => {
    expect(() => plan({ ...OPTIONS, recoveryLag: 100 })).toThrow(/recovery_lag/);
  });
});
