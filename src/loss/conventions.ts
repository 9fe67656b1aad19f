/**
 * Market conventions of the lifetime-loss engine (issue 22), each with its published definition; docs/LOSS.md
 * explains them with sources. Pure functions of the loan age (months since origination; age 1 = the first
 * payment month) or of an annual rate. Rates are fractions (0.06 = 6 %), multiples are fractions of the
 * standard curve (1 = 100 % PSA or SDA).
 */

/** Monthly rate of an annualised one: SMM = 1 − (1 − CPR)^(1/12), and MDR from CDR the same way. */
export function monthlyFromAnnual(annual: number): number {
  return -Math.expm1(Math.log1p(-annual) / 12);
}

/** Annualised rate of a monthly one: CPR = 1 − (1 − SMM)^12 (CDR from MDR the same way). */
export function annualFromMonthly(monthly: number): number {
  return -Math.expm1(12 * Math.log1p(-monthly));
}

/**
 * The PSA standard prepayment model (Public Securities Association, later the Bond Market Association,
 * now SIFMA): 100 % PSA is a CPR of 0.2 % in month 1 rising 0.2 % a month to 6 % at month 30, then 6 %;
 * a multiple scales the whole curve (150 % PSA: 9 % from month 30). Capped at 100 % CPR.
 */
export function psaCpr(age: number, multiple = 1): number {
  return Math.min(1, multiple * 0.002 * Math.min(Math.max(age, 0), 30));
}

/**
 * The SDA standard default assumption (the Bond Market Association): 100 % SDA is a CDR of 0.02 % in
 * month 1 rising 0.02 % a month to 0.60 % at month 30, flat at 0.60 % to month 60, falling 0.0095 % a
 * month to 0.03 % at month 120, and 0.03 % after. A multiple scales the curve; capped at 100 % CDR.
 */
export function sdaCdr(age: number, multiple = 1): number {
  const a = Math.max(age, 0);
  let cdr: number;
  if (a <= 30) cdr = 0.0002 * a;
  else if (a <= 60) cdr = 0.006;
  else if (a <= 120) cdr = 0.006 - 0.000095 * (a - 60);
  else cdr = 0.0003;
  return Math.min(1, multiple * cdr);
}

/**
 * The seasoning curve of the simulated loan history (scripts/loanmodel/history.py, docs/DATA.md): the
 * default hazard's log moves by log(min(age, 30)/30) − max(age − 60, 0)/240, so the hazard relative to its
 * month-30 level is this factor.
 */
export function seasoningShape(age: number): number {
  const a = Math.max(age, 0);
  return (Math.min(a, 30) / 30) * Math.exp(-Math.max(a - 60, 0) / 240);
}
