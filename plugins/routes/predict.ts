import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { type Static, Type } from '@sinclair/typebox';
import fastJson from 'fast-json-stringify';
import { DEFAULT_REASON_COUNT, topReasons } from '../../src/loan/reasons.js';
import { loanProblems } from '../../src/loan/record.js';
import { loanProperties } from '../../src/loan/schema.js';
import { ProblemList } from '../../src/problems.js';
import type { ModelSet } from '../../src/registry.js';
import { armFor, loanKey, type ModelRoute } from '../../src/routing.js';
import type { LoanRecord, Model, Score } from '../../src/runtime/index.js';
import { type FieldProblem, HttpError, validationFailed } from '../errors.js';
import { ErrorSchema, ModelNameSchema, VersionSchema } from '../schemas.js';
import { unknownModel, unknownVersion } from './models.js';

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

/** Probabilities and margins of the loans of one scoring call, in their order. */
interface Scores {
  readonly probability: ArrayLike<number>;
  readonly margin: ArrayLike<number>;
}
const single = (s: Score): Scores => ({ probability: [s.probability], margin: [s.margin] });

/** Most (loan, model) explanations one request may ask for: about 1.3 s of XGBoost TreeSHAP. */
export const MAX_EXPLANATIONS = 1000;

export interface PredictOptions {
  maxBatch: number;
}

