import behaviour from '../contract/loan-behaviour.json' with { type: 'json' };
import { monthlyFromAnnual, psaCpr, sdaCdr, seasoningShape } from './conventions.js';
import { lossOptionProblems, refuse } from './validate.js';

/**
 * The lifetime-loss engine of one loan (issue 22; docs/LOSS.md): a monthly default hazard shaped by a timing
 * curve and scaled so that, with no prepayment, the cumulative default probability at month 36 equals the
 * model's 36-month PD; a prepayment rate (none, a CPR vector or a PSA multiple); level-payment amortisation in
 * integer cents (as scripts/loanmodel/history.py); and a loss at each default from a severity schedule in the
 * house price at default and the MI coverage, realised `recoveryLag` months later, discounted at the note rate
 * for CECL. Pure and allocation-free per loan once the options are compiled (plan()); the pool's monthly
 * vectors are added into fixed-size Float64Arrays (MonthlyVectors), so memory does not grow with the pool.
 *
 * Within a month, defaults come first: the loans that default in month t (probability MDR_t of the loans
 * alive at its start) miss their payment and leave with their start-of-month balance; the survivors pay their
 * scheduled principal, and then SMM_t of them prepay their balance after that payment. A prepaid loan never
 * defaults and a defaulted one never prepays (competing risks). scripts/loanmodel/lifetime.py is the Python
 * reference of the same recursion (test/loss/reference.test.ts holds the two to 1e-10).
 */

/**
 * The PD the models answer covers the 36 months from the first payment: ages 1–36 (docs/LOSS.md "Seasoned
 * loans"); the start of the projection for an origination record.
 */
export const PD_HORIZON = 36;
/** Longest remaining term and longest recovery lag the engine accepts (months). */
export const MAX_TERM = 480;
export const MAX_RECOVERY_LAG = 60;
/** Months from default to the realised loss when the caller names none (docs/LOSS.md "Recovery lag"). */
export const DEFAULT_RECOVERY_LAG = 12;

/** seasoning: the simulated history's curve; sda: the SDA curve; flat: a constant hazard (a constant CDR). */
export type Timing = 'seasoning' | 'sda' | 'flat';

/**
 * How the calibrated hazard follows the scenario (docs/LOSS.md "House prices in the default hazard"):
 * `timing_only`: λ × the timing curve; `house_prices`: λ × the timing curve × the simulated history's
 * mark-to-market CLTV multiplier exp(B_CLTV × (min(CLTV_t, 160) − 80)) on the scenario's house prices, so the
 * default rate falls as prices recover. λ makes the 36-month cumulative default equal the PD either way.
 */
export type Hazard = 'timing_only' | 'house_prices';
export const HAZARDS: readonly Hazard[] = ['timing_only', 'house_prices'];

export type Prepayment =
  | { readonly kind: 'none' }
  /**
   * The simulated history's prepayment process (docs/LOSS.md "Scenario prepayment"): turnover by loan age
   * and equity plus a refinancing logistic in the rate incentive (note rate − market rate), damped by the
   * mark-to-market CLTV and a low FICO, on the scenario's house prices and the loan's market-rate path.
   */
  | { readonly kind: 'scenario' }
  /** A CPR (fraction a year) or a vector of CPRs by projection month (month 1 first; the last value holds). */
  | { readonly kind: 'cpr'; readonly cpr: number | readonly number[] }
  /** A multiple of the PSA standard prepayment curve (1 = 100 % PSA), by loan age. */
  | { readonly kind: 'psa'; readonly multiple: number };

/**
 * The default assumption (docs/LOSS.md "Prescribed default vectors"): `model` (the default) calibrates the
 * timing curve to each loan's PD; `cdr` and `sda` prescribe the default rate instead, the same for every
 * loan whatever its PD, as cash-flow engines take a default vector.
 */
export type Defaults =
  | { readonly kind: 'model' }
  /** A CDR (fraction a year) or a vector of CDRs by projection month (month 1 first; the last value holds). */
  | { readonly kind: 'cdr'; readonly cdr: number | readonly number[] }
  /** The market's x % SDA: CDR = multiple × CDR_SDA(loan age), capped at 100 % (1 = 100 % SDA). */
  | { readonly kind: 'sda'; readonly multiple: number };

