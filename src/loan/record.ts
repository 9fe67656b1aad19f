/**
 * The loan record: the fields of the Freddie Mac Single-Family Loan-Level Dataset origination file
 * that the service accepts, in snake_case, with units, valid ranges and Freddie Mac's missing-value
 * sentinels. One table drives the request schema, the OpenAPI docs and the check that every loaded
 * model reads only fields a client can send.
 */

export const US_STATES = [
  'AK',
  'AL',
  'AR',
  'AZ',
  'CA',
  'CO',
  'CT',
  'DC',
  'DE',
  'FL',
  'GA',
  'GU',
  'HI',
  'IA',
  'ID',
  'IL',
  'IN',
  'KS',
  'KY',
  'LA',
  'MA',
  'MD',
  'ME',
  'MI',
  'MN',
  'MO',
  'MS',
  'MT',
  'NC',
  'ND',
  'NE',
  'NH',
  'NJ',
  'NM',
  'NV',
  'NY',
  'OH',
  'OK',
  'OR',
  'PA',
  'PR',
  'RI',
  'SC',
  'SD',
  'TN',
  'TX',
  'UT',
  'VA',
  'VI',
  'VT',
  'WA',
  'WI',
  'WV',
  'WY',
] as const;

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

const states = Object.fromEntries(US_STATES.map((s) => [s, s]));

export const LOAN_FIELDS: readonly LoanField[] = [
  {
    name: 'loan_sequence_number',
    kind: 'text',
    maxLength: 40,
    description: 'Loan identifier (Freddie Mac: PYYQnXXXXXXX). Not a model input; echoed back with the result.',
    required: false,
    example: 'F05Q10000001',
  },
  {
    name: 'credit_score',
    kind: 'numeric',
    integer: true,
    min: 300,
    max: 850,
    sentinel: 9999,
    unit: 'FICO points',
    description: 'Borrower credit score at origination (300–850). 9999 or null = not available.',
    required: true,
    example: 720,
  },
  {
    name: 'first_payment_date',
    kind: 'numeric',
    integer: true,
    min: 199901,
    max: 209912,
    unit: 'YYYYMM',
    description: 'Date of the first scheduled payment, as YYYYMM (e.g. 200603). Its year is the vintage.',
    required: true,
    example: 200603,
  },
  {
    name: 'first_time_homebuyer_flag',
    kind: 'code',
    codes: { Y: 'first-time homebuyer', N: 'not a first-time homebuyer' },
    sentinel: '9',
    description: 'First-time homebuyer. "9" or null = not available.',
    required: true,
    example: 'N',
  },
  {
    name: 'mi_percent',
    kind: 'numeric',
    integer: false,
    min: 0,
    max: 55,
    sentinel: 999,
    unit: '%',
    description:
      'Mortgage insurance coverage, percent of the loss covered (0 = none, 1–55). 999 or null = not available.',
    required: true,
    example: 0,
  },
  {
    name: 'number_of_units',
    kind: 'numeric',
    integer: true,
    min: 1,
    max: 4,
    sentinel: 99,
    unit: 'units',
    description: 'Number of dwelling units in the property (1–4). 99 or null = not available.',
    required: true,
    example: 1,
  },
  {
    name: 'occupancy_status',
    kind: 'code',
    codes: { P: 'primary residence', I: 'investment property', S: 'second home' },
    sentinel: '9',
    description: 'Occupancy: P primary residence, I investment, S second home. "9" or null = not available.',
    required: true,
    example: 'P',
  },
  {
    name: 'cltv',
    kind: 'numeric',
    integer: false,
    min: 1,
    max: 200,
    sentinel: 999,
    unit: '%',
    description: 'Original combined loan-to-value ratio, percent (1–200). 999 or null = not available.',
    required: true,
    example: 80,
  },
  {
    name: 'dti',
    kind: 'numeric',
    integer: false,
    min: 0,
    max: 65,
    sentinel: 999,
    unit: '%',
    description: 'Original debt-to-income ratio, percent (0–65). 999 or null = not available.',
    required: true,
    example: 36,
  },
  {
    name: 'original_upb',
    kind: 'numeric',
    integer: false,
    min: 1000,
    max: 10_000_000,
    unit: 'USD',
    description: 'Original unpaid principal balance, dollars (1,000–10,000,000).',
    required: true,
    example: 250000,
  },
  {
    name: 'ltv',
    kind: 'numeric',
    integer: false,
    min: 1,
    max: 200,
    sentinel: 999,
    unit: '%',
    description: 'Original loan-to-value ratio, percent (1–200). 999 or null = not available.',
    required: true,
    example: 80,
  },
  {
    name: 'original_interest_rate',
    kind: 'numeric',
    integer: false,
    min: 0,
    max: 20,
    unit: '% per year',
    description: 'Original note rate, percent per year (0–20).',
    required: true,
    example: 6.25,
  },
  {
    name: 'channel',
    kind: 'code',
    codes: { R: 'retail', B: 'broker', C: 'correspondent', T: 'third-party origination, not specified' },
    sentinel: '9',
    description:
      'Origination channel: R retail, B broker, C correspondent, T TPO not specified. "9" or null = not available.',
    required: true,
    example: 'R',
  },
  {
    name: 'amortization_type',
    kind: 'code',
    codes: { FRM: 'fixed-rate mortgage', ARM: 'adjustable-rate mortgage' },
    description: 'Amortization type: FRM fixed rate, ARM adjustable rate.',
    required: true,
    example: 'FRM',
  },
  {
    name: 'property_state',
    kind: 'code',
    codes: states,
    description: 'Two-letter USPS code of the property state (50 states, DC, PR, GU, VI).',
    required: true,
    example: 'CA',
  },
  {
    name: 'property_type',
    kind: 'code',
    codes: {
      SF: 'single-family',
      CO: 'condominium',
      PU: 'planned unit development',
      MH: 'manufactured housing',
      CP: 'co-op',
    },
    sentinel: '99',
    description:
      'Property type: SF single-family, CO condo, PU PUD, MH manufactured housing, CP co-op. "99" or null = not available.',
    required: true,
    example: 'SF',
  },
  {
    name: 'loan_purpose',
    kind: 'code',
    codes: { P: 'purchase', C: 'cash-out refinance', N: 'no cash-out refinance', R: 'refinance, not specified' },
    sentinel: '9',
    description:
      'Loan purpose: P purchase, C cash-out refinance, N no cash-out refinance, R refinance not specified. "9" or null = not available.',
    required: true,
    example: 'P',
  },
  {
    name: 'original_loan_term',
    kind: 'numeric',
    integer: true,
    min: 60,
    max: 480,
    unit: 'months',
    description: 'Original loan term in months (60–480).',
    required: true,
    example: 360,
  },
  {
    name: 'number_of_borrowers',
    kind: 'numeric',
    integer: true,
    min: 1,
    max: 10,
    sentinel: 99,
    unit: 'borrowers',
    description: 'Number of borrowers obligated on the note (1–10). 99 or null = not available.',
    required: true,
    example: 2,
  },
];

export const LOAN_FIELD_BY_NAME: ReadonlyMap<string, LoanField> = new Map(LOAN_FIELDS.map((f) => [f.name, f]));
