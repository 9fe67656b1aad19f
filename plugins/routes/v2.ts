import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { type Static, Type } from '@sinclair/typebox';
import { Ajv } from 'ajv';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { LOAN_FIELD_BY_NAME, loanProblems } from '../../src/loan/record.js';
import { LoanSchema } from '../../src/loan/schema.js';
import type { ModelSet } from '../../src/registry.js';
import { beyondFloat32, EncodingError, FLOAT32_MAX, type LoanRecord, type Model } from '../../src/runtime/index.js';
import { AJV_OPTIONS } from '../../src/security/validator.js';
import { describeError, formatValidation, HttpError } from '../errors.js';

/**
 * The Open Inference Protocol (KServe V2) REST API, so platform clients and tooling work unchanged:
 *
 *   GET  /v2                                   server metadata
 *   GET  /v2/health/live, /v2/health/ready     liveness, readiness
 *   GET  /v2/models/{name}[/versions/{v}]       model metadata (inputs, outputs)
 *   GET  /v2/models/{name}[/versions/{v}]/ready
 *   POST /v2/models/{name}[/versions/{v}]/infer
 *
 * An inference request gives either one input per model field (shape [N] or [N, 1]; numbers as FP32,
 * FP64 or INT*, codes as BYTES; null is a missing value; each value within its declared datatype's
 * range, checkRange), or a single numeric tensor [N, C] holding the
 * model's feature row (its C columns, in the order the metadata lists). The answer has `predict_proba`
 * ([N, 2], FP64: P(no default), P(default)) and `predict` ([N], INT64: 1 when the PD reaches the model's
 * decision threshold), and `log_odds` on request. Errors are `{"error": "..."}`: 400 for a bad request,
 * 404 for an unknown model or version. Without a version the default version answers (one
 * `model_version` per response: A/B splits apply to /predict), and a configured shadow scores the same
 * rows when they come as named inputs (a feature tensor is one version's columns, which another version
 * need not share).
 */

const DATATYPES = [
  'BOOL',
  'UINT8',
  'UINT16',
  'UINT32',
  'UINT64',
  'INT8',
  'INT16',
  'INT32',
  'INT64',
  'FP16',
  'FP32',
  'FP64',
  'BYTES',
] as const;
/** Every datatype but BOOL and BYTES: the ones a number is sent as. */
const NUMERIC: ReadonlySet<string> = new Set(DATATYPES.filter((d) => d !== 'BOOL' && d !== 'BYTES'));
const OUTPUTS = ['predict_proba', 'predict', 'log_odds'] as const;
type OutputName = (typeof OUTPUTS)[number];

const Parameters = Type.Record(Type.String(), Type.Unknown(), { description: 'Protocol parameters' });
const TensorData = Type.Array(Type.Unknown(), {
  description: 'Row-major values, flat or nested; null is a missing value.',
});

const RequestInput = Type.Object(
  {
    name: Type.String({ maxLength: 256 }),
    shape: Type.Array(Type.Integer({ minimum: 0 }), { minItems: 1, maxItems: 2 }),
    datatype: Type.Union(DATATYPES.map((d) => Type.Literal(d))),
    parameters: Type.Optional(Parameters),
    data: TensorData,
  },
  { additionalProperties: false },
);
const RequestOutput = Type.Object(
  { name: Type.String({ maxLength: 64 }), parameters: Type.Optional(Parameters) },
  { additionalProperties: false },
);
const InferenceRequest = Type.Object(
  {
    id: Type.Optional(Type.String({ maxLength: 256 })),
    parameters: Type.Optional(Parameters),
    inputs: Type.Array(RequestInput, { minItems: 1, maxItems: 1024 }),
    outputs: Type.Optional(Type.Array(RequestOutput, { maxItems: 8 })),
  },
  { additionalProperties: false }, // named examples: plugins/examples.ts
);
type InferenceRequest = Static<typeof InferenceRequest>;

