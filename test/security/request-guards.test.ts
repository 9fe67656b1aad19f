import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { ADMIN_REQUEST_HEADER } from '../../plugins/security/auth.js';
import { MAX_REQUEST_ID_LENGTH } from '../../src/security/request-id.js';
import { build, exampleLoan } from '../helpers/app.js';
import { tempDir } from '../helpers/temp.js';
import { buildLogged, keys, makeKey } from './helpers.js';

/** Issue 18, items 9 and 12: the keys file, admin routes against cross-site forms, request bodies and ids. */

const predictBody = { method: 'POST' as const, url: '/predict', payload: exampleLoan };

describe('a missing keys file means no valid keys', () => {
  it('revokes every key of a deleted API_KEYS_FILE at the next reload, loudly', async () => {
    const key = makeKey('client', ['predict']);
    const dir = tempDir('keys-');
    const file = join(dir, 'api-keys');
    writeFileSync(file, `${key.line}\n`);
    try {
      const { app, lines } = await buildLogged({ API_KEYS_FILE: file });
      const score = () =>
        app.inject({ ...predictBody, headers: { authorization: key.auth } }).then((r) => r.statusCode);
      expect(await score()).toBe(200);
      rmSync(file);
      const outcome = await app.apiKeys.reload();
      expect(outcome).toMatchObject({ ok: false, code: 'KEYS_FILE_MISSING', keys: 0 });
      expect(await score()).toBe(401);
      const loud = lines().find((l) => String(l.msg).includes('API_KEYS_FILE cannot be read'));
      expect(loud?.level).toBe(50);
      // Back again: its keys work again.
      writeFileSync(file, `${key.line}\n`);
      expect(await app.apiKeys.reload()).toMatchObject({ ok: true, keys: 1 });
      expect(await score()).toBe(200);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('admin routes refuse what a cross-site form can send', () => {
  it('answers 403 without a JSON body or the admin header, with or without keys', async () => {
    const open = await build();
    const form = await open.inject({
      method: 'POST',
      url: '/admin/models/reload',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: 'a=1',
    });
    expect(form.statusCode).toBe(403);
    expect(form.json().code).toBe('ADMIN_HEADER_REQUIRED');
    expect(form.json().message).toContain(ADMIN_REQUEST_HEADER);
    for (const type of ['text/plain', 'multipart/form-data; boundary=x']) {
      const res = await open.inject({
        method: 'POST',
        url: '/admin/models/reload',
        headers: { 'content-type': type },
        payload: '--x--',
      });
      expect(res.statusCode, type).toBe(403);
    }
    expect((await open.inject({ method: 'POST', url: '/admin/models/reload' })).statusCode).toBe(403);
    const ok = await open.inject({
      method: 'POST',
      url: '/admin/models/reload',
      headers: { [ADMIN_REQUEST_HEADER]: '1' },
    });
    expect(ok.statusCode).toBe(200);
    const json = await open.inject({ method: 'POST', url: '/admin/models/reload', payload: {} });
    expect(json.statusCode).toBe(200);

    const closed = await build({ API_KEYS: keys.admin.line });
    const keyed = await closed.inject({
      method: 'POST',
      url: '/admin/models/reload',
      headers: { authorization: keys.admin.auth },
    });
    expect(keyed.statusCode).toBe(403);
    const both = await closed.inject({
      method: 'POST',
      url: '/admin/models/reload',
      headers: { authorization: keys.admin.auth, [ADMIN_REQUEST_HEADER]: 'fetch' },
    });
    expect(both.statusCode).toBe(200);
  });
});

describe('/predict reads only the encodings and charsets it knows', () => {
  it('answers 415 for a Content-Encoding other than identity, naming it', async () => {
    const app = await build();
    const body = JSON.stringify(exampleLoan);
    for (const encoding of ['gzip', 'br', 'deflate', 'x-unknown', 'gzip, identity']) {
      const res = await app.inject({
        method: 'POST',
        url: '/predict',
        headers: { 'content-type': 'application/json', 'content-encoding': encoding },
        payload: encoding.startsWith('gzip') ? gzipSync(body) : body,
      });
      expect(res.statusCode, encoding).toBe(415);
      expect(res.json().code).toBe('FST_ERR_CTP_INVALID_MEDIA_TYPE');
      expect(res.json().message).toContain(JSON.stringify(encoding));
    }
    const identity = await app.inject({
      method: 'POST',
      url: '/predict',
      headers: { 'content-type': 'application/json', 'content-encoding': 'identity' },
      payload: body,
    });
    expect(identity.statusCode).toBe(200);
  });

  it('accepts charset utf-8, and answers 415 naming any other charset', async () => {
    const app = await build();
    const body = JSON.stringify(exampleLoan);
    for (const type of ['application/json; charset=utf-8', 'application/json; charset="UTF-8"', 'application/json']) {
      const res = await app.inject({
        method: 'POST',
        url: '/predict',
        headers: { 'content-type': type },
        payload: body,
      });
      expect(res.statusCode, type).toBe(200);
    }
    for (const charset of ['utf-16', 'latin1', 'iso-8859-1']) {
      const res = await app.inject({
        method: 'POST',
        url: '/predict',
        headers: { 'content-type': `application/json; charset=${charset}` },
        payload: body,
      });
      expect(res.statusCode, charset).toBe(415);
      expect(res.json().message).toContain(charset);
    }
  });
});

describe('request ids', () => {
  it('carries x-request-id on guard refusals (401, 403, 429)', async () => {
    const app = await build({ API_KEYS: keys.predict.line, RATE_LIMIT_MAX: '1' });
    const anonymous = await app.inject(predictBody);
    expect(anonymous.statusCode).toBe(401);
    expect(anonymous.headers['x-request-id']).toBeTruthy();
    const forbidden = await app.inject({
      method: 'POST',
      url: '/admin/models/reload',
      headers: { authorization: keys.predict.auth },
    });
    expect(forbidden.statusCode).toBe(403);
    expect(forbidden.headers['x-request-id']).toBeTruthy();
    const limited = await app.inject({ ...predictBody, headers: { authorization: keys.predict.auth } });
    const again = await app.inject({ ...predictBody, headers: { authorization: keys.predict.auth } });
    expect([limited.statusCode, again.statusCode]).toContain(429);
    const refused = limited.statusCode === 429 ? limited : again;
    expect(refused.headers['x-request-id']).toBeTruthy();
  });

  it("keeps a client's short printable id, replaces a long or unprintable one", async () => {
    const app = await build();
    const mine = await app.inject({ url: '/health/live', headers: { 'x-request-id': 'abc-123' } });
    expect(mine.headers['x-request-id']).toBe('abc-123');
    const long = 'x'.repeat(MAX_REQUEST_ID_LENGTH + 1);
    const tooLong = await app.inject({ url: '/health/live', headers: { 'x-request-id': long } });
    expect(tooLong.headers['x-request-id']).not.toBe(long);
    expect(String(tooLong.headers['x-request-id']).length).toBeLessThanOrEqual(MAX_REQUEST_ID_LENGTH);
    const edge = 'y'.repeat(MAX_REQUEST_ID_LENGTH);
    expect((await app.inject({ url: '/health/live', headers: { 'x-request-id': edge } })).headers['x-request-id']).toBe(
      edge,
    );
    const odd = await app.inject({ url: '/health/live', headers: { 'x-request-id': 'a b\u00e9' } });
    expect(odd.headers['x-request-id']).not.toBe('a b\u00e9');
  });
});
