/**
 * The lifetime-loss engine (src/loss/engine.ts, pool.ts): the PD calibration, the closed forms of a constant
 * CDR/CPR, amortisation to the cent, competing risks, the severity schedule and the pool's streamed vectors.
 */
import { describe, expect, it } from 'vitest';
import {
  BEHAVIOUR,
  CSV_COLUMNS,
  cltvMultiplier,
  defaultLoss,
  hazardRate,
  hazardScale,
  type LoanTerms,
  type LossOptions,
  MonthlyVectors,
  monthlyFromAnnual,
  PoolLoss,
  paymentCents,
  plan,
  projectLoan,
  SEVERITY,
  sdaCdr,
  type Timing,
  vectorsCsv,
} from '../../src/loss/index.js';
import { FLAT_HPI, LOAN, relClose } from './helpers.js';

const NONE: LossOptions = { timing: 'seasoning', prepayment: { kind: 'none' }, recoveryLag: 12 };

/** Relative error of `actual` in units of 2^−52 (about one unit in the last place). */
const units = (actual: number, exact: number) => Math.abs(actual - exact) / Math.abs(exact) / 2 ** -52;

describe('the monthly loop without calls into the C library (engine.ts cltvMultiplier, hazardRate)', () => {
  it('the CLTV multiplier is within 3 units in the last place of Math.exp on a dense grid of CLTVs', () => {
    const b = BEHAVIOUR.default.b_cltv;
    let worst = 0;
    // 300,000 CLTVs from 0 to 200 %, and every table point ± half a step (r = ±1/256, the largest remainder).
    const cltvs: number[] = [];
    for (let i = 0; i <= 300_000; i++) cltvs.push((200 * i) / 300_000);
    for (let k = -230; k <= 230; k++) for (const h of [-0.5, 0.5]) cltvs.push(80 + (k + h) / 128 / b);
    for (const cltv of cltvs) {
      const exact = Math.exp(b * (Math.min(cltv, 160) - 80));
      worst = Math.max(worst, units(cltvMultiplier(cltv), exact));
    }
    expect(worst).toBeLessThanOrEqual(3);
    expect(cltvMultiplier(80)).toBe(1);
    expect(cltvMultiplier(1e9)).toBe(cltvMultiplier(160));
    // Outside the table (not a CLTV the engine makes) and not a number: Math.exp itself.
    expect(cltvMultiplier(-1e6)).toBe(Math.exp(b * (-1e6 - 80)));
    expect(cltvMultiplier(Number.NaN)).toBeNaN();
  });

  it('the monthly default rate 1 − e^(−x) is within 2 units in the last place of −Math.expm1(−x), and equal from 1/16', () => {
    let worst = 0;
    // x from 1e−12 to 0.07, 0.0004 % apart (about 6.9 million values), across the series' end at 1/16.
    for (let x = 1e-12; x < 0.07; x *= 1.000004) worst = Math.max(worst, units(hazardRate(x), -Math.expm1(-x)));
    expect(worst).toBeLessThanOrEqual(2);
    expect(hazardRate(0)).toBe(0);
    expect(hazardRate(Number.MIN_VALUE)).toBe(Number.MIN_VALUE);
    for (const x of [1 / 16, 0.1, 1, 30, 800, Number.POSITIVE_INFINITY]) expect(hazardRate(x)).toBe(-Math.expm1(-x));
    expect(hazardRate(Number.NaN)).toBeNaN();
  });
});

