import { Server as NetServer, type Socket } from 'node:net';
import fp from 'fastify-plugin';
import { isLingering, lingerAfterAnswer } from '../src/security/linger.js';

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

export default fp(
  async (app) => {
    let draining = false;
    let inFlight = 0;
    const sockets = new Set<Socket>();
    app.server.on('connection', (socket: Socket) => {
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
      stopAccepting();
      const started = Date.now();
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
