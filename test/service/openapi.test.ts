import { Ajv } from 'ajv';
import type { FastifyInstance } from 'fastify';
import { describe, expect, it } from 'vitest';
import { build } from '../helpers/app.js';

/**
 * The OpenAPI document as Swagger UI uses it: "Try it out" pre-fills every parameter from its
 * example, examples or default, and offers the request body's named examples. Each of those must
 * work as shipped.
 */

interface Parameter {
  name: string;
  in: string;
  required?: boolean;
  description?: string;
  example?: unknown;
  examples?: unknown;
  default?: unknown;
  content?: unknown;
  schema?: Record<string, unknown>;
}
interface Example {
  summary?: string;
  value: unknown;
}
interface Media {
  schema?: unknown;
  example?: unknown;
  examples?: Record<string, Example>;
}
interface Operation {
  parameters?: Parameter[];
  requestBody?: { content: Record<string, Media> };
}
type Doc = { paths: Record<string, Record<string, Operation>> };

async function documentOf(app: FastifyInstance): Promise<Doc> {
  const res = await app.inject('/openapi.json');
  expect(res.statusCode).toBe(200);
  return res.json() as Doc;
}

function operations(doc: Doc): { method: string; path: string; op: Operation }[] {
  return Object.entries(doc.paths).flatMap(([path, ops]) =>
    Object.entries(ops).map(([method, op]) => ({ method: method.toUpperCase(), path, op })),
  );
}

/** What Swagger UI's "Try it out" puts in a parameter's field before the user types anything. */
function prefilled(p: Parameter): unknown {
  const examples = p.examples as Record<string, { value?: unknown }> | undefined;
  const first = examples ? Object.values(examples)[0]?.value : undefined;
  return first ?? p.example ?? p.schema?.example ?? p.schema?.default ?? p.default ?? p.schema?.examples;
}

/** The URL Swagger UI calls as it stands: every parameter with what Try it out put in it. */
function urlOf(path: string, op: Operation): string {
  const route = path.replace(/\{(\w+)\}/g, (_, name: string) => {
    const p = op.parameters?.find((q) => q.in === 'path' && q.name === name);
    const value = p ? prefilled(p) : undefined;
    expect(value, `${path}: path parameter ${name} has no example`).toBeDefined();
    return encodeURIComponent(String(value));
  });
  const query = new URLSearchParams();
  for (const p of op.parameters ?? []) {
    const value = p.in === 'query' ? prefilled(p) : undefined;
    if (value !== undefined) query.set(p.name, String(value));
  }
  return query.size > 0 ? `${route}?${query}` : route;
}

const MULTIPART = 'multipart/form-data';
const BOUNDARY = '----SwaggerUIFormBoundary7MA4YWxk';
/** A form's fields as Swagger UI's "Try it out" sends them (FormData): one part each, in order, no type. */
const formData = (fields: Record<string, string>) =>
  `${Object.entries(fields)
    .map(([name, value]) => `--${BOUNDARY}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`)
    .join('')}--${BOUNDARY}--\r\n`;