describe('default timing calibrated to the 36-month PD', () => {
  const timings: Timing[] = ['seasoning', 'sda', 'flat'];
  const pds = [1e-6, 1e-4, 0.003, 0.02, 0.1, 0.3, 0.6, 0.9, 0.99, 0.999];
  for (const timing of timings) {
    it(`${timing}: with no prepayment the cumulative default at month 36 equals the PD to 1e-12`, () => {
      const p = plan({ ...NONE, timing });
      for (const pd of pds) {
        for (const [age, term] of [
          [0, 360],
          [24, 336],
          [100, 120],
          [0, 24],
        ] as const) {
          const into = new MonthlyVectors(term + 12);
          const r = projectLoan(p, { ...LOAN, pd, age, term }, FLAT_HPI, into);
          let cum = 0;
          for (let i = 0; i < Math.min(36, term); i++) cum += into.defaults[i] as number;
          expect(Math.abs(cum - pd)).toBeLessThan(1e-12);
          expect(Math.abs(r.pd36 - pd)).toBeLessThan(1e-12);
          expect(r.lifetimePd).toBeGreaterThanOrEqual(r.pd36 - 1e-15);
        }
      }
    });
  }
  it('the hazard keeps the curve shape past month 36 (ratio of MDRs = ratio of curve values)', () => {
    const into = new MonthlyVectors(372);
    projectLoan(plan(NONE), { ...LOAN, pd: 1e-7 }, FLAT_HPI, into);
    const mdr = (t: number) => (into.defaulted[t - 1] as number) / (into.beginBalance[t - 1] as number);
    // log hazard: log(min(age,30)/30) − max(age−60,0)/240; at tiny PD, MDR ≈ λ × shape.
    relClose(mdr(120) / mdr(30), Math.exp(-60 / 240), 1e-6);
    relClose(mdr(15) / mdr(30), 0.5, 1e-6);
  });
  it('PD 0 gives no default and no loss', () => {
    const r = projectLoan(plan(NONE), { ...LOAN, pd: 0 }, FLAT_HPI);
    expect(r.lifetimePd).toBe(0);
    expect(r.expectedLossLifetime).toBe(0);
  });
});

describe('constant CDR and CPR: closed forms', () => {
  for (const [pd, cpr] of [
    [0.02, 0.06],
    [0.3, 0.25],
    [1e-5, 0],
    [0.5, 0.9],
  ] as const) {
    it(`PD ${pd} (a constant MDR) and CPR ${cpr}: survival, cumulative default, the pool's MDR/SMM`, () => {
      const p = plan({ timing: 'flat', prepayment: { kind: 'cpr', cpr }, recoveryLag: 0 });
      const into = new MonthlyVectors(360);
      const loan = { ...LOAN, pd };
      const r = projectLoan(p, loan, FLAT_HPI, into);
      const mdr = -Math.expm1(Math.log1p(-pd) / 36); // 1 − (1 − PD)^(1/36) without cancellation
      const smm = -Math.expm1(Math.log1p(-cpr) / 12);
      const q = (1 - mdr) * (1 - smm);
      const pool = new PoolLoss(p, 360);
      pool.add(loan, FLAT_HPI);
      const vectors = pool.answer().vectors;
      let cum = 0;
      for (let t = 1; t < 360; t++) {
        cum += into.defaults[t - 1] as number;
        // Cumulative default probability Σ_{k≤t} q^(k−1) × MDR = MDR (1 − q^t) / (1 − q).
        relClose(cum, (mdr * (1 - q ** t)) / (1 - q), 1e-12);
        // Survival: the end-of-month balance is q^t × the scheduled balance.
        relClose(into.balance[t - 1] as number, q ** t * (into.scheduledBalance[t - 1] as number), 1e-12);
        const v = vectors[t - 1];
        relClose(v?.mdr ?? Number.NaN, mdr, 1e-12);
        relClose(v?.smm ?? Number.NaN, smm, 1e-10);
        relClose(v?.cdr ?? Number.NaN, 1 - (1 - mdr) ** 12, 1e-12);
      }
      relClose(r.lifetimePd, (mdr * (1 - q ** 360)) / (1 - q), 1e-12);
    });
  }
});

/** The history.py schedule, independently in BigInt: interest half up, principal capped. */
function bigSchedule(upbCents: bigint, rateMilli: bigint, pmt: bigint, term: number): bigint[] {
  const out: bigint[] = [];
  let b = upbCents;
  for (let t = 1; t <= term; t++) {
    const interest = (b * rateMilli + 600_000n) / 1_200_000n;
    let principal = pmt - interest;
    if (principal < 0n) principal = 0n;
    if (principal > b) principal = b;
    b = t === term ? 0n : b - principal;
    out.push(b);
  }
  return out;
}