const TensorMetadata = Type.Object({ name: Type.String(), datatype: Type.String(), shape: Type.Array(Type.Integer()) });
const ResponseOutput = Type.Object({
  name: Type.String(),
  shape: Type.Array(Type.Integer()),
  datatype: Type.String(),
  parameters: Type.Optional(Parameters),
  data: Type.Array(Type.Number()),
});
const InferenceResponse = Type.Object({
  model_name: Type.String(),
  model_version: Type.String(),
  id: Type.Optional(Type.String()),
  parameters: Type.Optional(Parameters),
  outputs: Type.Array(ResponseOutput),
});
const V2Error = Type.Object({ error: Type.String() }, { title: 'V2 error' });
const ModelMetadata = Type.Object({
  name: Type.String(),
  versions: Type.Array(Type.String()),
  platform: Type.String(),
  inputs: Type.Array(TensorMetadata),
  outputs: Type.Array(TensorMetadata),
  parameters: Type.Object({
    family: Type.String(),
    inputs: Type.String({ description: '"loan-record" or "features"' }),
    decision_threshold: Type.Number(),
    tensor_input: Type.Object(
      { shape: Type.Array(Type.Integer()), datatypes: Type.Array(Type.String()), columns: Type.Array(Type.String()) },
      { description: 'The alternative single input: the feature row, C columns in this order' },
    ),
  }),
});

const NameParams = Type.Object({ name: Type.String({ maxLength: 64 }) });
const VersionParams = Type.Object({ name: Type.String({ maxLength: 64 }), version: Type.String({ maxLength: 32 }) });

// The loan schema checked as /predict checks it: Fastify's Ajv options (src/app.ts), errors in the same words.
const loanCheck = new Ajv(AJV_OPTIONS).compile(LoanSchema);

export interface V2Options {
  maxBatch: number;
  serverVersion: string;
}

