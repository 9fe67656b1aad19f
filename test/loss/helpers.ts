import { expect } from 'vitest';
import type { LoanTerms } from '../../src/loss/index.js';

/** The lifetime-engine tests' example loan, a flat house-price path and a relative comparison. */
export const LOAN: LoanTerms = { balance: 250_000, rate: 6.5, term: 360, age: 0, pd: 0.03, value: 312_500, miPct: 0 };
export const FLAT_HPI = [1];

export function relClose(a: number, b: number, tol: number): void {
  expect(Math.abs(a - b)).toBeLessThanOrEqual(tol * Math.max(1, Math.abs(b)));
}
