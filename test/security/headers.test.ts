import type { FastifyInstance, InjectOptions } from 'fastify';
import { describe, expect, it } from 'vitest';
import { API_HELMET_OPTIONS, HELMET_OPTIONS, helmetHeaders } from '../../plugins/security/headers.js';
import { build, exampleLoan } from '../helpers/app.js';
import { API_KEYS, buildLogged, keys } from './helpers.js';

/** The CSP as a map: directive → sources. */
function csp(header: string | undefined): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const part of (header ?? '').split(';')) {
    const [name, ...sources] = part.trim().split(/\s+/);
    if (name) out.set(name, sources);
  }
  return out;
}

/** Responses a browser may render (full helmet set), and JSON API responses (the strict short set). */
const DOCUMENT_REQUESTS = [
  { method: 'GET', url: '/docs/' },
  { method: 'GET', url: '/docs/static/swagger-ui-bundle.js' },
  { method: 'GET', url: '/' },
  { method: 'GET', url: '/openapi.json' },
  { method: 'GET', url: '/nowhere' },
] as const;
const API_REQUESTS = [
  { method: 'POST', url: '/predict', payload: exampleLoan },
  { method: 'POST', url: '/predict', payload: { credit_score: 'x' } },
  { method: 'GET', url: '/models/nope' },
  { method: 'GET', url: '/models' },
  { method: 'GET', url: '/health/live' },
  { method: 'GET', url: '/metrics' },
] as const;

describe('security headers (helmet)', () => {
  it("puts @fastify/helmet's headers on every response: documents, API answers, errors, 404, refusals", async () => {
    const full = await helmetHeaders(HELMET_OPTIONS);
    const api = await helmetHeaders(API_HELMET_OPTIONS);
    expect(Object.keys(full).length).toBeGreaterThanOrEqual(10);
    expect(api).toEqual({
      'content-security-policy': "default-src 'none';frame-ancestors 'none'",
      'cross-origin-resource-policy': 'same-origin',
      'referrer-policy': 'no-referrer',
      'strict-transport-security': 'max-age=31536000; includeSubDomains',
      'x-content-type-options': 'nosniff',
    });
    const app = await build({ API_KEYS });
    const check = async (request: InjectOptions, expected: Record<string, string>, label: string) => {
      const res = await app.inject(request);
      for (const [name, value] of Object.entries(expected)) {
        expect(res.headers[name], `${label} ${request.method} ${request.url} ${name}`).toBe(value);
      }
      expect(res.headers['x-powered-by']).toBeUndefined();
      return res;
    };
    for (const request of DOCUMENT_REQUESTS) await check(request, full, 'document');
    for (const request of API_REQUESTS) {
      const res = await check({ ...request, headers: { authorization: keys.all.auth } } as InjectOptions, api, 'API');
      expect(res.headers['origin-agent-cluster'], `${request.url}`).toBeUndefined();
    }
    // A refusal by the guard carries them too.
    const refused = await check({ method: 'POST', url: '/predict', payload: exampleLoan }, api, 'refusal');
    expect(refused.statusCode).toBe(401);
  });

  it('sets a policy that forbids foreign scripts, framing and plugins, without forcing https', async () => {
    const app = await build();
    const res = await app.inject('/docs/');
    const policy = csp(res.headers['content-security-policy'] as string);
    expect(policy.get('default-src')).toEqual(["'self'"]);
    expect(policy.get('script-src')).toEqual(["'self'"]);
    expect(policy.get('script-src-attr')).toEqual(["'none'"]);
    expect(policy.get('object-src')).toEqual(["'none'"]);
    expect(policy.get('frame-ancestors')).toEqual(["'self'"]);
    expect(policy.get('base-uri')).toEqual(["'self'"]);
    expect(policy.has('upgrade-insecure-requests')).toBe(false);
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.headers['x-frame-options']).toBe('SAMEORIGIN');
    expect(res.headers['referrer-policy']).toBe('no-referrer');
  });

  it('keeps Swagger UI and the web page within that policy: same-origin scripts and styles only, no inline script', async () => {
    const app = await build();
    for (const page of ['/docs/', '/']) {
      const html = (await app.inject(page)).body;
      // Inline <script> (without src) and inline event handlers would be blocked by script-src 'self'.
      const scripts = [...html.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/gi)];
      expect(scripts.length, page).toBeGreaterThan(0);
      for (const [, attributes, body] of scripts) {
        expect(attributes, page).toMatch(/\bsrc="/);
        expect(body?.trim(), page).toBe('');
      }
      expect(html, page).not.toMatch(/\son[a-z]+\s*=/i);
      // Every script and stylesheet is same-origin and served with the right type.
      const assets = [...html.matchAll(/<(?:script|link)\b[^>]*(?:src|href)="([^"]+)"/gi)].map((m) => m[1] as string);
      for (const asset of assets) {
        expect(asset, `${page}: ${asset}`).not.toMatch(/^(https?:)?\/\//);
        const url = new URL(asset, `http://service${page}`).pathname;
        const res = await app.inject(url);
        expect(res.statusCode, url).toBe(200);
        if (url.endsWith('.js')) expect(res.headers['content-type'], url).toMatch(/javascript/);
        if (url.endsWith('.css')) expect(res.headers['content-type'], url).toMatch(/text\/css/);
      }
    }
  });
});

