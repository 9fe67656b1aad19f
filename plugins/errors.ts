import { errorCodes, type FastifyError, type FastifyReply, type FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { LOAN_FIELD_BY_NAME } from '../src/loan/record.js';
import { LOAN_MESSAGES, quotedName } from '../src/loan/validate.js';
import { capProblems, ProblemList } from '../src/problems.js';
import { describeValue as describe, EncodingError } from '../src/runtime/index.js';
import { CodedError, ServingError } from '../src/serving/errors.js';

/**
 * One error vocabulary for every route: Fastify's body (`statusCode`, `code`, `error`, `message`),
 * plus `details` (one entry per offending field) on validation errors. 5xx messages are hidden from
 * the client and logged. Codes are stable and listed in docs/API.md. `details` lists at most
 * MAX_PROBLEMS (src/problems.ts) entries; `details_omitted` counts the others.
 */

export interface FieldProblem {
  /** Where, as `credit_score` or `loans[3].credit_score` (or `query.model`). */
  readonly field: string;
  readonly message: string;
}

/** An error with an HTTP status and a stable code, for handlers to throw. */
export class HttpError extends CodedError {
  constructor(
    readonly statusCode: number,
    ...rest: ConstructorParameters<typeof CodedError>
  ) {
    super(...rest);
  }
}

/** Problems to answer with: the first MAX_PROBLEMS, and how many more were found. */
export interface Problems {
  readonly items: readonly FieldProblem[];
  readonly omitted: number;
}

/** A 400 VALIDATION_FAILED naming the problems (the first MAX_PROBLEMS of them). */
export function validationFailed(problems: readonly FieldProblem[], omitted = 0, message?: string): HttpError {
  const capped = capProblems(problems, omitted);
  return new HttpError(
    400,
    'VALIDATION_FAILED',
    message ?? summarise(capped.items, capped.omitted),
    capped.items,
    capped.omitted,
  );
}

const STATUS_TEXT: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  406: 'Not Acceptable',
  408: 'Request Timeout',
  413: 'Payload Too Large',
  415: 'Unsupported Media Type',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

interface AjvError {
  instancePath: string;
  schemaPath: string;
  keyword: string;
  params: Record<string, unknown>;
  message?: string;
}

/** The property names and indices of a JSON pointer ("/loans/0/a~1b" → loans, 0, a/b). */
function segments(pointer: string): string[] {
  return pointer
    .split('/')
    .slice(1)
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
}

/** How a field is named to the client: loans[0].ltv. */
function fieldName(path: readonly string[]): string {
  return path.map((s, i) => (/^\d+$/.test(s) ? `[${s}]` : i === 0 ? s : `.${s}`)).join('');
}

function valueAt(root: unknown, path: readonly string[]): unknown {
  let v = root;
  for (const s of path) {
    if (typeof v !== 'object' || v === null || !Object.hasOwn(v, s)) return undefined;
    v = (v as Record<string, unknown>)[s];
  }
  return v;
}

/**
 * Turns Ajv's errors into one problem per offending field, in words a client can act on. `data` is
 * the validated part of the request (body or query), used to show the offending value and to tell
 * which shape of a body union the client meant.
 */
export function formatValidation(errors: readonly AjvError[], data: unknown, context: string): Problems {
  let list = errors;
  // The predict body is "a loan" or "{ loans: [...] }": report only the shape the client meant.
  if (list.some((e) => e.instancePath === '' && e.keyword === 'anyOf' && e.schemaPath === '#/anyOf')) {
    const meantBatch =
      typeof data === 'object' && data !== null && !Array.isArray(data) && Object.hasOwn(data, 'loans');
    if (typeof data !== 'object' || data === null || Array.isArray(data)) {
      return {
        items: [
          { field: context, message: `must be a JSON object (one loan, or {"loans": [...]}), got ${describe(data)}` },
        ],
        omitted: 0,
      };
    }
    const branch = meantBatch ? 1 : 0;
    list = list.filter((e) => e.schemaPath.startsWith(`#/anyOf/${branch}/`));
  }
  const prefix = context === 'body' ? '' : `${context}.`;
  // One problem per field: the first MAX_PROBLEMS fields are worded, the others only counted.
  const problems = new ProblemList<FieldProblem>();
  const seen = new Set<string>();
  for (const e of list) {
    let path = segments(e.instancePath);
    if (e.keyword === 'required') path = [...path, String(e.params.missingProperty)];
    else if (e.keyword === 'additionalProperties') path = [...path, String(e.params.additionalProperty)];
    const field = path.length === 0 ? context : `${prefix}${fieldName(path)}`;
    if (seen.has(field)) continue;
    seen.add(field);
    if (!problems.open) {
      problems.omitted++;
      continue;
    }
    problems.push({ field: quotedName(field), message: problemMessage(e, path, data) });
  }
  return { items: problems.items, omitted: problems.omitted };
}

function problemMessage(e: AjvError, path: readonly string[], data: unknown): string {
  // Loan fields are worded by the loan validator's catalogue (src/loan/validate.ts), as on every other path.
  if (e.keyword === 'required') return LOAN_MESSAGES.required(LOAN_FIELD_BY_NAME.get(String(e.params.missingProperty)));
  if (e.keyword === 'additionalProperties') return LOAN_MESSAGES.unknown(String(e.params.additionalProperty));
  const loanField = LOAN_FIELD_BY_NAME.get(path[path.length - 1] ?? '');
  const value = valueAt(data, path);
  return loanField
    ? LOAN_MESSAGES.invalid(loanField, describe(value))
    : `${e.message ?? 'is invalid'}${value === undefined ? '' : `, got ${describe(value)}`}`;
}

/** "N invalid fields: the first ten; and M more" (`omitted`: problems found beyond `problems`). */
export function summarise(problems: readonly FieldProblem[], omitted = 0): string {
  const total = problems.length + omitted;
  const shown = problems.slice(0, 10).map((p) => `${p.field} ${p.message}`);
  const more = total > shown.length ? `; and ${total - shown.length} more` : '';
  return `${total} invalid field${total === 1 ? '' : 's'}: ${shown.join('; ')}${more}`;
}

function send(
  reply: FastifyReply,
  statusCode: number,
  code: string,
  message: string,
  details?: readonly FieldProblem[],
  omitted = 0,
) {
  return reply
    .code(statusCode)
    .type('application/json; charset=utf-8')
    .send({
      statusCode,
      code,
      error: STATUS_TEXT[statusCode] ?? 'Error',
      message,
      ...(details ? { details } : {}),
      ...(omitted > 0 ? { details_omitted: omitted } : {}),
    });
}

/** What an error means for the client: status, stable code, message, and per-field details. */
interface ErrorAnswer {
  readonly statusCode: number;
  readonly code: string;
  readonly message: string;
  readonly details?: readonly FieldProblem[];
  /** Problems found beyond `details`. */
  readonly omitted?: number;
}

/** The status of each kind of serving refusal (src/serving/errors.ts). */
const SERVING_STATUS: Readonly<Record<ServingError['kind'], number>> = {
  'not-found': 404,
  invalid: 400,
  'too-large': 413,
};

/** Maps any error a route can raise to its answer; 5xx are logged here and hidden from the client. */
export function describeError(err: FastifyError, request: FastifyRequest, bodyLimit: number): ErrorAnswer {
  if (err.validation) {
    const context = err.validationContext ?? 'body';
    const data = context === 'body' ? request.body : context === 'querystring' ? request.query : request.params;
    const { items, omitted } = formatValidation(
      err.validation as unknown as AjvError[],
      data,
      context === 'querystring' ? 'query' : context,
    );
    return { statusCode: 400, code: 'VALIDATION_FAILED', message: summarise(items, omitted), details: items, omitted };
  }
  if (err instanceof HttpError) {
    // Capped here too, whoever built the error: no answer grows with the input.
    const capped = err.details ? capProblems(err.details, err.omitted) : undefined;
    return {
      statusCode: err.statusCode,
      code: err.code,
      message: err.message,
      ...(capped ? { details: capped.items, omitted: capped.omitted } : {}),
    };
  }
  if (err instanceof ServingError) {
    const statusCode = SERVING_STATUS[err.kind];
    if (!err.details) return { statusCode, code: err.code, message: err.message };
    const capped = capProblems(err.details, err.omitted);
    const message = err.message || summarise(capped.items, capped.omitted);
    return { statusCode, code: err.code, message, details: capped.items, omitted: capped.omitted };
  }
  if (err instanceof EncodingError) {
    const field = err.index === undefined ? err.field : `loans[${err.index}].${err.field}`;
    const details = [{ field, message: err.reason }];
    return { statusCode: 400, code: 'VALIDATION_FAILED', message: summarise(details), details };
  }
  const status = err.statusCode ?? 500;
  // Fastify's own (no parser for the type); a parser's 415 (encoding, charset) keeps its message.
  if (err instanceof errorCodes.FST_ERR_CTP_INVALID_MEDIA_TYPE) {
    const type = String(request.headers['content-type'] ?? 'none').slice(0, 100);
    return {
      statusCode: 415,
      code: err.code,
      message: `content type ${JSON.stringify(type)} is not supported here; send application/json`,
    };
  }
  if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
    return {
      statusCode: 413,
      code: err.code,
      message: `the body is larger than the limit of ${bodyLimit} bytes (BODY_LIMIT)`,
    };
  }
  if (status >= 400 && status < 500)
    return { statusCode: status, code: err.code ?? 'BAD_REQUEST', message: err.message };
  request.log.error({ err }, 'request failed');
  return {
    statusCode: 500,
    code: 'INTERNAL_SERVER_ERROR',
    message: 'Internal server error; the details are in the service log.',
  };
}

export default fp(
  async (app) => {
    app.setErrorHandler((err: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
      const answer = describeError(err, request, app.config.bodyLimit);
      return send(reply, answer.statusCode, answer.code, answer.message, answer.details, answer.omitted);
    });
    app.setNotFoundHandler((request, reply) =>
      send(
        reply,
        404,
        'ROUTE_NOT_FOUND',
        `no route ${request.method} ${request.url.split('?')[0]?.slice(0, 200)}; see /docs`,
      ),
    );
  },
  { name: 'errors', dependencies: ['config'] },
);
