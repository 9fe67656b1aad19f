import { describe, expect, it } from 'vitest';
import { build, exampleLoan, MODEL_NAMES } from '../helpers/app.js';

describe('GET /models', () => {
  it('lists every model with family, version, hash and holdout metrics', async () => {
    const app = await build();
    const res = await app.inject('/models');
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body.default_model).toBe('xgboost');
    expect(body.models.map((m: { name: string }) => m.name)).toEqual(MODEL_NAMES);
    for (const m of body.models) {
      expect(m.sha256).toMatch(/^[0-9a-f]{64}$/);
      expect(m.metrics.auc).toBeGreaterThan(0.5);
    }
  });

  it('describes one model: fields with kinds and ranges, training metadata', async () => {
    const app = await build();
    const res = await app.inject('/models/xgboost');
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body.family).toBe('xgboost');
    expect(body.evaluator.trees).toBeGreaterThan(0);
    const credit = body.fields.find((f: { name: string }) => f.name === 'credit_score');
    expect(credit).toMatchObject({ kind: 'numeric', missing_values: [9999] });
    const occupancy = body.fields.find((f: { name: string }) => f.name === 'occupancy_status');
    expect(occupancy).toMatchObject({ kind: 'categorical', levels: expect.arrayContaining(['P', 'I', 'S']) });
    expect(body.training).toHaveProperty('holdout_metrics');
    expect(body.metrics).toEqual(body.training.holdout_metrics);
  });

  it('answers 404 for an unknown model', async () => {
    const app = await build();
    const res = await app.inject('/models/nope');
    expect(res.statusCode).toBe(404);
    expect(res.json()).toMatchObject({ code: 'MODEL_NOT_FOUND', message: expect.stringContaining('xgboost') });
  });
});

describe('health', () => {
  it('is live and ready once the models are loaded', async () => {
    const app = await build();
    expect((await app.inject('/health/live')).json()).toEqual({ status: 'ok' });
    expect((await app.inject('/health/ready')).json()).toEqual({ status: 'ready', models: 4 });
  });

  it('turns not-ready as soon as shutdown starts draining', async () => {
    const app = await build();
    expect(await app.drain(1000)).toBe(true);
    const res = await app.inject('/health/ready');
    expect(res.statusCode).toBe(503);
    expect(res.json()).toEqual({ status: 'closing' });
    expect((await app.inject('/health/live')).statusCode).toBe(200);
  });
});

describe('OpenAPI and Swagger UI', () => {
  it('documents every route, the loan fields and a working example', async () => {
    const app = await build();
    const doc = (await app.inject('/openapi.json')).json();
    expect(doc.openapi).toBe('3.1.0');
    expect(Object.keys(doc.paths).sort()).toEqual([
      '/admin/models/reload',
      '/health/live',
      '/health/ready',
      '/models',
      '/models/{name}',
      '/models/{name}/versions',
      '/models/{name}/versions/{version}',
      '/pools/score',
      '/predict',
      '/scenarios',
      '/v2',
      '/v2/health/live',
      '/v2/health/ready',
      '/v2/models/{name}',
      '/v2/models/{name}/infer',
      '/v2/models/{name}/ready',
      '/v2/models/{name}/versions/{version}',
      '/v2/models/{name}/versions/{version}/infer',
      '/v2/models/{name}/versions/{version}/ready',
    ]);
    const body = doc.paths['/predict'].post.requestBody.content['application/json'];
    const single = body.schema.anyOf[0];
    expect(single.properties.credit_score.description).toMatch(/300–850/);
    const examples = Object.values(body.examples ?? {}).map((e) => (e as { value: unknown }).value);
    expect(examples.length).toBeGreaterThan(0);
    // "Try it out" with the documented example returns a real prediction.
    for (const example of examples) {
      const res = await app.inject({ method: 'POST', url: '/predict', payload: example as object });
      expect(res.statusCode).toBe(200);
    }
    const ui = await app.inject('/docs/');
    expect(ui.statusCode).toBe(200);
    expect(ui.headers['content-type']).toMatch(/text\/html/);
  });
});

describe('/metrics', () => {
  it('exposes request, prediction, probability, model and process metrics with bounded labels', async () => {
    const app = await build();
    await app.inject({ method: 'POST', url: '/predict', payload: { ...exampleLoan, model: 'all' } });
    await app.inject({ method: 'POST', url: '/predict', payload: { ...exampleLoan, credit_score: 'x' } });
    for (let i = 0; i < 20; i++) await app.inject(`/scan/${i}?q=${i}`);
    const res = await app.inject('/metrics');
    expect(res.statusCode).toBe(200);
    const text = res.body;
    expect(text).toContain('http_requests_total{method="POST",route="/predict",status="200"} 1');
    expect(text).toContain('http_requests_total{method="POST",route="/predict",status="400"} 1');
    expect(text).toContain('http_requests_total{method="GET",route="__unmatched__",status="404"} 20');
    expect(text).not.toMatch(/scan\/\d/);
    for (const name of MODEL_NAMES) {
      const v = `model="${name}",version="1.0.0"`;
      expect(text).toContain(`model_prediction_latency_seconds_count{${v}} 1`);
      expect(text).toContain(`model_predictions_total{${v}} 1`);
      expect(text).toContain(`model_predicted_probability_count{${v}} 1`);
      expect(text).toMatch(
        new RegExp(`model_info\\{model="${name}",version="1\\.0\\.0",family="\\w+",default="true"\\} 1`),
      );
    }
    // Every loaded version has its series from the start, the challenger too (not the default).
    expect(text).toContain('model_predictions_total{model="xgboost",version="1.1.0"} 0');
    expect(text).toContain('model_info{model="xgboost",version="1.1.0",family="xgboost",default="false"} 1');
    expect(text).toContain('model_prediction_latency_seconds_bucket{le="0.00001",model="xgboost",version="1.0.0"}');
    expect(text).toContain('model_set_generation 1');
    expect(text).toContain('model_reloads_total{result="failure"} 0');
    expect(text).toMatch(/app_uptime_seconds \d/);
    expect(text).toContain('process_cpu_seconds_total');
    expect(text).toContain('http_request_duration_seconds_bucket');
  });
});
