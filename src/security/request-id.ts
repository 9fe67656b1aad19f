import type { IncomingMessage } from 'node:http';

/**
 * The id of a request: the client's `x-request-id` when it is a plausible id (1 to
 * MAX_REQUEST_ID_LENGTH printable ASCII characters, no spaces), else one made here. It is written on
 * every log line of the request and returned in the `x-request-id` header, so an id of megabytes or
 * with control characters would flood the logs or break the answer (issue 18).
 */

export const MAX_REQUEST_ID_LENGTH = 128;

const PLAUSIBLE_ID = new RegExp(`^[\\x21-\\x7e]{1,${MAX_REQUEST_ID_LENGTH}}$`);

/** 2^31 − 1: the counter stays a small integer (as Fastify's own generator does). */
const MAX_COUNTER = 2147483647;

/** Fastify's `genReqId` (with `requestIdHeader: false`): the client's id when plausible, else `req-<n>`. */
export function requestIdGenerator(header = 'x-request-id'): (req: IncomingMessage) => string {
  let next = 0;
  return (req) => {
    const sent = req.headers[header];
    if (typeof sent === 'string' && PLAUSIBLE_ID.test(sent)) return sent;
    next = (next + 1) & MAX_COUNTER;
    return `req-${next.toString(36)}`;
  };
}
