import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { ModelSet } from '../../src/registry.js';
import type { Model } from '../../src/runtime/index.js';
import { notFound } from '../../src/serving/index.js';
import { ErrorSchema, OneOfTypes, StringEnum, VersionSchema } from '../schemas.js';

const CUTOFF_HELP =
  "The model's configured PD cut-off: /predict's `above_cutoff` compares with it unless the request sends `cutoff`. " +
  'KS-optimal on the training holdout: a ranking cut-off, not a prediction of default.';

const Field = Type.Object({
  name: Type.String(),
  kind: StringEnum(['numeric', 'categorical']),
  levels: Type.Optional(Type.Array(Type.String())),
  missing_values: Type.Array(OneOfTypes<number | string>(['number', 'string'])),
  min: Type.Optional(Type.Number()),
  max: Type.Optional(Type.Number()),
  unit: Type.Optional(Type.String()),
  description: Type.Optional(Type.String()),
});

const ModelSummary = Type.Object({
  name: Type.String({ examples: ['xgboost'] }),
  family: Type.String({ examples: ['xgboost'] }),
  version: Type.String({
    examples: ['1.0.0'],
    description: 'The default version (GET /models/{name}/versions lists all)',
  }),
  versions: Type.Array(Type.String(), {
    description: 'Every loaded version, ascending',
    examples: [['1.0.0', '1.1.0']],
  }),
  inputs: StringEnum(['loan-record', 'features'], {
    description:
      '"loan-record": scored by /predict and /pools/score; "features": a model of arbitrary features, scored by ' +
      'POST /v2/models/{name}/infer only',
  }),
  sha256: Type.String({ description: 'SHA-256 of the artifact file' }),
  description: Type.String(),
  label: Type.String({ description: 'What probability_of_default means: the outcome the model was trained on' }),
  cutoff: Type.Number({ description: CUTOFF_HELP }),
  metrics: Type.Record(Type.String(), Type.Unknown(), { description: 'Holdout metrics from the model card' }),
});

const ModelDetail = Type.Composite([
  ModelSummary,
  Type.Object({
    evaluator: Type.Record(Type.String(), OneOfTypes<number | string | boolean>(['number', 'string', 'boolean'])),
    fields: Type.Array(Field),
    columns: Type.Integer({ description: 'Width of the feature row' }),
    training: Type.Record(Type.String(), Type.Unknown()),
  }),
]);

function metricsOf(m: Model): Record<string, unknown> {
  const metrics = m.training.holdout_metrics;
  return typeof metrics === 'object' && metrics !== null ? (metrics as Record<string, unknown>) : {};
}

function summary(m: Model, set: ModelSet) {
  return {
    name: m.name,
    family: m.family,
    version: m.version,
    versions: (set.versions.get(m.name) ?? []).map((v) => v.version),
    inputs: m.inputs,
    sha256: m.sha256,
    description: m.description,
    label: m.label,
    cutoff: m.decisionThreshold,
    metrics: metricsOf(m),
  };
}

