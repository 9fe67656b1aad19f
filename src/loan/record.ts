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