describe('CORS', () => {
  const preflight = (app: FastifyInstance, origin: string) =>
    app.inject({
      method: 'OPTIONS',
      url: '/predict',
      headers: {
        origin,
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'authorization, content-type',
      },
    });

  it('is closed by default: no Access-Control-* header for any origin, no preflight', async () => {
    const app = await build();
    const res = await app.inject({
      method: 'POST',
      url: '/predict',
      payload: exampleLoan,
      headers: { origin: 'https://evil.example' },
    });
    expect(res.statusCode).toBe(200);
    expect(Object.keys(res.headers).filter((h) => h.startsWith('access-control-'))).toEqual([]);
    const pre = await preflight(app, 'https://evil.example');
    expect(pre.statusCode).toBe(404);
    expect(pre.headers['access-control-allow-origin']).toBeUndefined();
  });

  it('allows exactly the CORS_ORIGINS, preflight included, even with API keys on', async () => {
    const app = await build({ CORS_ORIGINS: 'https://app.example.com,http://localhost:3000', API_KEYS });
    const pre = await preflight(app, 'https://app.example.com');
    expect(pre.statusCode).toBe(204);
    expect(pre.headers['access-control-allow-origin']).toBe('https://app.example.com');
    expect(String(pre.headers['access-control-allow-headers'])).toMatch(/authorization/);
    expect(String(pre.headers['access-control-allow-methods'])).toMatch(/POST/);
    expect(pre.headers['access-control-allow-credentials']).toBeUndefined();

    const other = await preflight(app, 'https://evil.example');
    expect(other.headers['access-control-allow-origin']).toBeUndefined();

    const res = await app.inject({
      method: 'POST',
      url: '/predict',
      payload: exampleLoan,
      headers: { origin: 'http://localhost:3000', authorization: keys.predict.auth },
    });
    expect(res.statusCode).toBe(200);
    expect(res.headers['access-control-allow-origin']).toBe('http://localhost:3000');
    expect(String(res.headers['access-control-expose-headers'])).toMatch(/x-request-id.*retry-after/);
    // CORS lets a browser read answers; it never replaces the key.
    const anonymous = await app.inject({
      method: 'POST',
      url: '/predict',
      payload: exampleLoan,
      headers: { origin: 'https://app.example.com' },
    });
    expect(anonymous.statusCode).toBe(401);
  });
});

describe('what errors reveal', () => {
  it('answers a fault with a generic 500: no stack, no message, no path; the details go to the log', async () => {
    const { app, text } = await buildLogged({}, (app) =>
      app.register(async (plugin) => {
        plugin.get('/explode', { config: { auth: 'public' } }, async () => {
          throw new Error(`cannot open ${process.cwd()}/model-artifacts/secret.json`);
        });
      }),
    );
    const res = await app.inject('/explode');
    expect(res.statusCode).toBe(500);
    expect(res.json()).toEqual({
      statusCode: 500,
      code: 'INTERNAL_SERVER_ERROR',
      error: 'Internal Server Error',
      message: 'Internal server error; the details are in the service log.',
    });
    expect(res.body).not.toContain(process.cwd());
    expect(text()).toContain('secret.json');
  });

  it('refuses prototype poisoning in /predict and in JSON tapes, and nothing is polluted', async () => {
    const app = await build();
    const bodies = [
      `{"__proto__": {"polluted": true}, "credit_score": 700}`,
      `{"constructor": {"prototype": {"polluted": true}}, "credit_score": 700}`,
      `{"loans": [{"__proto__": {"polluted": true}}]}`,
    ];
    for (const payload of bodies) {
      const res = await app.inject({
        method: 'POST',
        url: '/predict',
        payload,
        headers: { 'content-type': 'application/json' },
      });
      expect(res.statusCode, payload).toBe(400);
      // Refused while parsing (secure-json-parse), with Fastify's code and the reason.
      expect(res.json().code, payload).toBe('FST_ERR_CTP_INVALID_JSON_BODY');
      expect(res.json().message, payload).toBe(
        'The body cannot be read: it has a "__proto__" key, or a "constructor" key holding a "prototype": refused (prototype poisoning)',
      );
    }
    const loan = JSON.stringify(exampleLoan).slice(1, -1);
    for (const element of [
      `{"__proto__": {"polluted": true}, ${loan}}`,
      `{"constructor": {"prototype": {"polluted": true}}, ${loan}}`,
    ]) {
      const res = await app.inject({
        method: 'POST',
        url: '/pools/score',
        payload: `{"loans": [${element}]}`,
        headers: { 'content-type': 'application/json' },
      });
      expect(res.statusCode, element).toBe(400);
      expect(res.json().details[0]).toMatchObject({ field: expect.stringMatching(/__proto__|constructor/) });
    }
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.prototype).not.toHaveProperty('polluted');
  });
});