describe('the OpenAPI document as Swagger UI uses it', () => {
  it('pre-fills no optional query parameter: Try it out leaves them blank', async () => {
    const app = await build();
    const doc = await documentOf(app);
    const filled: string[] = [];
    for (const { method, path, op } of operations(doc)) {
      for (const p of op.parameters ?? []) {
        if (p.required) continue;
        if (prefilled(p) !== undefined || p.content !== undefined) filled.push(`${method} ${path} ?${p.name}`);
      }
    }
    expect(filled).toEqual([]);
  });

  it('gives every path parameter an example, so Try it out can call the route as it stands', async () => {
    const app = await build();
    const doc = await documentOf(app);
    for (const { method, path, op } of operations(doc)) {
      for (const p of op.parameters ?? []) {
        if (p.in === 'path') expect(prefilled(p), `${method} ${path} {${p.name}}`).toBeDefined();
      }
    }
  });

  it('names every request body example and gives it a summary', async () => {
    const app = await build();
    const doc = await documentOf(app);
    const withBody = operations(doc).filter(({ op }) => op.requestBody);
    expect(withBody.map(({ method, path }) => `${method} ${path}`).sort()).toEqual([
      'POST /admin/models/reload',
      'POST /pools/backtest',
      'POST /pools/lifetime',
      'POST /pools/score',
      'POST /predict',
      'POST /v2/models/{name}/infer',
      'POST /v2/models/{name}/versions/{version}/infer',
    ]);
    for (const { method, path, op } of withBody) {
      for (const [type, media] of Object.entries(op.requestBody?.content ?? {})) {
        const where = `${method} ${path} ${type}`;
        expect(media.example, `${where}: an unnamed example`).toBeUndefined();
        const examples = Object.entries(media.examples ?? {});
        expect(examples.length, `${where}: no named examples`).toBeGreaterThan(0);
        for (const [name, example] of examples) {
          expect(name, where).not.toMatch(/^example\d+$/);
          expect(example.summary, `${where} ${name}: no summary`).toMatch(/\w/);
          expect(example.value, `${where} ${name}: no value`).toBeDefined();
        }
      }
    }
  });

  it('gives body examples that the documented schema of their content type accepts', async () => {
    const app = await build();
    const doc = await documentOf(app);
    const ajv = new Ajv({ strict: false, allowUnionTypes: true });
    let checked = 0;
    for (const { method, path, op } of operations(doc)) {
      for (const [type, media] of Object.entries(op.requestBody?.content ?? {})) {
        expect(JSON.stringify(media.schema), `${method} ${path} ${type}: a reference`).not.toContain('$ref');
        const valid = ajv.compile(media.schema as object);
        for (const [name, example] of Object.entries(media.examples ?? {})) {
          expect(valid(example.value), `${method} ${path} ${type} ${name}: ${ajv.errorsText(valid.errors)}`).toBe(true);
          checked++;
        }
      }
    }
    expect(checked).toBeGreaterThan(10);
  });

  it('documents the tape that /pools/score reads: CSV, Freddie Mac and JSON, with its own parameters', async () => {
    const app = await build();
    const doc = await documentOf(app);
    const op = doc.paths['/pools/score']?.post as Operation;
    const content = op.requestBody?.content ?? {};
    expect(Object.keys(content).sort()).toEqual(['application/json', 'multipart/form-data', 'text/csv']);
    const csv = Object.values(content['text/csv']?.examples ?? {}).map((e) => String(e.value));
    expect(csv.some((t) => t.split('\n')[0]?.includes('credit_score,'))).toBe(true);
    expect(csv.some((t) => (t.split('\n')[0]?.split('|').length ?? 0) >= 26)).toBe(true);
    const json = Object.values(content['application/json']?.examples ?? {}).map((e) => e.value);
    expect(json.every((v) => Array.isArray((v as { loans?: unknown }).loans))).toBe(true);
    // Its parameters say what this route does, not what /predict does.
    const predict = doc.paths['/predict']?.post as Operation;
    for (const p of op.parameters ?? []) {
      expect(p.description, p.name).toMatch(/\w/);
      const same = predict.parameters?.find((q) => q.name === p.name);
      if (same) expect(p.description, `?${p.name} copies the description of /predict`).not.toBe(same.description);
    }
    const model = op.parameters?.find((p) => p.name === 'model');
    expect(model?.description).not.toMatch(/"all"[^.]*side by side/);
    const version = op.parameters?.find((p) => p.name === 'version');
    expect(version?.description).not.toMatch(/A\/B arm/);
  });

  it('answers 2xx to every documented example, sent as Swagger UI sends it', async () => {
    const app = await build();
    const doc = await documentOf(app);
    let sent = 0;
    for (const { method, path, op } of operations(doc)) {
      const url = urlOf(path, op);
      const bodies = Object.entries(op.requestBody?.content ?? {}).flatMap(([type, media]) =>
        Object.entries(media.examples ?? {}).map(([name, e]) => ({ type, name, value: e.value })),
      );
      const calls = bodies.length > 0 ? bodies : [undefined];
      for (const body of calls) {
        const res = await app.inject({
          method: method as 'GET' | 'POST',
          url,
          ...(body === undefined
            ? {}
            : {
                headers: {
                  'content-type': body.type === MULTIPART ? `${MULTIPART}; boundary=${BOUNDARY}` : body.type,
                  accept: 'application/json',
                },
                payload:
                  body.type === MULTIPART
                    ? formData(body.value as Record<string, string>)
                    : typeof body.value === 'string'
                      ? body.value
                      : JSON.stringify(body.value),
              }),
        });
        const what = `${method} ${url}${body ? ` (${body.type} example "${body.name}")` : ''}`;
        expect(res.statusCode, `${what}: ${res.body.slice(0, 300)}`).toBeGreaterThanOrEqual(200);
        expect(res.statusCode, `${what}: ${res.body.slice(0, 300)}`).toBeLessThan(300);
        if (body && path !== '/pools/score' && path.startsWith('/predict')) {
          expect(res.body, what).toContain('probability_of_default');
        }
        if (path === '/pools/score') expect(res.json().loan_count, what).toBeGreaterThan(0);
        sent++;
      }
    }
    expect(sent).toBeGreaterThan(20);
  });
});

describe('answer schemas that the serializer writes without a validator', () => {
  // fast-json-stringify resolves an anyOf (or oneOf) by running an Ajv validator on the value, compiled at
  // the route's first answer: ~0.1 s for POST /pools/score, whose nullable figures were all anyOf [number,
  // null]. Type lists and enums it writes itself (plugins/schemas.ts). /predict documents its answer as a
  // union of four shapes but writes each with a serializer of its own (predictSerializer).
  it("use type lists and enums, never anyOf or oneOf, but for /predict's union of its four answers", async () => {
    const doc = (await documentOf(await build())) as unknown as {
      paths: Record<string, Record<string, { responses?: Record<string, unknown> }>>;
    };
    const found: string[] = [];
    const walk = (node: unknown, at: string): void => {
      if (node === null || typeof node !== 'object') return;
      for (const key of ['anyOf', 'oneOf']) if (key in node) found.push(`${at} ${key}`);
      for (const [key, value] of Object.entries(node)) walk(value, `${at}.${key}`);
    };
    let answers = 0;
    for (const [path, ops] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(ops)) {
        for (const [status, response] of Object.entries(op.responses ?? {})) {
          answers++;
          walk(response, `${method.toUpperCase()} ${path} ${status}`);
        }
      }
    }
    expect(answers).toBeGreaterThan(50);
    expect(found).toEqual(['POST /predict 200.content.application/json.schema anyOf']);
  });
});
