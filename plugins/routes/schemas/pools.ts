import type { Readable } from 'node:stream';
import { type Static, Type } from '@sinclair/typebox';
import { DEFAULT_LGD, DTI_BANDS, FICO_BANDS, LTV_BANDS, PD_BANDS, REASON_COLUMNS } from '../../../src/pool/index.js';
import { MAX_QUERY_SCENARIO_CHARS } from '../../../src/serving/index.js';
import { modelName, modelVersion, NullableNumber, ScenarioAnswerSchema, StringEnum } from '../../schemas.js';
import { stratificationSchema } from './strata.js';

/** The schemas of POST /pools/score (plugins/routes/pools.ts): its query and its answer. */

/** Invalid rows listed in an answer (all are counted). */
export const MAX_LISTED = 100;

const BandFigures = Type.Object({
  band: Type.String({ examples: ['700-740'] }),
  loans: Type.Integer(),
  original_upb: Type.Number({ description: 'USD' }),
  upb_share: NullableNumber({ description: "Share of the pool's original UPB" }),
  average_pd: NullableNumber({ description: 'Mean PD of the loans (each counts once)' }),
  upb_weighted_pd: NullableNumber({ description: 'Σ PD × UPB / Σ UPB' }),
  expected_loss: Type.Number({ description: 'Σ PD × LGD × original UPB, USD' }),
});
const Breakdown = (description: string) => Type.Array(BandFigures, { description });
const Located = Type.Object({ field: Type.String(), message: Type.String() });

export const PoolAnswerSchema = Type.Object(
  {
    model: Type.String({ examples: ['xgboost'] }),
    version: Type.String({ examples: ['1.0.0'] }),
    scenario: Type.Optional(ScenarioAnswerSchema),
    format: StringEnum(['csv', 'freddie', 'json']),
    lgd: Type.Number({ description: 'Loss given default used for expected loss' }),
    ead: Type.Literal('original_upb', { description: 'Exposure at default: the original UPB' }),
    rows: Type.Integer({ description: 'Data rows read, scored or not' }),
    loan_count: Type.Integer({ description: 'Loans scored' }),
    total_original_upb: Type.Number(),
    average_pd: NullableNumber({ description: 'Mean PD, each loan counting once' }),
    upb_weighted_pd: NullableNumber(),
    expected_loss: Type.Number({ description: 'Σ PD × LGD × original UPB, USD' }),
    expected_loss_rate: NullableNumber({ description: 'expected_loss / total_original_upb' }),
    pd_bands: Breakdown(`By PD: ${PD_BANDS.bands.map((b) => b.label).join(', ')} (lower bound included)`),
    by_fico: Breakdown(`By credit score: ${FICO_BANDS.bands.map((b) => b.label).join(', ')}, missing`),
    by_ltv: Breakdown(`By LTV %: ${LTV_BANDS.bands.map((b) => b.label).join(', ')}, missing (upper bound included)`),
    by_dti: Breakdown(`By DTI %: ${DTI_BANDS.bands.map((b) => b.label).join(', ')}, missing (upper bound included)`),
    by_state: Breakdown('By property state, alphabetical'),
    by_vintage: Breakdown('By vintage (year of the first payment)'),
    stratification: stratificationSchema(
      "The pool's stratification as agency MBS disclosures give it (original UPB weights; PD shares from the PDs " +
        'answered: under the scenario scored, when the model reads one; no loan age: an origination tape)',
    ),
    rejected: Type.Object({
      count: Type.Integer({ description: 'Rows skipped (on_error=skip)' }),
      rows: Type.Array(
        Type.Object({
          row: Type.Integer({ description: 'Line number in the file (header = 1), or index in `loans` for JSON' }),
          loan_sequence_number: Type.Optional(Type.String()),
          problems: Type.Array(Located),
        }),
        { description: `The first ${MAX_LISTED}` },
      ),
    }),
    results: Type.Optional(
      Type.Array(
        Type.Object({
          row: Type.Integer(),
          loan_sequence_number: Type.Optional(Type.String()),
          probability_of_default: Type.Number(),
          log_odds: Type.Number(),
          above_cutoff: Type.Boolean({
            description:
              "probability_of_default ≥ the model's configured cut-off (GET /models `cutoff`, a ranking cut-off): not a prediction of default",
          }),
          expected_loss: Type.Number(),
          reasons: Type.Optional(
            Type.Array(
              Type.Object({
                code: Type.String({ examples: ['DTI_ABOVE_45'] }),
                field: Type.String(),
                contribution: Type.Number({ description: 'Log-odds the field added to the margin' }),
                text: Type.String(),
              }),
              {
                description:
                  "The loan's top reasons, largest first, as /predict's explanations give them (?reasons=true)",
              },
            ),
          ),
        }),
        { description: 'Per-loan results in input order (?loans=true or ?reasons=true)' },
      ),
    ),
  },
  { title: 'Pool' },
);
export type PoolBody = Static<typeof PoolAnswerSchema>;

