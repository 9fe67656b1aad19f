import fp from 'fastify-plugin';
import { ldaFamily } from '../../src/runtime/index.js';

/** Contributes the lda evaluator to the model registry. */
export default fp(
  async (app) => {
    app.models.addFamily(ldaFamily);
  },
  { name: 'model-family-lda', dependencies: ['model-registry'] },
);
