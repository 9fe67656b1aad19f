import type { FastifyRequest } from 'fastify';
import { errorCodes } from 'fastify';
import secureJson from 'secure-json-parse';

/**
 * The JSON body parser: Fastify's own (secure-json-parse, `__proto__` and `constructor.prototype`
 * refused), with an answer that says what is wrong. Fastify's says "Body is not valid JSON" for a
 * syntax error and for a refused key alike, and drops the parser's reason.
 */
export function parseJsonBody(
  _request: FastifyRequest,
  body: string | Buffer,
  done: (err: Error | null, body?: unknown) => void,
): void {
  if (body.length === 0) {
    done(new errorCodes.FST_ERR_CTP_EMPTY_JSON_BODY(), undefined);
    return;
  }
  try {
    done(null, secureJson.parse(body, undefined, { protoAction: 'error', constructorAction: 'error' }));
  } catch (err) {
    done(invalidJson(err as Error), undefined);
  }
}

/** Same code as Fastify's (clients may rely on it), with the reason. */
function invalidJson(err: Error): Error {
  // secure-json-parse reports `__proto__` and `constructor.prototype` with the same message.
  const reason = /^Object contains forbidden (prototype|constructor) property/.test(err.message)
    ? 'it has a "__proto__" key, or a "constructor" key holding a "prototype": refused (prototype poisoning)'
    : `it is not valid JSON (${err.message.slice(0, 200)})`;
  return Object.assign(new Error(`The body cannot be read: ${reason}`), {
    code: 'FST_ERR_CTP_INVALID_JSON_BODY',
    statusCode: 400,
  });
}
