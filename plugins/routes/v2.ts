import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { type Static, Type } from '@sinclair/typebox';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import type { ModelSet } from '../../src/registry.js';
import type { Model } from '../../src/runtime/index.js';
import { isScenarioFeature, SCENARIO_FEATURES } from '../../src/scenario/index.js';
import { modelReadsScenario, resolveScenario } from '../../src/serving/index.js';
import { outputTensors, requestedOutputs } from '../../src/serving/oip.js';
import { describeError } from '../errors.js';
import {
  InferenceRequest,
  InferenceResponse,
  ModelMetadata,
  NameParams,
  V2Error,
  VersionParams,
} from './schemas/v2.js';

/**
 * The Open Inference Protocol (KServe V2) REST API, so platform clients and tooling work unchanged:
 *
 *   GET  /v2                                   server metadata
 *   GET  /v2/health/live, /v2/health/ready     liveness, readiness
 *   GET  /v2/models/{name}[/versions/{v}]       model metadata (inputs, outputs)
 *   GET  /v2/models/{name}[/versions/{v}]/ready
 *   POST /v2/models/{name}[/versions/{v}]/infer
 *
 * This file is the protocol adapter: routes, schemas (schemas/v2.ts) and the `{"error": "..."}` shape.
 * Decoding the tensors is src/serving/oip.ts (named inputs or one [N, C] feature tensor); which version
 * answers, scoring, metrics and the shadow are the serving core's (`app.serving`). The answer has
 * `predict_proba` ([N, 2], FP64), `predict` ([N], INT64: 1 when the PD reaches the model's decision
 * threshold), and `log_odds` on request. Errors: 400 for a bad request, 404 for an unknown model or version.
 *
 * A model that reads house-price scenario features scores under the request's `parameters.scenario` (a
 * name or a custom path; default baseline), named in the answer's `parameters.scenario`; it takes the
 * loan fields by name only (its metadata lists them, and the features in `parameters.scenario_features`).
 */

export interface V2Options {
  maxBatch: number;
  serverVersion: string;
}

const metadata = (set: ModelSet, model: Model): ModelMetadata => ({
  name: model.name,
  versions: (set.versions.get(model.name) ?? []).map((m) => m.version),
  platform: `loan-default-model/${model.family}`,
  inputs: model.fields
    .filter((f) => !isScenarioFeature(f.name))
    .map((f) => ({ name: f.name, datatype: f.kind === 'numeric' ? 'FP64' : 'BYTES', shape: [-1] })),
  outputs: [
    { name: 'predict_proba', datatype: 'FP64', shape: [-1, 2] },
    { name: 'predict', datatype: 'INT64', shape: [-1] },
    { name: 'log_odds', datatype: 'FP64', shape: [-1] },
  ],
  parameters: {
    family: model.family,
    inputs: model.inputs,
    decision_threshold: model.decisionThreshold,
    // Computed from parameters.scenario: never inputs, so no feature tensor either.
    ...(modelReadsScenario(model)
      ? { scenario_features: [...SCENARIO_FEATURES] }
      : {
          tensor_input: {
            shape: [-1, model.columnCount],
            datatypes: ['FP32', 'FP64'],
            columns: model.columns.map((c) => c.name),
          },
        }),
  },
});

const v2: FastifyPluginAsyncTypebox<V2Options> = async (app, { maxBatch, serverVersion }) => {
  // The protocol's error shape for everything under /v2, including validation and unknown routes.
  app.setErrorHandler((err: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
    const answer = describeError(err, request, app.config.bodyLimit);
    return reply.code(answer.statusCode).send({ error: answer.message });
  });
  app.setNotFoundHandler((request, reply) =>
    reply.code(404).send({ error: `no route ${request.method} ${request.url.split('?')[0]?.slice(0, 200)}` }),
  );

  const tags = ['open inference protocol'];
  const ops = { config: { auth: 'ops' as const } };
  const predict = { config: { auth: 'predict' as const } };
  app.get(
    '/health/live',
    {
      ...ops,
      schema: { tags, summary: 'V2 server liveness', response: { 200: Type.Object({ live: Type.Boolean() }) } },
    },
    async () => ({ live: true }),
  );
  const Ready = Type.Object({ ready: Type.Boolean() });
  app.get(
    '/health/ready',
    { ...ops, schema: { tags, summary: 'V2 server readiness', response: { 200: Ready, 503: Ready } } },
    async (_request, reply) => {
      const ready = app.models.ready && !app.draining;
      return reply.code(ready ? 200 : 503).send({ ready });
    },
  );
  const ServerMetadata = Type.Object({
    name: Type.String(),
    version: Type.String(),
    extensions: Type.Array(Type.String()),
  });
  app.get(
    '/',
    {
      ...ops,
      prefixTrailingSlash: 'no-slash', // GET /v2, as the protocol spells it
      schema: { tags, summary: 'V2 server metadata', response: { 200: ServerMetadata } },
    },
    async () => ({ name: 'loan-default-service', version: serverVersion, extensions: [] }),
  );

  const metaSchema = { tags, response: { 200: ModelMetadata, 404: V2Error } };
  app.get(
    '/models/:name',
    { ...predict, schema: { ...metaSchema, summary: 'V2 model metadata (default version)', params: NameParams } },
    async (request) => metadata(app.serving.models, app.serving.find(request.params.name)),
  );
  app.get(
    '/models/:name/versions/:version',
    { ...predict, schema: { ...metaSchema, summary: 'V2 model metadata (one version)', params: VersionParams } },
    async ({ params }) => metadata(app.serving.models, app.serving.find(params.name, params.version)),
  );
  const readySchema = {
    tags,
    response: { 200: Type.Object({ name: Type.String(), ready: Type.Boolean() }), 404: V2Error },
  };
  app.get(
    '/models/:name/ready',
    { ...predict, schema: { ...readySchema, summary: 'V2 model readiness', params: NameParams } },
    async (request) => ({ name: app.serving.find(request.params.name).name, ready: true }),
  );
  app.get(
    '/models/:name/versions/:version/ready',
    { ...predict, schema: { ...readySchema, summary: 'V2 model version readiness', params: VersionParams } },
    async ({ params }) => ({ name: app.serving.find(params.name, params.version).name, ready: true }),
  );

  const infer = (model: Model, body: Static<typeof InferenceRequest>, versionNamed: boolean) => {
    const wanted = requestedOutputs(body.outputs);
    const scenario = resolveScenario(body.parameters?.scenario, 'parameters.scenario');
    const { probability, margin } = app.serving.infer(model, body.inputs, maxBatch, versionNamed, scenario);
    return {
      model_name: model.name,
      model_version: model.version,
      ...(body.id === undefined ? {} : { id: body.id }),
      ...(modelReadsScenario(model) ? { parameters: { scenario: scenario.name } } : {}),
      outputs: outputTensors(wanted, model.decisionThreshold, probability, margin),
    };
  };
  const inferSchema = {
    tags,
    body: InferenceRequest,
    response: { 200: InferenceResponse, 400: V2Error, 404: V2Error, 413: V2Error, 415: V2Error, 500: V2Error },
  };
  app.post(
    '/models/:name/infer',
    { ...predict, schema: { ...inferSchema, summary: 'V2 inference (default version)', params: NameParams } },
    async (request) => infer(app.serving.find(request.params.name), request.body, false),
  );
  app.post(
    '/models/:name/versions/:version/infer',
    { ...predict, schema: { ...inferSchema, summary: 'V2 inference (one version)', params: VersionParams } },
    async ({ params, body }) => infer(app.serving.find(params.name, params.version), body, true),
  );
};

export default v2;