const v2: FastifyPluginAsyncTypebox<V2Options> = async (app, { maxBatch, serverVersion }) => {
  // The protocol's error shape for everything under /v2, including validation and unknown routes.
  app.setErrorHandler((err: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
    const answer = describeError(err, request, app.config.bodyLimit);
    const status = answer.statusCode;
    return reply.code(status).send({ error: answer.message });
  });
  app.setNotFoundHandler((request, reply) =>
    reply.code(404).send({ error: `no route ${request.method} ${request.url.split('?')[0]?.slice(0, 200)}` }),
  );

  const tags = ['open inference protocol'];
  app.get(
    '/health/live',
    {
      config: { auth: 'ops' },
      schema: { tags, summary: 'V2 server liveness', response: { 200: Type.Object({ live: Type.Boolean() }) } },
    },
    async () => ({ live: true }),
  );
  app.get(
    '/health/ready',
    {
      config: { auth: 'ops' },
      schema: {
        tags,
        summary: 'V2 server readiness',
        response: { 200: Type.Object({ ready: Type.Boolean() }), 503: Type.Object({ ready: Type.Boolean() }) },
      },
    },
    async (_request, reply) => {
      const ready = app.models.ready && !app.draining;
      return reply.code(ready ? 200 : 503).send({ ready });
    },
  );
  app.get(
    '/',
    {
      prefixTrailingSlash: 'no-slash', // GET /v2, as the protocol spells it
      config: { auth: 'ops' },
      schema: {
        tags,
        summary: 'V2 server metadata',
        response: {
          200: Type.Object({ name: Type.String(), version: Type.String(), extensions: Type.Array(Type.String()) }),
        },
      },
    },
    async () => ({ name: 'loan-default-service', version: serverVersion, extensions: [] }),
  );

  const find = (set: ModelSet, name: string, version?: string): Model => {
    const versions = set.versions.get(name);
    if (!versions)
      throw new HttpError(
        404,
        'MODEL_NOT_FOUND',
        `model ${JSON.stringify(name)} not found; available: ${set.names().join(', ')}`,
      );
    const model = set.get(name, version);
    if (!model) {
      throw new HttpError(
        404,
        'MODEL_VERSION_NOT_FOUND',
        `model ${name} has no version ${JSON.stringify(version)}; available: ${versions.map((m) => m.version).join(', ')}`,
      );
    }
    return model;
  };

  const metadata = (set: ModelSet, model: Model): Static<typeof ModelMetadata> => ({
    name: model.name,
    versions: (set.versions.get(model.name) ?? []).map((m) => m.version),
    platform: `loan-default-model/${model.family}`,
    inputs: model.fields.map((f) => ({ name: f.name, datatype: f.kind === 'numeric' ? 'FP64' : 'BYTES', shape: [-1] })),
    outputs: [
      { name: 'predict_proba', datatype: 'FP64', shape: [-1, 2] },
      { name: 'predict', datatype: 'INT64', shape: [-1] },
      { name: 'log_odds', datatype: 'FP64', shape: [-1] },
    ],
    parameters: {
      family: model.family,
      inputs: model.inputs,
      decision_threshold: model.decisionThreshold,
      tensor_input: {
        shape: [-1, model.columnCount],
        datatypes: ['FP32', 'FP64'],
        columns: model.columns.map((c) => c.name),
      },
    },
  });

  const metaSchema = { tags, response: { 200: ModelMetadata, 404: V2Error } };
  app.get(
    '/models/:name',
    {
      config: { auth: 'predict' },
      schema: { ...metaSchema, summary: 'V2 model metadata (default version)', params: NameParams },
    },
    async (request) => {
      const set = app.models.current;
      return metadata(set, find(set, request.params.name));
    },
  );
  app.get(
    '/models/:name/versions/:version',
    {
      config: { auth: 'predict' },
      schema: { ...metaSchema, summary: 'V2 model metadata (one version)', params: VersionParams },
    },
    async (request) => {
      const set = app.models.current;
      return metadata(set, find(set, request.params.name, request.params.version));
    },
  );
  const readySchema = {
    tags,
    response: { 200: Type.Object({ name: Type.String(), ready: Type.Boolean() }), 404: V2Error },
  };
  app.get(
    '/models/:name/ready',
    { config: { auth: 'predict' }, schema: { ...readySchema, summary: 'V2 model readiness', params: NameParams } },
    async (request) => ({
      name: find(app.models.current, request.params.name).name,
      ready: true,
    }),
  );
  app.get(
    '/models/:name/versions/:version/ready',
    {
      config: { auth: 'predict' },
      schema: { ...readySchema, summary: 'V2 model version readiness', params: VersionParams },
    },
    async (request) => ({
      name: find(app.models.current, request.params.name, request.params.version).name,
      ready: true,
    }),
  );

  const infer = (model: Model, shadow: Model | undefined, body: InferenceRequest) => {
    const wanted = requestedOutputs(body);
    const { probability, margin, records } = score(model, body, maxBatch);
    const n = probability.length;
    // Named inputs only: the shadow encodes the records itself; a tensor is laid out for `model` alone.
    if (shadow && shadow !== model && records) {
      setImmediate(() => {
        try {
          app.predictionMetrics.shadow(model, shadow, probability, shadow.scoreMany(records).probability);
        } catch (err) {
          app.predictionMetrics.shadowFailed(model, shadow);
          app.log.error({ err, model: shadow.name, shadow: shadow.version }, 'shadow scoring failed');
        }
      });
    }
    const outputs: Static<typeof ResponseOutput>[] = [];
    for (const name of wanted) {
      if (name === 'predict_proba') {
        const data = new Array<number>(2 * n);
        for (let i = 0; i < n; i++) {
          data[2 * i] = 1 - (probability[i] as number);
          data[2 * i + 1] = probability[i] as number;
        }
        outputs.push({ name, datatype: 'FP64', shape: [n, 2], data });
      } else if (name === 'predict') {
        outputs.push({
          name,
          datatype: 'INT64',
          shape: [n],
          data: Array.from(probability, (p) => (p >= model.decisionThreshold ? 1 : 0)),
        });
      } else {
        outputs.push({ name, datatype: 'FP64', shape: [n], data: Array.from(margin) });
      }
    }
    return {
      model_name: model.name,
      model_version: model.version,
      ...(body.id === undefined ? {} : { id: body.id }),
      outputs,
    };
  };

  const inferSchema = {
    tags,
    body: InferenceRequest,
    response: { 200: InferenceResponse, 400: V2Error, 404: V2Error, 413: V2Error, 415: V2Error, 500: V2Error },
  };
  app.post(
    '/models/:name/infer',
    {
      config: { auth: 'predict' },
      schema: { ...inferSchema, summary: 'V2 inference (default version)', params: NameParams },
    },
    async (request) => {
      const set = app.models.current;
      const model = find(set, request.params.name);
      return infer(model, set.routes.get(model.name)?.shadow, request.body);
    },
  );
  app.post(
    '/models/:name/versions/:version/infer',
    {
      config: { auth: 'predict' },
      schema: { ...inferSchema, summary: 'V2 inference (one version)', params: VersionParams },
    },
    async (request) =>
      infer(find(app.models.current, request.params.name, request.params.version), undefined, request.body),
  );

  function score(model: Model, body: InferenceRequest, limit: number) {
    for (const [i, input] of body.inputs.entries()) {
      if (input.parameters?.binary_data_size !== undefined) {
        throw bad(
          `inputs[${i}].parameters.binary_data_size: the binary tensor extension is not supported; send JSON data`,
        );
      }
    }
    const first = body.inputs[0] as Static<typeof RequestInput>;
    const isTensor =
      body.inputs.length === 1 && first.shape.length === 2 && !model.fields.some((f) => f.name === first.name);
    if (isTensor) {
      const rows = tensorRows(model, first, limit);
      const margin = model.marginsOfRows(rows.values, rows.n);
      const probability = Float64Array.from(margin, (m) => model.evaluator.probability(m));
      checkFinite(probability, margin, 'inputs[0]');
      return { probability, margin, records: undefined };
    }
    const records = namedRecords(model, body.inputs, limit);
    let scores: { probability: Float64Array; margin: Float64Array };
    try {
      scores = model.scoreMany(records);
    } catch (err) {
      if (err instanceof EncodingError) {
        throw bad(`inputs[${err.field}].data[${err.index ?? 0}]: ${err.reason}`);
      }
      throw err;
    }
    checkFinite(scores.probability, scores.margin, 'inputs');
    return { ...scores, records };
  }
};

