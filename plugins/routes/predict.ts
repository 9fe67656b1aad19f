import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { type Static, Type } from '@sinclair/typebox';
import { DEFAULT_REASON_COUNT, topReasons } from '../../src/loan/reasons.js';
import { loanProblems } from '../../src/loan/record.js';
import { LOAN_EXAMPLE, loanProperties } from '../../src/loan/schema.js';
import type { LoanRecord, Model } from '../../src/runtime/index.js';
import { type FieldProblem, HttpError, summarise } from '../errors.js';
import { ErrorSchema, ModelNameSchema } from '../schemas.js';
import { unknownModel } from './models.js';

/**
 * POST /predict: one loan, or `{ "loans": [...] }`, scored by one model or by all of them.
 * The route validates and shapes; the runtime (src/runtime) does every bit of arithmetic.
 */

const Reason = Type.Object({
  code: Type.String({ description: 'Stable reason code (see the README table).', examples: ['CREDIT_SCORE_LOW'] }),
  field: Type.String({ description: 'The loan field it is about.', examples: ['credit_score'] }),
  contribution: Type.Number({ description: "The field's contribution to the log-odds (positive).", examples: [0.41] }),
  text: Type.String({ examples: ['Credit score below 660'] }),
});

const Explanation = Type.Object(
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
    reasons: Type.Array(Reason, {
      maxItems: DEFAULT_REASON_COUNT,
      description: `The fields that raised the PD most: positive contributions, largest first, at most ${DEFAULT_REASON_COUNT}.`,
    }),
  },
  { description: 'Present with ?explain=true.' },
);
type Explanation = Static<typeof Explanation>;

const Prediction = Type.Object({
  model: Type.String({ examples: ['xgboost'] }),
  version: Type.String({ examples: ['1.0.0'] }),
  probability_of_default: Type.Number({
    minimum: 0,
    maximum: 1,
    description: 'Probability that the loan defaults (the label of GET /models/{name}).',
  }),
  default_predicted: Type.Boolean({ description: 'probability_of_default ≥ decision_threshold' }),
  decision_threshold: Type.Number({ description: "The model's cut-off (KS-optimal on the holdout)." }),
  log_odds: Type.Number({ description: 'The model margin, log(PD / (1 − PD)).' }),
  explanation: Type.Optional(Explanation),
});
type Prediction = Static<typeof Prediction>;

const LoanId = Type.Optional(Type.String({ description: 'The loan_sequence_number of the request, when given.' }));

const SingleResult = Type.Composite([Prediction, Type.Object({ loan_sequence_number: LoanId })], {
  title: 'One loan, one model',
});
const AllResult = Type.Object(
  { model: Type.Literal('all'), loan_sequence_number: LoanId, results: Type.Array(Prediction) },
  { title: 'One loan, every model' },
);
const BatchResult = Type.Object(
  {
    model: Type.String(),
    count: Type.Integer(),
    results: Type.Array(Type.Composite([Prediction, Type.Object({ loan_sequence_number: LoanId })]), {
      description: 'In input order.',
    }),
  },
  { title: 'Batch, one model' },
);
const BatchAllResult = Type.Object(
  {
    model: Type.Literal('all'),
    count: Type.Integer(),
    results: Type.Array(Type.Object({ loan_sequence_number: LoanId, results: Type.Array(Prediction) }), {
      description: 'In input order; each loan with every model.',
    }),
  },
  { title: 'Batch, every model' },
);

/** Most (loan, model) explanations one request may ask for: about 1.3 s of XGBoost TreeSHAP. */
export const MAX_EXPLANATIONS = 1000;

export interface PredictOptions {
  maxBatch: number;
}

