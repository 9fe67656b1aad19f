import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyInstance } from 'fastify';

/**
 * Answers for requests that never reach a route, written by Node's HTTP server on the socket: the
 * whole request did not arrive within REQUEST_TIMEOUT_MS (408 REQUEST_TIMEOUT), the headers are too
 * large (431), or the bytes are not HTTP (400). Same body shape as every other error, then the
 * connection is closed. Used as Fastify's `clientErrorHandler` (src/app.ts).
 */

interface ClientError extends Error {
  code?: string;
}

function answerFor(err: ClientError, requestTimeoutMs: number): { status: number; code: string; message: string } {
  switch (err.code) {
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return {
        status: 408,
        code: 'REQUEST_TIMEOUT',
        message: `the request did not arrive in full within ${requestTimeoutMs} ms (REQUEST_TIMEOUT_MS)`,
      };
    case 'HPE_HEADER_OVERFLOW':
      return { status: 431, code: 'HEADERS_TOO_LARGE', message: 'the request headers are too large' };
    default:
      return { status: 400, code: 'BAD_REQUEST', message: 'the request is not valid HTTP' };
  }
}

export function clientErrorHandler(requestTimeoutMs: number) {
  return function onClientError(this: FastifyInstance, err: ClientError, socket: Socket): void {
    if (err.code === 'ECONNRESET' || socket.destroyed) return;
    const { status, code, message } = answerFor(err, requestTimeoutMs);
    this.log.info({ code: err.code, status }, 'client error: connection closed');
    // Only when nothing of a response has gone out on this socket (Node's own rule).
    const response = (socket as Socket & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
    if (socket.writable && response?.headersSent !== true) {
      const body = JSON.stringify({ statusCode: status, code, error: STATUS_CODES[status], message });
      socket.write(
        `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/json; charset=utf-8\r\n` +
          `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
      );
    }
    socket.destroy();
  };
}

/**
 * Node's own request and header timeouts, given when the server is created: set afterwards (as
 * Fastify sets `requestTimeout`), Node keeps its 60 s headersTimeout above the request timeout and,
 * measured on Node 20, then never times out a request whose headers arrived but whose body stalls.
 * Node checks for expired requests every `connectionsCheckingInterval` (its default: 30 s).
 */
export function httpServerTimeouts(requestTimeoutMs: number): {
  requestTimeout: number;
  headersTimeout: number;
  connectionsCheckingInterval: number;
} {
  if (requestTimeoutMs <= 0) return { requestTimeout: 0, headersTimeout: 60_000, connectionsCheckingInterval: 30_000 };
  return {
    requestTimeout: requestTimeoutMs,
    headersTimeout: Math.min(60_000, requestTimeoutMs),
    connectionsCheckingInterval: Math.min(1000, Math.max(50, Math.floor(requestTimeoutMs / 4))),
  };
}
