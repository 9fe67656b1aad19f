import type { FastifyInstance, RouteOptions } from 'fastify';
import { describe, expect, it } from 'vitest';
import { AUTH_LEVELS, THIRD_PARTY_ROUTES, thirdPartyRoute } from '../../plugins/security/levels.js';
import { buildApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { API_KEYS } from './helpers.js';

/**
 * Every route of the service declares who may call it. Routes are collected by an onRoute hook
 * added before any plugin loads (so it sees every route, with the options its plugin gave it), then
 * checked once the app is ready (when child plugins' hooks have finished writing `config`).
 */

interface Collected {
  method: string;
  url: string;
  options: RouteOptions;
}

async function collect(env: Record<string, string>): Promise<{ app: FastifyInstance; routes: Collected[] }> {
  const app = buildApp(loadConfig({ LOG_LEVEL: 'silent', MODEL_WARMUP_MS: '0', ...env }), { logger: false });
  const routes: Collected[] = [];
  app.addHook('onRoute', (options) => {
    const methods = Array.isArray(options.method) ? options.method : [options.method];
    for (const method of methods) routes.push({ method, url: options.url, options });
  });
  await app.ready();
  return { app, routes };
}

/** A concrete URL for a route template. */
function concrete(url: string): string {
  return url.replace(':name', 'xgboost').replace(':version', '1.0.0').replace(/:\w+/g, 'x').replace('*', 'x');
}

describe('every route declares config.auth', () => {
  it('public, ops, predict or admin on every route; third-party routes only where listed', async () => {
    // With CORS on, so that @fastify/cors's preflight route is there too.
    const { app, routes } = await collect({ CORS_ORIGINS: 'https://app.example.com' });
    try {
      expect(routes.length).toBeGreaterThan(20);
      const problems: string[] = [];
      const usedThirdParty = new Set<string>();
      for (const r of routes) {
        const declared = (r.options.config as { auth?: unknown } | undefined)?.auth;
        if (declared !== undefined) {
          if (!(AUTH_LEVELS as readonly unknown[]).includes(declared)) {
            problems.push(`${r.method} ${r.url}: config.auth ${JSON.stringify(declared)} is not a level`);
          }
          continue;
        }
        const known = thirdPartyRoute(r.method, r.url);
        if (known) usedThirdParty.add(`${known.plugin} ${known.url}`);
        else problems.push(`${r.method} ${r.url}: no config.auth (add config: { auth: ... } to its route options)`);
      }
      expect(problems).toEqual([]);
      // No stale entries: each third-party entry covers routes that exist.
      expect([...usedThirdParty].sort()).toEqual(THIRD_PARTY_ROUTES.map((t) => `${t.plugin} ${t.url}`).sort());
      // The service's own view agrees: no route falls back to the default.
      expect(app.apiKeys.routes().filter((r) => r.source === 'default')).toEqual([]);
      // The routes the service is known for, with the level the design gives them.
      const level = (method: string, url: string) =>
        app.apiKeys.routes().find((r) => r.url === url && r.method.split(',').includes(method))?.level;
      expect(level('POST', '/predict')).toBe('predict');
      expect(level('POST', '/pools/score')).toBe('predict');
      expect(level('GET', '/models')).toBe('predict');
      expect(level('GET', '/models/:name')).toBe('predict');
      expect(level('GET', '/health/live')).toBe('ops');
      expect(level('GET', '/health/ready')).toBe('ops');
      expect(level('GET', '/metrics')).toBe('ops');
      expect(level('GET', '/openapi.json')).toBe('public');
      expect(level('GET', '/docs')).toBe('public');
      expect(level('POST', '/admin/keys/reload')).toBe('admin');
    } finally {
      await app.close();
    }
  });

  it('refuses an anonymous request on every route that is not public, when keys are configured', async () => {
    const { app, routes } = await collect({ API_KEYS, AUTH_OPS: 'protected' });
    try {
      const checked: string[] = [];
      for (const r of app.apiKeys.routes()) {
        const methods = r.method.split(',').filter((m) => m !== 'HEAD');
        for (const method of methods) {
          const url = concrete(r.url);
          const res = await app.inject({ method: method as 'GET', url });
          const label = `${method} ${r.url} (${r.level})`;
          if (r.level === 'public') expect(res.statusCode, label).not.toBe(401);
          else {
            expect(res.statusCode, label).toBe(401);
            expect(res.headers['www-authenticate'], label).toMatch(/^Bearer realm=/);
            // The project's error shape, or the Open Inference Protocol's ({"error"}) under /v2.
            const body = res.json();
            if (r.url === '/v2' || r.url.startsWith('/v2/')) expect(body.error, label).toMatch(/API key/);
            else expect(body.code, label).toBe('UNAUTHORIZED');
          }
          checked.push(label);
        }
      }
      // Every collected route was exercised (the service's list is complete).
      const collected = new Set(routes.filter((r) => r.method !== 'HEAD').map((r) => `${r.method} ${r.url}`));
      const exercised = new Set(checked.map((c) => c.replace(/ \(\w+\)$/, '')));
      expect([...collected].filter((c) => !exercised.has(c))).toEqual([]);
      expect(checked.filter((c) => !c.endsWith('(public)')).length).toBeGreaterThanOrEqual(8);
    } finally {
      await app.close();
    }
  });
});
