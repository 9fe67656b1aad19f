import { CONTRACT } from '../contract/index.js';
import { LOAN_FIELD_BY_NAME } from './record.js';

/**
 * Adverse-action reason codes: why a model's PD for a loan is higher than its base value, in words a
 * borrower or an analyst can read. The explanation (src/runtime/explain.ts) gives each loan field a
 * contribution in log-odds; every field with a positive contribution can be turned into a reason, and
 * the largest ones are reported first.
 *
 * Reason codes name only borrower and loan attributes (issue 21 item 5). The contributions of the
 * property's state (geography), the first payment date (timing, the vintage), the number of borrowers
 * (a possible marital-status proxy under ECOA) and the scenario's house-price features stay in the
 * explanation, labelled by kind (`fieldKind`, `explanationGroups`), and never become a reason; neither
 * does a model input outside the reviewed table below (kind `other`). Codes explain a score: a lender
 * using them in adverse-action notices must review the mapping against its own obligations.
 *
 * Each field has an ordered list of rules; the first that matches the loan's value gives the code and
 * the sentence, and the last rule of every field matches any present value, so a field that raised
 * the PD always has a sentence that is true of the loan at hand. Codes are stable identifiers (clients
 * may map them to their own notices): add new ones, never rename or reuse one.
 */

export interface Reason {
  readonly code: string;
  /** The loan field the reason is about. */
  readonly field: string;
  /** The field's contribution to the log-odds of default (positive: it raised the PD). */
  readonly contribution: number;
  readonly text: string;
}

/** A row of the reason-code table, for documentation (README) and tests. */
export interface ReasonCode {
  readonly code: string;
  readonly field: string;
  /** The sentence, with {value} standing for the loan's value where the sentence quotes it. */
  readonly text: string;
  /** When this code applies (the first matching rule of the field wins). */
  readonly when: string;
}

/** A loan value as a rule sees it: a number, a code, or missing (null, absent or the sentinel). */
type Value = { readonly missing: true } | { readonly missing: false; readonly value: number | string };

interface Rule {
  readonly code: string;
  readonly when: string;
  readonly text: string;
  /** Whether the rule applies to a present value (missing values have their own rule). */
  readonly test: (value: number | string) => boolean;
  readonly sentence?: (value: number | string) => string;
}

const num = (v: number | string) => (typeof v === 'number' ? v : Number.NaN);
const any = () => true;
const percent = (v: number | string) => `${Number(num(v).toFixed(2))}%`;
const dollars = (v: number | string) => `$${Math.round(num(v)).toLocaleString('en-US')}`;

/** Bands of a ratio in percent, highest first, then a fallback quoting the value. */
function ratioRules(prefix: string, label: string, bands: readonly number[]): Rule[] {
  return [
    ...bands.map((b) => ({
      code: `${prefix}_ABOVE_${b}`,
      when: `> ${b}`,
      text: `${label} above ${b}%`,
      test: (v: number | string) => num(v) > b,
    })),
    {
      code: prefix,
      when: `≤ ${bands[bands.length - 1]}`,
      text: `${label} of {value}`,
      test: any,
      sentence: (v) => `${label} of ${percent(v)}`,
    },
  ];
}

function codeRules(rules: readonly [string, string, string][], fallback: [string, string]): Rule[] {
  return [
    ...rules.map(([level, code, text]) => ({
      code,
      when: `= ${level}`,
      text,
      test: (v: number | string) => v === level,
    })),
    { code: fallback[0], when: 'any other code', text: fallback[1], test: any, sentence: (v) => `${fallback[1]} ${v}` },
  ];
}

interface FieldRules {
  readonly missingCode: string;
  readonly missingText: string;
  readonly rules: readonly Rule[];
}

