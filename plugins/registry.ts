import fp from 'fastify-plugin';
import { ModelRegistry } from '../src/registry.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** The loaded models, by name. Family plugins add evaluators; the loader fills it. */
    models: ModelRegistry;
  }
}

export default fp(
  async (app) => {
    const { compileTrees, maxArtifactBytes, modelLoadTimeoutMs } = app.config;
    app.decorate('models', new ModelRegistry({ compileTrees, maxArtifactBytes, loadTimeoutMs: modelLoadTimeoutMs }));
  },
  { name: 'model-registry', dependencies: ['config'] },
);