const predict: FastifyPluginAsyncTypebox<PredictOptions> = async (app, { maxBatch }) => {
  const SingleBody = Type.Object(
    { ...loanProperties, model: Type.Optional(ModelNameSchema) },
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
    },
    { additionalProperties: false, title: 'A batch of loans' },
  );
  const Body = Type.Union([SingleBody, BatchBody], {
    examples: [
      LOAN_EXAMPLE,
      { ...LOAN_EXAMPLE, model: 'all' },
      {
        model: 'gradient_boosting',
        loans: [LOAN_EXAMPLE, { ...LOAN_EXAMPLE, credit_score: 620, ltv: 95, cltv: 95, dti: 48 }],
      },
    ],
  });

  const score = (model: Model, loans: readonly LoanRecord[]) => {
    const t0 = process.hrtime.bigint();
    const scores = model.scoreMany(loans);
    app.predictionMetrics.observe(model.name, Number(process.hrtime.bigint() - t0) / 1e9, scores.probability);
    return scores;
  };
  const explanation = (model: Model, loan: LoanRecord): Explanation => {
    const e = model.explain(loan);
    return { base_value: e.baseValue, contributions: e.fields, reasons: topReasons(e.fields, loan) };
  };
  const prediction = (model: Model, probability: number, margin: number, explained?: Explanation): Prediction => {
    // A non-finite value would be a runtime fault, never something to put in JSON.
    if (!Number.isFinite(probability) || !Number.isFinite(margin))
      throw new Error(`${model.name} produced ${probability}`);
    return {
      model: model.name,
      version: model.version,
      probability_of_default: probability,
      default_predicted: probability >= model.decisionThreshold,
      decision_threshold: model.decisionThreshold,
      log_odds: margin,
      ...(explained ? { explanation: explained } : {}),
    };
  };

  app.post(
    '/predict',
    {
      schema: {
        tags: ['predict'],
        summary: 'Probability of default for one loan or a batch, by one model or all of them',
        description:
          'Send one loan (the fields of the Freddie Mac origination file; missing values as null or the ' +
          'Freddie Mac codes) or `{"loans": [...]}`. Choose the model with `model` in the body or `?model=`; `"all"` scores with every model. ' +
          'Numbers must be JSON numbers: strings are refused, never coerced. ' +
          '`?explain=true` adds to every prediction an exact additive explanation of its log-odds by loan field ' +
          'and the reason codes of the fields that raised the PD most.',
        querystring: Type.Object(
          {
            model: Type.Optional(ModelNameSchema),
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
        ),
        body: Body,
        response: {
          200: Type.Union([SingleResult, AllResult, BatchResult, BatchAllResult]),
          400: ErrorSchema,
          404: ErrorSchema,
          413: ErrorSchema,
          415: ErrorSchema,
          500: ErrorSchema,
        },
      },
      // Refuse an oversized batch before validating a million loans.
      preValidation: async (request) => {
        const loans = (request.body as { loans?: unknown } | null)?.loans;
        if (Array.isArray(loans) && loans.length > maxBatch) {
          throw new HttpError(
            413,
            'BATCH_TOO_LARGE',
            `a batch holds at most ${maxBatch} loans (MAX_BATCH); got ${loans.length}`,
          );
        }
      },
    },
    async (request) => {
      const body = request.body;
      const fromBody = body.model;
      const fromQuery = request.query.model;
      if (fromBody !== undefined && fromQuery !== undefined && fromBody !== fromQuery) {
        throw new HttpError(
          400,
          'MODEL_CONFLICT',
          `model is ${JSON.stringify(fromBody)} in the body but ${JSON.stringify(fromQuery)} in the query; send one`,
        );
      }
      const name = fromBody ?? fromQuery ?? app.config.defaultModel;
      const models = name === 'all' ? app.models.list() : [app.models.get(name)];
      if (models[0] === undefined) throw unknownModel(name, [...app.models.names(), 'all']);
      const chosen = models as Model[];
      const explain = request.query.explain === 'true';
      if (explain) {
        // TreeSHAP on the shipped XGBoost model costs ~1.3 ms a loan, on the event loop: bound the
        // work one request can ask for (a 10,000-loan batch with every model would block ~13 s).
        const count = 'loans' in body ? body.loans.length : 1;
        const explained = count * chosen.length;
        if (explained > MAX_EXPLANATIONS) {
          throw new HttpError(
            413,
            'EXPLAIN_BATCH_TOO_LARGE',
            `explain=true explains at most ${MAX_EXPLANATIONS} loan-model pairs per request; this one asks for ${explained} (${count} loans × ${chosen.length} models)`,
          );
        }
        const unable = chosen.find((m) => !m.explainable);
        if (unable) {
          throw new HttpError(
            400,
            'EXPLANATION_UNAVAILABLE',
            `model ${unable.name} cannot explain its predictions: ${unable.explainUnavailable}; re-export it with the current pipeline`,
          );
        }
      }

      const loans: LoanRecord[] = 'loans' in body ? body.loans : [body];
      const problems: FieldProblem[] = [];
      loans.forEach((loan, i) => {
        for (const [field, message] of loanProblems(loan)) {
          problems.push({ field: 'loans' in body ? `loans[${i}].${field}` : field, message });
        }
      });
      if (problems.length > 0) throw new HttpError(400, 'VALIDATION_FAILED', summarise(problems), problems);

      const scored = chosen.map((m) => ({ model: m, scores: score(m, loans) }));
      const id = (loan: LoanRecord) =>
        typeof loan.loan_sequence_number === 'string' ? { loan_sequence_number: loan.loan_sequence_number } : {};
      const at = (i: number) =>
        scored.map(({ model, scores }) =>
          prediction(
            model,
            scores.probability[i] as number,
            scores.margin[i] as number,
            explain ? explanation(model, loans[i] as LoanRecord) : undefined,
          ),
        );

      if (!('loans' in body)) {
        return name === 'all'
          ? { model: 'all' as const, ...id(body), results: at(0) }
          : { ...(at(0)[0] as Prediction), ...id(body) };
      }
      if (name === 'all') {
        return {
          model: 'all' as const,
          count: loans.length,
          results: loans.map((loan, i) => ({ ...id(loan), results: at(i) })),
        };
      }
      return {
        model: name,
        count: loans.length,
        results: loans.map((loan, i) => ({ ...(at(i)[0] as Prediction), ...id(loan) })),
      };
    },
  );
};

export default predict;