const RULES: Readonly<Record<string, FieldRules>> = {
  credit_score: {
    missingCode: 'CREDIT_SCORE_MISSING',
    missingText: 'Credit score not available',
    rules: [
      { code: 'CREDIT_SCORE_VERY_LOW', when: '< 620', text: 'Credit score below 620', test: (v) => num(v) < 620 },
      { code: 'CREDIT_SCORE_LOW', when: '620–659', text: 'Credit score below 660', test: (v) => num(v) < 660 },
      { code: 'CREDIT_SCORE_FAIR', when: '660–699', text: 'Credit score below 700', test: (v) => num(v) < 700 },
      {
        code: 'CREDIT_SCORE',
        when: '≥ 700',
        text: 'Credit score of {value}',
        test: any,
        sentence: (v) => `Credit score of ${v}`,
      },
    ],
  },
  cltv: {
    missingCode: 'CLTV_MISSING',
    missingText: 'Combined loan-to-value ratio not available',
    rules: ratioRules('CLTV', 'Combined loan-to-value ratio', [95, 90, 80]),
  },
  ltv: {
    missingCode: 'LTV_MISSING',
    missingText: 'Loan-to-value ratio not available',
    rules: ratioRules('LTV', 'Loan-to-value ratio', [95, 90, 80]),
  },
  dti: {
    missingCode: 'DTI_MISSING',
    missingText: 'Debt-to-income ratio not available',
    rules: ratioRules('DTI', 'Debt-to-income ratio', [45, 36]),
  },
  mi_percent: {
    missingCode: 'MI_MISSING',
    missingText: 'Mortgage insurance coverage not available',
    rules: [
      { code: 'MI_NONE', when: '= 0', text: 'No mortgage insurance', test: (v) => num(v) === 0 },
      {
        code: 'MI_COVERAGE',
        when: '> 0',
        text: 'Mortgage insurance coverage of {value} (a high loan-to-value loan)',
        test: any,
        sentence: (v) => `Mortgage insurance coverage of ${percent(v)} (a high loan-to-value loan)`,
      },
    ],
  },
  occupancy_status: {
    missingCode: 'OCCUPANCY_MISSING',
    missingText: 'Occupancy status not available',
    rules: codeRules(
      [
        ['I', 'OCCUPANCY_INVESTMENT', 'Investment property'],
        ['S', 'OCCUPANCY_SECOND_HOME', 'Second home'],
        ['P', 'OCCUPANCY_PRIMARY', 'Primary residence'],
      ],
      ['OCCUPANCY', 'Occupancy status'],
    ),
  },
  loan_purpose: {
    missingCode: 'LOAN_PURPOSE_MISSING',
    missingText: 'Loan purpose not available',
    rules: codeRules(
      [
        ['C', 'CASH_OUT_REFINANCE', 'Cash-out refinance'],
        ['N', 'NO_CASH_OUT_REFINANCE', 'No-cash-out refinance'],
        ['R', 'REFINANCE_NOT_SPECIFIED', 'Refinance, cash-out not specified'],
        ['P', 'PURCHASE', 'Purchase loan'],
      ],
      ['LOAN_PURPOSE', 'Loan purpose'],
    ),
  },
  number_of_units: {
    missingCode: 'UNITS_MISSING',
    missingText: 'Number of units not available',
    rules: [
      {
        code: 'MULTI_UNIT_PROPERTY',
        when: '2–4',
        text: '{value}-unit property',
        test: (v) => num(v) > 1,
        sentence: (v) => `${v}-unit property`,
      },
      { code: 'SINGLE_UNIT_PROPERTY', when: '1', text: 'Single-unit property', test: any },
    ],
  },
  first_time_homebuyer_flag: {
    missingCode: 'FIRST_TIME_HOMEBUYER_MISSING',
    missingText: 'First-time homebuyer status not available',
    rules: codeRules(
      [
        ['Y', 'FIRST_TIME_HOMEBUYER', 'First-time homebuyer'],
        ['N', 'NOT_FIRST_TIME_HOMEBUYER', 'Not a first-time homebuyer'],
      ],
      ['FIRST_TIME_HOMEBUYER_FLAG', 'First-time homebuyer flag'],
    ),
  },
  original_upb: {
    missingCode: 'LOAN_AMOUNT_MISSING',
    missingText: 'Loan amount not available',
    rules: [
      {
        code: 'LOAN_AMOUNT_SMALL',
        when: '< 100,000',
        text: 'Loan amount below $100,000',
        test: (v) => num(v) < 100_000,
      },
      {
        code: 'LOAN_AMOUNT',
        when: '≥ 100,000',
        text: 'Original loan amount of {value}',
        test: any,
        sentence: (v) => `Original loan amount of ${dollars(v)}`,
      },
    ],
  },
  original_interest_rate: {
    missingCode: 'INTEREST_RATE_MISSING',
    missingText: 'Interest rate not available',
    rules: [
      {
        code: 'INTEREST_RATE_ABOVE_7',
        when: '> 7',
        text: 'Original interest rate above 7% ({value})',
        test: (v) => num(v) > 7,
        sentence: (v) => `Original interest rate above 7% (${percent(v)})`,
      },
      {
        code: 'INTEREST_RATE',
        when: '≤ 7',
        text: 'Original interest rate of {value}',
        test: any,
        sentence: (v) => `Original interest rate of ${percent(v)}`,
      },
    ],
  },
  channel: {
    missingCode: 'CHANNEL_MISSING',
    missingText: 'Origination channel not available',
    rules: codeRules(
      [
        ['B', 'CHANNEL_BROKER', 'Originated through a mortgage broker'],
        ['C', 'CHANNEL_CORRESPONDENT', 'Originated through a correspondent lender'],
        ['T', 'CHANNEL_THIRD_PARTY', 'Originated by a third party, channel not specified'],
        ['R', 'CHANNEL_RETAIL', 'Retail origination'],
      ],
      ['CHANNEL', 'Origination channel'],
    ),
  },
  amortization_type: {
    missingCode: 'AMORTIZATION_TYPE_MISSING',
    missingText: 'Amortization type not available',
    rules: codeRules(
      [
        ['ARM', 'ADJUSTABLE_RATE', 'Adjustable-rate mortgage'],
        ['FRM', 'FIXED_RATE', 'Fixed-rate mortgage'],
      ],
      ['AMORTIZATION_TYPE', 'Amortization type'],
    ),
  },
  property_type: {
    missingCode: 'PROPERTY_TYPE_MISSING',
    missingText: 'Property type not available',
    rules: codeRules(
      [
        ['MH', 'MANUFACTURED_HOUSING', 'Manufactured housing'],
        ['CO', 'CONDOMINIUM', 'Condominium'],
        ['CP', 'COOPERATIVE', 'Co-op'],
        ['PU', 'PLANNED_UNIT_DEVELOPMENT', 'Planned unit development'],
        ['SF', 'SINGLE_FAMILY', 'Single-family home'],
      ],
      ['PROPERTY_TYPE', 'Property type'],
    ),
  },
  original_loan_term: {
    missingCode: 'LOAN_TERM_MISSING',
    missingText: 'Loan term not available',
    rules: [
      {
        code: 'LOAN_TERM_OVER_30_YEARS',
        when: '> 360 months',
        text: 'Loan term over 30 years ({value} months)',
        test: (v) => num(v) > 360,
        sentence: (v) => `Loan term over 30 years (${v} months)`,
      },
      {
        code: 'LOAN_TERM',
        when: '≤ 360 months',
        text: 'Loan term of {value} months',
        test: any,
        sentence: (v) => `Loan term of ${v} months`,
      },
    ],
  },
};

