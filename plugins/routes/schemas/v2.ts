import { type Static, Type } from '@sinclair/typebox';
import { DATATYPES } from '../../../src/serving/oip.js';

/** The schemas of the Open Inference Protocol (KServe V2) routes (plugins/routes/v2.ts). */

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
export const InferenceRequest = Type.Object(
  {
    id: Type.Optional(Type.String({ maxLength: 256 })),
    parameters: Type.Optional(Parameters),
    inputs: Type.Array(RequestInput, { minItems: 1, maxItems: 1024 }),
    outputs: Type.Optional(Type.Array(RequestOutput, { maxItems: 8 })),
  },
  { additionalProperties: false }, // named examples: plugins/examples.ts
);

const TensorMetadata = Type.Object({ name: Type.String(), datatype: Type.String(), shape: Type.Array(Type.Integer()) });
const ResponseOutput = Type.Object({
  name: Type.String(),
  shape: Type.Array(Type.Integer()),
  datatype: Type.String(),
  parameters: Type.Optional(Parameters),
  data: Type.Array(Type.Number()),
});
export const InferenceResponse = Type.Object({
  model_name: Type.String(),
  model_version: Type.String(),
  id: Type.Optional(Type.String()),
  parameters: Type.Optional(Parameters),
  outputs: Type.Array(ResponseOutput),
});
export const V2Error = Type.Object({ error: Type.String() }, { title: 'V2 error' });
export const ModelMetadata = Type.Object({
  name: Type.String(),
  versions: Type.Array(Type.String()),
  platform: Type.String(),
  inputs: Type.Array(TensorMetadata),
  outputs: Type.Array(TensorMetadata),
  parameters: Type.Object({
    family: Type.String(),
    inputs: Type.String({ description: '"loan-record" or "features"' }),
    decision_threshold: Type.Number(),
    tensor_input: Type.Optional(
      Type.Object(
        { shape: Type.Array(Type.Integer()), datatypes: Type.Array(Type.String()), columns: Type.Array(Type.String()) },
        {
          description:
            'The alternative single input: the feature row, C columns in this order (absent for a model that reads scenario features)',
        },
      ),
    ),
    scenario_features: Type.Optional(
      Type.Array(Type.String(), {
        description:
          'The house-price scenario features the model reads, computed by the service from the request’s parameters.scenario (not inputs)',
      }),
    ),
  }),
});
export type ModelMetadata = Static<typeof ModelMetadata>;

export const NameParams = Type.Object({ name: Type.String({ maxLength: 64 }) });
export const VersionParams = Type.Object({
  name: Type.String({ maxLength: 64 }),
  version: Type.String({ maxLength: 32 }),
});
