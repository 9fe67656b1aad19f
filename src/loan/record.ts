import { CONTRACT, type ContractField } from '../contract/index.js';

/**
 * The loan record: the fields of the Freddie Mac Single-Family Loan-Level Dataset origination file
 * that the service accepts, in snake_case, with units, valid ranges and Freddie Mac's missing-value
 * sentinels. One table drives the request schema, the OpenAPI docs and the check that every loaded
 * model reads only fields a client can send.
 */

/** USPS codes of the 50 states, DC, PR, GU and VI (src/contract/loan-contract.json). */
export const US_STATES: readonly string[] = CONTRACT.us_states;

export interface NumericLoanField {
  readonly name: string;
  readonly kind: 'numeric';
  readonly integer: boolean;
  readonly min: number;
  readonly max: number;
  /** Freddie Mac's "not available" code, accepted as missing alongside null. */
  readonly sentinel?: number;
  readonly unit: string;
  readonly description: string;
  /** Required fields must be present (null or the sentinel when unknown, if the field allows it). */
  readonly required: boolean;
  readonly example: number;
}

export interface CodeLoanField {
  readonly name: string;
  readonly kind: 'code';
  /** Valid codes and what they mean. */
  readonly codes: Readonly<Record<string, string>>;
  readonly sentinel?: string;
  readonly description: string;
  readonly required: boolean;
  readonly example: string;
}

export interface TextLoanField {
  readonly name: string;
  readonly kind: 'text';
  readonly maxLength: number;
  readonly description: string;
  readonly required: false;
  readonly example: string;
}

export type LoanField = NumericLoanField | CodeLoanField | TextLoanField;

const states: Readonly<Record<string, string>> = Object.fromEntries(US_STATES.map((s) => [s, s]));

function loanField(f: ContractField): LoanField {
  const { name, required, description } = f;
  if (f.kind === 'text') {
    if (required) throw new Error(`loan contract: the text field ${name} cannot be required`);
    return { name, kind: 'text', maxLength: f.max_length, description, required: false, example: f.example };
  }
  if (f.kind === 'numeric') {
    const { integer, min, max, unit, example } = f;
    const sentinel = f.sentinel === undefined ? {} : { sentinel: f.sentinel };
    return { name, kind: 'numeric', integer, min, max, ...sentinel, unit, description, required, example };
  }
  const codes = f.codes === 'us_states' ? states : f.codes;
  const sentinel = f.sentinel === undefined ? {} : { sentinel: f.sentinel };
  return { name, kind: 'code', codes, ...sentinel, description, required, example: f.example };
}

/** The loan record, in the order of src/contract/loan-contract.json (shared with the training code). */
export const LOAN_FIELDS: readonly LoanField[] = CONTRACT.loan_fields.map(loanField);

export const LOAN_FIELD_BY_NAME: ReadonlyMap<string, LoanField> = new Map(LOAN_FIELDS.map((f) => [f.name, f]));

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

/** The 400 message for a missing field: coded and numeric fields with a sentinel may be null. */
export function requiredMessage(field: LoanField | undefined): string {
  return field && field.kind !== 'text' && field.sentinel !== undefined
    ? 'is required (send null when the value is not available)'
    : 'is required';
}

/**
 * Checks a schema cannot express: the month of a YYYYMM date. Returns the problems found, each as
 * [field, reason]; an empty list means the loan is consistent.
 */
export function loanProblems(loan: Readonly<Record<string, unknown>>): [string, string][] {
  const problems: [string, string][] = [];
  const fpd = loan.first_payment_date;
  if (typeof fpd === 'number') {
    const month = fpd % 100;
    if (month < 1 || month > 12)
      problems.push(['first_payment_date', `month ${month} of ${fpd} is not 01–12 (YYYYMM)`]);
  }
  return problems;
}