/**
 * What a field of an explanation is about: `borrower_or_loan` (the reviewed attributes of the table
 * above, the only ones that give reason codes), `geography`, `vintage` (timing), `household` (the
 * number of borrowers), `scenario` (the house-price features a scenario gives) or `other` (a model input
 * outside the table, e.g. a bring-your-own model's feature).
 */
export type FieldKind = 'borrower_or_loan' | 'geography' | 'vintage' | 'household' | 'scenario' | 'other';
export const EXPLANATION_KINDS: readonly FieldKind[] = [
  'borrower_or_loan',
  'geography',
  'vintage',
  'household',
  'scenario',
  'other',
];

const NOT_REASON_KINDS: ReadonlyMap<string, FieldKind> = new Map<string, FieldKind>([
  ['property_state', 'geography'],
  ['first_payment_date', 'vintage'],
  ['number_of_borrowers', 'household'],
  ...CONTRACT.scenario_fields.map((f): [string, FieldKind] => [f.name, 'scenario']),
]);

/** The kind of an explained field; only `borrower_or_loan` fields give reason codes. */
export function fieldKind(field: string): FieldKind {
  return NOT_REASON_KINDS.get(field) ?? (Object.hasOwn(RULES, field) ? 'borrower_or_loan' : 'other');
}