describe('amortisation', () => {
  const loans: [number, number, number][] = [
    [250_000, 6.5, 360],
    [123_456.78, 3.875, 180],
    [1_000_000, 9.125, 360],
    [50_000, 0, 120],
    [800_000.01, 12.999, 480],
    [75_000, 4.25, 1],
  ];
  it('scheduled balance to the cent: the BigInt recursion, and within rounding of the annuity formula', () => {
    for (const [upb, rate, term] of loans) {
      const into = new MonthlyVectors(term);
      projectLoan(plan(NONE), { ...LOAN, balance: upb, rate, term, pd: 0 }, FLAT_HPI, into);
      const cents = Math.round(upb * 100);
      const rateMilli = Math.round(rate * 1000);
      const pmt = paymentCents(cents, rateMilli, term);
      const r = rateMilli / 1_200_000;
      expect(pmt).toBe(Math.round(r === 0 ? cents / term : (cents * r) / (1 - (1 + r) ** -term)));
      const big = bigSchedule(BigInt(cents), BigInt(rateMilli), BigInt(pmt), term);
      for (let t = 1; t <= term; t++) {
        expect(Math.round((into.scheduledBalance[t - 1] as number) * 100)).toBe(Number(big[t - 1]));
        if (t < term) {
          // Annuity formula with the rounded payment; each month's interest rounding moves it ≤ ½ cent.
          const g = (1 + r) ** t;
          const closed = r === 0 ? cents - pmt * t : cents * g - (pmt * (g - 1)) / r;
          expect(Math.abs(Number(big[t - 1]) - Math.max(closed, 0))).toBeLessThanOrEqual(0.5 * t * g + 1e-6);
        }
      }
      // The last payment clears a residual smaller than two payments.
      expect(Number(big[term - 2] ?? BigInt(cents))).toBeLessThan(2 * pmt + 1);
    }
  });
});

describe('competing risks and losses', () => {
  it('a prepaid loan cannot default: with CPR 100 % nothing defaults after month 1', () => {
    const p = plan({ timing: 'seasoning', prepayment: { kind: 'cpr', cpr: 1 }, recoveryLag: 0 });
    const into = new MonthlyVectors(360);
    const r = projectLoan(p, { ...LOAN, pd: 0.5 }, FLAT_HPI, into);
    expect(into.defaults[0]).toBeGreaterThan(0);
    for (let t = 2; t <= 360; t++) expect(into.defaults[t - 1]).toBe(0);
    expect(r.lifetimePd).toBe(into.defaults[0]);
  });
  it('principal is conserved: scheduled + prepaid + defaulted balance = the initial balance', () => {
    const p = plan({ timing: 'sda', prepayment: { kind: 'psa', multiple: 2 }, recoveryLag: 12 });
    const into = new MonthlyVectors(372);
    projectLoan(p, { ...LOAN, pd: 0.2 }, FLAT_HPI, into);
    let sum = 0;
    for (let i = 0; i < 360; i++)
      sum += (into.scheduledPrincipal[i] ?? 0) + (into.prepaid[i] ?? 0) + (into.defaulted[i] ?? 0);
    relClose(sum, LOAN.balance, 1e-12);
    expect(into.balance[359]).toBe(0);
  });
  it('prepayment lowers lifetime PD and loss; a house-price fall and less MI raise the loss', () => {
    const none = projectLoan(plan(NONE), LOAN, FLAT_HPI, undefined);
    const fast = projectLoan(plan({ ...NONE, prepayment: { kind: 'psa', multiple: 3 } }), LOAN, FLAT_HPI);
    expect(fast.lifetimePd).toBeLessThan(none.lifetimePd);
    expect(fast.expectedLossLifetime).toBeLessThan(none.expectedLossLifetime);
    const fall = projectLoan(plan(NONE), LOAN, [1, 0.7]);
    expect(fall.expectedLossLifetime).toBeGreaterThan(none.expectedLossLifetime);
    const mi = projectLoan(plan(NONE), { ...LOAN, miPct: 30 }, [1, 0.7]);
    expect(mi.expectedLossLifetime).toBeLessThan(fall.expectedLossLifetime);
    expect(none.discountedLossLifetime).toBeLessThan(none.expectedLossLifetime);
    expect(none.expectedLoss12m).toBeLessThan(none.expectedLoss36m);
    expect(none.expectedLoss36m).toBeLessThan(none.expectedLossLifetime);
  });
  it('the severity schedule: sale, accrued interest, expenses and MI as docs/LOSS.md writes them', () => {
    const upb = 200_000;
    const sale = 250_000 * 0.8 * SEVERITY.saleFactor;
    const claim = upb + upb * 0.065 * 1 + 1500 + 0.012 * upb + 60 * 0.65 * 12 + 0.02 * 250_000 + 300;
    relClose(defaultLoss(upb, 250_000, 0.8, 6.5, 0, 12), claim - sale, 1e-12);
    relClose(defaultLoss(upb, 250_000, 0.8, 6.5, 25, 12), claim - sale - 0.25 * claim, 1e-12);
    expect(defaultLoss(upb, 250_000, 0.8, 6.5, 100, 12)).toBe(0);
    expect(defaultLoss(1000, 250_000, 1, 6.5, 0, 12)).toBe(0);
  });
  it('discounting at the note rate: a loss realised at month m is worth (1 + r/12)^−m', () => {
    const p = plan({ timing: 'flat', prepayment: { kind: 'none' }, recoveryLag: 7 });
    const into = new MonthlyVectors(12 + 7);
    const loan = { ...LOAN, term: 12, pd: 0.1 };
    const r = projectLoan(p, loan, FLAT_HPI, into);
    let pv = 0;
    for (let m = 1; m <= 19; m++) pv += (into.loss[m - 1] as number) * (1 + 6.5 / 1200) ** -m;
    relClose(r.discountedLossLifetime, pv, 1e-12);
    for (let m = 1; m <= 7; m++) expect(into.loss[m - 1]).toBe(0);
  });
});