/** Fastify sends a stream as it is (no serialization); the type provider only knows the schema's type. */
export const streamed = (stream: Readable) => stream as unknown as PoolBody;

const enumeration = (values: readonly string[], description: string) =>
  Type.Unsafe<string>({ type: 'string', enum: values, description });

// No examples on these optional parameters: Swagger UI's "Try it out" would send them. The tape
// itself is parsed outside schema validation; its OpenAPI request body is in plugins/examples.ts.
export const PoolQuery = Type.Object(
  {
    model: Type.Optional(
      modelName(
        'The loan model that scores the whole tape (see GET /models); default DEFAULT_MODEL. One model per tape: ' +
          '"all" is refused, send the tape once per model.',
      ),
    ),
    version: Type.Optional(
      modelVersion(
        "A loaded version of that model (see GET /models/{name}/versions); default: the model's default version. " +
          'Every loan of the tape is scored by that one version: no A/B split, no shadow.',
      ),
    ),
    scenario: Type.Optional(
      Type.String({
        description:
          'The house-price scenario the loans are scored under when the model reads scenario features (GET /scenarios): ' +
          'baseline (the default), adverse, severely_adverse, historical (a loan whose first payment is outside its market ' +
          `is a rejected row), or a custom path as URL-encoded JSON (at most ${MAX_QUERY_SCENARIO_CHARS} characters; ` +
          'its rules are /predict\'s body `scenario`). A JSON tape may name it instead, `{"scenario": ..., "loans": [...]}`, ' +
          'before its loans; not both differently (400 SCENARIO_CONFLICT).',
      }),
    ),
    lgd: Type.Optional(
      Type.String({
        maxLength: 32,
        description: `Loss given default, a number in (0, 1], for expected loss = Σ PD × LGD × original UPB; default ${DEFAULT_LGD}`,
      }),
    ),
    on_error: Type.Optional(
      enumeration(
        ['fail', 'skip'],
        `fail (default): one invalid row refuses the whole tape (400, the first ${MAX_LISTED} named); skip: score the valid rows and list the rejected ones`,
      ),
    ),
    format: Type.Optional(
      enumeration(
        ['csv', 'freddie', 'json'],
        'Tape format; by default JSON for application/json, and for text/csv a CSV with a header unless the first line has 26+ pipe-separated fields (Freddie Mac)',
      ),
    ),
    loans: Type.Optional(
      enumeration(
        ['true', 'false'],
        'true: add the per-loan results (row, PD, log-odds, expected loss) to the JSON answer; with Accept: text/csv they come as CSV anyway',
      ),
    ),
    reasons: Type.Optional(
      enumeration(
        ['true', 'false'],
        "true: add each loan's reason codes to the per-loan results (implies loans=true): in JSON a `reasons` array " +
          "of {code, field, contribution, text} as /predict's explanations give them; in CSV the codes in columns " +
          `${REASON_COLUMNS.join(', ')}. About 1 ms a loan a core (TreeSHAP for tree models); a model without an explainer is refused (400)`,
      ),
    ),
  },
  { additionalProperties: false },
);