/**
 * An explanation's contributions labelled by kind, and summed by kind (every kind present, 0 when no
 * field of it contributes): base value + Σ groups = log-odds, so `groups.scenario` is at a glance how
 * much of the log-odds the scenario accounts for.
 */
export function explanationGroups(contributions: Readonly<Record<string, number>>): {
  kinds: Record<string, FieldKind>;
  groups: Record<FieldKind, number>;
} {
  const kinds: Record<string, FieldKind> = {};
  const groups = Object.fromEntries(EXPLANATION_KINDS.map((k) => [k, 0])) as Record<FieldKind, number>;
  for (const [field, c] of Object.entries(contributions)) {
    const kind = fieldKind(field);
    kinds[field] = kind;
    groups[kind] += c;
  }
  return { kinds, groups };
}

/** The whole table: code, field, sentence, when. Every code is unique. */
export const REASON_CODES: readonly ReasonCode[] = Object.entries(RULES).flatMap(([field, r]) => [
  ...r.rules.map((rule) => ({ code: rule.code, field, text: rule.text, when: rule.when })),
  { code: r.missingCode, field, text: r.missingText, when: 'missing (null or the Freddie Mac code)' },
]);

/** A loan field's value as the reasons see it: missing when null, absent or the field's sentinel. */
function read(loan: Readonly<Record<string, unknown>>, field: string): Value {
  const v = loan[field];
  const sentinel = LOAN_FIELD_BY_NAME.get(field);
  if (v === null || v === undefined) return { missing: true };
  if (sentinel && 'sentinel' in sentinel && sentinel.sentinel !== undefined && v === sentinel.sentinel) {
    return { missing: true };
  }
  if (typeof v === 'number' || typeof v === 'string') return { missing: false, value: v };
  return { missing: true };
}

/**
 * The reason code and sentence for one borrower or loan field of one loan (whatever the sign of its
 * contribution); any other field is not a reason (an Error).
 */
export function reasonFor(field: string, loan: Readonly<Record<string, unknown>>): { code: string; text: string } {
  const rules = fieldKind(field) === 'borrower_or_loan' ? RULES[field] : undefined;
  if (!rules) throw new Error(`${field} is not a reason: only borrower and loan attributes give reason codes`);
  const value = read(loan, field);
  if (value.missing) return { code: rules.missingCode, text: rules.missingText };
  const v = value.value;
  // The last rule of every field matches any present value.
  const rule = rules.rules.find((r) => r.test(v)) as Rule;
  return { code: rule.code, text: rule.sentence ? rule.sentence(v) : rule.text };
}

/** Contributions below this (log-odds) are rounding-level, never reported as a reason. */
export const MIN_REASON_CONTRIBUTION = 1e-6;
export const DEFAULT_REASON_COUNT = 4;

/**
 * The borrower and loan fields that raised the loan's PD the most: positive contributions, largest
 * first (ties by field name, so the order is stable), at most `limit`. Geography, vintage, household,
 * scenario and other fields are never reasons, however large their contribution.
 */
export function topReasons(
  contributions: Readonly<Record<string, number>>,
  loan: Readonly<Record<string, unknown>>,
  limit = DEFAULT_REASON_COUNT,
): Reason[] {
  return Object.entries(contributions)
    .filter(([field, c]) => c > MIN_REASON_CONTRIBUTION && fieldKind(field) === 'borrower_or_loan')
    .sort(([fa, a], [fb, b]) => b - a || (fa < fb ? -1 : fa > fb ? 1 : 0))
    .slice(0, limit)
    .map(([field, contribution]) => ({ ...reasonFor(field, loan), field, contribution }));
}
