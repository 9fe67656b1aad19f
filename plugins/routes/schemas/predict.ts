import { type Static, Type } from '@sinclair/typebox';
import fastJson from 'fast-json-stringify';
import { DEFAULT_REASON_COUNT, EXPLANATION_KINDS } from '../../../src/loan/reasons.js';
import { loanProperties } from '../../../src/loan/schema.js';
import {
  ModelNameSchema,
  ScenarioAnswerSchema,
  ScenarioNameSchema,
  ScenarioSpecSchema,
  VersionSchema,
} from '../../schemas.js';
import { CutoffAnswer, CutoffBodySchema, CutoffQuerySchema } from '../cutoff.js';

/** The schemas of POST /predict: its bodies, its query and its four answer shapes. */

export const Reason = Type.Object({
  code: Type.String({
    description: 'Stable reason code (the table in docs/API.md): borrower and loan attributes only.',
    examples: ['CREDIT_SCORE_LOW'],
  }),
  field: Type.String({ description: 'The borrower or loan field it is about.', examples: ['credit_score'] }),
  contribution: Type.Number({ description: "The field's contribution to the log-odds (positive).", examples: [0.41] }),
  text: Type.String({ examples: ['Credit score below 660'] }),
});

const Kind = Type.Unsafe<(typeof EXPLANATION_KINDS)[number]>({ type: 'string', enum: [...EXPLANATION_KINDS] });

export const Explanation = Type.Object(
  {
    base_value: Type.Number({
      description:
        "The model's expected log-odds: linear models at the training means of their columns, tree models " +
        'over the training cover of their nodes. base_value + Σ contributions = log_odds.',
    }),
    contributions: Type.Record(Type.String(), Type.Number(), {
      description:
        'Exact additive contribution of each loan field to the log-odds (linear: coefficient × (x − training mean); ' +
        'trees: TreeSHAP, path-dependent, as XGBoost computes it), summed over the columns a field is encoded as.',
    }),
    kinds: Type.Record(Type.String(), Kind, {
      description:
        'What each field of `contributions` is about: borrower_or_loan (the only kind that gives reason codes), ' +
        'geography (property_state), vintage (first_payment_date), household (number_of_borrowers), scenario ' +
        "(the scenario's house-price features) or other (a model input outside the reason-code table).",
    }),
    groups: Type.Object(Object.fromEntries(EXPLANATION_KINDS.map((k) => [k, Type.Number()])), {
      description:
        'The contributions summed by kind (0 for a kind with no field): base_value + Σ groups = log_odds, so ' +
        '`scenario` is how much of the log-odds the scenario accounts for.',
    }),
    reasons: Type.Array(Reason, {
      maxItems: DEFAULT_REASON_COUNT,
      description:
        `The borrower and loan fields that raised the PD most: positive contributions, largest first, at most ${DEFAULT_REASON_COUNT}. ` +
        'Geography, vintage, household and scenario contributions are never reasons. The codes explain a score; a ' +
        'lender using them for adverse-action notices must review the mapping against its own obligations.',
    }),
  },
  { description: 'Present with ?explain=true.' },
);
export type Explanation = Static<typeof Explanation>;

export const Prediction = Type.Object({
  model: Type.String({ examples: ['xgboost'] }),
  version: Type.String({ examples: ['1.0.0'] }),
  probability_of_default: Type.Number({
    minimum: 0,
    maximum: 1,
    description: 'Probability that the loan defaults (the label of GET /models/{name}).',
  }),
  ...CutoffAnswer,
  log_odds: Type.Number({ description: 'The model margin, log(PD / (1 − PD)).' }),
  scenario: Type.Optional(ScenarioAnswerSchema),
  out_of_domain: Type.Optional(
    Type.Array(
      Type.Object({
        field: Type.String({ examples: ['hpi_trough_36m'] }),
        value: Type.Number(),
        reason: Type.String({ examples: ['below the training range -0.69 to 0'] }),
      }),
      {
        description:
          "Present when the loan, or the scenario's features for it, lie outside what the model was trained on " +
          '(the training range stored in the artifact): the model extrapolates, so read the PD with care.',
      },
    ),
  ),
  explanation: Type.Optional(Explanation),
});
export type Prediction = Static<typeof Prediction>;

