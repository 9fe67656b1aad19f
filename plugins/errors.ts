import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { expectation, LOAN_FIELD_BY_NAME, LOAN_FIELDS, requiredMessage } from '../src/loan/record.js';
import { describeValue as describe, EncodingError } from '../src/runtime/index.js';

/**
 * One error vocabulary for every route: Fastify's body (`statusCode`, `code`, `error`, `message`),
 * plus `details` (one entry per offending field) on validation errors. 5xx messages are hidden from
 * the client and logged. Codes are stable and listed in the README.
 */

export interface FieldProblem {
  /** Where, as `credit_score` or `loans[3].credit_score` (or `query.model`). */
  readonly field: string;
  readonly message: string;
}

/** An error with an HTTP status and a stable code, for handlers to throw. */
export class HttpError extends Error {
  constructor(
    readonly statusCode: number,
    readonly code: string,
    message: string,
    readonly details?: readonly FieldProblem[],
  ) {
    super(message);
  }
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

function closest(name: string): string | undefined {
  const distance = (a: string, b: string) => {
    const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array(b.length).fill(0)] as number[]);
    for (let j = 1; j <= b.length; j++) (d[0] as number[])[j] = j;
    for (let i = 1; i <= a.length; i++) {
      for (let j = 1; j <= b.length; j++) {
        const row = d[i] as number[];
        const prev = d[i - 1] as number[];
        row[j] = Math.min(
          (prev[j] as number) + 1,
          (row[j - 1] as number) + 1,
          (prev[j - 1] as number) + (a[i - 1] === b[j - 1] ? 0 : 1),
        );
      }
    }
    return (d[a.length] as number[])[b.length] as number;
  };
  let best: string | undefined;
  let bestD = 4;
  for (const f of LOAN_FIELDS) {
    const dd = distance(name.toLowerCase(), f.name);
    if (dd < bestD) {
      best = f.name;
      bestD = dd;
    }
  }
  return best;
}

/**
 * Turns Ajv's errors into one problem per offending field, in words a client can act on. `data` is
 * the validated part of the request (body or query), used to show the offending value and to tell
 * which shape of a body union the client meant.
 */
export function formatValidation(errors: readonly AjvError[], data: unknown, context: string): FieldProblem[] {
  let list = errors;
  // The predict body is "a loan" or "{ loans: [...] }": report only the shape the client meant.
  if (list.some((e) => e.instancePath === '' && e.keyword === 'anyOf' && e.schemaPath === '#/anyOf')) {
    const meantBatch =
      typeof data === 'object' && data !== null && !Array.isArray(data) && Object.hasOwn(data, 'loans');
    if (typeof data !== 'object' || data === null || Array.isArray(data)) {
      return [
        { field: context, message: `must be a JSON object (one loan, or {"loans": [...]}), got ${describe(data)}` },
      ];
    }
    const branch = meantBatch ? 1 : 0;
    list = list.filter((e) => e.schemaPath.startsWith(`#/anyOf/${branch}/`));
  }
  const prefix = context === 'body' ? '' : `${context}.`;
  const problems = new Map<string, string>();
  for (const e of list) {
    let path = segments(e.instancePath);
    let message: string;
    if (e.keyword === 'required') {
      path = [...path, String(e.params.missingProperty)];
      message = requiredMessage(LOAN_FIELD_BY_NAME.get(String(e.params.missingProperty)));
    } else if (e.keyword === 'additionalProperties') {
      const name = String(e.params.additionalProperty);
      path = [...path, name];
      const guess = closest(name);
      message = `is not a known field${guess ? ` (did you mean ${guess}?)` : ''}`;
    } else {
      const loanField = LOAN_FIELD_BY_NAME.get(path[path.length - 1] ?? '');
      const value = valueAt(data, path);
      message = loanField
        ? `must be ${expectation(loanField)}, got ${describe(value)}`
        : `${e.message ?? 'is invalid'}${value === undefined ? '' : `, got ${describe(value)}`}`;
    }
    const field = path.length === 0 ? context : `${prefix}${fieldName(path)}`;
    if (!problems.has(field)) problems.set(field, message);
  }
  return [...problems].map(([field, message]) => ({ field, message }));
}

export function summarise(problems: readonly FieldProblem[]): string {
  const shown = problems.slice(0, 10).map((p) => `${p.field} ${p.message}`);
  const more = problems.length > 10 ? `; and ${problems.length - 10} more` : '';
  return `${problems.length} invalid field${problems.length === 1 ? '' : 's'}: ${shown.join('; ')}${more}`;
}

function send(
  reply: FastifyReply,
  statusCode: number,
  code: string,
  message: string,
  details?: readonly FieldProblem[],
) {
  return reply
    .code(statusCode)
    .type('application/json; charset=utf-8')
    .send({ statusCode, code, error: STATUS_TEXT[statusCode] ?? 'Error', message, ...(details ? { details } : {}) });
}

/** What an error means for the client: status, stable code, message, and per-field details. */
export interface ErrorAnswer {
  readonly statusCode: number;
  readonly code: string;
  readonly message: string;
  readonly details?: readonly FieldProblem[];
}

/** Maps any error a route can raise to its answer; 5xx are logged here and hidden from the client. */
export function describeError(err: FastifyError, request: FastifyRequest, bodyLimit: number): ErrorAnswer {
  if (err.validation) {
    const context = err.validationContext ?? 'body';
    const data = context === 'body' ? request.body : context === 'querystring' ? request.query : request.params;
    const problems = formatValidation(
      err.validation as unknown as AjvError[],
      data,
      context === 'querystring' ? 'query' : context,
    );
    return { statusCode: 400, code: 'VALIDATION_FAILED', message: summarise(problems), details: problems };
  }
  if (err instanceof HttpError) {
    return {
      statusCode: err.statusCode,
      code: err.code,
      message: err.message,
      ...(err.details ? { details: err.details } : {}),
    };
  }
  if (err instanceof EncodingError) {
    const field = err.index === undefined ? err.field : `loans[${err.index}].${err.field}`;
    const details = [{ field, message: err.reason }];
    return { statusCode: 400, code: 'VALIDATION_FAILED', message: summarise(details), details };
  }
  const status = err.statusCode ?? 500;
  if (err.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') {
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
      return send(reply, answer.statusCode, answer.code, answer.message, answer.details);
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
