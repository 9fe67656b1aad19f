import { Ajv, type ErrorObject, type Options } from 'ajv';

/**
 * Schema validation with a bounded cost for invalid bodies. Ajv's `allErrors` (name every offending
 * field, not just the first) collects one error object per offending value: a 14 MB body of unknown
 * keys made millions of them (29 s, 1.1 GB; issue 18). So every schema is compiled twice: a
 * first-error validator answers valid bodies and finds out that a body is invalid; the every-error
 * one then runs only on bodies of at most FULL_ERRORS_MAX_VALUES values (keys and array items), which
 * bounds its errors. A larger invalid body is answered with the first problem found.
 */

/** The options of every validator of the service (Fastify's, and the V2 route's loan check). */
export const AJV_OPTIONS: Options = {
  allErrors: true, // name every offending field, not just the first
  coerceTypes: false, // "700" is not a credit score: refuse, never coerce
  removeAdditional: false, // an unknown (misspelt) field is an error, not silently dropped
  useDefaults: false,
  allowUnionTypes: true,
  keywords: ['x-unit'], // documentation-only keyword on loan fields
};

/**
 * Bodies with more values than this are answered with their first problem only. A full batch of
 * MAX_BATCH (10,000) loans of 19 fields holds about 200,000 values, and is still checked whole.
 */
const FULL_ERRORS_MAX_VALUES = 250_000;

/** True when `data` holds at most `limit` values (object properties and array items, nested). */
function atMostValues(data: unknown, limit: number): boolean {
  let count = 0;
  const stack: unknown[] = [data];
  while (stack.length > 0) {
    const v = stack.pop();
    if (typeof v !== 'object' || v === null) continue;
    if (Array.isArray(v)) {
      count += v.length;
      if (count > limit) return false;
      for (const x of v) if (typeof x === 'object' && x !== null) stack.push(x);
    } else {
      for (const key in v) {
        if (!Object.hasOwn(v, key)) continue;
        if (++count > limit) return false;
        const x = (v as Record<string, unknown>)[key];
        if (typeof x === 'object' && x !== null) stack.push(x);
      }
    }
  }
  return true;
}

type Validate = ((data: unknown) => boolean) & { errors?: ErrorObject[] | null };

/** A Fastify validator compiler (`app.setValidatorCompiler`) with the bounded cost described above. */
export function boundedValidatorCompiler(options: Options = AJV_OPTIONS, maxValues = FULL_ERRORS_MAX_VALUES) {
  const first = new Ajv({ ...options, allErrors: false });
  const every = new Ajv({ ...options, allErrors: true });
  return ({ schema }: { schema: object }): Validate => {
    const quick = first.compile(schema);
    const full = every.compile(schema);
    const validate: Validate = (data: unknown) => {
      if (quick(data)) {
        validate.errors = null;
        return true;
      }
      if (atMostValues(data, maxValues)) {
        full(data);
        validate.errors = full.errors ?? quick.errors;
      } else {
        validate.errors = quick.errors;
      }
      return false;
    };
    return validate;
  };
}
