import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { connect } from 'node:net';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { freePort, runServer as run } from '../../scripts/lib/net.js';
import { ConfigError, loadConfig } from '../../src/config.js';
import { build, exampleLoan } from '../helpers/app.js';
import { keepAliveThroughSigterm, refusesConnections, waitFor } from '../helpers/net.js';
import { tempDir } from '../helpers/temp.js';

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
    const dir = tempDir('own-models-');
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
    const dir = tempDir('models-');
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

describe('graceful shutdown (DRAIN_TIMEOUT_MS)', () => {
  it('lets an answer still being written when the idle grace ends reach its client in full', async () => {
    // 30,000 loans scored by every model: a ~20 MB answer, more than the kernel's socket buffers
    // hold, so it is still being written while the client reads slowly. Node's closeIdleConnections()
    // counts such a connection idle (its request is parsed and res.end() was called): shutdown must
    // not close it before the last byte is written.
    const app = await build({ MAX_BATCH: '30000', BODY_LIMIT: String(64 * 1024 * 1024) });
    await app.listen({ port: 0, host: '127.0.0.1' });
    const { port } = app.server.address() as { port: number };
    const body = JSON.stringify({ loans: Array(30_000).fill(exampleLoan) });
    const socket = connect(port, '127.0.0.1');
    await new Promise<void>((resolve) => socket.on('connect', () => resolve()));
    const chunks: Buffer[] = [];
    let paused = false;
    const ended = new Promise<void>((resolve) => socket.on('close', () => resolve()));
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      if (!paused) {
        // The answer has started: stop reading, so that the rest stays queued at the server.
        paused = true;
        socket.pause();
      }
    });
    socket.write(
      `POST /predict?model=all HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n`,
    );
    socket.write(body);
    for (let i = 0; i < 1200 && !paused; i++) await new Promise((r) => setTimeout(r, 50));
    expect(paused).toBe(true);
    const drained = app.drain(20_000);
    // Past the drain's idle grace (1 s) with the answer still queued, then read the rest.
    await new Promise((r) => setTimeout(r, 1500));
    socket.resume();
    await ended;
    const raw = Buffer.concat(chunks);
    const split = raw.indexOf('\r\n\r\n');
    const head = raw.subarray(0, split).toString('latin1');
    expect(head).toMatch(/^HTTP\/1\.1 200/);
    const length = Number(/content-length: (\d+)/i.exec(head)?.[1]);
    expect(length).toBeGreaterThan(10_000_000);
    expect(raw.length - split - 4).toBe(length);
    expect(await drained).toBe(true);
  }, 60_000);

  it('answers every request keep-alive clients write during SIGTERM, with Connection: close, then refuses', async () => {
    const port = await freePort();
    const p = run({ PORT: String(port) });
    await waitFor(p, 'Server listening');
    const body = JSON.stringify({ loans: Array(200).fill(exampleLoan) });
    const { results, code } = await keepAliveThroughSigterm(p, port, body);
    expect(code).toBe(0);
    for (const r of results) {
      expect(r.failures).toEqual([]);
      expect(r.lost).toBe(0);
      expect(r.end).toBe('refused');
      expect(r.closedCleanly).toBeGreaterThanOrEqual(1);
    }
    expect(p.output()).toContain('"msg":"stopped"');
  }, 60_000);

  it('lets a slow upload in flight at SIGTERM finish (200, exit 0) and refuses new connections at once', async () => {
    const port = await freePort();
    const p = run({ PORT: String(port) });
    await waitFor(p, 'Server listening');
    const header = Object.keys(exampleLoan).join(',');
    const row = Object.values(exampleLoan).join(',');
    // A tape sent in 30 parts, 300 ms apart: still arriving 8 s after the signal.
    const parts = [`${header}\n`, ...Array(30).fill(`${row}\n`)];
    const upload = new Promise<{ status: number; text: string }>((resolve, reject) => {
      const req = request(
        { host: '127.0.0.1', port, method: 'POST', path: '/pools/score', headers: { 'content-type': 'text/csv' } },
        (res) => {
          let text = '';
          res.on('data', (d) => {
            text += d;
          });
          res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
        },
      );
      req.on('error', reject);
      (async () => {
        for (const part of parts) {
          req.write(part);
          await new Promise((r) => setTimeout(r, 300));
        }
        req.end();
      })();
    });
    await new Promise((r) => setTimeout(r, 600));
    p.child.kill('SIGTERM');
    await waitFor(p, 'shutting down');
    const refused = await refusesConnections(port);
    expect(refused).toBe(true);
    const res = await upload;
    expect(res.status).toBe(200);
    expect(JSON.parse(res.text)).toMatchObject({ loan_count: 30 });
    expect(await p.exit).toBe(0);
  }, 60_000);

  it('cuts what is still in flight at DRAIN_TIMEOUT_MS, says so, and exits 1', async () => {
    const port = await freePort();
    const p = run({ PORT: String(port), DRAIN_TIMEOUT_MS: '500' });
    await waitFor(p, 'Server listening');
    const socket = connect(port, '127.0.0.1');
    socket.on('error', () => {});
    await new Promise<void>((resolve) => socket.on('connect', () => resolve()));
    // A tape whose header line arrived, and then nothing more.
    socket.write(
      `POST /pools/score HTTP/1.1\r\nHost: x\r\nContent-Type: text/csv\r\nContent-Length: 100000\r\n\r\n${Object.keys(exampleLoan).join(',')}\n`,
    );
    await new Promise((r) => setTimeout(r, 300));
    p.child.kill('SIGTERM');
    expect(await p.exit).toBe(1);
    const cut = p
      .output()
      .split('\n')
      .find((l) => l.includes('DRAIN_TIMEOUT_MS passed'));
    expect(JSON.parse(cut ?? '{}')).toMatchObject({ in_flight: 1, drain_timeout_ms: 500 });
    socket.destroy();
  }, 30_000);
});

