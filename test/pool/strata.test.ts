import { describe, expect, it } from 'vitest';
import { LOAN_FIELDS } from '../../src/loan/record.js';
import { loanSizeBucket, miBucket, type StrataLoan, Stratifier } from '../../src/pool/strata.js';
import { seededRandom } from '../../src/runtime/random.js';
import { holdoutLoans } from '../helpers/app.js';

/** Pool stratification (issue 22 item 4) against a direct computation over the loans. */

const SENTINEL = new Map(
  LOAN_FIELDS.flatMap((f) => ('sentinel' in f && f.sentinel !== undefined ? [[f.name, f.sentinel]] : [])),
);
const value = <T>(loan: Record<string, unknown>, name: string): T | null => {
  const v = loan[name];
  return v === null || v === undefined || v === SENTINEL.get(name) ? null : (v as T);
};
const strataLoan = (l: Record<string, unknown>): StrataLoan => ({
  original_upb: l.original_upb as number,
  credit_score: value(l, 'credit_score'),
  ltv: value(l, 'ltv'),
  cltv: value(l, 'cltv'),
  dti: value(l, 'dti'),
  original_interest_rate: value(l, 'original_interest_rate'),
  original_loan_term: value(l, 'original_loan_term'),
  first_payment_date: l.first_payment_date as number,
  number_of_units: value(l, 'number_of_units'),
  mi_percent: value(l, 'mi_percent'),
  occupancy_status: value(l, 'occupancy_status'),
  loan_purpose: value(l, 'loan_purpose'),
  channel: value(l, 'channel'),
  property_type: value(l, 'property_type'),
  first_time_homebuyer_flag: value(l, 'first_time_homebuyer_flag'),
  property_state: value(l, 'property_state'),
});

describe('Stratifier', () => {
  const random = seededRandom(22);
  // Holdout loans, and copies of some with codes and values missing (sentinels and nulls).
  const missing = holdoutLoans
    .slice(0, 40)
    .map((l, i) =>
      i % 2 === 0
        ? { ...l, occupancy_status: '9', credit_score: 9999, mi_percent: 999, property_type: '99' }
        : { ...l, occupancy_status: null, dti: null, number_of_units: null },
    );
  const loans = [...holdoutLoans, ...missing].map((l) => ({ loan: strataLoan(l), pd: 0.001 + 0.1 * random() }));
  const asOf = 201206;
  const s = new Stratifier(asOf);
  for (const { loan, pd } of loans) s.add(loan, pd);
  const f = s.figures();
  const totalUpb = loans.reduce((t, l) => t + l.loan.original_upb, 0);
  const totalPdUpb = loans.reduce((t, l) => t + l.pd * l.loan.original_upb, 0);

  it('has missing values among the loans it is checked on', () => {
    expect(loans.some((l) => l.loan.credit_score === null)).toBe(true);
    expect(loans.some((l) => l.loan.occupancy_status === null)).toBe(true);
  });

  it.each([
    ['credit_score', (l: StrataLoan) => l.credit_score],
    ['cltv', (l: StrataLoan) => l.cltv],
    ['dti', (l: StrataLoan) => l.dti],
    ['note_rate', (l: StrataLoan) => l.original_interest_rate],
    [
      'loan_age',
      (l: StrataLoan) =>
        Math.floor(asOf / 100) * 12 +
        (asOf % 100) -
        (Math.floor(l.first_payment_date / 100) * 12 + (l.first_payment_date % 100)) +
        1,
    ],
  ] as const)('weighs %s by balance over the loans that have it', (name, get) => {
    const known = loans.filter((l) => get(l.loan) !== null);
    const w = known.reduce((t, l) => t + l.loan.original_upb, 0);
    const v = known.reduce((t, l) => t + l.loan.original_upb * (get(l.loan) as number), 0) / w;
    expect(f.weighted_averages[name].value).toBeCloseTo(v, 9);
    expect(f.weighted_averages[name].known_upb_share).toBeCloseTo(w / totalUpb, 12);
  });

  it.each([
    ['occupancy', (l: StrataLoan) => l.occupancy_status ?? 'missing'],
    ['state', (l: StrataLoan) => l.property_state ?? 'missing'],
    ['vintage', (l: StrataLoan) => String(Math.floor(l.first_payment_date / 100))],
    ['loan_size', (l: StrataLoan) => loanSizeBucket(l.original_upb)],
    ['mi_coverage', (l: StrataLoan) => miBucket(l.mi_percent)],
  ] as const)('breaks %s down by loans, balance and PD shares that add up to the pool', (name, key) => {
    const rows = f.strata[name];
    expect(rows.reduce((t, r) => t + r.loans, 0)).toBe(loans.length);
    expect(rows.reduce((t, r) => t + (r.upb_share as number), 0)).toBeCloseTo(1, 12);
    expect(rows.reduce((t, r) => t + (r.pd_upb_share as number), 0)).toBeCloseTo(1, 12);
    for (const r of rows) {
      const own = loans.filter((l) => key(l.loan) === r.stratum);
      const upb = own.reduce((t, l) => t + l.loan.original_upb, 0);
      const pdUpb = own.reduce((t, l) => t + l.pd * l.loan.original_upb, 0);
      expect(r.loans).toBe(own.length);
      expect(r.original_upb).toBe(upb);
      expect(r.pd_upb_share).toBeCloseTo(pdUpb / totalPdUpb, 12);
      expect(r.upb_weighted_pd).toBeCloseTo(pdUpb / upb, 12);
    }
  });

  it('orders strata as disclosures do: codes in a fixed order with missing last, states alphabetically, vintages ascending', () => {
    const occupancy = f.strata.occupancy.map((r) => r.stratum);
    expect(occupancy.indexOf('P')).toBe(0);
    expect(occupancy[occupancy.length - 1]).toBe('missing');
    const states = f.strata.state.map((r) => r.stratum);
    expect(states).toEqual([...states].sort());
    const vintages = f.strata.vintage.map((r) => Number(r.stratum));
    expect(vintages).toEqual([...vintages].sort((a, b) => a - b));
  });

  it('buckets loan sizes at the specified-pool limits, upper bound inclusive', () => {
    expect([85_000, 85_001, 110_000, 275_000, 275_001].map(loanSizeBucket)).toEqual([
      '<=85k',
      '85k-110k',
      '85k-110k',
      '250k-275k',
      '>275k',
    ]);
    expect([null, 0, 12, 12.5, 30, 35].map(miBucket)).toEqual(['missing', 'none', '0-12%', '12-25%', '25-30%', '>30%']);
  });

  it('answers an empty pool with nulls, never NaN, and has no loan age without an as-of month', () => {
    const empty = new Stratifier().figures();
    expect(JSON.stringify(empty)).not.toMatch(/NaN/);
    expect(empty.average_loan_size).toBeNull();
    const noAge = new Stratifier();
    noAge.add(loans[0]?.loan as StrataLoan, 0.01);
    expect(noAge.figures().weighted_averages.loan_age).toEqual({ value: null, known_upb_share: 0 });
  });
});
