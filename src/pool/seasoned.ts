import { CURRENT_UPB, LOAN_AGE } from '../loss/index.js';
import { describe as describeValue } from '../runtime/check.js';
import { type CellProblem, type CellReader, cellText, parseNumber } from './cells.js';
import type { TapeExtras } from './tape.js';

/**
 * The tape-only columns of a seasoned loan on POST /pools/lifetime and the lifetime CLI (docs/LOSS.md
 * "Seasoned loans", docs/API.md): `loan_age` (months since the first full month of interest, so `loan_age`
 * payments have fallen due) and `current_upb` (the unpaid principal balance after them, dollars). Not model
 * inputs, so not loan-record fields of the contract: optional columns of a CSV tape and properties of a JSON
 * loan (a Freddie Mac origination file has neither). Both empty (or null) or both absent: an origination
 * record. The cells are read here (a finite number, or missing); seasoningProblems checks the pair against
 * the record.
 */

/** Most a current balance may be, as a multiple of the original (an amortising fixed-rate loan never owes more). */
export const MAX_CURRENT_UPB_RATIO = 1;

const NUMBER_MESSAGE: Record<string, string> = {
  [LOAN_AGE]: 'must be a whole number of months (empty for an origination record)',
  [CURRENT_UPB]: 'must be a number of dollars (empty for an origination record)',
};

function numberCell(name: string): CellReader {
  return (buf, start, end, problems) => {
    if (end <= start) return null;
    const value = parseNumber(buf, start, end);
    if (Number.isFinite(value)) return value;
    problems.push({ field: name, message: `${NUMBER_MESSAGE[name]}, got ${cellText(buf, start, end)}` });
    return undefined;
  };
}

function numberProperty(name: string): (value: unknown, problems: CellProblem[]) => unknown {
  return (value, problems) => {
    if (value === undefined || value === null) return null;
    if (typeof value === 'number' && Number.isFinite(value)) return value;
    problems.push({
      field: name,
      message: `${NUMBER_MESSAGE[name]?.replace('empty', 'null')}, got ${describeValue(value)}`,
    });
    return undefined;
  };
}

/** The seasoned columns as the tape readers take them: optional, both read into the record (null when missing). */
export const SEASONED_EXTRAS: TapeExtras = {
  csv: { [LOAN_AGE]: numberCell(LOAN_AGE), [CURRENT_UPB]: numberCell(CURRENT_UPB) },
  json: { [LOAN_AGE]: numberProperty(LOAN_AGE), [CURRENT_UPB]: numberProperty(CURRENT_UPB) },
  optional: [LOAN_AGE, CURRENT_UPB],
};

/**
 * Why a record's seasoned columns cannot be projected (each problem names its field): one without the other;
 * `loan_age` not a whole number from 0 to original_loan_term − 1; `current_upb` not above 0 or above
 * original_upb × MAX_CURRENT_UPB_RATIO. None for an origination record.
 */
export function seasoningProblems(loan: Readonly<Record<string, unknown>>): CellProblem[] {
  const age = loan[LOAN_AGE];
  const upb = loan[CURRENT_UPB];
  const hasAge = typeof age === 'number';
  const hasUpb = typeof upb === 'number';
  if (!hasAge && !hasUpb) return [];
  const both = 'a seasoned loan gives both loan_age and current_upb, an origination record neither';
  if (!hasUpb) return [{ field: CURRENT_UPB, message: `is required with loan_age: ${both}` }];
  if (!hasAge) return [{ field: LOAN_AGE, message: `is required with current_upb: ${both}` }];
  const out: CellProblem[] = [];
  const term = loan.original_loan_term;
  if (!(Number.isInteger(age) && age >= 0 && (typeof term !== 'number' || age < term))) {
    const upTo = typeof term === 'number' ? ` to ${term - 1} (original_loan_term − 1)` : '';
    out.push({ field: LOAN_AGE, message: `must be a whole number of months from 0${upTo}, got ${age}` });
  }
  const original = loan.original_upb;
  if (!(upb > 0)) {
    out.push({ field: CURRENT_UPB, message: `must be above 0 (a paid-off loan has nothing to project), got ${upb}` });
  } else if (typeof original === 'number' && upb > original * MAX_CURRENT_UPB_RATIO) {
    out.push({
      field: CURRENT_UPB,
      message: `must not exceed original_upb (${original}): an amortising fixed-rate loan never owes more than it borrowed, got ${upb}`,
    });
  }
  return out;
}
