import type { Socket } from 'node:net';
import fp from 'fastify-plugin';

declare module 'fastify' {
  interface FastifyInstance {
    /** True once shutdown has begun: readiness answers 503 so load balancers stop sending traffic. */
    readonly draining: boolean;
    /**
     * Starts shutdown and resolves when no request is in flight and every response has been flushed
     * to its socket (or after `timeoutMs`). Call before `close()`: Node's `server.close()` destroys
     * connections it considers idle, including one whose ended response is still being written.
     */
    drain(timeoutMs: number): Promise<boolean>;
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
    // Callback-style hooks: no promise per request on the hot path.
    app.addHook('onRequest', (_request, _reply, done) => {
      inFlight++;
      done();
    });
    app.addHook('onResponse', (_request, _reply, done) => {
      inFlight--;
      done();
    });
    app.decorate('draining', {
      getter: () => draining,
    });
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
