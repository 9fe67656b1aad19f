import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { InjectOptions } from 'fastify';
import { describe, expect, it, vi } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.js';
import {
  bearerToken,
  KeyRing,
  keyLine,
  MAX_TOKEN_LENGTH,
  newToken,
  parseKeyList,
  tokenHash,
} from '../../src/security/keys.js';
import { build, exampleLoan } from '../helpers/app.js';
import { tempDir } from '../helpers/temp.js';
import { API_KEYS, buildLogged, keys, listen, makeKey, rawExchange, rawStatus } from './helpers.js';

// Counts timingSafeEqual calls (the real function still answers) to prove there is no early exit.
const calls = vi.hoisted(() => ({ timingSafeEqual: 0 }));
vi.mock('node:crypto', async (importOriginal) => {
  const real = await importOriginal<typeof import('node:crypto')>();
  return {
    ...real,
    timingSafeEqual: (a: NodeJS.ArrayBufferView, b: NodeJS.ArrayBufferView) => {
      calls.timingSafeEqual++;
      return real.timingSafeEqual(a, b);
    },
  };
});

const predictBody = { method: 'POST' as const, url: '/predict', payload: exampleLoan };

describe('API key entries (src/security/keys.ts)', () => {
  it('parses a keys file: one entry a line, comments and blank lines skipped', () => {
    const a = newToken();
    const b = newToken();
    const entries = parseKeyList(
      `# service keys\n\n${keyLine('scorer', a, ['predict'])}\n  ${keyLine('ops.bot-2', b, ['predict', 'admin'])}  # rotated 2026-11\n`,
    );
    expect(entries.map((e) => [e.name, [...e.scopes]])).toEqual([
      ['scorer', ['predict']],
      ['ops.bot-2', ['predict', 'admin']],
    ]);
    expect(entries[0]?.hash.toString('hex')).toBe(tokenHash(a));
    // API_KEYS: whitespace- or ;-separated on one line; upper-case hex is accepted.
    const line = `${keyLine('x', a, ['ops'])};${keyLine('y', b, ['admin']).toUpperCase().replace('Y:', 'y:').replace(':ADMIN', ':admin')}`;
    expect(parseKeyList(line).map((e) => e.name)).toEqual(['x', 'y']);
  });

  it('refuses bad entries, naming the line and the problem, never echoing a token', () => {
    const token = newToken();
    const hash = tokenHash(token);
    const bad: [string, RegExp][] = [
      [`scorer:${hash}`, /line 1|entry 1/],
      [`a:${hash}:predict\nscorer:${token}:predict`, /line 2: the key "scorer" must give the SHA-256 of its token/],
      [`scorer:${hash}:predict,root`, /unknown scope "root"; scopes are predict, admin, ops/],
      [`-x:${hash}:predict`, /the name must be/],
      [`a:${hash}:predict\na:${tokenHash(newToken())}:admin`, /line 2: the name "a" is used twice/],
      [`a:${hash}:predict\nb:${hash}:admin`, /line 2: the key "b" has the same hash as another key/],
      [`a:${hash}:`, /unknown scope ""/],
    ];
    for (const [text, message] of bad) {
      let error: Error | undefined;
      try {
        parseKeyList(text);
      } catch (err) {
        error = err as Error;
      }
      expect(error?.message, text).toMatch(message);
      expect(error?.message).not.toContain(token);
    }
  });

  it('reads only Bearer tokens, refusing malformed and oversized ones', () => {
    expect(bearerToken(undefined)).toBe('missing');
    expect(bearerToken('')).toBe('missing');
    expect(bearerToken('Basic dXNlcjpwYXNz')).toBe('missing');
    expect(bearerToken('Bearer')).toBe('missing');
    expect(bearerToken('bearer abc-DEF_123.~+/==')).toBe('abc-DEF_123.~+/==');
    expect(bearerToken('Bearer ')).toBe('malformed');
    expect(bearerToken('Bearer a b')).toBe('malformed');
    expect(bearerToken('Bearer tok"en')).toBe('malformed');
    expect(bearerToken(`Bearer ${'a'.repeat(MAX_TOKEN_LENGTH)}`)).toBe('a'.repeat(MAX_TOKEN_LENGTH));
    expect(bearerToken(`Bearer ${'a'.repeat(MAX_TOKEN_LENGTH + 1)}`)).toBe('malformed');
  });

  it('compares the token hash with every configured hash, without stopping at the first match', () => {
    const tokens = Array.from({ length: 5 }, () => newToken());
    const ring = new KeyRing(parseKeyList(tokens.map((t, i) => keyLine(`k${i}`, t, ['predict'])).join('\n')));
    for (const [token, expected] of [
      [tokens[0], 'k0'],
      [tokens[4], 'k4'],
      [newToken(), undefined],
    ] as const) {
      calls.timingSafeEqual = 0;
      expect(ring.verify(token as string)?.name).toBe(expected);
      expect(calls.timingSafeEqual).toBe(5);
    }
  });

  it('validates the security variables, naming the variable', () => {
    const bad: [Record<string, string>, RegExp][] = [
      [{ API_KEYS: 'scorer:nothex:predict' }, /^invalid configuration: API_KEYS entry 1: the key "scorer" must give/],
      [{ AUTH_OPS: 'closed' }, /AUTH_OPS must be one of open, protected/],
      [{ RATE_LIMIT_MAX: 'lots' }, /RATE_LIMIT_MAX must be a whole number/],
      [{ RATE_LIMIT_WINDOW_MS: '10' }, /RATE_LIMIT_WINDOW_MS must be between 1000/],
      [{ CORS_ORIGINS: 'https://app.example.com/' }, /CORS_ORIGINS must list origins as scheme:\/\/host/],
      [{ CORS_ORIGINS: '*,https://a.example' }, /CORS_ORIGINS must be "\*" alone/],
      [{ TRUST_PROXY: 'yes' }, /TRUST_PROXY must be true, false or a comma list/],
      [{ REQUEST_TIMEOUT_MS: '-1' }, /REQUEST_TIMEOUT_MS must be a whole number/],
      [{ MAX_EVENT_LOOP_DELAY_MS: '1e3' }, /MAX_EVENT_LOOP_DELAY_MS must be a whole number/],
    ];
    for (const [env, message] of bad) {
      expect(() => loadConfig(env)).toThrow(ConfigError);
      expect(() => loadConfig(env)).toThrow(message);
    }
    const defaults = loadConfig({});
    expect(defaults).toMatchObject({
      apiKeys: [],
      apiKeysFile: undefined,
      authOps: 'open',
      rateLimitMax: 0,
      corsOrigins: [],
      trustProxy: false,
      requestTimeoutMs: 120_000,
      maxEventLoopDelayMs: 0,
    });
    expect(loadConfig({ TRUST_PROXY: '10.0.0.0/8, 192.168.1.7' }).trustProxy).toBe('10.0.0.0/8,192.168.1.7');
    // Load shedding is on in production (the image), off in development and tests.
    expect(loadConfig({ NODE_ENV: 'production' }).maxEventLoopDelayMs).toBe(200);
  });
});