/** The outputs asked for (all but log_odds by default), unknown names refused. */
function requestedOutputs(body: InferenceRequest): OutputName[] {
  if (!body.outputs || body.outputs.length === 0) return ['predict_proba', 'predict'];
  return body.outputs.map((o, i) => {
    if (!(OUTPUTS as readonly string[]).includes(o.name)) {
      throw bad(`outputs[${i}].name: unknown output ${JSON.stringify(o.name)}; this model has ${OUTPUTS.join(', ')}`);
    }
    if (o.parameters?.binary_data === true) {
      throw bad(`outputs[${i}].parameters.binary_data: the binary tensor extension is not supported`);
    }
    return o.name as OutputName;
  });
}

function bad(message: string): HttpError {
  return new HttpError(400, 'BAD_REQUEST', message);
}

/** Nested or flat data, flattened row-major, with the element count the shape promises. */
function flatten(data: readonly unknown[], shape: readonly number[], where: string): unknown[] {
  const flat: unknown[] = [];
  const walk = (v: unknown, depth: number) => {
    if (Array.isArray(v)) {
      if (depth >= shape.length) throw bad(`${where}.data: nested deeper than the shape ${JSON.stringify(shape)}`);
      for (const x of v) walk(x, depth + 1);
    } else {
      flat.push(v);
    }
  };
  for (const v of data) walk(v, 1);
  const expected = shape.reduce((a, b) => a * b, 1);
  if (flat.length !== expected) {
    throw bad(`${where}.data: has ${flat.length} values but the shape ${JSON.stringify(shape)} needs ${expected}`);
  }
  return flat;
}

function checkRows(n: number, limit: number, where: string): void {
  if (n > limit)
    throw new HttpError(413, 'BATCH_TOO_LARGE', `${where}: at most ${limit} rows per request (MAX_BATCH); got ${n}`);
}

function numeric(v: unknown, datatype: string, where: string): number {
  if (v === null) return Number.NaN;
  if (typeof v !== 'number' || !Number.isFinite(v)) {
    throw bad(`${where}: must be a finite number or null (missing), got ${JSON.stringify(v)?.slice(0, 40)}`);
  }
  if (datatype.startsWith('INT') || datatype.startsWith('UINT')) {
    if (!Number.isInteger(v)) throw bad(`${where}: ${datatype} needs a whole number, got ${v}`);
  }
  checkRange(v, datatype, where);
  return datatype === 'FP32' || datatype === 'FP16' ? Math.fround(v) : v;
}

/**
 * The values each numeric datatype can hold: [lowest, highest], both included. INT64 and UINT64
 * bounds are powers of two, exact as doubles: their highest value (2^63 − 1, 2^64 − 1) is not, so
 * those two exclude their upper bound. Floats: the largest finite value (FP16 65504, FP32
 * 3.4028234663852886e38); FP64 takes any finite number.
 */
