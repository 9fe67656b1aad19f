import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';

/**
 * Lingering close: how a connection ends after an answer sent before its request's body was read
 * (413 over BODY_LIMIT or POOL_MAX_BYTES, 401/403/429 refused before the body, 503 shed, a tape
 * refused half-way). Node closes such a socket as soon as the answer is written; the client, still
 * sending, then gets a reset (EPIPE, ECONNRESET), and a client that reads only once it has sent
 * its body never sees the answer. As Apache and nginx do, the server instead half-closes (the
 * answer, then FIN) and goes on reading and discarding what the client sends, until the client
 * closes its side, or LINGER_MAX_BYTES were discarded, or LINGER_MAX_MS passed, or the client
 * sent nothing for LINGER_IDLE_MS: a refused client cannot make the service read without bound.
 */

/** Most bytes read and discarded after the answer (an 80 MB batch over BODY_LIMIT is read to its end). */
export const LINGER_MAX_BYTES = 128 * 1024 * 1024;
/** Longest a connection lingers after its answer. */
const LINGER_MAX_MS = 30_000;
/** A lingering connection on which nothing arrives for this long is closed. */
const LINGER_IDLE_MS = 2_000;
const LINGER_CHECK_MS = 250;

const lingering = new WeakSet<Socket>();

/** True while `socket` is being read after an answer that closes it (shutdown waits for it). */
export function isLingering(socket: Socket): boolean {
  return lingering.has(socket);
}

/**
 * Arms the lingering close of `request`'s connection; call before the answer is sent. From now on
 * the rest of the body is read and discarded (counted); Node calls `socket.destroySoon()` once an
 * answer with `Connection: close` is written (`_http_server.js`, resOnFinish), and this socket's own
 * destroySoon then half-closes and lingers instead of destroying at once.
 */
export function lingerAfterAnswer(request: IncomingMessage): void {
  const socket = request.socket;
  if (lingering.has(socket)) return;
  lingering.add(socket);
  let discarded = 0;
  let lastData = Date.now();
  // Whoever was reading the body has given up on it (a route may also have paused it).
  request.removeAllListeners('data');
  request.on('data', (chunk: Buffer) => {
    discarded += chunk.length;
    lastData = Date.now();
    if (discarded > LINGER_MAX_BYTES) socket.destroy();
  });
  request.resume();
  socket.destroySoon = function lingeringDestroySoon(this: Socket) {
    if (this.writable) this.end();
    if (request.complete) {
      // Nothing more to read: close once the client has read the answer and closed, or soon.
      lastData = Math.min(lastData, Date.now() - LINGER_IDLE_MS / 2);
    }
    const started = Date.now();
    const check = setInterval(() => {
      const now = Date.now();
      if (now - started >= LINGER_MAX_MS || now - lastData >= LINGER_IDLE_MS) this.destroy();
    }, LINGER_CHECK_MS);
    check.unref();
    this.once('close', () => clearInterval(check));
    // The client closed its side: it has sent everything and can read the answer.
    this.once('end', () => this.destroy());
    return this;
  };
}
