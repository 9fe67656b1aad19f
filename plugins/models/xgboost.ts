import fp from 'fastify-plugin';
import { xgboostFamily } from '../../src/runtime/index.js';

/** Contributes the xgboost evaluator to the model registry. */
export default fp(
  async (app) => {
    app.models.addFamily(xgboostFamily);
  },
  { name: 'model-family-xgboost', dependencies: ['model-registry'] },
);
