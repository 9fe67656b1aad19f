import fp from 'fastify-plugin';

/**
 * Loads every artifact of MODEL_DIR once the family plugins have registered. A broken artifact makes
 * `ready()` reject with an `ArtifactError` naming the file, so the server never starts half-loaded.
 */
export default fp(
  async (app) => {
    await app.models.loadDirectory(app.config.modelDir);
    const { defaultModel } = app.config;
    if (defaultModel !== 'all' && !app.models.get(defaultModel)) {
      throw new Error(
        `DEFAULT_MODEL ${JSON.stringify(defaultModel)} is not a loaded model (loaded: ${app.models.names().join(', ')})`,
      );
    }
    app.log.info(
      {
        models: app.models.list().map((m) => ({
          name: m.name,
          version: m.version,
          family: m.family,
          sha256: m.sha256.slice(0, 12),
          ...m.evaluator.summary,
        })),
      },
      'models loaded',
    );
  },
  {
    name: 'model-loader',
    dependencies: [
      'model-registry',
      'model-family-logistic-regression',
      'model-family-lda',
      'model-family-gradient-boosting',
      'model-family-xgboost',
    ],
  },
);
