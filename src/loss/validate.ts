import { HAZARDS, type LoanTerms, type LossOptions, MAX_RECOVERY_LAG, MAX_TERM } from './engine.js';

/**
 * What the engine accepts, as {field, message} problems the route can turn into a 4xx (field names as the
 * route's query and answer spell them). Outside these ranges the recursion would answer NaN, lose the
 * integer-cent exactness (balance × rate must stay below 2^53 in cents × rate_milli) or, for a term longer
 * than the pool's months, write past its arrays; PoolLoss.add and plan() refuse such input (RangeError).
 */
export interface LossProblem {
  readonly field: string;
  readonly message: string;
}

/** Largest balance (dollars) and PSA multiple accepted. */
export const MAX_BALANCE = 100_000_000;
export const MAX_PSA_MULTIPLE = 50;
/** Largest SDA multiple accepted (10,000 % SDA: a CDR of 60 % on the curve's plateau). */
export const MAX_SDA_MULTIPLE = 100;

const finite = (x: unknown): x is number => typeof x === 'number' && Number.isFinite(x);
const integer = (x: unknown, lo: number, hi: number) => finite(x) && Number.isInteger(x) && x >= lo && x <= hi;

/** Problems of one loan's terms for a pool of `months` months with recovery lag `lag`. */
export function loanTermProblems(loan: LoanTerms, months: number, lag: number): LossProblem[] {
  const out: LossProblem[] = [];
  const { balance, rate, term, age, pd, value, miPct } = loan;
  if (!(finite(balance) && balance >= 0 && balance <= MAX_BALANCE)) {
    out.push({ field: 'balance', message: `must be a number from 0 to ${MAX_BALANCE}` });
  }
  if (!(finite(rate) && rate >= 0 && rate <= 100))
    out.push({ field: 'rate', message: 'must be a rate from 0 to 100 %' });
  if (!integer(term, 1, MAX_TERM)) {
    out.push({ field: 'term', message: `must be a whole number of months from 1 to ${MAX_TERM}` });
  } else if (term + lag > months) {
    out.push({ field: 'term', message: `with the recovery lag (${lag}) must fit the pool's ${months} months` });
  }
  if (!integer(age, 0, MAX_TERM))
    out.push({ field: 'age', message: `must be a whole number of months from 0 to ${MAX_TERM}` });
  if (!(finite(pd) && pd >= 0 && pd < 1)) out.push({ field: 'pd', message: 'must be a probability from 0 to below 1' });
  if (!(finite(value) && value > 0)) out.push({ field: 'value', message: 'must be a positive number' });
  if (!(finite(miPct) && miPct >= 0 && miPct <= 100)) out.push({ field: 'miPct', message: 'must be from 0 to 100 %' });
  const { secondLien, fico } = loan;
  if (secondLien !== undefined && !(finite(secondLien) && secondLien >= 0 && secondLien <= MAX_BALANCE)) {
    out.push({ field: 'secondLien', message: `must be a number from 0 to ${MAX_BALANCE}` });
  }
  if (fico !== undefined && !finite(fico)) out.push({ field: 'fico', message: 'must be a number' });
  const o = loan.origin;
  if (o !== undefined) {
    if (!(finite(o.balance) && o.balance >= 0 && o.balance <= MAX_BALANCE)) {
      out.push({ field: 'origin.balance', message: `must be a number from 0 to ${MAX_BALANCE}` });
    }
    if (!(integer(o.term, 1, MAX_TERM) && o.term >= age + term)) {
      out.push({ field: 'origin.term', message: `must be a whole number of months from age + term to ${MAX_TERM}` });
    }
    if (!(finite(o.value) && o.value > 0)) out.push({ field: 'origin.value', message: 'must be a positive number' });
  }
  return out;
}

/** Problems of the engine's options. */
export function lossOptionProblems(options: LossOptions): LossProblem[] {
  const out: LossProblem[] = [];
  if (!['seasoning', 'sda', 'flat'].includes(options.timing)) {
    out.push({ field: 'timing', message: 'must be seasoning, sda or flat' });
  }
  if (options.hazard !== undefined && !HAZARDS.includes(options.hazard)) {
    out.push({ field: 'hazard', message: `must be ${HAZARDS.join(' or ')}` });
  }
  if (!integer(options.recoveryLag, 0, MAX_RECOVERY_LAG)) {
    out.push({ field: 'recovery_lag', message: `must be a whole number of months from 0 to ${MAX_RECOVERY_LAG}` });
  }
  const p = options.prepayment as { kind: unknown; multiple?: unknown; cpr?: unknown };
  if (p.kind === 'psa') {
    out.push(...multipleProblems('psa', p.multiple, MAX_PSA_MULTIPLE));
  } else if (p.kind === 'cpr') {
    out.push(...rateVectorProblems('cpr', p.cpr));
  } else if (p.kind !== 'none' && p.kind !== 'scenario') {
    out.push({ field: 'prepayment', message: 'must be none, scenario, a CPR or a PSA multiple' });
  }
  const d = (options.defaults ?? { kind: 'model' }) as { kind: unknown; multiple?: unknown; cdr?: unknown };
  if (d.kind === 'sda') {
    out.push(...multipleProblems('sda', d.multiple, MAX_SDA_MULTIPLE));
  } else if (d.kind === 'cdr') {
    out.push(...rateVectorProblems('cdr', d.cdr));
  } else if (d.kind !== 'model') {
    out.push({ field: 'defaults', message: 'must be model, a CDR or an SDA multiple' });
  }
  return out;
}

/** Problems of a multiple of a standard curve (`psa`, `sda`): 0 to `max`. */
function multipleProblems(field: 'psa' | 'sda', value: unknown, max: number): LossProblem[] {
  if (finite(value) && value >= 0 && value <= max) return [];
  return [{ field, message: `must be a multiple from 0 to ${max} (1 = 100 % ${field.toUpperCase()})` }];
}

/** Problems of an annual rate in [0, 1] or a vector of 1 to MAX_TERM of them (CPR, CDR). */
function rateVectorProblems(field: string, value: unknown): LossProblem[] {
  const rate = (x: unknown) => finite(x) && x >= 0 && x <= 1;
  if (Array.isArray(value)) {
    if (value.length < 1 || value.length > MAX_TERM) {
      return [{ field, message: `must hold 1 to ${MAX_TERM} monthly values` }];
    }
    const i = value.findIndex((x) => !rate(x));
    return i >= 0 ? [{ field: `${field}[${i}]`, message: 'must be a rate from 0 to 1' }] : [];
  }
  return rate(value) ? [] : [{ field, message: 'must be a rate from 0 to 1 or a vector of them' }];
}

/** Throws a RangeError naming the fields when there are problems. */
export function refuse(problems: readonly LossProblem[]): void {
  if (problems.length > 0) throw new RangeError(problems.map((p) => `${p.field} ${p.message}`).join('; '));
}
