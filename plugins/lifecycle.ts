import type { Socket } from 'node:net';
import fp from 'fastify-plugin';

declare module 'fastify' {
  interface FastifyInstance {
    /** True once shutdown has begun: readiness answers 503 so load balancers stop sending traffic. */
    readonly draining: boolean;
    /** Requests received and neither answered nor abandoned by their client. */
    readonly inFlight: number;
    /**
     * Starts shutdown and resolves when no request is in flight and every response has been flushed
     * to its socket (or after `timeoutMs`). Call before `close()`: Node's `server.close()` destroys
     * connections it considers idle, including one whose ended response is still being written.
     */
    drain(timeoutMs: number): Promise<boolean>;
  }
  interface FastifyRequest {
    /** Counted in `inFlight` and not yet ended (lifecycle plugin). */
    inFlightOpen: boolean;
  }
}

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
    app.decorate('drain', async (timeoutMs: number) => {
      draining = true;
      const deadline = Date.now() + timeoutMs;
      const busy = () => inFlight > 0 || [...sockets].some((s) => s.writableLength > 0);
      while (busy()) {
        if (Date.now() >= deadline) return false;
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      return true;
    });
  },
  { name: 'lifecycle' },
);
