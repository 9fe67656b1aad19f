import { cpSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.js';
import { build, exampleLoan } from '../helpers/app.js';
import { freePort, runServer as run } from '../helpers/net.js';

describe('configuration', () => {
  it('names the bad variable', () => {
    expect(() => loadConfig({ PORT: 'eighty' })).toThrow(
      new ConfigError('PORT', 'must be a whole number, got "eighty"'),
    );
    expect(() => loadConfig({ MAX_BATCH: '0' })).toThrow(/MAX_BATCH must be between 1 and 1000000/);
    expect(() => loadConfig({ LOG_LEVEL: 'loud' })).toThrow(/LOG_LEVEL must be one of/);
    expect(() => loadConfig({ DEFAULT_MODEL: 'XGB!' })).toThrow(/DEFAULT_MODEL must be a model name/);
    expect(loadConfig({}).port).toBe(5000);
  });

  it('refuses a DEFAULT_MODEL that is not loaded', async () => {
    await expect(build({ DEFAULT_MODEL: 'nope' })).rejects.toThrow(/DEFAULT_MODEL "nope" is not a loaded model/);
  });

  it('starts on a MODEL_DIR of your own models only, without a loan model, and says so in /models', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'own-models-'));
    cpSync('test/fixtures/byom/breast_cancer_xgboost', join(dir, 'breast_cancer_xgboost'), { recursive: true });
    const app = await build({ MODEL_DIR: dir }); // DEFAULT_MODEL left at its default, xgboost
    const listed = (await app.inject('/models')).json();
    expect(listed.default_model).toBeNull();
    expect(listed.note).toMatch(/no loan-record model is loaded.*\/v2\/models/);
    expect(listed.models.map((m: { name: string }) => m.name)).toEqual(['breast_cancer_xgboost']);
    const predict = await app.inject({ method: 'POST', url: '/predict', payload: exampleLoan });
    expect(predict.statusCode).toBe(404);
    // a loan model named by DEFAULT_MODEL that is absent while other loan models are loaded is still refused
    cpSync('model-artifacts/lda', join(dir, 'lda'), { recursive: true });
    await expect(build({ MODEL_DIR: dir })).rejects.toThrow(/DEFAULT_MODEL "xgboost" is not a loaded model/);
    // and so is a DEFAULT_MODEL that reads its own features
    await expect(build({ MODEL_DIR: dir, DEFAULT_MODEL: 'breast_cancer_xgboost' })).rejects.toThrow(
      /reads arbitrary features/,
    );
  });

  it('exits with a message naming the variable', async () => {
    const p = run({ PORT: 'abc' });
    expect(await p.exit).toBe(1);
    expect(p.output()).toContain('invalid configuration: PORT must be a whole number, got "abc"');
  });

  it('refuses to start on a broken artifact, naming the file and the problem', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'models-'));
    cpSync('model-artifacts/lda/1.0.0.json', join(dir, 'lda.json'));
    writeFileSync(
      join(dir, 'broken.json'),
      JSON.stringify({ format: 'loan-default-model/1', name: 'broken', family: 'lda' }),
    );
    const p = run({ MODEL_DIR: dir, PORT: String(await freePort()) });
    expect(await p.exit).toBe(1);
    expect(p.output()).toMatch(/cannot start: .*broken\.json: version: expected a string, got undefined/);
  });
});

describe('a real server', () => {
  it('serves on a listening socket (port 0)', async () => {
    const app = await build();
    await app.listen({ port: 0, host: '127.0.0.1' });
    const { port } = app.server.address() as { port: number };
    const res = await fetch(`http://127.0.0.1:${port}/predict`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(exampleLoan),
    });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { probability_of_default: number }).probability_of_default).toBeGreaterThan(0);
  });

  it('finishes in-flight requests on SIGTERM and exits 0', async () => {
    const port = await freePort();
    const p = run({ PORT: String(port) });
    const url = `http://127.0.0.1:${port}`;
    for (let i = 0; i < 100 && !p.output().includes('Server listening'); i++)
      await new Promise((r) => setTimeout(r, 100));
    // A batch large enough to still be in flight when the signal arrives.
    const loans = Array(10_000).fill(exampleLoan);
    const inflight = fetch(`${url}/predict?model=all`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ loans }),
    });
    await new Promise((r) => setTimeout(r, 30));
    p.child.kill('SIGTERM');
    const res = await inflight;
    expect(res.status).toBe(200);
    expect(((await res.json()) as { count: number }).count).toBe(10_000);
    expect(await p.exit).toBe(0);
    expect(p.output()).toContain('shutting down');
    expect(p.output()).toContain('"msg":"stopped"');
    // No body of a loan at info level.
    expect(p.output()).not.toContain('credit_score');
  }, 30_000);
});

describe('in-flight accounting', () => {
  it('forgets a request whose client went away, so shutdown does not wait for it', async () => {
    const app = await build();
    await app.listen({ port: 0, host: '127.0.0.1' });
    const { port } = app.server.address() as { port: number };
    const { connect } = await import('node:net');
    // Headers promising a body that never comes, then the client disappears.
    const socket = connect(port, '127.0.0.1');
    await new Promise<void>((resolve) => socket.on('connect', () => resolve()));
    socket.write(
      'POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"credit',
    );
    for (let i = 0; i < 50 && app.inFlight === 0; i++) await new Promise((r) => setTimeout(r, 10));
    expect(app.inFlight).toBe(1);
    socket.destroy();
    for (let i = 0; i < 50 && app.inFlight !== 0; i++) await new Promise((r) => setTimeout(r, 10));
    expect(app.inFlight).toBe(0);
    expect(await app.drain(2000)).toBe(true);
  });
});
