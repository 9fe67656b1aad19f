import { annualFromMonthly } from './conventions.js';
import { emptyResult, type LoanResult, type LoanTerms, MonthlyVectors, type Plan, projectLoan } from './engine.js';
import { loanTermProblems, refuse } from './validate.js';

/**
 * A pool's lifetime figures, streamed: loans are added one at a time into fixed-size monthly arrays
 * (MonthlyVectors) and running sums, so memory is the same for ten loans or ten million. answer() gives the
 * JSON the route will send (names of issue 22: expected_loss_12m, expected_loss_36m, expected_loss_lifetime,
 * vectors with month and cumulative_default_rate), csv() the one-row-a-month layout of docs/LOSS.md.
 */
export class PoolLoss {
  readonly vectors: MonthlyVectors;
  private readonly result: LoanResult = emptyResult();
  /** House-price paths already checked (loans of one state share one path; paths are not to be changed after). */
  private readonly checkedPaths = new WeakSet<ArrayLike<number>>();
  private el12 = 0;
  private el36 = 0;
  private el = 0;
  private dl12 = 0;
  private dl36 = 0;
  private dl = 0;
  /** Σ balance × lifetime PD, Σ balance × PD36 and Σ balance × WAL (balance-weighted averages). */
  private pdSum = 0;
  private pd36Sum = 0;
  private walSum = 0;

  /** `months` = the longest remaining term + the recovery lag. */
  constructor(
    readonly plan: Plan,
    months: number,
  ) {
    this.vectors = new MonthlyVectors(months);
  }

  /**
   * Adds one loan; returns its figures (the object is reused by the next call: copy what you keep). A loan
   * outside the engine's ranges (validate.ts), or a house-price path that is empty or holds a ratio that is
   * not positive and finite, or a market-rate path (`prepayment: scenario`) that is empty or holds a rate
   * that is not finite, is refused with a RangeError and leaves the pool unchanged.
   */
  add(loan: LoanTerms, hpi: ArrayLike<number>, market?: ArrayLike<number>): LoanResult {
    refuse(loanTermProblems(loan, this.vectors.months, this.plan.options.recoveryLag));
    if (!this.checkedPaths.has(hpi)) {
      refuse(hpiProblems(hpi));
      this.checkedPaths.add(hpi);
    }
    const origin = loan.origin?.hpi;
    if (origin !== undefined && !this.checkedPaths.has(origin)) {
      refuse(hpiProblems(origin).map((p) => ({ ...p, field: `origin.${p.field}` })));
      this.checkedPaths.add(origin);
    }
    if (market !== undefined && !this.checkedPaths.has(market)) {
      refuse(marketProblems(market));
      this.checkedPaths.add(market);
    }
    const r = projectLoan(this.plan, loan, hpi, this.vectors, this.result, market);
    const b = loan.balance;
    this.el12 += r.expectedLoss12m;
    this.el36 += r.expectedLoss36m;
    this.el += r.expectedLossLifetime;
    this.dl12 += r.discountedLoss12m;
    this.dl36 += r.discountedLoss36m;
    this.dl += r.discountedLossLifetime;
    this.pdSum += b * r.lifetimePd;
    this.pd36Sum += b * r.pd36;
    this.walSum += b * r.wal;
    return r;
  }

  /**
   * The pool's sums so far, to fold into another pool with merge() (src/pool/lifetime.ts: the sums of a
   * run of loans, projected on a worker thread or on this one, folded in input order). Copies.
   */
  partial(): PoolPartial {
    const v = this.vectors;
    const arrays = VECTOR_NAMES.map((name) => v[name].slice(0, v.horizon));
    return {
      loans: v.loans,
      initialBalance: v.initialBalance,
      horizon: v.horizon,
      arrays,
      sums: [this.el12, this.el36, this.el, this.dl12, this.dl36, this.dl, this.pdSum, this.pd36Sum, this.walSum],
    };
  }

  /**
   * Adds a partial's sums to this pool's, month by month and figure by figure: folding the same partials in
   * the same order gives the same figures, bit for bit, whichever thread projected them.
   */
  merge(p: PoolPartial): void {
    const v = this.vectors;
    if (p.horizon > v.months) throw new RangeError(`a partial of ${p.horizon} months does not fit ${v.months}`);
    VECTOR_NAMES.forEach((name, k) => {
      const into = v[name];
      const from = p.arrays[k] as Float64Array;
      for (let i = 0; i < from.length; i++) into[i] = (into[i] as number) + (from[i] as number);
    });
    v.loans += p.loans;
    v.initialBalance += p.initialBalance;
    if (p.horizon > v.horizon) v.horizon = p.horizon;
    const s = p.sums;
    this.el12 += s[0] as number;
    this.el36 += s[1] as number;
    this.el += s[2] as number;
    this.dl12 += s[3] as number;
    this.dl36 += s[4] as number;
    this.dl += s[5] as number;
    this.pdSum += s[6] as number;
    this.pd36Sum += s[7] as number;
    this.walSum += s[8] as number;
  }

