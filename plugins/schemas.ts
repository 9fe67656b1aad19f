import { type NumberOptions, type SchemaOptions, Type } from '@sinclair/typebox';

/** Schemas shared by several routes. Each route module owns the rest of its schemas. */

/*
 * Answers say "one of these types" and "one of these strings" with a JSON Schema type list and an enum
 * (OpenAPI 3.1), never with an anyOf. Fastify writes an answer with fast-json-stringify, which writes a
 * type list or an enum itself but resolves an anyOf with an Ajv validator: compiled at the route's first
 * answer (~0.1 s for POST /pools/score, the cold start of issue 20 item 4) and run on every value after.
 * test/service/openapi.test.ts holds every answer schema to this.
 */
type ScalarType = 'number' | 'integer' | 'string' | 'boolean' | 'null';

/** A value of any of some scalar types, as a type list. */
export const OneOfTypes = <T>(types: readonly ScalarType[], options: SchemaOptions = {}) =>
  Type.Unsafe<T>({ ...options, type: [...types] });

/** A number, or null when there is none (an empty pool's averages). */
export const NullableNumber = (options: NumberOptions = {}) => OneOfTypes<number | null>(['number', 'null'], options);

/** One of some strings, as an enum. */
export const StringEnum = <const T extends string>(values: readonly T[], options: SchemaOptions = {}) =>
  Type.Unsafe<T>({ ...options, type: 'string', enum: [...values] });

export const ErrorSchema = Type.Object(
  {
    // No examples here: one schema serves every status, and a 400 example on a 404 would mislead.
    statusCode: Type.Integer({ description: 'The HTTP status, repeated.' }),
    code: Type.String({ description: 'Stable error code (see docs/API.md): VALIDATION_FAILED, MODEL_NOT_FOUND, …' }),
    error: Type.String({ description: 'The status text, e.g. "Bad Request".' }),
    message: Type.String(),
    details: Type.Optional(
      Type.Array(
        Type.Object({
          field: Type.String({ description: 'The offending field, e.g. `loans[3].credit_score`.' }),
          message: Type.String({ description: 'Why it was refused.' }),
        }),
        { description: 'At most 100 problems (MAX_PROBLEMS); `details_omitted` counts the others.' },
      ),
    ),
    details_omitted: Type.Optional(
      Type.Integer({ minimum: 1, description: 'Problems found beyond those listed in `details`.' }),
    ),
  },
  { title: 'Error', description: "Fastify's error body, plus `details` for validation errors." },
);

/**
 * A model name. No example: as an optional query parameter, Swagger UI's "Try it out" would send it,
 * and a pre-filled model changes what the call does (plugins/examples.ts holds the examples).
 */
export const modelName = (description: string) =>
  Type.String({ pattern: '^[a-z][a-z0-9_]*$', maxLength: 64, description });

/** A version, MAJOR.MINOR.PATCH. No example, for the same reason as modelName. */
export const modelVersion = (description: string) =>
  Type.String({ pattern: '^\\d+\\.\\d+\\.\\d+$', maxLength: 32, description });

export const ModelNameSchema = modelName(
  'A loaded model (see GET /models), or "all" to score with every model side by side.',
);

export const VersionSchema = modelVersion(
  'A loaded version of the model (see GET /models/{name}/versions). Without it the default version answers, ' +
    'or the A/B arm the loan falls in when the model has a split.',
);

const SCENARIO_HELP =
  'The house-price scenario the scenario-conditional models score under (GET /scenarios): baseline (the default), ' +
  'adverse, severely_adverse or historical (the synthetic market the training history was simulated from, for backtests)';

/** A scenario by name, in a query string. Checked by the serving core (src/serving/scenario.ts), whose problems name it. */
export const ScenarioNameSchema = Type.String({ maxLength: 64, description: `${SCENARIO_HELP}.` });

/**
 * A scenario in a body: a name, or a custom quarterly path. Not constrained here: checkScenario reads
 * it within fixed bounds and names every problem (`scenario.national[3]`), which a union schema's
 * errors would not.
 */
export const ScenarioSpecSchema = Type.Unsafe<unknown>({
  description:
    `${SCENARIO_HELP}; or a custom path {"name"?: string, "national": [12 to 40 quarterly natural-log house-price changes, ` +
    'each within ±0.25], "states"?: {"CA": [...], …}, "rates"?: [1 to 40 quarterly changes of the market mortgage rate ' +
    'in percentage points from the first-payment month, each within ±5; read by the lifetime prepayment=scenario only]} ' +
    '(states without a path follow the national one). ' +
    'The body or the query may name it, not both differently.',
  examples: ['adverse', { name: 'flat', national: [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0] }],
});

/** Which scenario an answer was scored under: the name of a preset, or the custom path's name ("custom" by default). */
export const ScenarioAnswerSchema = Type.String({
  description: 'The scenario the PD was computed under (present when the model reads house-price scenario features).',
  examples: ['baseline'],
});

/**
 * A number in a query string, written as a plain decimal (`0.05`, `.5`, `5e-2`); NaN for anything else
 * (hexadecimal, `Infinity`, `NaN`, a percent sign, an empty string), which Number() would partly accept.
 */
export function plainDecimal(text: string): number {
  return /^\s*[+]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*$/.test(text) ? Number(text) : Number.NaN;
}
