import fp from 'fastify-plugin';
import { gradientBoostingFamily } from '../../src/runtime/index.js';

/** Contributes the gradient-boosting evaluator to the model registry. */
export default fp(
  async (app) => {
    app.models.addFamily(gradientBoostingFamily);
  },
  { name: 'model-family-gradient-boosting', dependencies: ['model-registry'] },
);
