import fp from 'fastify-plugin';
import { ModelRegistry } from '../src/registry.js';
import { DEFAULT_WARM_PLAN } from '../src/runtime/warm.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** The loaded models, by name. Family plugins add evaluators; the loader fills it. */
    models: ModelRegistry;
  }
}

export default fp(
  async (app) => {
    const { compileTrees, maxArtifactBytes, modelLoadTimeoutMs, modelWarmupMs } = app.config;
    const warm = modelWarmupMs > 0 ? { ...DEFAULT_WARM_PLAN, budgetMs: modelWarmupMs } : undefined;
    app.decorate(
      'models',
      new ModelRegistry({
        compileTrees,
        maxArtifactBytes,
        loadTimeoutMs: modelLoadTimeoutMs,
        ...(warm === undefined ? {} : { warm }),
      }),
    );
  },
  { name: 'model-registry', dependencies: ['config'] },
);
