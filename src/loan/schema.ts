import { type TSchema, Type } from '@sinclair/typebox';
import { LOAN_FIELDS, type LoanField } from './record.js';

/**
 * JSON Schema (TypeBox) of a loan record, built from the field table so that validation, types and
 * the OpenAPI document come from one source. Numbers must be JSON numbers and codes JSON strings
 * (the service never coerces), unknown properties are refused (a misspelt field would otherwise be
 * scored as missing), and each field documents its unit, range and missing-value codes.
 */

function fieldSchema(field: LoanField): TSchema {
  const common = { description: field.description, examples: [field.example] };
  if (field.kind === 'text') return Type.String({ ...common, minLength: 1, maxLength: field.maxLength });
  if (field.kind === 'numeric') {
    const range = { minimum: field.min, maximum: field.max };
    const value = field.integer ? Type.Integer(range) : Type.Number(range);
    const alternatives: TSchema[] = [value];
    if (field.sentinel !== undefined) alternatives.push(Type.Literal(field.sentinel), Type.Null());
    return alternatives.length === 1
      ? (field.integer ? Type.Integer : Type.Number)({ ...range, ...common })
      : Type.Union(alternatives, { ...common, 'x-unit': field.unit });
  }
  const codes = Object.keys(field.codes);
  const allowed: (string | null)[] = field.sentinel === undefined ? codes : [...codes, field.sentinel, null];
  return Type.Unsafe<string | null>({
    ...common,
    type: field.sentinel === undefined ? 'string' : ['string', 'null'],
    enum: allowed,
  });
}

const properties = Object.fromEntries(
  LOAN_FIELDS.map((f) => [f.name, f.required ? fieldSchema(f) : Type.Optional(fieldSchema(f))]),
);

export const LOAN_EXAMPLE: Readonly<Record<string, string | number>> = Object.fromEntries(
  LOAN_FIELDS.map((f) => [f.name, f.example]),
);

/** The loan record's properties, for composing request bodies (a loan plus `model`, ...). */
export const loanProperties = properties;

export const LoanSchema = Type.Object(properties, {
  title: 'Loan',
  description: 'One loan, with the fields of the Freddie Mac origination file (snake_case).',
  additionalProperties: false,
  examples: [LOAN_EXAMPLE],
});