describe('authentication on the routes', () => {
  it('is off by default: every route answers without a key', async () => {
    const app = await build();
    expect(app.apiKeys.enabled).toBe(false);
    expect((await app.inject(predictBody)).statusCode).toBe(200);
    expect((await app.inject('/models')).statusCode).toBe(200);
  });

  it('answers 401 with WWW-Authenticate: Bearer without a key, or with an unknown or malformed one', async () => {
    const app = await build({ API_KEYS });
    for (const [authorization, challenge] of [
      [undefined, 'Bearer realm="loan-default-service"'],
      ['Basic c2NvcmVyOnNlY3JldA==', 'Bearer realm="loan-default-service"'],
      [`Bearer ${newToken()}`, 'Bearer realm="loan-default-service", error="invalid_token"'],
      [`Bearer ${keys.predict.token}x`, 'Bearer realm="loan-default-service", error="invalid_token"'],
      ['Bearer not a token', 'Bearer realm="loan-default-service", error="invalid_token"'],
      // The hash itself is not a token.
      [`Bearer ${tokenHash(keys.predict.token)}`, 'Bearer realm="loan-default-service", error="invalid_token"'],
    ] as const) {
      const res = await app.inject({ ...predictBody, headers: authorization ? { authorization } : {} });
      expect(res.statusCode, authorization).toBe(401);
      expect(res.headers['www-authenticate']).toBe(challenge);
      expect(res.json()).toEqual({
        statusCode: 401,
        code: 'UNAUTHORIZED',
        error: 'Unauthorized',
        message: expect.stringMatching(/API key/),
      });
    }
  });

  it('answers 403 naming the scope when the key lacks it, and serves a key that has it', async () => {
    const app = await build({ API_KEYS });
    const forbidden = await app.inject({ ...predictBody, headers: { authorization: keys.admin.auth } });
    expect(forbidden.statusCode).toBe(403);
    expect(forbidden.json()).toEqual({
      statusCode: 403,
      code: 'FORBIDDEN',
      error: 'Forbidden',
      message: 'the API key "operator" lacks the "predict" scope this route needs',
    });
    expect(forbidden.headers['www-authenticate']).toContain('error="insufficient_scope", scope="predict"');
    for (const key of [keys.predict, keys.all]) {
      const ok = await app.inject({ ...predictBody, headers: { authorization: key.auth } });
      expect(ok.statusCode).toBe(200);
      expect(ok.json().probability_of_default).toBeGreaterThan(0);
    }
    // The scheme name is case-insensitive (RFC 6750).
    const lower = await app.inject({ ...predictBody, headers: { authorization: `bearer ${keys.predict.token}` } });
    expect(lower.statusCode).toBe(200);
  });

  it('guards every scoring route with predict and key management with admin', async () => {
    const app = await build({ API_KEYS });
    const csv = `credit_score,first_payment_date\n700,200601\n`;
    const scoring: InjectOptions[] = [
      predictBody,
      { method: 'POST', url: '/pools/score', payload: csv, headers: { 'content-type': 'text/csv' } },
      { method: 'GET', url: '/models' },
      { method: 'GET', url: '/models/xgboost' },
    ];
    for (const request of scoring) {
      const anonymous = await app.inject(request);
      expect(anonymous.statusCode, String(request.url)).toBe(401);
      const wrong = await app.inject({ ...request, headers: { ...request.headers, authorization: keys.ops.auth } });
      expect(wrong.statusCode, String(request.url)).toBe(403);
      const right = await app.inject({ ...request, headers: { ...request.headers, authorization: keys.predict.auth } });
      expect(right.statusCode, String(request.url)).not.toBe(401);
      expect(right.statusCode, String(request.url)).not.toBe(403);
    }
    const reload = { method: 'POST' as const, url: '/admin/keys/reload', headers: { 'x-requested-with': 'test' } };
    expect((await app.inject(reload)).statusCode).toBe(401);
    expect(
      (await app.inject({ ...reload, headers: { ...reload.headers, authorization: keys.predict.auth } })).statusCode,
    ).toBe(403);
    const admin = await app.inject({ ...reload, headers: { ...reload.headers, authorization: keys.admin.auth } });
    // Keys from API_KEYS alone cannot be reloaded: the admin is told how to rotate instead.
    expect(admin.statusCode).toBe(409);
    expect(admin.json()).toMatchObject({
      code: 'KEYS_NOT_RELOADABLE',
      message: expect.stringContaining('API_KEYS_FILE'),
    });
  });

  it('leaves public routes open, ops routes open by default and protected with AUTH_OPS=protected', async () => {
    const open = await build({ API_KEYS });
    for (const url of ['/', '/docs/', '/openapi.json', '/docs/json', '/health/live', '/health/ready', '/metrics']) {
      expect((await open.inject(url)).statusCode, url).toBe(200);
    }
    const closed = await build({ API_KEYS, AUTH_OPS: 'protected' });
    for (const url of ['/health/live', '/health/ready', '/metrics']) {
      expect((await closed.inject(url)).statusCode, url).toBe(401);
      expect((await closed.inject({ url, headers: { authorization: keys.predict.auth } })).statusCode, url).toBe(403);
      expect((await closed.inject({ url, headers: { authorization: keys.ops.auth } })).statusCode, url).toBe(200);
    }
    for (const url of ['/', '/docs/', '/openapi.json']) expect((await closed.inject(url)).statusCode, url).toBe(200);
  });

  it('treats a route without config.auth as admin (fail closed) and names it in a warning', async () => {
    const { app, lines } = await buildLogged({ API_KEYS }, (app) => {
      // In a plugin, as every route of the service is: named at start-up.
      app.register(async (plugin) => {
        plugin.get('/undeclared', async () => ({ ok: true }));
        plugin.get('/misspelt', { config: { auth: 'pubic' as 'public' } }, async () => ({ ok: true }));
      });
      // Straight on the root instance, before any plugin loads: still guarded, named at first use.
      app.get('/on-root', async () => ({ ok: true }));
    });
    for (const url of ['/undeclared', '/misspelt', '/on-root']) {
      expect((await app.inject(url)).statusCode, url).toBe(401);
      expect((await app.inject({ url, headers: { authorization: keys.predict.auth } })).statusCode, url).toBe(403);
      expect((await app.inject({ url, headers: { authorization: keys.admin.auth } })).statusCode, url).toBe(200);
    }
    const warning = lines().find((l) => String(l.msg).startsWith('routes without config.auth'));
    expect(warning?.routes).toEqual(expect.arrayContaining(['GET /undeclared', 'GET /misspelt']));
    expect(warning?.level).toBe(40);
    const late = lines().filter((l) => l.msg === 'route without config.auth: treated as admin');
    expect(late.map((l) => l.route)).toContain('GET /on-root');
  });

  it("logs the key's name on its requests and never a token", async () => {
    const { app, text, lines } = await buildLogged({ API_KEYS });
    await app.inject({ ...predictBody, headers: { authorization: keys.predict.auth } });
    await app.inject({ ...predictBody, headers: { authorization: keys.admin.auth } });
    await app.inject({ ...predictBody, headers: { authorization: `Bearer ${newToken()}` } });
    await app.inject(predictBody);
    const requests = lines().filter((l) => l.msg === 'request completed');
    expect(requests.map((l) => [l.statusCode, l.key, l.auth])).toEqual([
      [200, 'scorer', undefined],
      [403, 'operator', 'forbidden'],
      [401, undefined, 'invalid'],
      [401, undefined, 'missing'],
    ]);
    for (const key of Object.values(keys)) expect(text()).not.toContain(key.token);
    expect(text()).not.toMatch(/authorization/i);
  });

  it('closes the connection on a refused request with a body, instead of reading the upload', async () => {
    const app = await build({ API_KEYS });
    const port = await listen(app);
    // Headers announcing a 1 GiB tape, a few bytes of it, no key: answered at once, then closed.
    const res = await rawExchange(port, [
      'POST /pools/score HTTP/1.1\r\nHost: x\r\nContent-Type: text/csv\r\nContent-Length: 1073741824\r\n\r\ncredit_score\n700\n',
    ]);
    expect(rawStatus(res.data)).toBe(401);
    expect(res.data).toMatch(/\r\nconnection: close\r\n/i);
    expect(res.closed).toBe(true);
    expect(res.ms).toBeLessThan(2000);
  });
});