  answer(): PoolAnswer {
    const v = this.vectors;
    const b0 = v.initialBalance;
    const per = (x: number) => (b0 > 0 ? x / b0 : 0);
    const last = v.horizon;
    const vectors: MonthVector[] = [];
    let cumDefault = 0;
    let cumLoss = 0;
    for (let i = 0; i < last; i++) {
      const begin = v.beginBalance[i] as number;
      const defaulted = v.defaulted[i] as number;
      const scheduled = v.scheduledPrincipal[i] as number;
      const prepaid = v.prepaid[i] as number;
      const mdr = begin > 0 ? defaulted / begin : 0;
      const afterPayment = begin - defaulted - scheduled;
      const smm = afterPayment > 0 ? prepaid / afterPayment : 0;
      cumDefault += defaulted;
      cumLoss += v.loss[i] as number;
      vectors.push({
        month: i + 1,
        scheduled_balance: v.scheduledBalance[i] as number,
        begin_balance: begin,
        balance: v.balance[i] as number,
        interest: v.interest[i] as number,
        scheduled_principal: scheduled,
        prepayment: prepaid,
        defaulted_balance: defaulted,
        loss: v.loss[i] as number,
        recovery: v.recovery[i] as number,
        smm,
        cpr: annualFromMonthly(smm),
        mdr,
        cdr: annualFromMonthly(mdr),
        cumulative_default_rate: per(cumDefault),
        cumulative_loss_rate: per(cumLoss),
      });
    }
    return {
      loans: v.loans,
      initial_balance: b0,
      expected_loss_12m: this.el12,
      expected_loss_36m: this.el36,
      expected_loss_lifetime: this.el,
      expected_loss_12m_discounted: this.dl12,
      expected_loss_36m_discounted: this.dl36,
      expected_loss_lifetime_discounted: this.dl,
      lifetime_pd: per(this.pdSum),
      pd_36m: per(this.pd36Sum),
      wal_years: per(this.walSum),
      vectors,
    };
  }
}

const VECTOR_NAMES = [
  'scheduledBalance',
  'beginBalance',
  'balance',
  'interest',
  'scheduledPrincipal',
  'prepaid',
  'defaulted',
  'defaults',
  'loss',
  'recovery',
] as const;

/** A pool's sums (PoolLoss.partial): plain data, sent between threads as it is. */
export interface PoolPartial {
  readonly loans: number;
  readonly initialBalance: number;
  readonly horizon: number;
  /** The monthly vectors to the horizon, in VECTOR_NAMES' order. */
  readonly arrays: readonly Float64Array[];
  /** Σ EL 12m, 36m, lifetime, the discounted ones, Σ balance × lifetime PD, × PD36, × WAL. */
  readonly sums: readonly number[];
}

function hpiProblems(hpi: ArrayLike<number>): { field: string; message: string }[] {
  if (hpi.length === 0) return [{ field: 'hpi', message: 'must hold at least one ratio' }];
  for (let i = 0; i < hpi.length; i++) {
    const x = hpi[i] as number;
    if (!(Number.isFinite(x) && x > 0)) return [{ field: `hpi[${i}]`, message: 'must be a positive finite ratio' }];
  }
  return [];
}

function marketProblems(market: ArrayLike<number>): { field: string; message: string }[] {
  if (market.length === 0) return [{ field: 'market', message: 'must hold at least one rate' }];
  for (let i = 0; i < market.length; i++) {
    if (!Number.isFinite(market[i])) return [{ field: `market[${i}]`, message: 'must be a finite rate' }];
  }
  return [];
}

/** One month of the pool's vectors (amounts in dollars, rates as fractions). */
export interface MonthVector {
  month: number;
  scheduled_balance: number;
  begin_balance: number;
  balance: number;
  interest: number;
  scheduled_principal: number;
  prepayment: number;
  defaulted_balance: number;
  loss: number;
  recovery: number;
  smm: number;
  cpr: number;
  mdr: number;
  cdr: number;
  /** Σ defaulted balance to this month / the pool's balance at the start. */
  cumulative_default_rate: number;
  /** Σ realised loss to this month / the pool's balance at the start. */
  cumulative_loss_rate: number;
}

export interface PoolAnswer {
  loans: number;
  initial_balance: number;
  expected_loss_12m: number;
  expected_loss_36m: number;
  expected_loss_lifetime: number;
  expected_loss_12m_discounted: number;
  expected_loss_36m_discounted: number;
  expected_loss_lifetime_discounted: number;
  /** Balance-weighted lifetime PD, 36-month cumulative default probability and WAL (years). */
  lifetime_pd: number;
  pd_36m: number;
  wal_years: number;
  vectors: MonthVector[];
}

/** The columns of csv(), in order (docs/LOSS.md "CSV layout"). */
export const CSV_COLUMNS = [
  'period',
  'begin_balance',
  'interest',
  'scheduled_principal',
  'prepayment',
  'default',
  'loss',
  'recovery',
  'end_balance',
  'scheduled_balance',
  'smm',
  'cpr',
  'mdr',
  'cdr',
  'cumulative_default_rate',
  'cumulative_loss_rate',
] as const;

/** One row a month, amounts to the cent and rates to 10 decimals; `\n` line ends, a header row first. */
export function vectorsCsv(vectors: readonly MonthVector[]): string {
  const money = (x: number) => x.toFixed(2);
  const rate = (x: number) => x.toFixed(10);
  const rows = [CSV_COLUMNS.join(',')];
  for (const m of vectors) {
    rows.push(
      [
        String(m.month),
        money(m.begin_balance),
        money(m.interest),
        money(m.scheduled_principal),
        money(m.prepayment),
        money(m.defaulted_balance),
        money(m.loss),
        money(m.recovery),
        money(m.balance),
        money(m.scheduled_balance),
        rate(m.smm),
        rate(m.cpr),
        rate(m.mdr),
        rate(m.cdr),
        rate(m.cumulative_default_rate),
        rate(m.cumulative_loss_rate),
      ].join(','),
    );
  }
  return `${rows.join('\n')}\n`;
}
