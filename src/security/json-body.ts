import type { IncomingHttpHeaders } from 'node:http';
import type { FastifyRequest } from 'fastify';
import { errorCodes } from 'fastify';
import secureJson from 'secure-json-parse';

/**
 * The JSON body parser: Fastify's own (secure-json-parse, `__proto__` and `constructor.prototype`
 * refused), with an answer that says what is wrong. Fastify's says "Body is not valid JSON" for a
 * syntax error and for a refused key alike, and drops the parser's reason.
 */
export function parseJsonBody(
  request: FastifyRequest,
  body: string | Buffer,
  done: (err: Error | null, body?: unknown) => void,
): void {
  const unreadable = unreadableBody(request.headers);
  if (unreadable !== undefined) {
    done(unreadable, undefined);
    return;
  }
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

/** Charsets a JSON body is read in: UTF-8 (RFC 8259), and ASCII, which is UTF-8. */
const CHARSETS: ReadonlySet<string> = new Set(['utf-8', 'utf8', 'us-ascii']);

/**
 * A 415 for a body the parser would misread: compressed (Content-Encoding other than identity: the
 * service decodes none) or in a charset other than UTF-8 (RFC 8259 JSON is UTF-8). Same code as a
 * wrong content type, and as the tape route's answer to a compressed tape.
 */
function unreadableBody(headers: IncomingHttpHeaders): Error | undefined {
  const encoding = headers['content-encoding'];
  if (encoding !== undefined && encoding.trim().toLowerCase() !== 'identity') {
    return unsupported(
      `content encoding ${JSON.stringify(encoding.slice(0, 40))} is not supported; send the body uncompressed`,
    );
  }
  const charset = /;\s*charset\s*=\s*"?([^";\s]*)/i.exec(headers['content-type'] ?? '')?.[1];
  if (charset !== undefined && !CHARSETS.has(charset.toLowerCase())) {
    return unsupported(`charset ${JSON.stringify(charset.slice(0, 40))} is not supported; send JSON in UTF-8`);
  }
  return undefined;
}

function unsupported(message: string): Error {
  return Object.assign(new Error(message), { code: 'FST_ERR_CTP_INVALID_MEDIA_TYPE', statusCode: 415 });
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
