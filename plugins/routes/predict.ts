import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import fastJson from 'fast-json-stringify';
import { explanationGroups, topReasons } from '../../src/loan/reasons.js';
import type { LoanRecord, Model } from '../../src/runtime/index.js';
import type { Scenario } from '../../src/scenario/index.js';
import { modelReadsScenario, outOfDomain, requestScenario } from '../../src/serving/index.js';
import { HttpError } from '../errors.js';
import { ErrorSchema } from '../schemas.js';
import { cutoffFields, requestCutoff } from './cutoff.js';
import {
  AllResult,
  BatchAllResult,
  BatchResult,
  type Explanation,
  type Prediction,
  PredictQuery,
  predictBody,
  predictSerializer,
  SingleResult,
} from './schemas/predict.js';

/**
 * POST /predict: one loan, or `{ "loans": [...] }`, scored by one model or by all of them. This route
 * parses and shapes; which version answers, the record rules, scoring, metrics and the shadow are the
 * serving core's (src/serving, `app.serving`), and the runtime (src/runtime) does every bit of arithmetic.
 */

export interface PredictOptions {
  maxBatch: number;
}

type Answer = Prediction & { loan_sequence_number?: string };

const explanation = (model: Model, loan: LoanRecord): Explanation => {
  const e = model.explain(loan);
  const { kinds, groups } = explanationGroups(e.fields);
  return { base_value: e.baseValue, contributions: e.fields, kinds, groups, reasons: topReasons(e.fields, loan) };
};

function prediction(
  model: Model,
  probability: number,
  margin: number,
  scenario: Scenario,
  record: LoanRecord,
  cutoff: number | undefined,
  explained: Explanation | undefined,
  loanId: string | undefined,
): Answer {
  const p: Answer = {
    model: model.name,
    version: model.version,
    probability_of_default: probability,
    ...cutoffFields(probability, cutoff, model.decisionThreshold),
    log_odds: margin,
  };
  if (modelReadsScenario(model)) p.scenario = scenario.name;
  const flags = outOfDomain(model, record);
  if (flags.length > 0) p.out_of_domain = flags;
  if (explained) p.explanation = explained;
  if (loanId !== undefined) p.loan_sequence_number = loanId;
  return p;
}

const id = (loan: LoanRecord) =>
  typeof loan.loan_sequence_number === 'string' ? loan.loan_sequence_number : undefined;

const predict: FastifyPluginAsyncTypebox<PredictOptions> = async (app, { maxBatch }) => {
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
          'Each prediction says whether its PD is at or above a cut-off (`above_cutoff`, with `cutoff` and `cutoff_source`): ' +
          "the request's `cutoff`, or else the model's configured one. It is a comparison, not a prediction that the loan defaults. " +
          '`?explain=true` adds to every prediction an exact additive explanation of its log-odds by loan field ' +
          'and the reason codes of the fields that raised the PD most.',
        querystring: PredictQuery,
        body: predictBody(maxBatch),
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
      // Refuse an oversized batch before validating a million loans. The hook and the handler are
      // synchronous: an async one costs every request a promise and a turn of the microtask queue.
      preValidation: (request, _reply, done) => {
        const loans = (request.body as { loans?: unknown } | null)?.loans;
        if (Array.isArray(loans) && loans.length > maxBatch) {
          done(
            new HttpError(
              413,
              'BATCH_TOO_LARGE',
              `a batch holds at most ${maxBatch} loans (MAX_BATCH); got ${loans.length}`,
            ),
          );
          return;
        }
        done();
      },
    },
    (request) => {
      const body = request.body;
      const query = request.query;
      const name = agreed('model', body.model, query.model) ?? app.config.defaultModel;
      const version = agreed('version', body.version, query.version);
      const explain = query.explain === 'true';
      const batch = 'loans' in body;
      const loans: LoanRecord[] = batch ? body.loans : [body];
      const scenario = requestScenario(body.scenario, query.scenario);
      const cutoff = requestCutoff(body.cutoff, query.cutoff);
      const answered = app.serving.predict(name, version, loans, { explain, batch, scenario });

      // Every model's prediction for loan i; `loanId` is set on each when they stand alone (one model).
      const at = (i: number, loanId?: string) =>
        answered.map(({ served, scores, records }) => {
          const model = served[i] as Model;
          return prediction(
            model,
            scores.probability[i] as number,
            scores.margin[i] as number,
            scenario,
            records[i] as LoanRecord,
            cutoff,
            explain ? explanation(model, records[i] as LoanRecord) : undefined,
            loanId,
          );
        });

      if (!batch) {
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

export default predict;
