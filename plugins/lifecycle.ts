import cluster from 'node:cluster';
import { Server as NetServer, type Socket } from 'node:net';
import fp from 'fastify-plugin';
import { isLingering, lingerAfterAnswer } from '../src/security/linger.js';
import { tcpSocketsOn } from '../src/tcp-table.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** True once shutdown has begun: readiness answers 503 so load balancers stop sending traffic. */
    readonly draining: boolean;
    /** Requests received and neither answered nor abandoned by their client. */
    readonly inFlight: number;
    /**
     * Starts shutdown: stops accepting connections at once, answers every request from now on with
     * `Connection: close` (so each keep-alive connection ends after its answer), closes connections
     * still idle after DRAIN_IDLE_GRACE_MS, and resolves `true` once no request is in flight and
     * every answer has been flushed to its socket (and read, for a lingering close), or `false` when
     * `timeoutMs` passes first; either way the connections left are then closed (cutting what is
     * still in flight). Call before `close()`.
     */
    drain(timeoutMs: number): Promise<boolean>;
    /**
     * Stops accepting connections (closes the listening socket; in a cluster worker, leaves the
     * primary's) and changes nothing else: the connections open are served as before. `drain` does it
     * first; a cluster primary has every worker do it before any starts draining (src/cluster.ts).
     */
    stopAccepting(): void;
  }
  interface FastifyRequest {
    /** Counted in `inFlight` and not yet ended (lifecycle plugin). */
    inFlightOpen: boolean;
  }
}

/**
 * How long a keep-alive connection idle when shutdown starts may still bring one request (answered
 * with `Connection: close`) before it is closed. Closing idle connections at once races clients that
 * are writing their next request at that instant (the request is written and never answered); a
 * client in a request loop sends its next one well within this.
 */
const DRAIN_IDLE_GRACE_MS = 1000;
const DRAIN_POLL_MS = 10;
/**
 * Most time shutdown spends accepting the connections that wait in the listen backlog when it starts.
 * The kernel completes connections while this process is busy (a batch being scored when the signal
 * comes), and their clients have sent their requests: closing the listening socket resets them
 * (ECONNRESET, a request sent and never answered; 5 of 6 in a reproduction, and a CI run lost 5 of 16
 * batches of "SIGTERM under load"). So shutdown reads the accept queue's length (`acceptQueue`), accepts
 * that many more connections (the queue is first in, first out; Node takes about one a turn of its event
 * loop when busy), then closes. Only those: a keep-alive client that reconnects after its answer said
 * `Connection: close` comes later in the queue and is refused, as before, not reset.
 */
const DRAIN_ACCEPT_MAX_MS = 1000;

/**
 * Connections waiting to be accepted on the listening socket of `port` (Linux: a LISTEN socket's
 * rx_queue in /proc/net/tcp and tcp6 is its accept queue's length); 0 where that cannot be read.
 */
function acceptQueue(port: number): number {
  let waiting = 0;
  for (const socket of tcpSocketsOn(port)) if (socket.state === '0A') waiting += socket.rxQueue;
  return waiting;
}

export default fp(
  async (app) => {
    let draining = false;
    let inFlight = 0;
    const sockets = new Set<Socket>();
    let accepted = 0;
    app.server.on('connection', (socket: Socket) => {
      accepted++;
      sockets.add(socket);
      socket.once('close', () => sockets.delete(socket));
    });
    // Callback-style hooks: no promise per request on the hot path. A request ends once: answered
    // (onResponse), or abandoned by its client (onRequestAbort, after which onResponse never runs).
    // The mark is a request property (declared below, so every request has the same shape), not a
    // WeakSet: a WeakSet add and delete per request cost ~1 µs more CPU under load.
    app.decorateRequest('inFlightOpen', false);
    const end = (request: { inFlightOpen: boolean }) => {
      if (request.inFlightOpen) {
        request.inFlightOpen = false;
        inFlight--;
      }
    };
    app.addHook('onRequest', (request, _reply, done) => {
      request.inFlightOpen = true;
      inFlight++;
      done();
    });
    // Every answer while draining says `Connection: close`, so that a keep-alive client does not
    // write another request on a connection about to close. An answer sent before its request's body
    // was read in full (refusals, 413) closes the connection only after a lingering read
    // (src/security/linger.ts), so that a client still sending its body gets to read the answer.
    app.addHook('onSend', (request, reply, _payload, done) => {
      if (draining) reply.header('connection', 'close');
      if (!request.raw.complete && String(reply.getHeader('connection')).toLowerCase() === 'close') {
        lingerAfterAnswer(request.raw);
      }
      done();
    });
    app.addHook('onResponse', (request, _reply, done) => {
      end(request);
      done();
    });
    app.addHook('onRequestAbort', (request, done) => {
      end(request);
      done();
    });
    app.decorate('draining', { getter: () => draining });
    app.decorate('inFlight', { getter: () => inFlight });
    // net.Server's own close: http.Server's would also close every idle keep-alive connection at
    // once (see DRAIN_IDLE_GRACE_MS). Fastify's close() later tolerates the server being closed.
    const stopAccepting = () => {
      if (app.server.listening) NetServer.prototype.close.call(app.server);
    };
    app.decorate('stopAccepting', stopAccepting);
    app.decorate('drain', async (timeoutMs: number) => {
      draining = true;
      const started = Date.now();
      // The connections already waiting, accepted before the close (a cluster worker's are its primary's).
      const address = app.server.address();
      const waiting =
        cluster.isWorker || address === null || typeof address === 'string' ? 0 : acceptQueue(address.port);
      for (const target = accepted + waiting; accepted < target && Date.now() - started < DRAIN_ACCEPT_MAX_MS; ) {
        await new Promise((resolve) => setTimeout(resolve, 0));
        await new Promise((resolve) => setImmediate(resolve)); // after a poll phase, which accepts
      }
      stopAccepting();
      // An answer still being written, or a connection lingering after its answer (linger.ts).
      const busy = () => [...sockets].some((s) => s.writableLength > 0 || isLingering(s));
      for (;;) {
        const now = Date.now();
        const graceOver = now - started >= DRAIN_IDLE_GRACE_MS;
        const quiet = inFlight === 0 && !busy();
        // Only once nothing is being answered: Node's closeIdleConnections() counts a connection idle
        // as soon as its request is parsed and res.end() was called, and would cut an answer larger
        // than the socket buffers while it is still being written (the client reads a truncated body).
        if (graceOver && quiet) app.server.closeIdleConnections();
        const done = quiet && (sockets.size === 0 || graceOver || now - started >= timeoutMs);
        if (done || now - started >= timeoutMs) {
          // What is left: connections idle past the grace, requests whose headers never ended, and
          // (when the limit passed) the requests cut. Closed here, so that close() does not wait.
          for (const socket of sockets) socket.destroy();
          return done;
        }
        await new Promise((resolve) => setTimeout(resolve, DRAIN_POLL_MS));
      }
    });
  },
  { name: 'lifecycle' },
);
