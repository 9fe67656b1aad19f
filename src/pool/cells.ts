import { type CodeLoanField, expectation, LOAN_FIELDS, type LoanField, type NumericLoanField } from '../loan/record.js';
import { describeValue } from '../runtime/index.js';

/**
 * One loan-record value from a tape: the bytes of a CSV cell, or a JSON value. The rules are the
 * loan record's (src/loan/record.ts) and the wording is /predict's (`must be <expectation>, got …`),
 * so a tape row and a /predict body are refused for the same reasons in the same words. Missing
 * values (an empty cell, null, a Freddie Mac sentinel) become null, so the scorer and the pool
 * breakdowns see one kind of "missing".
 */

export interface CellProblem {
  /** The loan-record field, or '' for a problem of the whole row. */
  readonly field: string;
  readonly message: string;
}

/**
 * Reads one cell (`buf[start..end)`) as a value of its field: null when missing, undefined when
 * invalid (a problem is pushed) or, for the optional identifier, absent.
 */
export type CellReader = (buf: Buffer, start: number, end: number, problems: CellProblem[]) => unknown;

const MAX_QUOTED = 40;

/** The cell as a client would recognise it in a message. */
export function cellText(buf: Buffer, start: number, end: number): string {
  if (end <= start) return 'an empty cell';
  const text = buf.toString('utf8', start, Math.min(end, start + MAX_QUOTED * 4));
  return JSON.stringify(text.length > MAX_QUOTED ? `${text.slice(0, MAX_QUOTED)}…` : text);
}

/** 10^k for k ≤ 22: exactly representable, so m / 10^k is one correctly rounded division. */
const POW10 = Array.from({ length: 23 }, (_, k) => 10 ** k);

const STRICT_NUMBER = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;

/**
 * A strict decimal number from ASCII bytes, or NaN: `12abc`, ` 7`, `0x10`, `1e999`, `Infinity` are
 * not numbers. The common shape (`-?digits[.digits]`, at most 15 significant digits) is parsed in
 * place: an integer mantissa below 2^53 divided by an exact power of ten is the correctly rounded
 * value, the same double `Number(text)` gives. Anything else goes through `Number` after a pattern
 * check (plain `Number` would accept `' '`, `0x10` and `Infinity`).
 */
export function parseNumber(buf: Buffer, start: number, end: number): number {
  let i = start;
  let negative = false;
  if (i < end && buf[i] === 0x2d) {
    negative = true;
    i++;
  }
  let mantissa = 0;
  let digits = 0;
  let decimals = 0;
  let dot = false;
  for (; i < end; i++) {
    const c = buf[i] as number;
    if (c >= 0x30 && c <= 0x39) {
      mantissa = mantissa * 10 + (c - 0x30);
      digits++;
      if (dot) decimals++;
    } else if (c === 0x2e && !dot) {
      dot = true;
    } else {
      return parseNumberSlowly(buf, start, end);
    }
  }
  if (digits === 0) return Number.NaN;
  if (digits > 15) return parseNumberSlowly(buf, start, end);
  const value = decimals === 0 ? mantissa : mantissa / (POW10[decimals] as number);
  return negative ? -value : value;
}

function parseNumberSlowly(buf: Buffer, start: number, end: number): number {
  const text = buf.toString('latin1', start, end);
  if (!STRICT_NUMBER.test(text)) return Number.NaN;
  const value = Number(text);
  return Number.isFinite(value) ? value : Number.NaN;
}

/** A code's bytes (at most 3) packed into one integer, for a lookup without making a string. */
function packBytes(buf: Uint8Array, start: number, end: number): number {
  const n = end - start;
  if (n > 3) return -1;
  let key = n << 24;
  for (let i = 0; i < n; i++) key |= (buf[start + i] as number) << (8 * i);
  return key;
}

function packString(code: string): number {
  return packBytes(Buffer.from(code, 'latin1'), 0, code.length);
}

function numericCell(field: NumericLoanField): CellReader {
  const { name, min, max, integer, sentinel } = field;
  const wanted = `must be ${expectation(field)}`;
  return (buf, start, end, problems) => {
    if (end <= start) {
      if (sentinel !== undefined) return null;
      problems.push({ field: name, message: `${wanted}, got an empty cell` });
      return undefined;
    }
    const value = parseNumber(buf, start, end);
    if (value === sentinel) return null;
    if (!(value >= min && value <= max) || (integer && !Number.isInteger(value))) {
      problems.push({ field: name, message: `${wanted}, got ${cellText(buf, start, end)}` });
      return undefined;
    }
    return value;
  };
}

function codeCell(field: CodeLoanField): CellReader {
  const { name, sentinel } = field;
  const wanted = `must be ${expectation(field)}`;
  const lookup = new Map<number, string | null>();
  for (const code of Object.keys(field.codes)) lookup.set(packString(code), code);
  if (sentinel !== undefined) lookup.set(packString(sentinel), null);
  return (buf, start, end, problems) => {
    if (end <= start) {
      if (sentinel !== undefined) return null;
      problems.push({ field: name, message: `${wanted}, got an empty cell` });
      return undefined;
    }
    const value = lookup.get(packBytes(buf, start, end));
    if (value === undefined) {
      problems.push({ field: name, message: `${wanted}, got ${cellText(buf, start, end)}` });
      return undefined;
    }
    return value;
  };
}

function textCell(field: LoanField & { kind: 'text' }): CellReader {
  const { name, maxLength } = field;
  return (buf, start, end, problems) => {
    if (end <= start) return undefined;
    // A fresh string (not a slice of a larger one), so keeping it does not keep the chunk alive.
    const value = buf.toString('utf8', start, end);
    if (value.length > maxLength) {
      problems.push({ field: name, message: `must be ${expectation(field)}, got ${cellText(buf, start, end)}` });
      return undefined;
    }
    return value;
  };
}

/** The cell reader of a loan-record field. */
export function cellReader(field: LoanField): CellReader {
  if (field.kind === 'numeric') return numericCell(field);
  if (field.kind === 'code') return codeCell(field);
  return textCell(field);
}

/**
 * One value of a JSON loan, checked as /predict's schema does it (numbers must be JSON numbers,
 * codes strings; null or the sentinel when not available). Returns the value (null when missing),
 * or undefined with a problem pushed.
 */
export function jsonValue(field: LoanField, value: unknown, problems: CellProblem[]): unknown {
  const bad = () => {
    problems.push({ field: field.name, message: `must be ${expectation(field)}, got ${describeValue(value)}` });
    return undefined;
  };
  if (value === undefined) {
    if (field.kind === 'text' || !field.required) return undefined;
    const nullable = field.sentinel !== undefined;
    problems.push({
      field: field.name,
      message: nullable ? 'is required (send null when the value is not available)' : 'is required',
    });
    return undefined;
  }
  if (field.kind === 'text') {
    return typeof value === 'string' && value.length >= 1 && value.length <= field.maxLength ? value : bad();
  }
  if (value === null || value === field.sentinel) return field.sentinel === undefined ? bad() : null;
  if (field.kind === 'numeric') {
    if (typeof value !== 'number' || !(value >= field.min && value <= field.max)) return bad();
    return field.integer && !Number.isInteger(value) ? bad() : value;
  }
  return typeof value === 'string' && Object.hasOwn(field.codes, value) ? value : bad();
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
