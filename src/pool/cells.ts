import type { CodeLoanField, LoanField, NumericLoanField } from '../loan/record.js';
import { acceptsNumber, LOAN_MESSAGES } from '../loan/validate.js';

/**
 * One loan-record value from a CSV cell, read from its bytes. The rules and the words are the loan
 * validator's (src/loan/validate.ts), so a tape row and a /predict body are refused for the same
 * reasons in the same words. Missing
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
  const { name, sentinel } = field;
  return (buf, start, end, problems) => {
    if (end <= start) {
      if (sentinel !== undefined) return null;
      problems.push({ field: name, message: LOAN_MESSAGES.invalid(field, 'an empty cell') });
      return undefined;
    }
    const value = parseNumber(buf, start, end);
    if (value === sentinel) return null;
    if (!acceptsNumber(field, value)) {
      problems.push({ field: name, message: LOAN_MESSAGES.invalid(field, cellText(buf, start, end)) });
      return undefined;
    }
    return value;
  };
}

function codeCell(field: CodeLoanField): CellReader {
  const { name, sentinel } = field;
  const lookup = new Map<number, string | null>();
  for (const code of Object.keys(field.codes)) lookup.set(packString(code), code);
  if (sentinel !== undefined) lookup.set(packString(sentinel), null);
  return (buf, start, end, problems) => {
    if (end <= start) {
      if (sentinel !== undefined) return null;
      problems.push({ field: name, message: LOAN_MESSAGES.invalid(field, 'an empty cell') });
      return undefined;
    }
    const value = lookup.get(packBytes(buf, start, end));
    if (value === undefined) {
      problems.push({ field: name, message: LOAN_MESSAGES.invalid(field, cellText(buf, start, end)) });
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
      problems.push({ field: name, message: LOAN_MESSAGES.invalid(field, cellText(buf, start, end)) });
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
