import { Type } from '@sinclair/typebox';
import { HttpError, validationFailed } from '../errors.js';
import { plainDecimal, StringEnum } from '../schemas.js';

/**
 * The cut-off a prediction's flag compares with (issue 21 item 6): no answer says a loan "predicts
 * default". A caller chooses the cut-off (`cutoff` in the body or the query of /predict, a number in
 * (0, 1)); without one each model's configured cut-off applies (its artifact's `decision_threshold`,
 * KS-optimal on the holdout: a ranking cut-off, not a prediction of default). Every answer names it.
 */

const HELP =
  'A PD cut-off in (0, 1): `above_cutoff` says whether probability_of_default ≥ cutoff. Without it each ' +
  "model's configured cut-off applies (a ranking cut-off, KS-optimal on the training holdout, not a prediction of " +
  'default). The body or the query may give it, not both differently.';

/** `cutoff` in a body: a JSON number strictly between 0 and 1. */
export const CutoffBodySchema = Type.Number({ exclusiveMinimum: 0, exclusiveMaximum: 1, description: HELP });

/** `cutoff` in a query string: read by `requestCutoff`, which names it when refused. */
export const CutoffQuerySchema = Type.String({ maxLength: 32, description: HELP });

/** The fields of a prediction that name its flag and the cut-off behind it. */
export const CutoffAnswer = {
  above_cutoff: Type.Boolean({
    description: 'probability_of_default ≥ cutoff. Not a prediction that the loan defaults.',
  }),
  cutoff: Type.Number({
    description: "The PD cut-off compared with: the request's, or else the model's configured one.",
  }),
  cutoff_source: StringEnum(['request', 'model'], {
    description:
      "request: the `cutoff` of the request; model: the model's configured cut-off (GET /models `cutoff`, a ranking " +
      'cut-off, KS-optimal on the holdout).',
  }),
};

/** The request's cut-off, or undefined (each model's own applies); 400 naming `cutoff` unless valid. */
export function requestCutoff(fromBody: number | undefined, fromQuery: string | undefined): number | undefined {
  let query: number | undefined;
  if (fromQuery !== undefined) {
    query = plainDecimal(fromQuery);
    if (!(query > 0 && query < 1)) {
      throw validationFailed([
        {
          field: 'query.cutoff',
          message: `must be a number in (0, 1), a PD cut-off such as 0.05, got ${JSON.stringify(fromQuery)}`,
        },
      ]);
    }
  }
  if (fromBody !== undefined && query !== undefined && fromBody !== query) {
    throw new HttpError(
      400,
      'CUTOFF_CONFLICT',
      `cutoff is ${fromBody} in the body but ${JSON.stringify(fromQuery)} in the query; send one`,
    );
  }
  return fromBody ?? query;
}

/** A prediction's flag: compared with the request's cut-off, or else the model's. */
export function cutoffFields(probability: number, requested: number | undefined, configured: number) {
  const cutoff = requested ?? configured;
  return {
    above_cutoff: probability >= cutoff,
    cutoff,
    cutoff_source: requested === undefined ? ('model' as const) : ('request' as const),
  };
}
