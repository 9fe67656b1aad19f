import { LOAN_FIELDS } from '../src/loan/record.js';
import { LOAN_EXAMPLE, LoanSchema } from '../src/loan/schema.js';
import { csvCell, FREDDIE_POSITIONS } from '../src/pool/index.js';

/**
 * The examples of the OpenAPI document: what Swagger UI's "Try it out" offers. Each request body
 * example has a name and a summary (the UI lists them by summary), and works as it stands: the
 * OpenAPI tests send every one of them, and scripts/ci/swagger-ui-e2e.ts executes every one of them
 * in Swagger UI. Optional query parameters have no example on purpose: "Try it out" would send it,
 * and a pre-filled `?model=` or `?version=` changes what the call does (it pins a version, skipping
 * the A/B split and the shadow, and conflicts with a `model` in the body).
 */

interface NamedExample {
  summary: string;
  description?: string;
  value: unknown;
}

/** A request body as the document shows it: per content type, an optional schema and named examples. */
type BodyDoc = Record<string, { schema?: unknown; examples: Record<string, NamedExample> }>;

/** Path parameters: required, so "Try it out" may fill them in; these name a shipped model and version. */
const PATH_EXAMPLES: Readonly<Record<string, string>> = { name: 'xgboost', version: '1.0.0' };

type Loan = Readonly<Record<string, string | number | null>>;

const LOAN: Loan = LOAN_EXAMPLE;
const RISKIER: Loan = {
  ...LOAN_EXAMPLE,
  loan_sequence_number: 'F06Q10000042',
  credit_score: 620,
  ltv: 95,
  cltv: 95,
  dti: 48,
  mi_percent: 30,
};
const WITH_MISSING: Loan = {
  ...LOAN_EXAMPLE,
  loan_sequence_number: 'F07Q20000007',
  credit_score: 9999,
  dti: null,
  first_time_homebuyer_flag: '9',
};

