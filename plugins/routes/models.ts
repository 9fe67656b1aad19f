import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { Model } from '../../src/runtime/index.js';
import { HttpError } from '../errors.js';
import { ErrorSchema } from '../schemas.js';

const Field = Type.Object({
  name: Type.String(),
  kind: Type.Union([Type.Literal('numeric'), Type.Literal('categorical')]),
  levels: Type.Optional(Type.Array(Type.String())),
  missing_values: Type.Array(Type.Union([Type.Number(), Type.String()])),
  min: Type.Optional(Type.Number()),
  max: Type.Optional(Type.Number()),
  unit: Type.Optional(Type.String()),
  description: Type.Optional(Type.String()),
});

const ModelSummary = Type.Object({
  name: Type.String({ examples: ['xgboost'] }),
  family: Type.String({ examples: ['xgboost'] }),
  version: Type.String({ examples: ['1.0.0'] }),
  sha256: Type.String({ description: 'SHA-256 of the artifact file' }),
  description: Type.String(),
  decision_threshold: Type.Number(),
  metrics: Type.Record(Type.String(), Type.Unknown(), { description: 'Holdout metrics from the model card' }),
});

const ModelDetail = Type.Composite([
  ModelSummary,
  Type.Object({
    label: Type.String({ description: 'What probability_of_default means' }),
    evaluator: Type.Record(Type.String(), Type.Union([Type.Number(), Type.String(), Type.Boolean()])),
    fields: Type.Array(Field),
    columns: Type.Integer({ description: 'Width of the feature row' }),
    training: Type.Record(Type.String(), Type.Unknown()),
  }),
]);

function metricsOf(m: Model): Record<string, unknown> {
  const metrics = m.training.holdout_metrics;
  return typeof metrics === 'object' && metrics !== null ? (metrics as Record<string, unknown>) : {};
}

function summary(m: Model) {
  return {
    name: m.name,
    family: m.family,
    version: m.version,
    sha256: m.sha256,
    description: m.description,
    decision_threshold: m.decisionThreshold,
    metrics: metricsOf(m),
  };
}

const models: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    '/models',
    {
      schema: {
        tags: ['models'],
        summary: 'The loaded models',
        response: {
          200: Type.Object({ default_model: Type.String(), models: Type.Array(ModelSummary) }),
        },
      },
    },
    async () => ({ default_model: app.config.defaultModel, models: app.models.list().map(summary) }),
  );

  app.get(
    '/models/:name',
    {
      schema: {
        tags: ['models'],
        summary: 'One model: features with their kinds and ranges, training metadata and metrics',
        params: Type.Object({ name: Type.String({ maxLength: 64, examples: ['xgboost'] }) }),
        response: { 200: ModelDetail, 404: ErrorSchema },
      },
    },
    async (request) => {
      const m = app.models.get(request.params.name);
      if (!m) throw unknownModel(request.params.name, app.models.names());
      return {
        ...summary(m),
        label: m.label,
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
      };
    },
  );
};

export function unknownModel(name: string, available: readonly string[]): HttpError {
  return new HttpError(
    404,
    'MODEL_NOT_FOUND',
    `no model named ${JSON.stringify(name.slice(0, 64))}; available: ${available.join(', ')}`,
  );
}

export default models;