describe('pool streaming and CSV', () => {
  it('the pool is the sum of its loans and its arrays do not grow', () => {
    const p = plan({ timing: 'seasoning', prepayment: { kind: 'psa', multiple: 1 }, recoveryLag: 12 });
    const pool = new PoolLoss(p, 372);
    const arrays = pool.vectors.balance;
    let el = 0;
    for (let i = 0; i < 50; i++)
      el += pool.add({ ...LOAN, pd: 0.001 * (i + 1), term: 120 + i * 4 }, FLAT_HPI).expectedLossLifetime;
    const a = pool.answer();
    expect(pool.vectors.balance).toBe(arrays);
    expect(pool.vectors.balance.length).toBe(372);
    relClose(a.expected_loss_lifetime, el, 1e-12);
    expect(a.loans).toBe(50);
    expect(a.vectors[0]?.month).toBe(1);
    const last = a.vectors[a.vectors.length - 1];
    relClose(last?.cumulative_loss_rate ?? 0, a.expected_loss_lifetime / a.initial_balance, 1e-12);
    expect(a.vectors.length).toBe(120 + 49 * 4 + 12);
    const csv = vectorsCsv(a.vectors).split('\n');
    expect(csv[0]).toBe(CSV_COLUMNS.join(','));
    expect(csv.length).toBe(a.vectors.length + 2);
    expect(csv[1]?.split(',').length).toBe(CSV_COLUMNS.length);
    expect(monthlyFromAnnual(a.vectors[40]?.cpr ?? 0)).toBeCloseTo(a.vectors[40]?.smm ?? -1, 12);
  });
});

describe('SDA timing', () => {
  it('a loan whose PD is 100 % SDA’s 36-month default gets scale 1 and exactly the SDA MDR every month', () => {
    let survival = 1;
    for (let a = 1; a <= 36; a++) survival *= 1 - monthlyFromAnnual(sdaCdr(a));
    const into = new MonthlyVectors(360);
    const r = projectLoan(plan({ ...NONE, timing: 'sda' }), { ...LOAN, pd: 1 - survival }, FLAT_HPI, into);
    relClose(r.scale, 1, 1e-12);
    for (let t = 1; t <= 360; t++) {
      relClose(
        (into.defaulted[t - 1] as number) / (into.beginBalance[t - 1] as number),
        monthlyFromAnnual(sdaCdr(t)),
        1e-12,
      );
    }
  });
});

