import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import fp from 'fastify-plugin';
import { SERVICE_VERSION } from '../src/version.js';
import { withExamples } from './examples.js';

/**
 * OpenAPI 3.1 document built from the routes' TypeBox schemas, served at /openapi.json, and
 * Swagger UI at /docs. Registered before the routes so that it sees them all.
 */
export default fp(
  async (app) => {
    await app.register(swagger, {
      openapi: {
        openapi: '3.1.0',
        info: {
          title: 'Loan default service',
          version: SERVICE_VERSION,
          description:
            'Probability of default for mortgage loans, from logistic regression, LDA, gradient boosting and ' +
            'XGBoost models trained with scikit-learn and XGBoost and scored by pure TypeScript runtimes that ' +
            'reproduce the libraries exactly. Loan fields follow the Freddie Mac Single-Family Loan-Level Dataset.',
        },
        // API keys (when configured): Swagger UI's "Authorize" sends the token on every call.
        components: {
          securitySchemes: { apiKey: { type: 'http', scheme: 'bearer', description: 'An API key (SECURITY.md)' } },
        },
        security: [{ apiKey: [] }],
        tags: [
          { name: 'predict', description: 'Score loans' },
          { name: 'models', description: 'What is loaded' },
          { name: 'scenarios', description: 'House-price scenarios the models score under' },
          { name: 'health', description: 'Probes' },
          { name: 'admin', description: 'Model management: reload versions without a restart' },
          {
            name: 'open inference protocol',
            description: 'KServe V2 / Open Inference Protocol REST routes: errors are {"error": "..."}',
          },
        ],
      },
      // Named examples with summaries, the tape body of /pools/score, path parameter examples.
      transformObject: (document) =>
        withExamples('openapiObject' in document ? document.openapiObject : document.swaggerObject),
    });
    await app.register(swaggerUi, { routePrefix: '/docs', uiConfig: { tryItOutEnabled: true, deepLinking: true } });
    app.get('/openapi.json', { config: { auth: 'public' }, schema: { hide: true } }, async () => app.swagger());
  },
  { name: 'openapi' },
);
