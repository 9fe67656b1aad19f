import { MAX_PROBLEMS } from '../problems.js';
import { describe as describeValue } from '../runtime/check.js';
import { LOAN_FIELD_BY_NAME, LOAN_FIELDS, type LoanField } from './record.js';

/**
 * The one loan validator: what a loan-record value may be (ranges, integers, codes, Freddie Mac's
 * sentinels, the YYYYMM month rule, required fields, unknown names with a "did you mean") and the one
 * catalogue of the messages that refuse it, all compiled from LOAN_FIELDS. Every path that reads a loan
 * uses it: /predict words Ajv's errors with it and applies its record rules, V2 named inputs and JSON
 * tapes check with `checkLoan`, CSV cells with `acceptsNumber`/`readLoanValue` on their parsed value.
 * Ajv keeps the request shape and the OpenAPI document (src/loan/schema.ts, from the same table).
 */

/** A loan-record problem: the field ('' for the whole record) and why it was refused. */
export interface LoanProblem {
  readonly field: string;
  readonly message: string;
}

/** A plain-words statement of what a field accepts, used in 400 messages. */
export function expectation(field: LoanField): string {
  if (field.kind === 'text') return `a string of at most ${field.maxLength} characters`;
  const missing =
    field.sentinel === undefined ? '' : `, or ${JSON.stringify(field.sentinel)} / null when not available`;
  if (field.kind === 'numeric') {
    const what = field.integer ? 'an integer' : 'a number';
    return `${what} from ${field.min} to ${field.max} (${field.unit})${missing}`;
  }
  const codes = Object.keys(field.codes);
  const list =
    codes.length > 8 ? `a two-letter USPS state code` : `one of ${codes.map((c) => JSON.stringify(c)).join(', ')}`;
  return `${list}${missing}`;
}

/**
 * Columns and properties some tape routes read besides the loan record: a route that does not read one says
 * which does, instead of only "not a loan-record field".
 */
const TAPE_ONLY: Readonly<Record<string, string>> = {
  loan_age: "a seasoned loan's age: only POST /pools/lifetime reads it",
  current_upb: "a seasoned loan's balance: only POST /pools/lifetime reads it",
  default_36m: 'an observed outcome: only POST /pools/backtest reads it',
};

/** Why a name is no field here: where it belongs, else the closest field's name (if `suggest`). */
function unknownHint(name: string, suggest: boolean): string {
  const elsewhere = Object.hasOwn(TAPE_ONLY, name) ? TAPE_ONLY[name] : undefined;
  if (elsewhere !== undefined) return ` (${elsewhere})`;
  const guess = suggest ? closestField(name) : undefined;
  return guess ? ` (did you mean ${guess}?)` : '';
}

/** The message catalogue: every loan-record refusal of the service, in one wording. */
export const LOAN_MESSAGES = {
  /** A required field is absent: coded and numeric fields with a sentinel may be null. */
  required: (field: LoanField | undefined): string =>
    field && field.kind !== 'text' && field.sentinel !== undefined
      ? 'is required (send null when the value is not available)'
      : 'is required',
  /** A value its field does not accept; `shown` is the value as the client wrote it. */
  invalid: (field: LoanField, shown: string): string => `must be ${expectation(field)}, got ${shown}`,
  /** The month of a YYYYMM date. */
  month: (month: number, value: number): string => `month ${month} of ${value} is not 01–12 (YYYYMM)`,
  /** A name that is no loan-record field. */
  unknown: (name: string): string => `is not a known field${unknownHint(name, true)}`,
  /** A CSV header column that is no loan-record field. */
  unknownColumn: (column: number, name: string, suggest: boolean): string =>
    `column ${column}, ${JSON.stringify(name.slice(0, 60))}, is not a loan-record field${unknownHint(name, suggest)}`,
  /** More unknown names than one answer lists. */
  moreUnknown: (count: number): string => `and ${count} more unknown fields`,
} as const;

/** The 400 message for a missing field (LOAN_MESSAGES.required). */
export const requiredMessage = LOAN_MESSAGES.required;

/** Longest unknown name quoted back as a field (a key may be megabytes long). */
export const MAX_FIELD_NAME = 200;

/** A name as it is quoted back to the client. */
export function quotedName(name: string): string {
  return name.length > MAX_FIELD_NAME ? `${name.slice(0, MAX_FIELD_NAME)}…` : name;
}

/** Returned by readLoanValue for a value its field refuses. */
export const INVALID: unique symbol = Symbol('invalid loan value');

/** True when `x` is a number `field` accepts as a value (its sentinel aside). */
export function acceptsNumber(field: LoanField & { kind: 'numeric' }, x: number): boolean {
  return x >= field.min && x <= field.max && (!field.integer || Number.isInteger(x));
}

/**
 * One JSON value of a field (present: `undefined` is an absent field, see checkLoan): the value, null
 * when missing (null or the sentinel), or INVALID.
 */
export function readLoanValue(field: LoanField, value: unknown): unknown {
  if (field.kind === 'text') {
    return typeof value === 'string' && value.length >= 1 && value.length <= field.maxLength ? value : INVALID;
  }
  if (value === null || value === field.sentinel) return field.sentinel === undefined ? INVALID : null;
  if (field.kind === 'numeric') return typeof value === 'number' && acceptsNumber(field, value) ? value : INVALID;
  return typeof value === 'string' && Object.hasOwn(field.codes, value) ? value : INVALID;
}