const predictExamples: Record<string, NamedExample> = {
  one_loan: { summary: 'One loan, default model', value: LOAN },
  every_model: { summary: 'One loan, every model side by side (model: all)', value: { ...LOAN, model: 'all' } },
  stress_scenario: {
    summary: 'One loan under the severely_adverse scenario (house prices −25 % nationally over nine quarters)',
    value: { ...LOAN, scenario: 'severely_adverse' },
  },
  custom_scenario: {
    summary: 'One loan under a custom house-price path (quarterly log changes; its state falls ~30 %, the rest flat)',
    value: {
      ...LOAN,
      scenario: {
        name: 'state bust',
        national: [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
        states: { [String(LOAN.property_state)]: [-0.05, -0.05, -0.05, -0.05, -0.05, -0.05, -0.0567, 0, 0, 0, 0, 0] },
      },
    },
  },
  own_cutoff: {
    summary: "One loan, compared with a cut-off of your own (above_cutoff: PD ≥ 0.1; without cutoff, the model's)",
    value: { ...LOAN, cutoff: 0.1 },
  },
  batch: {
    summary: 'A batch of two loans, gradient boosting',
    value: { model: 'gradient_boosting', loans: [LOAN, RISKIER] },
  },
  missing_values: {
    summary: 'Missing values: null or the Freddie Mac codes (credit score 9999)',
    value: WITH_MISSING,
  },
  pinned_version: {
    summary: 'One loan, pinned to one version (xgboost 1.1.0: no A/B split, no shadow)',
    value: { ...LOAN, model: 'xgboost', version: '1.1.0' },
  },
};

// Open Inference Protocol: one named input per loan field, BYTES for codes, INT64/FP64 for numbers.
const datatype = (name: string): string => {
  const field = LOAN_FIELDS.find((f) => f.name === name);
  if (field?.kind !== 'numeric') return 'BYTES';
  return field.integer ? 'INT64' : 'FP64';
};
const namedInputs = (loans: readonly Loan[], names: readonly string[]) =>
  names.map((name) => ({ name, shape: [loans.length], datatype: datatype(name), data: loans.map((l) => l[name]) }));
const modelFields = LOAN_FIELDS.map((f) => f.name).filter((n) => n !== 'loan_sequence_number');

const inferExamples: Record<string, NamedExample> = {
  two_loans: {
    summary: 'Two loans: one named input per loan field, shape [2]',
    value: { id: 'req-1', inputs: namedInputs([LOAN, RISKIER], modelFields) },
  },
  log_odds: {
    summary: 'One loan, asking for log_odds as well',
    value: {
      id: 'req-2',
      inputs: namedInputs([LOAN], modelFields),
      outputs: [{ name: 'predict_proba' }, { name: 'predict' }, { name: 'log_odds' }],
    },
  },
  missing_values: {
    summary: 'One loan with missing values (null, or the Freddie Mac codes)',
    value: { id: 'req-3', inputs: namedInputs([WITH_MISSING], modelFields) },
  },
  scenario: {
    summary: 'One loan under the adverse scenario (parameters.scenario; default baseline)',
    value: { id: 'req-4', inputs: namedInputs([LOAN], modelFields), parameters: { scenario: 'adverse' } },
  },
};

// Loan tapes: a CSV with a header, Freddie Mac's origination layout, JSON.
const names = LOAN_FIELDS.map((f) => f.name);
const csvLine = (values: readonly unknown[]) => values.map((v) => (v === null ? '' : csvCell(String(v)))).join(',');
const CSV_TAPE = `${[csvLine(names), ...[LOAN, RISKIER].map((l) => csvLine(names.map((n) => l[n])))].join('\n')}\n`;
/** 32 pipe-separated fields, as Freddie Mac's files have them (seller and servicer at 24 and 25). */
const freddieLine = (loan: Loan) => {
  const fields = Array<string>(32).fill('');
  fields[23] = 'Other sellers';
  fields[24] = 'Other servicers';
  for (const [name, position] of Object.entries(FREDDIE_POSITIONS)) fields[position - 1] = String(loan[name] ?? '');
  return fields.join('|');
};
const FREDDIE_TAPE = `${[LOAN, RISKIER].map(freddieLine).join('\n')}\n`;

const tapeExamples = {
  csv: { summary: 'CSV: a header of loan-record names, two loans', value: CSV_TAPE },
  freddie: {
    summary: "Freddie Mac's origination layout: pipe-delimited, no header, two loans",
    value: FREDDIE_TAPE,
  },
  with_missing: {
    summary: 'CSV with missing values (empty cells, 9999)',
    value: `${csvLine(names)}\n${csvLine(names.map((n) => WITH_MISSING[n]))}\n`,
  },
};

// Backtest tapes: the same with the outcome (1 default within 36 months, 0 none, empty/null not known yet).
const OUTCOMES = [0, 1] as const;
const BACKTEST_CSV = `${[
  `${csvLine(names)},default_36m`,
  ...[LOAN, RISKIER].map((l, i) => `${csvLine(names.map((n) => l[n]))},${OUTCOMES[i]}`),
].join('\n')}\n`;

/**
 * Admin calls take no options, but a JSON body (or an X-Requested-With header) is what tells them apart
 * from a cross-site form post (plugins/security/auth.ts): "Try it out" sends this empty object.
 */
const adminBody: BodyDoc = {
  'application/json': {
    schema: {
      type: 'object',
      additionalProperties: false,
      description: 'No options. A JSON body (or an X-Requested-With header) is required on admin calls.',
    },
    examples: { none: { summary: 'No options: {} (a JSON body, which a cross-site form cannot send)', value: {} } },
  },
};

const backtestBody: BodyDoc = {
  'text/csv': {
    schema: {
      type: 'string',
      description:
        'A CSV with a header row naming loan-record fields and default_36m (1 default within 36 months, 0 none, ' +
        'empty: not known yet). A Freddie Mac origination file has no outcome and is refused.',
    },
    examples: { csv: { summary: 'CSV: two loans, one defaulted', value: BACKTEST_CSV } },
  },
  'application/json': {
    schema: {
      type: 'object',
      required: ['loans'],
      additionalProperties: false,
      properties: { loans: { type: 'array', items: { type: 'object' } } },
      description: 'The loan records of /predict, each with default_36m: 0, 1 or null (not known yet).',
    },
    examples: {
      json: {
        summary: 'JSON: two loans, one defaulted',
        value: { loans: [LOAN, RISKIER].map((l, i) => ({ ...l, default_36m: OUTCOMES[i] })) },
      },
    },
  },
};

/** Operations that exist only in some configurations (key rotation needs API_KEYS_FILE). */
const CONDITIONAL = new Set(['POST /admin/keys/reload']);

/** A loan tape: read as a stream outside schema validation (plugins/routes/pools.ts, lifetime.ts), documented here only. */
const TAPE_BODY: BodyDoc = {
  'text/csv': {
    schema: {
      type: 'string',
      description:
        "A CSV with a header row naming loan-record fields (any order; the fields of /predict), or Freddie Mac's " +
        'origination file: pipe-delimited, no header, 26 to 32 fields.',
    },
    examples: tapeExamples,
  },
  'application/json': {
    schema: {
      type: 'object',
      required: ['loans'],
      additionalProperties: false,
      properties: { loans: { type: 'array', items: JSON.parse(JSON.stringify(LoanSchema)) } },
      description: 'The loan records of /predict, read one by one as they arrive.',
    },
    examples: {
      json: { summary: 'JSON: {"loans": [...]}, two loans', value: { loans: [LOAN, RISKIER] } },
    },
  },
};

/**
 * A scenario part and a tape (plugins/routes/pool-http.ts, scenarioAndTape): a house-price path longer
 * than a query holds, beside a CSV tape. The example: two loans under a custom path with a state of its own.
 */
const EXAMPLE_PATH = {
  name: 'sand_states_fall',
  national: [-0.01, -0.01, -0.01, -0.01, 0, 0, 0, 0, 0.005, 0.005, 0.005, 0.005],
  states: { FL: [-0.05, -0.05, -0.05, -0.05, -0.03, -0.03, 0, 0, 0, 0, 0.01, 0.01] },
};
const SCENARIO_AND_TAPE = (lists: boolean): BodyDoc[string] => ({
  schema: {
    type: 'object',
    required: ['tape'],
    properties: {
      scenario: {
        type: 'string',
        // Swagger UI fills the form's text field with it ("Try it out"); a file chooser takes the tape.
        example: JSON.stringify(EXAMPLE_PATH),
        description:
          `Optional, before the tape: JSON as a JSON tape's own "scenario" holds it (a custom path, or a name in quotes${lists ? ', or a list of up to 6 of them' : ''}), ` +
          'at most 64 KiB: a state-level path too long for ?scenario= (8,192 characters). Not besides a different ?scenario=.',
      },
      tape: {
        type: 'string',
        format: 'binary',
        description:
          'The loan tape, a file: CSV with a header, Freddie Mac origination file, or JSON {"loans": [...]} (by the ' +
          "part's Content-Type, else ?format=, else detected). From curl: -F tape=@loans.csv",
      },
    },
  },
  examples: {
    path: {
      summary: 'A custom path with a state of its own, then a CSV tape of two loans',
      value: { scenario: JSON.stringify(EXAMPLE_PATH), tape: CSV_TAPE },
    },
  },
});

const BODIES: Readonly<Record<string, BodyDoc>> = {
  'POST /admin/models/reload': adminBody,
  'POST /admin/keys/reload': adminBody,
  'POST /predict': { 'application/json': { examples: predictExamples } },
  'POST /v2/models/{name}/infer': { 'application/json': { examples: inferExamples } },
  'POST /v2/models/{name}/versions/{version}/infer': { 'application/json': { examples: inferExamples } },
  'POST /pools/backtest': backtestBody,
  'POST /pools/score': { ...TAPE_BODY, 'multipart/form-data': SCENARIO_AND_TAPE(false) },
  'POST /pools/lifetime': { ...TAPE_BODY, 'multipart/form-data': SCENARIO_AND_TAPE(true) },
};

interface OperationDoc {
  parameters?: { in: string; name: string; required?: boolean; example?: unknown; schema?: { examples?: unknown } }[];
  requestBody?: { required?: boolean; description?: string; content: Record<string, Record<string, unknown>> };
}

/**
 * Puts the examples into the generated document (@fastify/swagger's transformObject): named body
 * examples in place of the "example1", "example2" a TypeBox `examples` array would give, the tape
 * body of /pools/score, and an example for every path parameter. Throws on an operation it does
 * not find, so a renamed route cannot lose its examples silently.
 */
export function withExamples<T extends object>(doc: T): T {
  const paths = (doc as { paths?: Record<string, Record<string, unknown>> }).paths ?? {};
  for (const [key, body] of Object.entries(BODIES)) {
    const [method = '', path = ''] = key.split(' ');
    const op = paths[path]?.[method.toLowerCase()] as OperationDoc | undefined;
    if (!op && CONDITIONAL.has(key)) continue;
    if (!op) throw new Error(`examples for ${key}, which the OpenAPI document does not have`);
    const content: Record<string, Record<string, unknown>> = {};
    for (const [type, { schema, examples }] of Object.entries(body)) {
      const generated = op.requestBody?.content[type];
      const media = { schema: schema ?? generated?.schema, examples };
      if (!media.schema) throw new Error(`${key}: no schema for ${type}`);
      content[type] = media;
    }
    op.requestBody = { ...op.requestBody, required: true, content };
  }
  for (const ops of Object.values(paths)) {
    for (const op of Object.values(ops) as OperationDoc[]) {
      for (const p of op.parameters ?? []) {
        if (p.in !== 'path' || p.example !== undefined) continue;
        const example = PATH_EXAMPLES[p.name];
        if (example === undefined) throw new Error(`no example for the path parameter ${p.name}`);
        p.example = example;
      }
    }
  }
  return doc;
}