const LoanId = Type.Optional(Type.String({ description: 'The loan_sequence_number of the request, when given.' }));

export const SingleResult = Type.Composite([Prediction, Type.Object({ loan_sequence_number: LoanId })], {
  title: 'One loan, one model',
});
export const AllResult = Type.Object(
  { model: Type.Literal('all'), loan_sequence_number: LoanId, results: Type.Array(Prediction) },
  { title: 'One loan, every model' },
);
export const BatchResult = Type.Object(
  {
    model: Type.String(),
    count: Type.Integer(),
    results: Type.Array(Type.Composite([Prediction, Type.Object({ loan_sequence_number: LoanId })]), {
      description: 'In input order.',
    }),
  },
  { title: 'Batch, one model' },
);
export const BatchAllResult = Type.Object(
  {
    model: Type.Literal('all'),
    count: Type.Integer(),
    results: Type.Array(Type.Object({ loan_sequence_number: LoanId, results: Type.Array(Prediction) }), {
      description: 'In input order; each loan with every model.',
    }),
  },
  { title: 'Batch, every model' },
);

/** The body: one loan (with `model`, `version`), or `{"loans": [...]}` of at most `maxBatch` loans. */
export function predictBody(maxBatch: number) {
  const SingleBody = Type.Object(
    {
      ...loanProperties,
      model: Type.Optional(ModelNameSchema),
      version: Type.Optional(VersionSchema),
      scenario: Type.Optional(ScenarioSpecSchema),
      cutoff: Type.Optional(CutoffBodySchema),
    },
    { additionalProperties: false, title: 'One loan' },
  );
  const BatchBody = Type.Object(
    {
      loans: Type.Array(Type.Object(loanProperties, { additionalProperties: false }), {
        minItems: 1,
        maxItems: maxBatch,
        description: `Up to ${maxBatch} loans (MAX_BATCH); results come back in the same order.`,
      }),
      model: Type.Optional(ModelNameSchema),
      version: Type.Optional(VersionSchema),
      scenario: Type.Optional(ScenarioSpecSchema),
      cutoff: Type.Optional(CutoffBodySchema),
    },
    { additionalProperties: false, title: 'A batch of loans' },
  );
  // Its named examples are in plugins/examples.ts.
  return Type.Union([SingleBody, BatchBody]);
}

export const PredictQuery = Type.Object(
  {
    model: Type.Optional(ModelNameSchema),
    version: Type.Optional(VersionSchema),
    scenario: Type.Optional(ScenarioNameSchema),
    cutoff: Type.Optional(CutoffQuerySchema),
    explain: Type.Optional(
      Type.Unsafe<'true' | 'false'>({
        type: 'string',
        enum: ['true', 'false'],
        description:
          '"true" adds `explanation` (base_value, contributions by loan field, reasons) to every prediction. ' +
          'Default "false". A string, as query values are: 1, yes or TRUE are refused.',
      }),
    ),
  },
  { additionalProperties: false },
);

/**
 * The 200 answer of /predict is one of four shapes (documented as their union). Fastify's serializer
 * for a union tries each branch with a schema validator before writing; the handler's answer says
 * which shape it is, so each gets its own compiled serializer instead.
 */
export function predictSerializer(): (payload: unknown) => string {
  const single = fastJson(SingleResult);
  const all = fastJson(AllResult);
  const batch = fastJson(BatchResult);
  const batchAll = fastJson(BatchAllResult);
  return (payload) => {
    const p = payload as { model?: unknown; count?: unknown; results?: unknown };
    if (p.count !== undefined) return p.model === 'all' ? batchAll(p) : batch(p);
    return p.results !== undefined ? all(p) : single(p);
  };
}
