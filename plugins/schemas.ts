import { type Static, Type } from '@sinclair/typebox';

/** Schemas shared by several routes. Each route module owns the rest of its schemas. */

export const ErrorSchema = Type.Object(
  {
    statusCode: Type.Integer({ examples: [400] }),
    code: Type.String({ description: 'Stable error code (see the README).', examples: ['VALIDATION_FAILED'] }),
    error: Type.String({ examples: ['Bad Request'] }),
    message: Type.String(),
    details: Type.Optional(
      Type.Array(
        Type.Object({
          field: Type.String({ description: 'The offending field, e.g. `loans[3].credit_score`.' }),
          message: Type.String({ description: 'Why it was refused.' }),
        }),
      ),
    ),
  },
  { title: 'Error', description: "Fastify's error body, plus `details` for validation errors." },
);
export type ErrorBody = Static<typeof ErrorSchema>;

export const ModelNameSchema = Type.String({
  pattern: '^[a-z][a-z0-9_]*$',
  maxLength: 64,
  description: 'A loaded model (see GET /models), or "all" to score with every model side by side.',
  examples: ['xgboost'],
});
