import fp from 'fastify-plugin';
import type { ModelFamily } from '../../src/runtime/index.js';

/** The plugin name of a family: `model-family-` and the family with `-` for `_` (model-family-xgboost). */
export function familyPluginName(family: ModelFamily): string {
  return `model-family-${family.family.replaceAll('_', '-')}`;
}

/**
 * A family as a Fastify plugin: contributes its evaluator to the model registry. src/app.ts registers
 * one per entry of `FAMILIES` (src/runtime/families/), and the model loader depends on each by name.
 */
export function familyPlugin(family: ModelFamily) {
  return fp(
    async (app) => {
      app.models.addFamily(family);
    },
    { name: familyPluginName(family), dependencies: ['model-registry'] },
  );
}
