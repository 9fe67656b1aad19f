import { cumulativeLogHpi, HISTORICAL, marketMonth, marketRate, type Scenario } from '../scenario/index.js';
import type { LoanTerms } from './engine.js';

/**
 * From a loan record and its PD to the engine's inputs (src/loss/engine.ts), and the house-price path of a
 * scenario by month. scripts/loanmodel/lifetime.py does the same in Python.
 */

/**
 * House-price ratio to the start by projection month 0…months: exp of the scenario's cumulative log change
 * (src/scenario cumulativeLogHpi), linear in the log between quarter ends (month 3k is quarter k), flat
 * after the path. A scenario that cannot place the loan (historical without a first-payment date) gives a
 * flat path and `placed: false`.
 */
export function monthlyHpi(
  loan: Readonly<Record<string, unknown>>,
  scenario: Scenario,
  months: number,
): { readonly ratio: Float64Array; readonly placed: boolean } {
  const quarters = Math.ceil(months / 3);
  const C = cumulativeLogHpi(loan, scenario, quarters);
  const ratio = new Float64Array(months + 1);
  if (Number.isNaN(C[0])) return { ratio: ratio.fill(1), placed: false };
  for (let t = 0; t <= months; t++) {
    const k = Math.floor(t / 3);
    const c0 = C[k] as number;
    const c = t % 3 === 0 ? c0 : c0 + ((t % 3) / 3) * ((C[k + 1] as number) - c0);
    ratio[t] = Math.exp(c);
  }
  return { ratio, placed: true };
}

/**
 * The market rate (% a year) by projection month for `prepayment: scenario` (the engine's `market`: index t =
 * month t, the last value holds), from the loan's first-payment date: `historical` follows the market-rate
 * table (src/scenario marketRate, the series the simulated history refinances against; its last year held
 * after the table ends). A path scenario starts from the table's rate r₀ of the first-payment month and adds
 * its `rates` (quarterly changes in points; docs/LOSS.md "The market rate"): month t = r₀ + D(t), D the
 * cumulative change, linear between quarter ends (month 3k is quarter k, as monthlyHpi), flat after the path;
 * without `rates` r₀ is held flat. Undefined without a first-payment date (the engine then reads no rate
 * incentive).
 */
export function monthlyMarketRate(
  loan: Readonly<Record<string, unknown>>,
  scenario: Scenario,
  months: number,
): Float64Array | undefined {
  const fpd = loan.first_payment_date;
  if (typeof fpd !== 'number' || !Number.isFinite(fpd)) return undefined;
  const m0 = marketMonth(fpd);
  if (scenario.kind !== HISTORICAL) {
    const r0 = marketRate(m0);
    const path = scenario.rates;
    if (path === undefined || path.length === 0) return Float64Array.of(r0);
    const quarters = Math.ceil(months / 3);
    const D = new Float64Array(quarters + 1);
    let sum = 0;
    for (let k = 1; k <= quarters; k++) {
      if (k <= path.length) sum += path[k - 1] as number;
      D[k] = sum;
    }
    const rates = new Float64Array(months + 1);
    for (let t = 0; t <= months; t++) {
      const k = Math.floor(t / 3);
      const d0 = D[k] as number;
      rates[t] = r0 + (t % 3 === 0 ? d0 : d0 + ((t % 3) / 3) * ((D[k + 1] as number) - d0));
    }
    return rates;
  }
  const rates = new Float64Array(months + 1);
  for (let t = 0; t <= months; t++) rates[t] = marketRate(m0 + Math.max(t, 1) - 1);
  return rates;
}

/** Loan-to-value assumed when the record has none (docs/LOSS.md). */
export const DEFAULT_LTV = 80;

function num(loan: Readonly<Record<string, unknown>>, name: string, sentinel?: number): number | undefined {
  const v = loan[name];
  return typeof v === 'number' && Number.isFinite(v) && v !== sentinel ? v : undefined;
}

/**
 * A loan record of the tape (an origination record: age 0, the remaining term is the original term) and
 * its model PD as the engine's terms. The property value is original UPB / LTV (DEFAULT_LTV when LTV is
 * missing: 999); MI coverage 0 when missing (999); the second lien original UPB × (CLTV − LTV) / LTV (as the
 * simulated history holds it, constant; 0 when CLTV or LTV is missing or CLTV ≤ LTV); the FICO when given
 * (9999: missing). Undefined when the record lacks UPB, rate or term.
 */
export function loanTerms(loan: Readonly<Record<string, unknown>>, pd: number): LoanTerms | undefined {
  const balance = num(loan, 'original_upb');
  const rate = num(loan, 'original_interest_rate');
  const term = num(loan, 'original_loan_term');
  if (balance === undefined || rate === undefined || term === undefined) return undefined;
  const ltv = num(loan, 'ltv', 999);
  const known = ltv !== undefined && ltv > 0;
  const ratio = (known ? ltv : DEFAULT_LTV) / 100;
  const cltv = num(loan, 'cltv', 999);
  const secondLien = known && cltv !== undefined && cltv > ltv ? (balance * (cltv - ltv)) / ltv : 0;
  const fico = num(loan, 'credit_score', 9999);
  return {
    balance,
    rate,
    term,
    age: 0,
    pd,
    value: balance / ratio,
    miPct: num(loan, 'mi_percent', 999) ?? 0,
    secondLien,
    ...(fico === undefined ? {} : { fico }),
  };
}
