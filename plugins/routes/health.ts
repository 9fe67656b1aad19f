import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';

const Status = Type.Object({ status: Type.String(), models: Type.Optional(Type.Integer()) });

/** Liveness: the process answers. Readiness: every model is loaded and the server is not closing. */
const health: FastifyPluginAsyncTypebox = async (app) => {
  let closing = false;
  app.addHook('preClose', async () => {
    closing = true;
  });
  app.get(
    '/health/live',
    { config: { auth: 'ops' }, schema: { tags: ['health'], summary: 'Liveness probe', response: { 200: Status } } },
    async () => ({ status: 'ok' }),
  );
  app.get(
    '/health/ready',
    {
      config: { auth: 'ops' },
      schema: {
        tags: ['health'],
        summary: 'Readiness probe: 200 once every model has loaded, 503 while shutting down',
        response: { 200: Status, 503: Status },
      },
    },
    async (_request, reply) => {
      if (closing || app.draining || !app.models.ready) {
        return reply.code(503).send({ status: app.models.ready ? 'closing' : 'loading' });
      }
      return { status: 'ready', models: app.models.names().length };
    },
  );
};

export default health;