export interface LossOptions {
  /** Shape of the default hazard by loan age (docs/LOSS.md "Default timing"); unused when `defaults` prescribes. */
  readonly timing: Timing;
  /** How the calibrated hazard follows the scenario's house prices; absent: `timing_only`. */
  readonly hazard?: Hazard;
  /** Absent: `{ kind: 'model' }`. */
  readonly defaults?: Defaults;
  readonly prepayment: Prepayment;
  /** Months from default to the realised loss (0 to MAX_RECOVERY_LAG). */
  readonly recoveryLag: number;
}

/** One loan at the start of the projection. Amounts in dollars, rates in % a year. */
export interface LoanTerms {
  /** Unpaid principal balance now. */
  readonly balance: number;
  /** Note rate, % a year. */
  readonly rate: number;
  /** Remaining scheduled payments (1 to MAX_TERM). */
  readonly term: number;
  /** Loan age now, months (0: the next payment is the first one). */
  readonly age: number;
  /** The model's probability of default over the next 36 months, in [0, 1). */
  readonly pd: number;
  /** Property value now (mark-to-market LTV at default = balance / (value × house-price ratio)). */
  readonly value: number;
  /** Mortgage-insurance coverage, % of the claim (0 when none). */
  readonly miPct: number;
  /** Balance of a second lien, held constant (dollars; absent: 0): the CLTV counts it. */
  readonly secondLien?: number;
  /** Credit score (absent: not low: the refinancing of `prepayment: scenario` is not damped). */
  readonly fico?: number;
  /**
   * A seasoned loan's origination (docs/LOSS.md "Seasoned loans"; src/loss/loan.ts loanTerms and
   * seasonedInputs): the level payment is the original one (original balance over the original term, fixed
   * for the life), and λ is calibrated on the original window, ages 1…min(36, original term) of the original
   * schedule, where the model's PD is. Absent: the payment levels `balance` over `term`, and λ is calibrated
   * on the next min(36, term) months from `age`.
   */
  readonly origin?: LoanOrigin;
}

/** A seasoned loan at origination (LoanTerms.origin). */
export interface LoanOrigin {
  /** Original balance (dollars) and term (months). */
  readonly balance: number;
  readonly term: number;
  /** Property value at origination. */
  readonly value: number;
  /**
   * House-price ratio to origination by loan age (index 0 = origination; the last value holds): the prices of
   * the original window, read by the `house_prices` hazard's λ.
   */
  readonly hpi: ArrayLike<number>;
}

/** The history's constants (src/contract/loan-behaviour.json), shared with history.py and lifetime.py. */
export const BEHAVIOUR = behaviour;
const B_CLTV = behaviour.default.b_cltv;
const CLTV_CAP = behaviour.default.cltv_cap;
const CLTV_PIVOT = behaviour.default.cltv_pivot;
const PREPAY = behaviour.prepayment;

/** Mark-to-market CLTV, %: (balance + second lien) / (value × house-price ratio) × 100. */
export function markToMarketCltv(balance: number, second: number, value: number, hpiRatio: number): number {
  return ((balance + second) / (value * hpiRatio)) * 100;
}

/**
 * exp(k / 128) for the k that the multiplier's argument reaches: B_CLTV × (min(CLTV, 160) − 80) lies between
 * −B_CLTV × 80 (CLTV 0) and B_CLTV × 80 (CLTV 160 and above), i.e. within ±1.76: 455 values with the shipped
 * constants (a step beyond either end, whatever the constants of loan-behaviour.json).
 */
const EXP_STEPS = 128;
const EXP_ENDS = [-B_CLTV * CLTV_PIVOT, B_CLTV * (CLTV_CAP - CLTV_PIVOT)];
const EXP_LOW = Math.floor(Math.min(...EXP_ENDS) * EXP_STEPS) - 1;
const EXP_HIGH = Math.ceil(Math.max(...EXP_ENDS) * EXP_STEPS) + 1;
const EXP_TABLE = new Float64Array(EXP_HIGH + 1 - EXP_LOW).map((_, i) => Math.exp((i + EXP_LOW) / EXP_STEPS));

