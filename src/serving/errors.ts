/**
 * The refusals of the serving policy, without HTTP: plugins/errors.ts maps each kind to its status
 * (not-found 404, invalid 400, too-large 413, unavailable 400) and the code and message pass unchanged.
 */

export type ServingErrorKind = 'not-found' | 'invalid' | 'too-large';

/** A problem of one field, for `details`. */
export interface ServingProblem {
  readonly field: string;
  readonly message: string;
}

/** A refusal with a stable code and, for validation, per-field problems (HttpError is one too). */
export class CodedError extends Error {
  constructor(
    /** The stable error code (MODEL_NOT_FOUND, BATCH_TOO_LARGE, ...). */
    readonly code: string,
    message: string,
    /** Per-field problems, for VALIDATION_FAILED. */
    readonly details?: readonly ServingProblem[],
    /** Problems found beyond `details`. */
    readonly omitted = 0,
  ) {
    super(message);
  }
}

export class ServingError extends CodedError {
  override readonly name = 'ServingError';
  constructor(
    readonly kind: ServingErrorKind,
    ...rest: ConstructorParameters<typeof CodedError>
  ) {
    super(...rest);
  }
}

/** A 400 BAD_REQUEST (the Open Inference Protocol's refusals). */
export function invalid(message: string, code = 'BAD_REQUEST'): ServingError {
  return new ServingError('invalid', code, message);
}

/** A 413 for more rows than one request may hold. */
export function tooManyRows(n: number, limit: number, where: string): ServingError {
  return new ServingError(
    'too-large',
    'BATCH_TOO_LARGE',
    `${where}: at most ${limit} rows per request (MAX_BATCH); got ${n}`,
  );
}