/**
 * The rules across a record's values that a JSON schema cannot express (the month of a YYYYMM date),
 * for a record whose values each passed their field's check: the first problem, or undefined.
 */
export function recordProblem(loan: Readonly<Record<string, unknown>>): LoanProblem | undefined {
  const fpd = loan.first_payment_date;
  if (typeof fpd !== 'number') return undefined;
  const month = fpd % 100;
  return month < 1 || month > 12
    ? { field: 'first_payment_date', message: LOAN_MESSAGES.month(month, fpd) }
    : undefined;
}

/** recordProblem, pushed onto `problems`. */
export function recordProblems(loan: Readonly<Record<string, unknown>>, problems: LoanProblem[]): void {
  const problem = recordProblem(loan);
  if (problem) problems.push(problem);
}

export interface CheckOptions {
  /** Names allowed beside the loan fields (e.g. `model` in a /predict body). */
  readonly allow?: ReadonlySet<string>;
  /** Where the normalised values go (null for missing values); the loan itself is never changed. */
  readonly into?: Record<string, unknown>;
}

/**
 * Checks one loan record given as a JSON object: unknown names (the first MAX_PROBLEMS listed with a
 * suggestion, the others counted), required fields, every value, then the record rules when every
 * value passed. Pushes the problems found; returns true when there are none.
 */
export function checkLoan(
  loan: Readonly<Record<string, unknown>>,
  problems: LoanProblem[],
  { allow, into }: CheckOptions = {},
): boolean {
  const before = problems.length;
  let unlisted = 0;
  for (const name in loan) {
    if (!Object.hasOwn(loan, name) || LOAN_FIELD_BY_NAME.has(name) || allow?.has(name)) continue;
    if (problems.length - before >= MAX_PROBLEMS) unlisted++;
    else problems.push({ field: quotedName(name), message: LOAN_MESSAGES.unknown(name) });
  }
  if (unlisted > 0) problems.push({ field: '', message: LOAN_MESSAGES.moreUnknown(unlisted) });
  for (const f of LOAN_FIELDS) {
    const value = Object.hasOwn(loan, f.name) ? loan[f.name] : undefined;
    let read: unknown;
    if (value === undefined) {
      if (f.required) problems.push({ field: f.name, message: LOAN_MESSAGES.required(f) });
    } else {
      read = readLoanValue(f, value);
      if (read === INVALID) {
        problems.push({ field: f.name, message: LOAN_MESSAGES.invalid(f, describeValue(value)) });
        read = undefined;
      }
    }
    if (into) into[f.name] = read;
  }
  if (problems.length === before) recordProblems(into ?? loan, problems);
  return problems.length === before;
}

/**
 * Names longer than this get no suggestion: no loan-record field is half as long, and the distance
 * costs work in proportion to the name's length (issue 18: a 300,000-character key blocked the
 * event loop for 11 s).
 */
export const MAX_SUGGESTED_NAME = 64;

/** A suggestion must be this close (edit distance) to be a good guess. */
const MAX_SUGGESTION_DISTANCE = 3;

/** The loan-record field closest to a misspelt name, if one is close enough to be a good guess. */
export function closestField(name: string): string | undefined {
  if (name.length > MAX_SUGGESTED_NAME) return undefined;
  const lower = name.toLowerCase();
  let best: string | undefined;
  let bestDistance = MAX_SUGGESTION_DISTANCE + 1;
  for (const f of LOAN_FIELDS) {
    const d = editDistance(lower, f.name, bestDistance - 1);
    if (d < bestDistance) {
      best = f.name;
      bestDistance = d;
    }
  }
  return best;
}

/**
 * Levenshtein distance of `a` and `b` if it is at most `limit`, else `limit + 1`: only the band of
 * cells within `limit` of the diagonal is computed, and the loop stops once a whole row is over the
 * limit, so the work is O(limit × min(|a|, |b|)) whatever the lengths.
 */
export function editDistance(a: string, b: string, limit: number): number {
  if (Math.abs(a.length - b.length) > limit) return limit + 1;
  const over = limit + 1;
  let previous = new Array<number>(b.length + 1);
  let current = new Array<number>(b.length + 1);
  for (let j = 0; j <= b.length; j++) previous[j] = j <= limit ? j : over;
  for (let i = 1; i <= a.length; i++) {
    const from = Math.max(1, i - limit);
    const to = Math.min(b.length, i + limit);
    current.fill(over);
    current[0] = i <= limit ? i : over;
    let rowMin = current[0] as number;
    for (let j = from; j <= to; j++) {
      const substitution = (previous[j - 1] as number) + (a[i - 1] === b[j - 1] ? 0 : 1);
      const d = Math.min((previous[j] as number) + 1, (current[j - 1] as number) + 1, substitution, over);
      current[j] = d;
      if (d < rowMin) rowMin = d;
    }
    if (rowMin > limit) return over;
    [previous, current] = [current, previous];
  }
  return Math.min(previous[b.length] as number, over);
}