/**
 * The history's default-hazard multiplier of a mark-to-market CLTV: exp(B_CLTV × (min(CLTV, 160) − 80)), without a
 * call into the C library a loan-month (it was the largest cost of the `house_prices` hazard: docs/PERFORMANCE.md).
 * Computed as exp(k/128) (a table of Math.exp) × exp(r), k the nearest whole number to 128 y and |r| ≤ 1/256,
 * exp(r) by its Taylor polynomial of degree 5 (in Estrin's form: fewer dependent steps than Horner's). The
 * truncation is below r^6/6! × e^r ≤ 2^−48 / 720 × 1.004 < 5e−18 (0.03 of the last bit); the table's values are
 * within one unit in the last place, the polynomial (1 + r, then terms below 2^−9 of it) and the product add
 * about 1.5 more: within 3 units in the last place of e^y (relative 7e−16; tested against Math.exp on a dense
 * grid in test/loss/engine.test.ts). An argument outside the table (a negative CLTV, not a number) takes Math.exp.
 */
export function cltvMultiplier(cltv: number): number {
  const y = B_CLTV * (Math.min(cltv, CLTV_CAP) - CLTV_PIVOT);
  const k = Math.round(y * EXP_STEPS);
  const e = EXP_TABLE[k - EXP_LOW];
  if (e === undefined) return Math.exp(y);
  const r = y - k / EXP_STEPS;
  const r2 = r * r;
  return e * (1 + r + r2 * (1 / 2 + r / 6 + r2 * (1 / 24 + r / 120)));
}

/**
 * The monthly default rate of a hazard x ≥ 0: 1 − e^(−x) = −expm1(−x). Below 1/16 (every calibrated loan-month
 * but those of PDs near 1 on the steepest CLTV) by its Taylor series to x^9, x × (1 − x/2 + x²/6 − … + x⁸/9!), in
 * Estrin's form (four dependent multiply-adds instead of nine): an alternating series of decreasing terms, so the
 * truncation is below the next term, x^10 / 10! ≤ 2^−36 / 3,628,800 × x < 2e−17 x (0.1 of the last bit); the
 * bracket is 1 − x/2 plus terms below 2^−8 of it, so its roundings and the final product add under 2 units in the
 * last place: within 2 units of −Math.expm1(−x) (relative 5e−16; tested on a dense grid), without a call into the
 * C library. From 1/16, −Math.expm1(−x).
 */
export function hazardRate(x: number): number {
  if (!(x < 1 / 16)) return -Math.expm1(-x);
  const x2 = x * x;
  const x4 = x2 * x2;
  const low = 1 - x / 2 + x2 * (1 / 6 - x / 24);
  const high = 1 / 120 - x / 720 + x2 * (1 / 5040 - x / 40320) + x4 / 362880;
  return x * (low + x4 * high);
}

/**
 * The history's monthly prepayment probability (history.py current_rates): TURNOVER × min(age, 30)/30 ×
 * clip((110 − CLTV)/30, 0.1, 1) + REFI_MAX / (1 + exp(−(note − market − 0.8)/0.2)) × clip((100 − CLTV)/20, 0, 1)
 * × (0.6 if FICO < 660 else 1). Rates in % a year.
 */
export function scenarioSmm(age: number, cltv: number, note: number, market: number, lowFico: boolean): number {
  const seasoned = PREPAY.seasoning_months;
  const equity = Math.min(Math.max((PREPAY.equity_full - cltv) / PREPAY.equity_width, PREPAY.equity_floor), 1);
  const refiEquity = Math.min(Math.max((PREPAY.refi_equity_full - cltv) / PREPAY.refi_equity_width, 0), 1);
  const refi =
    (PREPAY.refi_max / (1 + Math.exp(-(note - market - PREPAY.refi_mid) / PREPAY.refi_width))) *
    refiEquity *
    (lowFico ? PREPAY.low_fico_factor : 1);
  return ((PREPAY.turnover * Math.min(age, seasoned)) / seasoned) * equity + refi;
}

/**
 * The severity schedule (docs/LOSS.md "Severity"), the expected values of the simulated history's loss
 * rules (docs/DATA.md "Loss"): sale value = value at default × the mean distressed factor (REO 65 % × 0.85,
 * short sale 27 % × 0.92, third-party sale 8 % × 0.95) × the mean condition factor (20 % of properties at
 * 0.65) × (1 − 7 % selling costs); the claim = balance + interest accrued over the lag + legal
 * (1,500 + 1.2 % of the balance) + maintenance (60 a month on the REO share) + taxes and insurance (2 % a year
 * of the value) + 300; MI pays MI % of the claim, at most the loss; a surplus is no negative loss.
 */