describe('the Bond Market Association’s cumulative default matrix (Standard Formulas SF-22, 8 % WAC, 30 years)', () => {
  // Cumulative defaults, % of the original balance, at 100 % SDA under 100/150/200/300 % PSA, to the two
  // decimals of the published table (read from a transcription of chapter SF: docs/LOSS.md "Sources").
  const table: [number, number][] = [
    [1, 3.09],
    [1.5, 2.78],
    [2, 2.51],
    [3, 2.08],
  ];
  for (const [psa, published] of table) {
    it(`${psa * 100} % PSA, 100 % SDA: ${published} %`, () => {
      let survival = 1;
      for (let a = 1; a <= 36; a++) survival *= 1 - monthlyFromAnnual(sdaCdr(a));
      const p = plan({ timing: 'sda', prepayment: { kind: 'psa', multiple: psa }, recoveryLag: 0 });
      const into = new MonthlyVectors(360);
      const loan = { balance: 1_000_000, rate: 8, term: 360, age: 0, pd: 1 - survival, value: 2_000_000, miPct: 0 };
      projectLoan(p, loan, FLAT_HPI, into);
      const cumulative = (100 * into.defaulted.reduce((s, x) => s + x, 0)) / loan.balance;
      expect(Math.abs(cumulative - published)).toBeLessThanOrEqual(0.005);
    });
  }
});

describe("the schedule read once for a loan's scenarios (engine.ts monthByMonth) and λ from the first pass", () => {
  const falling = Float64Array.from({ length: 481 }, (_, t) => 1 - 0.3 * Math.min(t / 36, 1));
  const options: LossOptions = { timing: 'seasoning', prepayment: { kind: 'psa', multiple: 1 }, recoveryLag: 12 };
  const houses = plan({ ...options, hazard: 'house_prices' });
  const timing = plan(options);
  // The same balance, rate and remaining term: a loan with another PD and value (the same schedule), and a
  // seasoned one whose original level payment differs (another schedule from the same balance).
  const a: LoanTerms = { ...LOAN, pd: 0.04, value: 260_000 };
  const b: LoanTerms = { ...a, pd: 0.2, value: 400_000, secondLien: 20_000 };
  const seasoned: LoanTerms = {
    ...a,
    age: 24,
    origin: { balance: a.balance * 1.1, term: a.term + 24, value: 300_000, hpi: FLAT_HPI },
  };
  const other: LoanTerms = { ...LOAN, balance: 123_456.78, rate: 3.25, term: 180 };
  const alone = (p: ReturnType<typeof plan>, loan: LoanTerms) => {
    projectLoan(p, other, falling); // another schedule in the engine's scratch arrays
    const into = new MonthlyVectors(480 + 12);
    return { result: { ...projectLoan(p, loan, falling, into) }, into: JSON.stringify(into) };
  };

  it('answers every loan as projected alone, whatever loan the engine scheduled before', () => {
    for (const p of [houses, timing]) {
      const expected = [a, b, seasoned, a, seasoned, b].map((loan) => alone(p, loan));
      const inOrder = [a, b, seasoned, a, seasoned, b].map((loan) => {
        const into = new MonthlyVectors(480 + 12);
        return { result: { ...projectLoan(p, loan, falling, into) }, into: JSON.stringify(into) };
      });
      expect(inOrder).toEqual(expected);
    }
  });

  it("gives an origination loan the λ of housePriceScale's own walk, bit for bit", () => {
    for (const loan of [a, b, { ...a, term: 24 }, { ...a, pd: 0 }]) {
      expect(projectLoan(houses, loan, falling).scale).toBe(hazardScale(houses, loan, falling));
    }
  });
});
