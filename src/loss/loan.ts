import { cumulativeLogHpi, HISTORICAL, marketMonth, marketRate, type Scenario } from '../scenario/index.js';
import { amortiseCents, interestCents, type LoanTerms, levelPaymentCents, PD_HORIZON, rint } from './engine.js';

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
 * after the table ends) from the month of the projection's first payment (the first-payment month; for a loan of
 * age k, the first-payment month + k). A path scenario starts from the table's rate r₀ of that month and adds
 * its `rates` (quarterly changes in points; docs/LOSS.md "The market rate"): month t = r₀ + D(t), D the
 * cumulative change, linear between quarter ends (month 3k is quarter k, as monthlyHpi), flat after the path;
 * without `rates` r₀ is held flat. Undefined without a first-payment date (the engine then reads no rate
 * incentive).
 */
export function monthlyMarketRate(
  loan: Readonly<Record<string, unknown>>,
  scenario: Scenario,
  months: number,
  age = 0,
): Float64Array | undefined {
  const fpd = loan.first_payment_date;
  if (typeof fpd !== 'number' || !Number.isFinite(fpd)) return undefined;
  const m0 = marketMonth(fpd) + age;
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
 * The tape-only columns of a seasoned loan (docs/LOSS.md "Seasoned loans"; src/pool/seasoned.ts reads and
 * checks them): not model inputs, so not loan-record fields of the contract.
 */
export const LOAN_AGE = 'loan_age';
export const CURRENT_UPB = 'current_upb';

/**
 * A seasoned record's age (months since the first full month of interest: `loan_age` payments have fallen
 * due) and current balance (after the `loan_age`-th payment), or undefined for an origination record (both
 * missing). Only well-formed values count (src/pool/seasoned.ts refuses the others).
 */
export function seasoningOf(
  loan: Readonly<Record<string, unknown>>,
): { readonly age: number; readonly balance: number } | undefined {
  const age = num(loan, LOAN_AGE);
  const balance = num(loan, CURRENT_UPB);
  return age === undefined || balance === undefined ? undefined : { age, balance };
}

/**
 * A loan record of the tape and its model PD as the engine's terms. An origination record (no `loan_age`
 * and `current_upb`): age 0, the original balance, the remaining term the original term. A seasoned record
 * (both given): age `loan_age`, balance `current_upb`, `origin` the original balance, term and value; the
 * remaining term is the original term − age, or fewer months when the original level payment clears a
 * balance below the schedule sooner (a curtailment shortens the term); a balance above the schedule leaves
 * the residual to the last payment. Its value is the value at origination: seasonedInputs marks it to a
 * scenario's house prices. The property value is original UPB / LTV (DEFAULT_LTV when LTV is
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
  const terms: LoanTerms = {
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
  const seasoned = seasoningOf(loan);
  if (seasoned === undefined) return terms;
  const origin = { balance, term, value: terms.value, hpi: FLAT };
  const current = { ...terms, balance: seasoned.balance, age: seasoned.age, term: term - seasoned.age, origin };
  return { ...current, term: remainingTerm(current) };
}

const FLAT: ArrayLike<number> = Float64Array.of(1);

/** Payments until the original level payment clears the balance, at most the term (the last clears any residual). */
function remainingTerm(loan: LoanTerms): number {
  const rateMilli = rint(loan.rate * 1000);
  const pmt = levelPaymentCents(loan);
  let cents = rint(loan.balance * 100);
  for (let t = 1; t < loan.term; t++) {
    cents = amortiseCents(cents, interestCents(cents, rateMilli), pmt);
    if (cents <= 0) return t;
  }
  return loan.term;
}

/**
 * A seasoned loan's terms and house-price path under a scenario (docs/LOSS.md "Seasoned loans"); an
 * origination record's unchanged. `history`: the loan's house-price ratio to its first-payment quarter by loan
 * age (monthlyHpi under `historical`: the market's realised prices since origination); `future`: a preset's
 * (or custom) path from now, absent under `historical` (the market's own continues). The value at
 * origination is marked to the ratio at the loan's age (its value now); the path is the ratio to now by
 * projection month (historical: history(age + t) / history(age); a preset: its path); λ's window reads the
 * ratio to origination by age, the history up to the loan's age and the preset's path after it.
 */
export function seasonedInputs(
  terms: LoanTerms,
  history: ArrayLike<number>,
  future?: ArrayLike<number>,
): { readonly terms: LoanTerms; readonly hpi: ArrayLike<number> } {
  const o = terms.origin;
  if (o === undefined) return { terms, hpi: future ?? history };
  const k = terms.age;
  const last = history.length - 1;
  const mark = history[Math.min(k, last)] as number;
  let hpi: ArrayLike<number>;
  let window: ArrayLike<number> = history;
  if (future === undefined) {
    const now = new Float64Array(terms.term + 1);
    for (let t = 0; t <= terms.term; t++) now[t] = (history[Math.min(k + t, last)] as number) / mark;
    hpi = now;
  } else {
    hpi = future;
    const n = Math.min(PD_HORIZON, o.term);
    if (k < n) {
      const lastFuture = future.length - 1;
      const prices = new Float64Array(n + 1);
      for (let a = 0; a <= n; a++) {
        prices[a] =
          a <= k ? (history[Math.min(a, last)] as number) : mark * (future[Math.min(a - k, lastFuture)] as number);
      }
      window = prices;
    }
  }
  return { terms: { ...terms, value: o.value * mark, origin: { ...o, hpi: window } }, hpi };
}