export const SEVERITY = {
  saleFactor: (0.65 * 0.85 + 0.27 * 0.92 + 0.08 * 0.95) * (0.2 * 0.65 + 0.8) * (1 - 0.07),
  legalFixed: 1500,
  legalRate: 0.012,
  maintenancePerMonth: 60 * 0.65,
  taxInsurancePerYear: 0.02,
  miscellaneous: 300,
} as const;

/** Loss of one default: its balance `upb`, the house price ratio to now at default, `lag` months to the sale. */
export function defaultLoss(
  upb: number,
  value: number,
  hpiRatio: number,
  rate: number,
  miPct: number,
  lag: number,
): number {
  return lagLoss(upb, value, hpiRatio, rate, miPct, lag, lagCosts(value, lag));
}

/** The expenses of a default that depend on the loan's value and the lag only (computed once a loan). */
function lagCosts(value: number, lag: number): LagCosts {
  return {
    maintenance: SEVERITY.maintenancePerMonth * lag,
    taxes: (SEVERITY.taxInsurancePerYear * value * lag) / 12,
  };
}

interface LagCosts {
  readonly maintenance: number;
  readonly taxes: number;
}

/** defaultLoss with the loan's lag costs given: the same operations in the same order (the same bits). */
function lagLoss(
  upb: number,
  value: number,
  hpiRatio: number,
  rate: number,
  miPct: number,
  lag: number,
  costs: LagCosts,
): number {
  const sale = value * hpiRatio * SEVERITY.saleFactor;
  const interest = ((upb * rate) / 1200) * lag;
  const expenses =
    SEVERITY.legalFixed + SEVERITY.legalRate * upb + costs.maintenance + costs.taxes + SEVERITY.miscellaneous;
  const claim = upb + interest + expenses;
  const beforeMi = Math.max(claim - sale, 0);
  return beforeMi - Math.min((miPct / 100) * claim, beforeMi);
}

