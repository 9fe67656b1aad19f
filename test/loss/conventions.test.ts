/**
 * The market conventions of src/loss/conventions.ts against their published definitions (docs/LOSS.md
 * "Sources"): 100 % PSA and 100 % SDA month by month, the worked figures of the sources, and SMM/MDR.
 */
import { describe, expect, it } from 'vitest';
import { annualFromMonthly, monthlyFromAnnual, psaCpr, sdaCdr, seasoningShape } from '../../src/loss/conventions.js';

/** The published curves as knots (age, annual rate), linear between and flat after the last. */
function knots(points: readonly (readonly [number, number])[], age: number): number {
  for (let i = 1; i < points.length; i++) {
    const [a0, r0] = points[i - 1] as readonly [number, number];
    const [a1, r1] = points[i] as readonly [number, number];
    if (age <= a1) return r0 + ((r1 - r0) * (age - a0)) / (a1 - a0);
  }
  return (points[points.length - 1] as readonly [number, number])[1];
}
const PSA_KNOTS = [
  [0, 0],
  [30, 0.06],
] as const;
const SDA_KNOTS = [
  [0, 0],
  [30, 0.006],
  [60, 0.006],
  [120, 0.0003],
] as const;

describe('PSA standard prepayment model', () => {
  it('100 % PSA equals the definition month by month (0.2 % CPR in month 1, +0.2 % a month, 6 % from month 30)', () => {
    for (let age = 1; age <= 480; age++) expect(psaCpr(age)).toBeCloseTo(knots(PSA_KNOTS, age), 15);
  });
  it('matches the tabulated months of the sources', () => {
    // financetrain.com "PSA Prepayment Benchmark" and the FRM exercise cited in docs/LOSS.md.
    const table: [number, number, number][] = [
      [1, 1, 0.002],
      [10, 1, 0.02],
      [29, 1, 0.058],
      [30, 1, 0.06],
      [31, 1, 0.06],
      [360, 1, 0.06],
      [5, 1.5, 0.015],
      [30, 1.5, 0.09],
      [10, 2, 0.04],
      [30, 2, 0.12],
    ];
    for (const [age, m, cpr] of table) expect(psaCpr(age, m)).toBeCloseTo(cpr, 15);
    // SMM to the sources' rounding: 100 % PSA month 10 0.17 %, 150 % month 5 0.126 %, 200 % months 10/20/30/40.
    expect(monthlyFromAnnual(psaCpr(10))).toBeCloseTo(0.0017, 4);
    expect(monthlyFromAnnual(psaCpr(5, 1.5))).toBeCloseTo(0.00126, 5);
    expect(monthlyFromAnnual(psaCpr(10, 2))).toBeCloseTo(0.0034, 4);
    expect(monthlyFromAnnual(psaCpr(20, 2))).toBeCloseTo(0.0069, 4);
    expect(monthlyFromAnnual(psaCpr(30, 2))).toBeCloseTo(0.0106, 4);
    expect(monthlyFromAnnual(psaCpr(40, 2))).toBeCloseTo(0.0106, 4);
  });
});

describe('SDA standard default assumption', () => {
  it('100 % SDA equals the definition month by month (0.02 % → 0.6 % at 30, flat to 60, −0.0095 %/month to 0.03 % at 120)', () => {
    for (let age = 1; age <= 480; age++) expect(sdaCdr(age)).toBeCloseTo(knots(SDA_KNOTS, age), 15);
  });
  it('matches the tabulated months of the source', () => {
    const table: [number, number][] = [
      [1, 0.0002],
      [2, 0.0004],
      [15, 0.003],
      [30, 0.006],
      [45, 0.006],
      [60, 0.006],
      [61, 0.005905],
      [90, 0.00315],
      [119, 0.000395],
      [120, 0.0003],
      [121, 0.0003],
      [360, 0.0003],
    ];
    for (const [age, cdr] of table) expect(sdaCdr(age)).toBeCloseTo(cdr, 15);
    expect(sdaCdr(45, 2)).toBeCloseTo(0.012, 15);
  });
});

describe('monthly and annual rates', () => {
  it('SMM = 1 − (1 − CPR)^(1/12) and back', () => {
    for (const cpr of [0, 1e-9, 0.002, 0.06, 0.5, 0.99]) {
      expect(monthlyFromAnnual(cpr)).toBeCloseTo(1 - (1 - cpr) ** (1 / 12), 15);
      expect(annualFromMonthly(monthlyFromAnnual(cpr))).toBeCloseTo(cpr, 14);
    }
    expect(monthlyFromAnnual(1)).toBe(1);
  });
  it("the seasoning curve is history.py's: log factor log(min(age,30)/30) − max(age − 60, 0)/240", () => {
    for (const age of [1, 12, 30, 45, 60, 61, 120, 360]) {
      expect(Math.log(seasoningShape(age))).toBeCloseTo(
        Math.log(Math.min(age, 30) / 30) - Math.max(age - 60, 0) / 240,
        14,
      );
    }
  });
});