const RANGES: Readonly<Record<string, readonly [number, number, 'included' | 'excluded']>> = {
  INT8: [-(2 ** 7), 2 ** 7 - 1, 'included'],
  INT16: [-(2 ** 15), 2 ** 15 - 1, 'included'],
  INT32: [-(2 ** 31), 2 ** 31 - 1, 'included'],
  INT64: [-(2 ** 63), 2 ** 63, 'excluded'],
  UINT8: [0, 2 ** 8 - 1, 'included'],
  UINT16: [0, 2 ** 16 - 1, 'included'],
  UINT32: [0, 2 ** 32 - 1, 'included'],
  UINT64: [0, 2 ** 64, 'excluded'],
  FP16: [-65504, 65504, 'included'],
  FP32: [-3.4028234663852886e38, 3.4028234663852886e38, 'included'],
};

/** A 400 for a value its declared datatype cannot hold (`INT8` 700, `FP32` 1e308), naming the range. */
function checkRange(v: number, datatype: string, where: string): void {
  const range = RANGES[datatype];
  if (range === undefined) return;
  const [low, high, upper] = range;
  if (v >= low && (upper === 'included' ? v <= high : v < high)) return;
  const highest = upper === 'included' ? String(high) : String(BigInt(high) - BigInt(1));
  throw bad(`${where}: ${v} is outside ${datatype} (${BigInt(low)} to ${highest})`);
}

/** One [N, C] tensor: the feature rows as the model's evaluator reads them. */
function tensorRows(model: Model, input: Static<typeof RequestInput>, limit: number) {
  const [n, c] = input.shape as [number, number];
  const where = `inputs[0] (${input.name})`;
  checkRows(n, limit, where);
  if (c !== model.columnCount) {
    throw bad(
      `${where}.shape: a [N, C] tensor is the model's feature row, C = ${model.columnCount} columns (see the model metadata's parameters.tensor_input); got C = ${c}`,
    );
  }
  if (!NUMERIC.has(input.datatype))
    throw bad(`${where}.datatype: a feature tensor is numeric (FP32, FP64, INT*), got ${input.datatype}`);
  const flat = flatten(input.data, input.shape, where);
  const values = model.newRows(n);
  const acceptsMissing = takesMissingValues(model);
  for (let k = 0; k < flat.length; k++) {
    const at = `${where}.data[${k}] (row ${Math.floor(k / c)}, column ${model.columns[k % c]?.name})`;
    if (flat[k] === null && !acceptsMissing) {
      throw bad(
        `${at}: null (missing) is not accepted: ${model.family} models have no missing-value branch in their feature row` +
          (model.inputs === 'loan-record' ? '; send the loan fields by name to have missing values imputed' : ''),
      );
    }
    values[k] = float32Row(model, numeric(flat[k], input.datatype, at), at);
  }
  return { n, values };
}

/**
 * A tree model's feature row is float32 (XGBoost and scikit-learn cast their input): a number beyond that
 * range would be scored as ±Infinity, where the libraries refuse the row. (Named inputs are checked by the
 * encoder, which names the field.)
 */
function float32Row(model: Model, x: number, at: string): number {
  // numeric() already rounded FP32/FP16 data: an overflow there is ±Infinity.
  if (model.evaluator.rowType === 'float32' && (beyondFloat32(x) || Math.abs(x) === Number.POSITIVE_INFINITY)) {
    throw bad(`${at}: ${x} is beyond the float32 range (±${FLOAT32_MAX}) that ${model.family} models read`);
  }
  return x;
}

