import fp from 'fastify-plugin';
import { Serving } from '../src/serving/index.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** The serving policy (src/serving): which model and version answer, scoring, shadow, metrics. */
    serving: Serving;
  }
}

export default fp(
  async (app) => {
    app.decorate('serving', new Serving(app.models, app.predictionMetrics, app.log));
  },
  { name: 'serving', dependencies: ['model-registry', 'metrics'] },
);