describe('key rotation without a restart (API_KEYS_FILE)', () => {
  const withFile = (content: string) => {
    const dir = tempDir('keys-');
    const file = join(dir, 'api-keys');
    writeFileSync(file, content);
    return {
      file,
      write: (text: string) => writeFileSync(file, text),
      cleanup: () => rmSync(dir, { recursive: true }),
    };
  };

  it('adds a key, then removes the old one, on POST /admin/keys/reload and app.apiKeys.reload()', async () => {
    const oldKey = makeKey('client-2025', ['predict']);
    const newKey = makeKey('client-2026', ['predict']);
    const f = withFile(`${oldKey.line}\n`);
    try {
      const app = await build({ API_KEYS_FILE: f.file, API_KEYS: keys.admin.line });
      const score = (key: { auth: string }) =>
        app.inject({ ...predictBody, headers: { authorization: key.auth } }).then((r) => r.statusCode);
      expect(await score(oldKey)).toBe(200);
      expect(await score(newKey)).toBe(401);

      // 1. Add the new key next to the old one; clients move over.
      f.write(`${oldKey.line}\n${newKey.line}\n`);
      const reload = await app.inject({
        method: 'POST',
        url: '/admin/keys/reload',
        headers: { authorization: keys.admin.auth, 'x-requested-with': 'test' },
      });
      expect(reload.statusCode).toBe(200);
      expect(reload.json()).toMatchObject({ keys: 3, names: ['operator', 'client-2025', 'client-2026'] });
      expect(await score(oldKey)).toBe(200);
      expect(await score(newKey)).toBe(200);

      // 2. Remove the old key.
      f.write(`${newKey.line}\n`);
      expect(await app.apiKeys.reload()).toEqual({ ok: true, keys: 2, names: ['operator', 'client-2026'] });
      expect(await score(oldKey)).toBe(401);
      expect(await score(newKey)).toBe(200);

      // A broken file changes nothing: the keys in use stay.
      f.write(`${newKey.line}\nclient-2027:${newKey.token}:predict\n`);
      const broken = await app.inject({
        method: 'POST',
        url: '/admin/keys/reload',
        headers: { authorization: keys.admin.auth, 'x-requested-with': 'test' },
      });
      expect(broken.statusCode).toBe(409);
      expect(broken.json()).toMatchObject({
        code: 'KEYS_RELOAD_FAILED',
        message: expect.stringMatching(
          /line 2: the key "client-2027" must give the SHA-256.*the 2 keys in use are unchanged/,
        ),
      });
      expect(broken.body).not.toContain(newKey.token);
      expect(broken.body).not.toContain(f.file);
      expect(await score(newKey)).toBe(200);
    } finally {
      f.cleanup();
    }
  });

  it('notices a changed file by itself (every worker of a cluster polls it)', async () => {
    const first = makeKey('first', ['predict']);
    const second = makeKey('second', ['predict']);
    const f = withFile(`${first.line}\n`);
    try {
      const app = await build({ API_KEYS_FILE: f.file });
      await new Promise((r) => setTimeout(r, 50));
      f.write(`${second.line}\n`);
      await vi.waitFor(
        async () => {
          const res = await app.inject({ ...predictBody, headers: { authorization: second.auth } });
          expect(res.statusCode).toBe(200);
        },
        { timeout: 8000, interval: 200 },
      );
      expect((await app.inject({ ...predictBody, headers: { authorization: first.auth } })).statusCode).toBe(401);
    } finally {
      f.cleanup();
    }
  }, 15_000);

  it('refuses to start on a missing or broken keys file, naming it', async () => {
    await expect(build({ API_KEYS_FILE: '/nonexistent/api-keys' })).rejects.toThrow(
      /API_KEYS_FILE \/nonexistent\/api-keys: cannot read it \(ENOENT\)/,
    );
    const f = withFile('scorer:abc:predict\n');
    try {
      await expect(build({ API_KEYS_FILE: f.file })).rejects.toThrow(/API_KEYS_FILE .*: entry 1: the key "scorer"/);
    } finally {
      f.cleanup();
    }
    // An empty file is valid: authentication is on and nobody gets in until keys are added.
    const empty = withFile('# no keys yet\n');
    try {
      const app = await build({ API_KEYS_FILE: empty.file });
      expect(app.apiKeys.enabled).toBe(true);
      expect((await app.inject(predictBody)).statusCode).toBe(401);
    } finally {
      empty.cleanup();
    }
  });
});

describe('the warning for an open service', () => {
  it('warns loudly when listening beyond loopback without keys, and only then', async () => {
    const exposed = await buildLogged({ LOG_LEVEL: 'warn' });
    await listen(exposed.app, '0.0.0.0');
    const warning = exposed.lines().find((l) => String(l.msg).startsWith('NO API KEYS'));
    expect(warning?.level).toBe(40);
    expect(String(warning?.msg)).toMatch(/listening on 0\.0\.0\.0:\d+, reachable from other machines.*API_KEYS/);

    const local = await buildLogged({ LOG_LEVEL: 'warn' });
    await listen(local.app, '127.0.0.1');
    const guarded = await buildLogged({ LOG_LEVEL: 'warn', API_KEYS });
    await listen(guarded.app, '0.0.0.0');
    for (const { text } of [local, guarded]) expect(text()).not.toContain('NO API KEYS');
  });
});