/** One input per field: rows built as records, validated as the model's fields (loan record rules included). */
function namedRecords(model: Model, inputs: readonly Static<typeof RequestInput>[], limit: number): LoanRecord[] {
  const fields = new Map(model.fields.map((f) => [f.name, f]));
  const isLoan = model.inputs === 'loan-record';
  let n = -1;
  const columns: [string, unknown[], string][] = [];
  const seen = new Set<string>();
  for (const [i, input] of inputs.entries()) {
    const where = `inputs[${i}] (${input.name})`;
    const field = fields.get(input.name);
    const loanField = isLoan ? LOAN_FIELD_BY_NAME.get(input.name) : undefined;
    if (!field && !loanField) {
      const known = [...fields.keys()];
      throw bad(
        `${where}.name: not an input of model ${model.name}; its inputs are ${known.slice(0, 30).join(', ')}${known.length > 30 ? ', …' : ''}`,
      );
    }
    if (seen.has(input.name)) throw bad(`${where}.name: ${input.name} is given twice`);
    seen.add(input.name);
    if (input.shape.length === 2 && input.shape[1] !== 1)
      throw bad(`${where}.shape: a named input is [N] or [N, 1], got ${JSON.stringify(input.shape)}`);
    const rows = input.shape[0] as number;
    if (n === -1) n = rows;
    else if (rows !== n) throw bad(`${where}.shape: ${rows} rows, but the first input has ${n}`);
    checkRows(rows, limit, where);
    const textual = loanField ? loanField.kind !== 'numeric' : field?.kind === 'categorical';
    if (textual && input.datatype !== 'BYTES')
      throw bad(`${where}.datatype: ${input.name} is a code: send BYTES (strings), got ${input.datatype}`);
    if (!textual && !NUMERIC.has(input.datatype))
      throw bad(`${where}.datatype: ${input.name} is numeric: send FP32, FP64 or INT*, got ${input.datatype}`);
    columns.push([input.name, flatten(input.data, input.shape, where), input.datatype]);
  }
  const records: Record<string, unknown>[] = Array.from({ length: n }, () => ({}));
  for (const [name, values, datatype] of columns) {
    const i = inputs.findIndex((x) => x.name === name);
    values.forEach((v, r) => {
      const at = `inputs[${i}] (${name}).data[${r}]`;
      if (datatype === 'BYTES') {
        if (v !== null && typeof v !== 'string')
          throw bad(`${at}: must be a string or null, got ${JSON.stringify(v)?.slice(0, 40)}`);
        (records[r] as Record<string, unknown>)[name] = v;
      } else {
        const x = numeric(v, datatype, at);
        (records[r] as Record<string, unknown>)[name] = Number.isNaN(x) ? null : x;
      }
    });
  }
  if (!isLoan) {
    const absent = [...fields.keys()].filter((f) => !seen.has(f));
    if (absent.length > 0) {
      throw bad(`inputs: missing ${absent.slice(0, 20).join(', ')} (send null values for missing data)`);
    }
    if (!takesMissingValues(model)) {
      // The encoder would pass NaN on: only XGBoost has a learnt branch for it (scikit-learn refuses NaN).
      for (const [i, input] of inputs.entries()) {
        const r = records.findIndex((record) => record[input.name] === null);
        if (r >= 0) {
          throw bad(
            `inputs[${i}] (${input.name}).data[${r}]: null (missing) is not accepted: ${model.family} models of arbitrary features have no missing-value handling`,
          );
        }
      }
    }
    return records;
  }
  // Loan records: the same rules as POST /predict (types, ranges, codes, required fields, dates).
  const inputIndex = new Map(inputs.map((x, i) => [x.name, i]));
  const at = (name: string, r: number) =>
    inputIndex.has(name) ? `inputs[${inputIndex.get(name)}] (${name}).data[${r}]` : `inputs: ${name} (row ${r})`;
  for (const [r, record] of records.entries()) {
    if (!loanCheck(record)) {
      const [problem] = formatValidation(loanCheck.errors ?? [], record, 'body').items;
      const name = problem?.field ?? '';
      throw bad(`${at(name, r)}: ${problem?.message ?? 'is invalid'}`);
    }
    const [problem] = loanProblems(record);
    if (problem) throw bad(`${at(problem[0], r)}: ${problem[1]}`);
  }
  return records;
}

/** Trees that send NaN down a learnt default branch (XGBoost); the other families' rows must be complete. */
function takesMissingValues(model: Model): boolean {
  return model.capabilities.acceptsMissing;
}

function checkFinite(probability: Float64Array, margin: Float64Array, where: string): void {
  for (let i = 0; i < probability.length; i++) {
    if (!Number.isFinite(probability[i]) || !Number.isFinite(margin[i])) {
      throw bad(`${where}: row ${i} gives no finite score (a missing value the model cannot handle)`);
    }
  }
}

export default v2;
