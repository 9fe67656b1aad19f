import { connect } from 'node:net';
import { describe, expect, it } from 'vitest';
import { OVERLOAD_RETRY_AFTER_S, PRESSURE_SAMPLE_MS } from '../../plugins/security/limits.js';
import { newToken } from '../../src/security/keys.js';
import { LINGER_MAX_BYTES } from '../../src/security/linger.js';
import { build, exampleLoan } from '../helpers/app.js';
import { API_KEYS, keys, listen, rawBody, rawExchange, rawStatus } from './helpers.js';

const predict = (headers: Record<string, string> = {}, remoteAddress = '127.0.0.1') => ({
  method: 'POST' as const,
  url: '/predict',
  payload: exampleLoan,
  headers,
  remoteAddress,
});

/** Blocks the event loop, as a runaway request would. */
function block(ms: number): void {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    // busy
  }
}

/**
 * Keeps the event loop lagging, as under overload: tasks of `stepMs` back to back, with a turn of
 * the loop between them (where timers and the test's own requests run). Returns the stop function.
 */
function lagInBackground(stepMs: number): () => Promise<void> {
  let running = true;
  const loop = (async () => {
    while (running) {
      block(stepMs);
      await new Promise((r) => setImmediate(r));
    }
  })();
  return async () => {
    running = false;
    await loop;
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('rate limiting (RATE_LIMIT_MAX per RATE_LIMIT_WINDOW_MS)', () => {
  it('is off by default: no limit, no rate-limit headers', async () => {
    const app = await build();
    for (let i = 0; i < 30; i++) {
      const res = await app.inject(predict());
      expect(res.statusCode).toBe(200);
      expect(res.headers['x-ratelimit-limit']).toBeUndefined();
    }
  });

  it('answers 429 RATE_LIMITED with Retry-After once an address has used its budget', async () => {
    const app = await build({ RATE_LIMIT_MAX: '3', RATE_LIMIT_WINDOW_MS: '60000' });
    const remaining: string[] = [];
    for (let i = 0; i < 3; i++) {
      const res = await app.inject(predict());
      expect(res.statusCode).toBe(200);
      expect(res.headers['x-ratelimit-limit']).toBe('3');
      remaining.push(String(res.headers['x-ratelimit-remaining']));
    }
    expect(remaining).toEqual(['2', '1', '0']);
    const limited = await app.inject(predict());
    expect(limited.statusCode).toBe(429);
    expect(Number(limited.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(Number(limited.headers['retry-after'])).toBeLessThanOrEqual(60);
    expect(limited.json()).toEqual({
      statusCode: 429,
      code: 'RATE_LIMITED',
      error: 'Too Many Requests',
      message: expect.stringMatching(/^more than 3 requests in 60 s from this address; retry in \d+ s$/),
    });
    // Another address has its own budget; health probes and metrics are never limited.
    expect((await app.inject(predict({}, '10.1.2.3'))).statusCode).toBe(200);
    for (let i = 0; i < 10; i++) {
      expect((await app.inject('/health/live')).statusCode).toBe(200);
      expect((await app.inject('/health/ready')).statusCode).toBe(200);
    }
    expect((await app.inject('/metrics')).statusCode).toBe(200);
  });

  it('counts per API key, and failed key attempts against their address', async () => {
    const app = await build({ API_KEYS, RATE_LIMIT_MAX: '2' });
    const scorer = { authorization: keys.predict.auth };
    const root = { authorization: keys.all.auth };
    expect((await app.inject(predict(scorer))).statusCode).toBe(200);
    expect((await app.inject(predict(scorer))).statusCode).toBe(200);
    const limited = await app.inject(predict(scorer));
    expect(limited.statusCode).toBe(429);
    expect(limited.json().message).toMatch(/from this API key/);
    // Same address, another key: its own budget.
    expect((await app.inject(predict(root))).statusCode).toBe(200);
    // Guessing keys from one address: 401 twice, then 429 (the guesses are not even checked).
    const guess = () => app.inject(predict({ authorization: `Bearer ${newToken()}` }, '192.0.2.9'));
    expect((await guess()).statusCode).toBe(401);
    expect((await guess()).statusCode).toBe(401);
    const blocked = await guess();
    expect(blocked.statusCode).toBe(429);
    expect(blocked.json().message).toMatch(/from this address/);
  });

  it('gives the budget back when the window ends', async () => {
    const app = await build({ RATE_LIMIT_MAX: '1', RATE_LIMIT_WINDOW_MS: '1000' });
    expect((await app.inject(predict())).statusCode).toBe(200);
    const limited = await app.inject(predict());
    expect(limited.statusCode).toBe(429);
    expect(limited.headers['retry-after']).toBe('1');
    await sleep(1100);
    expect((await app.inject(predict())).statusCode).toBe(200);
  });
});

describe('load shedding (MAX_EVENT_LOOP_DELAY_MS)', () => {
  it('answers 503 OVERLOADED with Retry-After while the event loop lags, keeps liveness and metrics up', async () => {
    const app = await build({ MAX_EVENT_LOOP_DELAY_MS: '100' });
    // Armed two samples after start-up (loading the models blocks the loop before the app is ready).
    expect((await app.inject(predict())).statusCode).toBe(200);
    await sleep(2 * PRESSURE_SAMPLE_MS + 100);
    // Every turn of the loop takes 250 ms: the mean delay over a sample is far over 100 ms.
    const stop = lagInBackground(250);
    try {
      await sleep(2 * PRESSURE_SAMPLE_MS + 100);
      const shed = await app.inject(predict());
      expect(shed.statusCode).toBe(503);
      expect(shed.headers['retry-after']).toBe(String(OVERLOAD_RETRY_AFTER_S));
      expect(shed.json()).toEqual({
        statusCode: 503,
        code: 'OVERLOADED',
        error: 'Service Unavailable',
        message: `the service is overloaded (event-loop delay over 100 ms); retry in ${OVERLOAD_RETRY_AFTER_S} s`,
      });
      // Kubernetes must not restart a busy pod: liveness answers; readiness takes it out of rotation.
      expect((await app.inject('/health/live')).statusCode).toBe(200);
      expect((await app.inject('/metrics')).statusCode).toBe(200);
      const ready = await app.inject('/health/ready');
      expect(ready.statusCode).toBe(503);
      expect(ready.json()).toEqual({ status: 'overloaded' });
      // No route turns shedding into a 500 (e.g. a 503 body its response schema cannot serialize).
      for (const route of app.apiKeys.routes()) {
        for (const method of route.method.split(',').filter((m) => m !== 'HEAD')) {
          const url = route.url
            .replace(':name', 'xgboost')
            .replace(':version', '1.0.0')
            .replace(/:\w+|\*/g, 'x');
          const res = await app.inject({ method: method as 'GET', url });
          if (res.statusCode >= 500) expect(res.statusCode, `${method} ${route.url}`).toBe(503);
        }
      }
    } finally {
      await stop();
    }
    // Once the loop is free again, the next samples clear the pressure.
    await sleep(2 * PRESSURE_SAMPLE_MS + 200);
    expect((await app.inject(predict())).statusCode).toBe(200);
    expect((await app.inject('/health/ready')).statusCode).toBe(200);
  });

  it('never sheds with MAX_EVENT_LOOP_DELAY_MS=0 (the default outside production)', async () => {
    const app = await build();
    await sleep(2 * PRESSURE_SAMPLE_MS + 100);
    const stop = lagInBackground(250);
    try {
      await sleep(2 * PRESSURE_SAMPLE_MS + 100);
      expect((await app.inject(predict())).statusCode).toBe(200);
    } finally {
      await stop();
    }
  });
});

describe('body, batch and tape limits on a real socket', () => {
  it('refuses a body declared over BODY_LIMIT at once, without reading it, and closes', async () => {
    const app = await build({ BODY_LIMIT: '2048' });
    const port = await listen(app);
    const res = await rawExchange(port, [
      'POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000000000\r\n\r\n{"loans":[',
    ]);
    expect(rawStatus(res.data)).toBe(413);
    expect(rawBody(res.data)).toMatchObject({
      code: 'FST_ERR_CTP_BODY_TOO_LARGE',
      message: 'the body is larger than the limit of 2048 bytes (BODY_LIMIT)',
    });
    expect(res.closed).toBe(true);
    expect(res.ms).toBeLessThan(2000);
  });

  it('stops reading a chunked body once it passes BODY_LIMIT', async () => {
    const app = await build({ BODY_LIMIT: '2048' });
    const port = await listen(app);
    const chunk = `${'{"x":1}'.padEnd(1000, ' ')}`;
    const parts = [
      'POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n',
    ];
    for (let i = 0; i < 10; i++) parts.push(`${chunk.length.toString(16)}\r\n${chunk}\r\n`);
    const res = await rawExchange(port, parts, 3000, 20);
    expect(rawStatus(res.data)).toBe(413);
    expect(res.closed).toBe(true);
  });

  it('refuses a tape declared over POOL_MAX_BYTES at once, and one streamed past it', async () => {
    const app = await build({ POOL_MAX_BYTES: '4096' });
    const port = await listen(app);
    const declared = await rawExchange(port, [
      'POST /pools/score HTTP/1.1\r\nHost: x\r\nContent-Type: text/csv\r\nContent-Length: 1073741824\r\n\r\ncredit_score\n',
    ]);
    expect(rawStatus(declared.data)).toBe(413);
    expect(rawBody(declared.data).message).toMatch(/limit of 4096 bytes \(POOL_MAX_BYTES\)/);
    expect(declared.closed).toBe(true);

    const header = Object.keys(exampleLoan).join(',');
    const row = Object.values(exampleLoan).join(',');
    const chunk = `${Array(20).fill(row).join('\n')}\n`;
    const parts = [
      'POST /pools/score HTTP/1.1\r\nHost: x\r\nContent-Type: text/csv\r\nTransfer-Encoding: chunked\r\n\r\n',
      `${(header.length + 1).toString(16)}\r\n${header}\n\r\n`,
    ];
    for (let i = 0; i < 10; i++) parts.push(`${Buffer.byteLength(chunk).toString(16)}\r\n${chunk}\r\n`);
    const streamed = await rawExchange(port, parts, 3000, 10);
    expect(rawStatus(streamed.data)).toBe(413);
    expect(rawBody(streamed.data).message).toMatch(/POOL_MAX_BYTES/);
    expect(streamed.closed).toBe(true);
  });

  it('answers 413 over MAX_BATCH and POOL_MAX_ROWS with the variable named', async () => {
    const app = await build({ MAX_BATCH: '5', POOL_MAX_ROWS: '5' });
    const batch = await app.inject({ method: 'POST', url: '/predict', payload: { loans: Array(6).fill(exampleLoan) } });
    expect(batch.statusCode).toBe(413);
    expect(batch.json()).toMatchObject({ code: 'BATCH_TOO_LARGE', message: expect.stringContaining('MAX_BATCH') });
    const csv = `${Object.keys(exampleLoan).join(',')}\n${Array(6).fill(Object.values(exampleLoan).join(',')).join('\n')}\n`;
    const tape = await app.inject({
      method: 'POST',
      url: '/pools/score',
      payload: csv,
      headers: { 'content-type': 'text/csv' },
    });
    expect(tape.statusCode).toBe(413);
    expect(tape.json()).toMatchObject({
      code: 'TAPE_TOO_LARGE',
      message: 'a tape holds at most 5 rows (POOL_MAX_ROWS)',
    });
  });
});

/**
 * A simple client: sends `headers`, then `bodyBytes` of body in 64 KiB writes, and reads the answer only
 * once the whole body is written (as many HTTP clients do). Resolves when the connection closes: what it
 * read, how much it wrote, and the socket error if the server reset the connection first.
 */
function upload(
  port: number,
  headers: string,
  bodyBytes: number,
): Promise<{ data: string; written: number; error?: string }> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.pause();
    const chunk = Buffer.alloc(64 * 1024, 0x20);
    let data = '';
    let written = 0;
    let error: string | undefined;
    socket.on('error', (err: NodeJS.ErrnoException) => {
      error = err.code ?? err.message;
    });
    socket.on('close', () => resolve({ data, written, ...(error === undefined ? {} : { error }) }));
    const pump = () => {
      while (written < bodyBytes && !socket.destroyed) {
        written += chunk.length;
        if (!socket.write(chunk)) {
          socket.once('drain', pump);
          return;
        }
      }
      if (socket.destroyed) return;
      // Everything sent: now read the answer.
      socket.on('data', (d) => {
        data += d;
      });
      socket.resume();
      socket.end();
    };
    socket.on('connect', () => {
      socket.write(headers);
      pump();
    });
  });
}

describe('a refused upload still being sent gets its answer (lingering close)', () => {
  it('answers 413 to an 80 MB batch, and the client reads it every time (no reset before the answer)', async () => {
    const app = await build();
    const port = await listen(app);
    const size = 80 * 1024 * 1024;
    const headers = `POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${size}\r\n\r\n`;
    const statuses: number[] = [];
    for (let i = 0; i < 12; i++) {
      const res = await upload(port, headers, size);
      statuses.push(rawStatus(res.data));
    }
    expect(statuses).toEqual(Array(12).fill(413));
  }, 120_000);

  it('answers every early refusal with an unread body so the client can read it (401, streamed 413)', async () => {
    const app = await build({ API_KEYS, BODY_LIMIT: '2048' });
    const port = await listen(app);
    const size = 8 * 1024 * 1024;
    const post = (extra: string) =>
      `POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n${extra}\r\n`;
    for (let i = 0; i < 6; i++) {
      const unauthorised = await upload(port, post(`Content-Length: ${size}\r\n`), size);
      expect(rawStatus(unauthorised.data)).toBe(401);
      // Chunked: refused once BODY_LIMIT bytes were read, the rest still coming.
      const chunked = await upload(
        port,
        `${post(`Authorization: ${keys.predict.auth}\r\nTransfer-Encoding: chunked\r\n`)}${size.toString(16)}\r\n`,
        size,
      );
      expect(rawStatus(chunked.data)).toBe(413);
    }
  }, 120_000);

  it('reads a refused body only so far: an endless upload is cut after LINGER_MAX_BYTES', async () => {
    const app = await build({ BODY_LIMIT: '2048' });
    const port = await listen(app);
    const endless = 4 * LINGER_MAX_BYTES;
    const res = await upload(
      port,
      `POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${endless}\r\n\r\n`,
      endless,
    );
    // This client reads only after sending, so it never sees the 413: the server cut the connection
    // once it had discarded its bound (the rest of what was written sat in socket buffers).
    expect(res.written).toBeLessThan(LINGER_MAX_BYTES + 32 * 1024 * 1024);
    expect(res.error).toBeDefined();
  }, 60_000);
});

describe('requests that never reach a route', () => {
  it('answers oversized headers with 431 and bytes that are not HTTP with 400, in the error shape, and closes', async () => {
    const app = await build();
    const port = await listen(app);
    const big = await rawExchange(port, [
      `GET /health/live HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`,
    ]);
    expect(rawStatus(big.data)).toBe(431);
    expect(rawBody(big.data)).toEqual({
      statusCode: 431,
      code: 'HEADERS_TOO_LARGE',
      error: 'Request Header Fields Too Large',
      message: 'the request headers are too large',
    });
    expect(big.closed).toBe(true);
    const garbage = await rawExchange(port, ['\u0016\u0003\u0001\u0002\u0000 not http at all\r\n\r\n']);
    expect(rawStatus(garbage.data)).toBe(400);
    expect(rawBody(garbage.data)).toMatchObject({ code: 'BAD_REQUEST', message: 'the request is not valid HTTP' });
    expect(garbage.closed).toBe(true);
    expect((await app.inject('/health/live')).statusCode).toBe(200);
  });
});

describe('connection timeouts', () => {
  it('closes an idle keep-alive connection after KEEP_ALIVE_TIMEOUT_MS', async () => {
    const app = await build({ KEEP_ALIVE_TIMEOUT_MS: '300' });
    const port = await listen(app);
    const res = await rawExchange(port, ['GET /health/live HTTP/1.1\r\nHost: x\r\n\r\n'], 3000);
    expect(rawStatus(res.data)).toBe(200);
    expect(res.closed).toBe(true);
    expect(res.ms).toBeGreaterThanOrEqual(250);
    expect(res.ms).toBeLessThan(1500);
  });
});