/** Round half to even (numpy.rint), for the level payment as history.py rounds it. */
export function rint(x: number): number {
  const r = Math.round(x);
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** The level monthly payment in cents of `cents` at `rateMilli` (note rate × 1000) over `term` months. */
export function paymentCents(cents: number, rateMilli: number, term: number): number {
  const r = rateMilli / 1_200_000;
  return rint(r === 0 ? cents / term : (cents * r) / (1 - (1 + r) ** -term));
}

/** A month's interest in integer cents on `cents` at `rateMilli` (note rate × 1000), rounded half up. */
export function interestCents(cents: number, rateMilli: number): number {
  return Math.floor((cents * rateMilli + 600_000) / 1_200_000);
}

/** The balance in cents after one scheduled payment `pmt`: principal = payment − interest, capped at the balance. */
export function amortiseCents(cents: number, interest: number, pmt: number): number {
  return cents - Math.min(Math.max(pmt - interest, 0), cents);
}

/** Options compiled into tables (once per request, not per loan). */
export interface Plan {
  readonly options: LossOptions;
  /** Monthly hazard shape h by loan age (index = age, 0…2·MAX_TERM): MDR = 1 − exp(−λ h). */
  readonly shape: Float64Array;
  /** SMM by loan age (PSA), by projection month (CPR; index 0 unused) or all zero. */
  readonly smm: Float64Array;
  readonly smmByAge: boolean;
  /** A prescribed MDR by loan age (SDA) or by projection month (CDR; index 0 unused); none: calibrated. */
  readonly mdr: Float64Array | undefined;
  readonly mdrByAge: boolean;
  /** The calibrated hazard × the CLTV multiplier (hazard `house_prices`). */
  readonly housePrices: boolean;
  /** SMM from the history's process, per loan and month (prepayment `scenario`). */
  readonly scenarioPrepayment: boolean;
}

const AGES = 2 * MAX_TERM + 1;

/** Compiles the options; a RangeError names the fields when they are out of range (validate.ts). */
export function plan(options: LossOptions): Plan {
  refuse(lossOptionProblems(options));
  const shape = new Float64Array(AGES);
  for (let a = 1; a < AGES; a++) {
    shape[a] =
      options.timing === 'sda' ? -Math.log1p(-sdaCdr(a)) / 12 : options.timing === 'flat' ? 1 : seasoningShape(a);
  }
  const p = options.prepayment;
  const smm = new Float64Array(AGES);
  if (p.kind === 'psa') {
    for (let a = 1; a < AGES; a++) smm[a] = monthlyFromAnnual(psaCpr(a, p.multiple));
  } else if (p.kind === 'cpr') monthlyVector(p.cpr, smm);
  const d = options.defaults ?? { kind: 'model' };
  let mdr: Float64Array | undefined;
  if (d.kind === 'sda') {
    mdr = new Float64Array(AGES);
    for (let a = 1; a < AGES; a++) mdr[a] = monthlyFromAnnual(sdaCdr(a, d.multiple));
  } else if (d.kind === 'cdr') mdr = monthlyVector(d.cdr, new Float64Array(AGES));
  return {
    options,
    shape,
    smm,
    smmByAge: p.kind === 'psa',
    mdr,
    mdrByAge: d.kind === 'sda',
    housePrices: mdr === undefined && options.hazard === 'house_prices',
    scenarioPrepayment: p.kind === 'scenario',
  };
}

/** Monthly rates by projection month (index t ≥ 1) of an annual rate or a vector of them (the last holds). */
function monthlyVector(annual: number | readonly number[], into: Float64Array): Float64Array {
  const v = typeof annual === 'number' ? [annual] : annual;
  for (let t = 1; t < into.length; t++) into[t] = monthlyFromAnnual(v[Math.min(t, v.length) - 1] as number);
  return into;
}

/**
 * The scale λ of the timing curve that makes the cumulative default probability over the first
 * min(36, term) months equal `pd` with no prepayment. Every curve is a monthly hazard h(age) and
 * MDR_t = 1 − exp(−λ h(age_t)), so survival to month n is exp(−λ Σ h) and λ = −log(1 − pd) / Σ h, exactly
 * (the root of a monotone equation, in closed form). For the SDA, h = −log(1 − CDR_SDA)/12, so λ = 1 gives
 * 100 % SDA's MDR exactly; other λ scale its hazard (≈ the market's SDA multiple while m × CDR is small, and
 * unlike m × CDR it never caps at 100 %, so any PD below 1 is reached).
 */
export function timingScale(p: Plan, age: number, term: number, pd: number): number {
  if (pd === 0) return 0;
  const n = Math.min(PD_HORIZON, term);
  let sum = 0;
  for (let t = 1; t <= n; t++) sum += p.shape[age + t] as number;
  return -Math.log1p(-pd) / sum;
}

/**
 * λ of the `house_prices` hazard: h_t = shape(age_t) × cltvMultiplier(CLTV_t), CLTV_t on the start-of-month
 * scheduled balance and the house price of month t, so λ = −log(1 − pd) / Σ_{t ≤ min(36, term)} h_t, again in
 * closed form (the schedule is known in advance). projectLoan recomputes h_t with the same operations.
 */
function housePriceScale(p: Plan, loan: LoanTerms, hpi: ArrayLike<number>): number {
  if (loan.pd === 0) return 0;
  const o = loan.origin;
  // A seasoned loan: the original schedule from age 0, on the house prices since origination.
  const term = o === undefined ? loan.term : o.term;
  const age = o === undefined ? loan.age : 0;
  const value = o === undefined ? loan.value : o.value;
  const prices = o === undefined ? hpi : o.hpi;
  const second = loan.secondLien ?? 0;
  const rateMilli = rint(loan.rate * 1000);
  let cents = rint((o === undefined ? loan.balance : o.balance) * 100);
  const pmt = paymentCents(cents, rateMilli, term);
  const n = Math.min(PD_HORIZON, term);
  const lastHpi = prices.length - 1;
  let sum = 0;
  for (let t = 1; t <= n; t++) {
    const cltv = markToMarketCltv(cents / 100, second, value, prices[Math.min(t, lastHpi)] as number);
    sum += (p.shape[age + t] as number) * cltvMultiplier(cltv);
    cents = t === term ? 0 : amortiseCents(cents, interestCents(cents, rateMilli), pmt);
  }
  return -Math.log1p(-loan.pd) / sum;
}

/**
 * The scale λ projectLoan gives the loan's hazard: 0 when the default rate is prescribed; else calibrated so
 * that the cumulative default over the PD's window is the PD with no prepayment: for a seasoned loan
 * (`origin`) the original window, ages 1…min(36, original term) of the original schedule and prices
 * (the λ of the same loan at origination), else the next min(36, term) months from `age`.
 */
export function hazardScale(p: Plan, loan: LoanTerms, hpi: ArrayLike<number>): number {
  if (p.mdr !== undefined) return 0;
  if (p.housePrices) return housePriceScale(p, loan, hpi);
  const o = loan.origin;
  return o === undefined ? timingScale(p, loan.age, loan.term, loan.pd) : timingScale(p, 0, o.term, loan.pd);
}

/**
 * The loan's level payment in cents: the original one for a seasoned loan (original balance over the
 * original term, fixed for the life: a curtailment shortens the term, it does not lower the payment), else
 * `balance` over `term`.
 */
export function levelPaymentCents(loan: LoanTerms): number {
  const rateMilli = rint(loan.rate * 1000);
  const o = loan.origin;
  return o === undefined
    ? paymentCents(rint(loan.balance * 100), rateMilli, loan.term)
    : paymentCents(rint(o.balance * 100), rateMilli, o.term);
}

/** Monthly figures of a pool (or one loan), summed over loans; index m − 1 holds month m of the projection. */
export class MonthlyVectors {
  /** Balance if every loan paid as scheduled (no default, no prepayment), end of month. */
  readonly scheduledBalance: Float64Array;
  /** Expected balance of the loans alive at the start of the month. */
  readonly beginBalance: Float64Array;
  /** Expected balance at the end of the month. */
  readonly balance: Float64Array;
  readonly interest: Float64Array;
  readonly scheduledPrincipal: Float64Array;
  readonly prepaid: Float64Array;
  /** Balance of the loans defaulting this month (start-of-month balance). */
  readonly defaulted: Float64Array;
  /** Expected number of loans defaulting this month. */
  readonly defaults: Float64Array;
  /** Loss and net recovery (defaulted balance − loss) realised this month, of the defaults `lag` months before. */
  readonly loss: Float64Array;
  readonly recovery: Float64Array;
  loans = 0;
  initialBalance = 0;
  /** The longest term + lag added so far: the months the pool's vectors cover. */
  horizon = 0;

  constructor(readonly months: number) {
    this.scheduledBalance = new Float64Array(months);
    this.beginBalance = new Float64Array(months);
    this.balance = new Float64Array(months);
    this.interest = new Float64Array(months);
    this.scheduledPrincipal = new Float64Array(months);
    this.prepaid = new Float64Array(months);
    this.defaulted = new Float64Array(months);
    this.defaults = new Float64Array(months);
    this.loss = new Float64Array(months);
    this.recovery = new Float64Array(months);
  }
}

/** What the engine answers for one loan. Amounts in dollars; losses by the month of default (12m: months 1–12). */
export interface LoanResult {
  expectedLoss12m: number;
  expectedLoss36m: number;
  expectedLossLifetime: number;
  /** The same, each loss discounted at the note rate from the month it is realised (CECL). */
  discountedLoss12m: number;
  discountedLoss36m: number;
  discountedLossLifetime: number;
  /** Probability of default over the remaining term (with prepayment competing). */
  lifetimePd: number;
  /** Cumulative default probability at month 36 (the PD when there is no prepayment). */
  pd36: number;
  /** Weighted average life in years: Σ t × principal leaving at t / balance / 12. */
  wal: number;
  /** The timing curve's scale λ (1 = 100 % SDA under the SDA timing); 0 when the default rate is prescribed. */
  scale: number;
}

export function emptyResult(): LoanResult {
  return {
    expectedLoss12m: 0,
    expectedLoss36m: 0,
    expectedLossLifetime: 0,
    discountedLoss12m: 0,
    discountedLoss36m: 0,
    discountedLossLifetime: 0,
    lifetimePd: 0,
    pd36: 0,
    wal: 0,
    scale: 0,
  };
}

/**
 * projectLoan's first pass, month by month (index t = projection month, 1 to the term): the balance at the start of
 * the month in dollars (index term + 1: 0), the scheduled interest in cents, the hazard before λ (or the prescribed
 * MDR), the SMM and the loss of a default. Shared by every call (one loan at a time; each worker has its own).
 */
const BEFORE = new Float64Array(MAX_TERM + 2);
const INTEREST = new Float64Array(MAX_TERM + 1);
const HAZARD = new Float64Array(MAX_TERM + 1);
const SMM = new Float64Array(MAX_TERM + 1);
const UNIT_LOSS = new Float64Array(MAX_TERM + 1);
/** The loan whose schedule BEFORE and INTEREST hold: its balance and level payment in cents, rate and term. */
const SCHEDULE = { cents: -1, rateMilli: -1, pmt: -1, term: -1 };

/**
 * projectLoan's first pass: fills BEFORE, INTEREST, HAZARD, SMM and UNIT_LOSS for months 1 to the term and
 * answers the starting balance (dollars). What does not depend on the loans still alive is computed apart, so
 * that the second pass's recursion in `alive` does not wait on the cents and the multiplier's arithmetic, and
 * each pass is a loop small enough for V8 to inline its helpers whatever options it has seen
 * (docs/PERFORMANCE.md).
 */
function monthByMonth(p: Plan, loan: LoanTerms, hpi: ArrayLike<number>, market?: ArrayLike<number>): number {
  const { term, age, rate, value, miPct } = loan;
  const lag = p.options.recoveryLag;
  const prescribed = p.mdr;
  const housePrices = p.housePrices;
  const scenarioPrepayment = p.scenarioPrepayment;
  const mtm = housePrices || scenarioPrepayment;
  const second = loan.secondLien ?? 0;
  const lowFico = loan.fico !== undefined && loan.fico < PREPAY.low_fico;
  const lastMarket = market === undefined ? -1 : market.length - 1;
  const shape = p.shape;
  const smm = p.smm;
  const rateMilli = rint(rate * 1000);
  const start = rint(loan.balance * 100);
  const pmt = levelPaymentCents(loan);
  const lastHpi = hpi.length - 1;
  const costs = lagCosts(value, lag);
  const b0 = start / 100;
  // The schedule (a loan's balances and interest in cents) is the same under every scenario: a call for the
  // loan the last call scheduled (LifetimeCore projects a loan under its scenarios one after the other) reads it.
  if (start !== SCHEDULE.cents || rateMilli !== SCHEDULE.rateMilli || pmt !== SCHEDULE.pmt || term !== SCHEDULE.term) {
    let cents = start;
    for (let t = 1; t <= term; t++) {
      const interest = interestCents(cents, rateMilli);
      INTEREST[t] = interest;
      BEFORE[t] = cents / 100;
      cents = t === term ? 0 : amortiseCents(cents, interest, pmt);
    }
    BEFORE[term + 1] = 0;
    SCHEDULE.cents = start;
    SCHEDULE.rateMilli = rateMilli;
    SCHEDULE.pmt = pmt;
    SCHEDULE.term = term;
  }
  for (let t = 1; t <= term; t++) {
    const a = age + t;
    const before = BEFORE[t] as number;
    const ratio = hpi[Math.min(t, lastHpi)] as number;
    const cltv = mtm ? markToMarketCltv(before, second, value, ratio) : 0;
    HAZARD[t] =
      prescribed !== undefined
        ? (prescribed[p.mdrByAge ? a : t] as number)
        : housePrices
          ? (shape[a] as number) * cltvMultiplier(cltv)
          : (shape[a] as number);
    SMM[t] = scenarioPrepayment
      ? scenarioSmm(a, cltv, rate, lastMarket < 0 ? rate : (market?.[Math.min(t, lastMarket)] as number), lowFico)
      : (smm[p.smmByAge ? a : t] as number);
    UNIT_LOSS[t] = lagLoss(before, value, ratio, rate, miPct, lag, costs);
  }
  return b0;
}

/**
 * housePriceScale of a loan at its origination from the first pass's hazards: the same products
 * shape × multiplier of months 1…min(36, term), summed in the same order (the same bits), without a second
 * walk over the schedule.
 */
function firstPassScale(loan: LoanTerms): number {
  if (loan.pd === 0) return 0;
  const n = Math.min(PD_HORIZON, loan.term);
  let sum = 0;
  for (let t = 1; t <= n; t++) sum += HAZARD[t] as number;
  return -Math.log1p(-loan.pd) / sum;
}

/**
 * Projects one loan. `hpi[t]` is the house-price ratio at the end of projection month t to now (t = 0…;
 * the last value holds beyond the array). Adds the loan's monthly figures into `into` when given (its length
 * must be at least term + lag) and writes the answer into `out` (reused across loans to stay allocation-free).
 * `market[t]` is the market rate (% a year) in projection month t (the last value holds), read by
 * `prepayment: scenario` only; absent, the note rate (no rate incentive).
 */
export function projectLoan(
  p: Plan,
  loan: LoanTerms,
  hpi: ArrayLike<number>,
  into?: MonthlyVectors,
  out: LoanResult = emptyResult(),
  market?: ArrayLike<number>,
): LoanResult {
  const { term, rate } = loan;
  const lag = p.options.recoveryLag;
  const prescribed = p.mdr;
  const b0 = monthByMonth(p, loan, hpi, market);
  const scale =
    p.housePrices && p.mdr === undefined && loan.origin === undefined
      ? firstPassScale(loan)
      : hazardScale(p, loan, hpi);
  const v = 1 / (1 + rate / 1200);
  const vLag = v ** lag;
  let df = 1;
  let alive = 1;
  let el12 = 0;
  let el36 = 0;
  let el = 0;
  let dl12 = 0;
  let dl36 = 0;
  let dl = 0;
  let cumDefault = 0;
  let pd36 = 0;
  let walSum = 0;
  if (into) {
    into.loans++;
    into.initialBalance += b0;
    into.horizon = Math.max(into.horizon, term + lag);
  }
  for (let t = 1; t <= term; t++) {
    const before = BEFORE[t] as number;
    const after = BEFORE[t + 1] as number;
    const h = HAZARD[t] as number;
    const d = prescribed !== undefined ? h : hazardRate(scale * h);
    const q = SMM[t] as number;
    const defaulting = alive * d;
    const survivors = alive - defaulting;
    const prepaying = survivors * q;
    const loss = defaulting * (UNIT_LOSS[t] as number);
    df *= v;
    const dloss = loss * df * vLag;
    el += loss;
    dl += dloss;
    if (t <= 12) {
      el12 += loss;
      dl12 += dloss;
    }
    if (t <= PD_HORIZON) {
      el36 += loss;
      dl36 += dloss;
    }
    cumDefault += defaulting;
    if (t === PD_HORIZON) pd36 = cumDefault;
    walSum += t * (defaulting * before + survivors * (before - after) + prepaying * after);
    if (into) {
      const i = t - 1;
      const defaultedBalance = defaulting * before;
      into.scheduledBalance[i] = (into.scheduledBalance[i] as number) + after;
      into.beginBalance[i] = (into.beginBalance[i] as number) + alive * before;
      into.balance[i] = (into.balance[i] as number) + (survivors - prepaying) * after;
      into.interest[i] = (into.interest[i] as number) + (survivors * (INTEREST[t] as number)) / 100;
      into.scheduledPrincipal[i] = (into.scheduledPrincipal[i] as number) + survivors * (before - after);
      into.prepaid[i] = (into.prepaid[i] as number) + prepaying * after;
      into.defaulted[i] = (into.defaulted[i] as number) + defaultedBalance;
      into.defaults[i] = (into.defaults[i] as number) + defaulting;
      into.loss[i + lag] = (into.loss[i + lag] as number) + loss;
      into.recovery[i + lag] = (into.recovery[i + lag] as number) + defaultedBalance - loss;
    }
    alive = survivors - prepaying;
  }
  if (term < PD_HORIZON) pd36 = cumDefault;
  out.expectedLoss12m = el12;
  out.expectedLoss36m = el36;
  out.expectedLossLifetime = el;
  out.discountedLoss12m = dl12;
  out.discountedLoss36m = dl36;
  out.discountedLossLifetime = dl;
  out.lifetimePd = cumDefault;
  out.pd36 = pd36;
  out.wal = b0 > 0 ? walSum / b0 / 12 : 0;
  out.scale = scale;
  return out;
}
