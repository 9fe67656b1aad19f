import fp from 'fastify-plugin';
import { logisticRegressionFamily } from '../../src/runtime/index.js';

/** Contributes the logistic-regression evaluator to the model registry. */
export default fp(
  async (app) => {
    app.models.addFamily(logisticRegressionFamily);
  },
  { name: 'model-family-logistic-regression', dependencies: ['model-registry'] },
);