const predict: FastifyPluginAsyncTypebox<PredictOptions> = async (app, { maxBatch }) => {
  const SingleBody = Type.Object(
    { ...loanProperties, model: Type.Optional(ModelNameSchema), version: Type.Optional(VersionSchema) },
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
    },
    { additionalProperties: false, title: 'A batch of loans' },
  );
  // Its named examples are in plugins/examples.ts.
  const Body = Type.Union([SingleBody, BatchBody]);

  const score = (model: Model, loans: readonly LoanRecord[]): Scores => {
    const t0 = performance.now();
    // One loan: the single-row evaluator, without the batch's arrays and blocks (~1 µs less).
    const scores = loans.length === 1 ? single(model.score(loans[0] as LoanRecord)) : model.scoreMany(loans);
    app.predictionMetrics.observe(model, (performance.now() - t0) / 1000, scores.probability);
    return scores;
  };

  /**
   * Scores every loan with the version chosen for it (`served[i]`): one call when they all share a
   * version (no split, or a single loan), else one call per version over its loans.
   */
  const scoreServed = (served: readonly Model[], loans: readonly LoanRecord[]): Scores => {
    const first = served[0] as Model;
    if (served.every((m) => m === first)) return score(first, loans);
    const probability = new Float64Array(loans.length);
    const margin = new Float64Array(loans.length);
    for (const [model, indices] of groupBy(served)) {
      const scores = score(
        model,
        indices.map((i) => loans[i] as LoanRecord),
      );
      indices.forEach((i, k) => {
        probability[i] = scores.probability[k] as number;
        margin[i] = scores.margin[k] as number;
      });
    }
    return { probability, margin };
  };

  /**
   * The shadow version scores the loans the champion(s) answered, after the response is on its way:
   * never returned, never able to fail the request, compared in metrics only.
   */
  const scoreShadow = (
    shadow: Model,
    served: readonly Model[],
    loans: readonly LoanRecord[],
    answered: ArrayLike<number>,
  ) => {
    setImmediate(() => {
      for (const [champion, indices] of groupBy(served)) {
        if (champion === shadow) continue;
        try {
          const shadowPd = shadow.scoreMany(indices.map((i) => loans[i] as LoanRecord)).probability;
          app.predictionMetrics.shadow(
            champion,
            shadow,
            indices.map((i) => answered[i] as number),
            shadowPd,
          );
        } catch (err) {
          app.predictionMetrics.shadowFailed(champion, shadow);
          app.log.error({ err, model: shadow.name, shadow: shadow.version }, 'shadow scoring failed');
        }
      }
    });
  };
  const explanation = (model: Model, loan: LoanRecord): Explanation => {
    const e = model.explain(loan);
    return { base_value: e.baseValue, contributions: e.fields, reasons: topReasons(e.fields, loan) };
  };
  const prediction = (
    model: Model,
    probability: number,
    margin: number,
    explained: Explanation | undefined,
    loanId: string | undefined,
  ): Prediction & { loan_sequence_number?: string } => {
    // A non-finite value would be a runtime fault, never something to put in JSON.
    if (!Number.isFinite(probability) || !Number.isFinite(margin))
      throw new Error(`${model.name} produced ${probability}`);
    const p: Prediction & { loan_sequence_number?: string } = {
      model: model.name,
      version: model.version,
      probability_of_default: probability,
      default_predicted: probability >= model.decisionThreshold,
      decision_threshold: model.decisionThreshold,
      log_odds: margin,
    };
    if (explained) p.explanation = explained;
    if (loanId !== undefined) p.loan_sequence_number = loanId;
    return p;
  };

  app.post(
    '/predict',
    {
      config: { auth: 'predict' },
      schema: {
        tags: ['predict'],
        summary: 'Probability of default for one loan or a batch, by one model or all of them',
        description:
          'Send one loan (the fields of the Freddie Mac origination file; missing values as null or the ' +
          'Freddie Mac codes) or `{"loans": [...]}`. Choose the model with `model` in the body or `?model=`; `"all"` scores with every model. ' +
          'Without `version` the default version answers (or, when the model has an A/B split, the arm the loan falls in, sticky per loan); ' +
          'every prediction says which version answered. ' +
          'Numbers must be JSON numbers: strings are refused, never coerced. ' +
          '`?explain=true` adds to every prediction an exact additive explanation of its log-odds by loan field ' +
          'and the reason codes of the fields that raised the PD most.',
        querystring: Type.Object(
          {
            model: Type.Optional(ModelNameSchema),
            version: Type.Optional(VersionSchema),
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
      serializerCompiler: ({ httpStatus, schema }) =>
        httpStatus === '200' ? predictSerializer() : fastJson(schema as unknown as Parameters<typeof fastJson>[0]),
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
      const query = request.query;
      const name = agreed('model', body.model, query.model) ?? app.config.defaultModel;
      const version = agreed('version', body.version, query.version);
      const set = app.models.current; // this request's models, whatever a reload does meanwhile
      const chosen = chooseModels(set, name, version);
      const explain = query.explain === 'true';
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
        const unable = chosen.flatMap((c) => c.candidates).find((m) => !m.explainable);
        if (unable) {
          throw new HttpError(
            400,
            'EXPLANATION_UNAVAILABLE',
            `model ${unable.name} ${unable.version} cannot explain its predictions: ${unable.explainUnavailable}; re-export it with the current pipeline`,
          );
        }
      }

      const loans: LoanRecord[] = 'loans' in body ? body.loans : [body];
      const problems = new ProblemList<FieldProblem>();
      loans.forEach((loan, i) => {
        for (const [field, message] of loanProblems(loan)) {
          problems.push({ field: 'loans' in body ? `loans[${i}].${field}` : field, message });
        }
      });
      if (problems.size > 0) throw validationFailed(problems.items, problems.omitted);

      const scored = chosen.map(({ name, route, pinned }) => {
        // The version each loan is served by: pinned, the default, or its sticky arm of the split.
        const split = pinned ? undefined : route.split;
        const served = split
          ? loans.map((loan) => armFor(name, split, loanKey(loan)))
          : loans.map(() => pinned ?? route.default);
        const scores = scoreServed(served, loans);
        if (!pinned && route.shadow) scoreShadow(route.shadow, served, loans, scores.probability);
        return { served, scores };
      });
      const id = (loan: LoanRecord) =>
        typeof loan.loan_sequence_number === 'string' ? loan.loan_sequence_number : undefined;
      // Every model's prediction for loan i; `loanId` is set on each when they stand alone (one model).
      const at = (i: number, loanId?: string) =>
        scored.map(({ served, scores }) => {
          const model = served[i] as Model;
          return prediction(
            model,
            scores.probability[i] as number,
            scores.margin[i] as number,
            explain ? explanation(model, loans[i] as LoanRecord) : undefined,
            loanId,
          );
        });

      if (!('loans' in body)) {
        return name === 'all'
          ? { model: 'all' as const, loan_sequence_number: id(body), results: at(0) }
          : (at(0, id(body))[0] as Prediction);
      }
      if (name === 'all') {
        return {
          model: 'all' as const,
          count: loans.length,
          results: loans.map((loan, i) => ({ loan_sequence_number: id(loan), results: at(i) })),
        };
      }
      return { model: name, count: loans.length, results: loans.map((loan, i) => at(i, id(loan))[0] as Prediction) };
    },
  );
};

/**
 * The 200 answer of /predict is one of four shapes (documented as their union). Fastify's serializer
 * for a union tries each branch with a schema validator before writing; the handler's answer says
 * which shape it is, so each gets its own compiled serializer instead.
 */
function predictSerializer(): (payload: unknown) => string {
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

/** `model`/`version` may come in the body or the query, not both with different values. */
function agreed(what: string, fromBody: string | undefined, fromQuery: string | undefined): string | undefined {
  if (fromBody !== undefined && fromQuery !== undefined && fromBody !== fromQuery) {
    throw new HttpError(
      400,
      what === 'model' ? 'MODEL_CONFLICT' : 'VERSION_CONFLICT',
      `${what} is ${JSON.stringify(fromBody)} in the body but ${JSON.stringify(fromQuery)} in the query; send one`,
    );
  }
  return fromBody ?? fromQuery;
}

interface Chosen {
  name: string;
  route: ModelRoute;
  /** The version the request asked for, if it did. */
  pinned?: Model;
  /** Every version that may answer (for checks that must hold whichever arm a loan lands in). */
  candidates: Model[];
}

/** The models a request is scored by: one name (maybe one version of it), or every loan model. */
function chooseModels(set: ModelSet, name: string, version: string | undefined): Chosen[] {
  if (name === 'all') {
    if (version !== undefined) {
      throw new HttpError(
        400,
        'VERSION_WITHOUT_MODEL',
        'version picks a version of one model: name the model too, not "all"',
      );
    }
    return set.loanModels().map((m) => chosenRoute(set, m.name));
  }
  const route = set.routes.get(name);
  if (!route) throw unknownModel(name, [...set.loanModels().map((m) => m.name), 'all']);
  if (route.default.inputs !== 'loan-record') {
    throw new HttpError(
      400,
      'MODEL_NOT_FOR_LOANS',
      `model ${name} reads its own features, not loan records: call POST /v2/models/${name}/infer (Open Inference Protocol)`,
    );
  }
  if (version === undefined) return [chosenRoute(set, name)];
  const pinned = set.get(name, version);
  if (!pinned) throw unknownVersion(name, version, set);
  return [{ name, route, pinned, candidates: [pinned] }];
}

function chosenRoute(set: ModelSet, name: string): Chosen {
  const route = set.routes.get(name) as ModelRoute;
  const candidates = route.split ? route.split.map((a) => a.model) : [route.default];
  return { name, route, candidates };
}

/** Indices of `served` grouped by model, in first-seen order. */
function groupBy(served: readonly Model[]): Map<Model, number[]> {
  const groups = new Map<Model, number[]>();
  served.forEach((m, i) => {
    const list = groups.get(m);
    if (list) list.push(i);
    else groups.set(m, [i]);
  });
  return groups;
}

export default predict;