describe('started through npm (npm start, npm run dev)', () => {
  /** `npm run dev` (node under npm, as `npm start` runs it) with its output collected, and node's own pid. */
  async function viaNpm(port: number) {
    const server = run({ PORT: String(port) }, [], true);
    await waitFor(server, 'Server listening').catch((err) => {
      server.child.kill('SIGTERM'); // npm passes it on to the server
      throw err;
    });
    const line = server
      .output()
      .split('\n')
      .find((l) => l.includes('Server listening'));
    const pid = Number((JSON.parse(line ?? '{}') as { pid?: number }).pid);
    return { server, pid };
  }
  const alive = (pid: number) => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  const gone = async (pid: number) => {
    for (let i = 0; i < 300 && alive(pid); i++) await new Promise((r) => setTimeout(r, 50));
    return !alive(pid);
  };

  it('runs node as npm own child (exec), so SIGTERM to npm reaches the server, which stops and frees the port', async () => {
    const scripts = (JSON.parse(readFileSync('package.json', 'utf8')) as { scripts: Record<string, string> }).scripts;
    expect(scripts.start).toMatch(/^exec node /);
    expect(scripts.dev).toMatch(/^exec node /);
    const port = await freePort();
    const { server, pid } = await viaNpm(port);
    try {
      expect(pid).not.toBe(server.child.pid);
      // The pid to signal is in the log, named as such.
      expect(server.output()).toMatch(new RegExp(`"pid":${pid},[^\n]*"msg":"pid ${pid}: SIGHUP reloads`));
      server.child.kill('SIGTERM');
      expect(await gone(pid)).toBe(true);
      expect(await refusesConnections(port)).toBe(true);
      expect(server.output()).toContain('"msg":"stopped"');
    } finally {
      if (alive(pid)) process.kill(pid, 'SIGKILL');
    }
  }, 60_000);

  it('does not outlive npm killed by a signal npm does not pass on (SIGHUP): it logs why, drains and exits', async () => {
    const port = await freePort();
    const { server, pid } = await viaNpm(port);
    try {
      server.child.kill('SIGHUP');
      expect(await gone(pid)).toBe(true);
      expect(await refusesConnections(port)).toBe(true);
      expect(server.output()).toMatch(/npm \(pid \d+\), which started this server, is gone/);
    } finally {
      if (alive(pid)) process.kill(pid, 'SIGKILL');
    }
  }, 60_000);
});