const models: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    '/models',
    {
      config: { auth: 'predict' },
      schema: {
        tags: ['models'],
        summary: 'The loaded models',
        response: {
          200: Type.Object({
            default_model: OneOfTypes<string | null>(['string', 'null'], {
              description: 'DEFAULT_MODEL, or null when no loan-record model is loaded',
            }),
            note: Type.Optional(Type.String()),
            models: Type.Array(ModelSummary),
          }),
        },
      },
    },
    async () => {
      const set = app.models.current;
      const models = set.list().map((m) => summary(m, set));
      const loaded = app.config.defaultModel === 'all' || set.get(app.config.defaultModel) !== undefined;
      if (loaded) return { default_model: app.config.defaultModel, models };
      return {
        default_model: null,
        note:
          `no loan-record model is loaded (MODEL_DIR holds models of their own features only; DEFAULT_MODEL ` +
          `${app.config.defaultModel} is not among them): /predict and the pool routes have nothing to score; ` +
          'call POST /v2/models/{name}/infer',
        models,
      };
    },
  );

  const detail = (m: Model, set: ModelSet) => ({
    ...summary(m, set),
    evaluator: { ...m.evaluator.summary },
    fields: m.fields.map((f) =>
      f.kind === 'numeric'
        ? {
            name: f.name,
            kind: f.kind,
            missing_values: [...f.missingValues],
            min: f.min,
            max: f.max,
            unit: f.unit,
            description: f.description,
          }
        : {
            name: f.name,
            kind: f.kind,
            levels: [...f.levels],
            missing_values: [...f.missingValues],
            description: f.description,
          },
    ),
    columns: m.columnCount,
    training: { ...m.training },
  });
  const Name = Type.String({ maxLength: 64, examples: ['xgboost'] });

  app.get(
    '/models/:name',
    {
      config: { auth: 'predict' },
      schema: {
        tags: ['models'],
        summary: 'One model (its default version): features with their kinds and ranges, training metadata and metrics',
        params: Type.Object({ name: Name }),
        response: { 200: ModelDetail, 404: ErrorSchema },
      },
    },
    async (request) => {
      const set = app.models.current;
      const m = set.get(request.params.name);
      if (!m) throw notFound.model(request.params.name, set.names());
      return detail(m, set);
    },
  );

  app.get(
    '/models/:name/versions',
    {
      config: { auth: 'predict' },
      schema: {
        tags: ['models'],
        summary: 'Every loaded version of a model, the default, and how traffic is routed between them',
        params: Type.Object({ name: Name }),
        response: {
          200: Type.Object({
            name: Type.String({ examples: ['xgboost'] }),
            default_version: Type.String({ examples: ['1.0.0'] }),
            versions: Type.Array(
              Type.Object({
                version: Type.String(),
                default: Type.Boolean({
                  description: 'Answers requests that name no version (when there is no split)',
                }),
                weight: Type.Optional(
                  Type.Integer({
                    description: 'Its weight in the A/B split (requests without a version, sticky per loan)',
                  }),
                ),
                shadow: Type.Boolean({ description: 'Scores the same loans as a shadow, never returned' }),
                sha256: Type.String(),
                cutoff: Type.Number({ description: CUTOFF_HELP }),
                metrics: Type.Record(Type.String(), Type.Unknown()),
                source: Type.String({ description: 'The artifact file, relative to MODEL_DIR' }),
              }),
            ),
            routing: OneOfTypes<string | null>(['string', 'null'], {
              description: 'The routing document in force (a file name), or null: highest versions, no splits',
            }),
          }),
          404: ErrorSchema,
        },
      },
    },
    async (request) => {
      const set = app.models.current;
      const { name } = request.params;
      const versions = set.versions.get(name);
      const route = set.routes.get(name);
      if (!versions || !route) throw notFound.model(name, set.names());
      return {
        name,
        default_version: route.default.version,
        versions: versions.map((m) => {
          const arm = route.split?.find((a) => a.model === m);
          return {
            version: m.version,
            default: m === route.default,
            ...(route.split ? { weight: arm?.weight ?? 0 } : {}),
            shadow: m === route.shadow,
            sha256: m.sha256,
            cutoff: m.decisionThreshold,
            metrics: metricsOf(m),
            source: relativeSource(m.source, app.config.modelDir),
          };
        }),
        routing: set.routingSource === undefined ? null : relativeSource(set.routingSource, app.config.modelDir),
      };
    },
  );

  app.get(
    '/models/:name/versions/:version',
    {
      config: { auth: 'predict' },
      schema: {
        tags: ['models'],
        summary: 'One version of a model: features, training metadata and metrics',
        params: Type.Object({ name: Name, version: VersionSchema }),
        response: { 200: ModelDetail, 404: ErrorSchema },
      },
    },
    async (request) => {
      const set = app.models.current;
      const { name, version } = request.params;
      if (!set.versions.has(name)) throw notFound.model(name, set.names());
      const m = set.get(name, version);
      if (!m) throw notFound.version(name, version, set);
      return detail(m, set);
    },
  );
};

/** A path under MODEL_DIR as a relative one (never leak the server's directory layout otherwise). */
function relativeSource(source: string, modelDir: string): string {
  const dir = modelDir.endsWith('/') ? modelDir : `${modelDir}/`;
  return source.startsWith(dir) ? source.slice(dir.length) : (source.split('/').pop() ?? source);
}

export default models;
