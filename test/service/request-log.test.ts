import pino from 'pino';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { buildApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { LogStream } from '../../src/log-stream.js';
import { RequestLines } from '../../src/request-log.js';
import { exampleLoan } from '../helpers/app.js';
import { seededRandom } from '../helpers/random.js';
import { makeKey } from '../security/helpers.js';

/** A LogStream whose chunks are kept in memory. */
function captured(chunkLength = 4096): { stream: LogStream; text: () => string } {
  const chunks: Buffer[] = [];
  const destination = {
    write: (b: unknown) => {
      chunks.push(Buffer.from(b as Buffer));
      return true;
    },
    flush: (cb?: () => void) => cb?.(),
    flushSync: () => {},
  } as unknown as ReturnType<typeof pino.destination>;
  const stream = new LogStream(destination, chunkLength);
  return {
    stream,
    text: () => {
      stream.flushSync();
      return Buffer.concat(chunks).toString('utf8');
    },
  };
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe('request lines', () => {
  it("are pino's own bytes for the same fields: ids, methods, URLs, statuses and times of every kind", () => {
    const random = seededRandom(20261206);
    const pick = (n: number) => Math.floor(random() * n);
    // Characters of every class pino and JSON treat differently: controls, quote, backslash, DEL,
    // Latin-1, other BMP characters, surrogate pairs; lengths on both sides of pino's 100-character
    // fast path. (Lone surrogates cannot occur in these fields; see src/request-log.ts.)
    const alphabet = ['a', 'Z', '0', '/', '?', '=', '&', ' ', '"', '\\', '\n', '\t', '\u0000', '\u001f', '\u007f'];
    alphabet.push('é', '\u00ff', '\u0080', '€', '\u2028', '😀');
    const text = (max: number) => {
      let s = '';
      const length = pick(max + 1);
      while (s.length < length) s += alphabet[pick(alphabet.length)];
      return s;
    };
    const times = [0, 1, 0.5, 1e-7, 123.456789012345, 1e21, 2 ** 53 + 2, Number.NaN, Number.POSITIVE_INFINITY, -0];
    const cases = Array.from({ length: 3000 }, (_, i) => ({
      id: i % 3 === 0 ? `req-${i.toString(36)}` : text(130),
      method: ['GET', 'POST', 'HEAD', 'OPTIONS', 'M-SEARCH', text(8)][pick(6)] as string,
      url: i % 5 === 0 ? `/${'x'.repeat(90 + pick(20))}` : text(220),
      statusCode: 100 + pick(500),
      responseTime: i < times.length ? (times[i] as number) : random() * 10 ** (pick(12) - 6),
      // Three lines a millisecond, as under load.
      time: 1_796_000_000_000 + Math.floor(i / 3) * 7,
    }));
    // Runs of lines with the same method and URL (equal strings, not the same string), as under load.
    for (let i = 1; i < cases.length; i += 4) {
      const [before, c] = [cases[i - 1], cases[i]] as [(typeof cases)[0], (typeof cases)[0]];
      c.method = ` ${before.method}`.slice(1);
      c.url = ` ${before.url}`.slice(1);
    }

    const reference = captured();
    const referenceLogger = pino({ level: 'info' }, reference.stream);
    const ours = captured();
    const ourLogger = pino({ level: 'info' }, ours.stream);
    const lines = RequestLines.attach(ourLogger, ours.stream, 32);
    const now = vi.spyOn(Date, 'now');
    for (const [i, c] of cases.entries()) {
      now.mockReturnValue(c.time);
      // As Fastify does: a child with the request id binding and an options object; as the API key
      // guard does, bindings added later to some; then the line.
      const reference = referenceLogger.child({ reqId: c.id }, {});
      const ourChild = ourLogger.child({ reqId: c.id }, {});
      if (i % 4 === 1) {
        const later = i % 8 === 1 ? { key: text(20) } : { auth: 'invalid', n: i };
        reference.setBindings(later);
        ourChild.setBindings(later);
      }
      reference.info(
        { method: c.method, url: c.url, statusCode: c.statusCode, responseTime: c.responseTime },
        'request completed',
      );
      lines.add(ourChild, c.method, c.url, c.statusCode, c.responseTime);
    }
    const expected = reference.text().split('\n');
    const actual = ours.text().split('\n');
    expect(actual.length).toBe(cases.length + 1);
    for (let i = 0; i < expected.length; i++)
      expect(actual[i], `case ${i}: ${JSON.stringify(cases[i])}`).toBe(expected[i]);
  });

  it('keep the order of the log: kept lines are written before any later line, and on flush', () => {
    const out = captured(1 << 20); // one large chunk: nothing leaves before flushSync
    const logger = pino({ level: 'info', base: undefined }, out.stream);
    const lines = RequestLines.attach(logger, out.stream, 4);
    const request = (id: string) => logger.child({ reqId: id }, {});
    lines.add(request('r1'), 'GET', '/a', 200, 1);
    lines.add(request('r2'), 'GET', '/b', 200, 1);
    expect(lines.pending).toBe(2);
    logger.warn('after two requests');
    expect(lines.pending).toBe(0);
    for (let i = 3; i <= 9; i++) lines.add(request(`r${i}`), 'GET', '/c', 200, 1);
    // The fourth line kept since the warning filled the batch: those four were formatted.
    expect(lines.pending).toBe(3);
    logger.error('after nine');
    lines.add(request('r10'), 'GET', '/d', 500, 1);
    const order = out
      .text()
      .trimEnd()
      .split('\n')
      .map((l) => {
        const o = JSON.parse(l) as { reqId?: string; msg: string };
        return o.reqId ?? o.msg;
      });
    expect(order).toEqual([
      'r1',
      'r2',
      'after two requests',
      'r3',
      'r4',
      'r5',
      'r6',
      'r7',
      'r8',
      'r9',
      'after nine',
      'r10',
    ]);
  });

  it("leave a request logger of other settings to pino: info off writes nothing, own serializers write pino's line in order", () => {
    const out = captured();
    const logger = pino({ level: 'info', base: undefined }, out.stream);
    const lines = RequestLines.attach(logger, out.stream);
    lines.add(logger.child({ reqId: 'kept' }, {}), 'GET', '/a', 200, 1);
    lines.add(logger.child({ reqId: 'quiet' }, { level: 'warn' }), 'GET', '/b', 200, 1);
    const own = logger.child({ reqId: 'own' }, { serializers: { url: (u: string) => `<${u}>` } });
    lines.add(own, 'GET', '/c', 200, 1);
    expect(lines.pending).toBe(0); // the serialized line went through pino, after the kept one
    const written = out
      .text()
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l) as { reqId: string; url: string });
    expect(written.map((l) => [l.reqId, l.url])).toEqual([
      ['kept', '/a'],
      ['own', '</c>'],
    ]);
  });

  it('refuse, naming why, a logger whose lines they would not match', () => {
    const attach = (options: pino.LoggerOptions) => {
      const out = captured();
      return () => RequestLines.attach(pino(options, out.stream), out.stream);
    };
    expect(attach({ messageKey: 'message' })).toThrow(/message key is not "msg"/);
    expect(attach({ timestamp: pino.stdTimeFunctions.isoTime })).toThrow(/time is not epoch milliseconds/);
    expect(attach({ redact: ['url'] })).toThrow(/it redacts/);
    expect(attach({ mixin: () => ({ a: 1 }) })).toThrow(/it has a mixin/);
    expect(attach({ formatters: { log: (o) => o } })).toThrow(/log formatter/);
    expect(attach({ nestedKey: 'payload' })).toThrow(/nests the fields/);
    expect(attach({ msgPrefix: '[x] ' })).toThrow(/prefixes messages/);
    expect(attach({ serializers: { url: (u: string) => u } })).toThrow(/serializer for url/);
    const out = captured();
    const other = captured();
    expect(() => RequestLines.attach(pino({}, other.stream), out.stream)).toThrow(/writes to another stream/);
    // pino's defaults, a level and custom base bindings are fine.
    expect(attach({ level: 'debug', base: { service: 'x' } })).not.toThrow();
  });
});

describe("the app's request lines", () => {
  const key = makeKey('request-log-test', ['predict']);
  it('are the lines request.log writes, field for field, for answers of every kind (time and duration aside)', async () => {
    const logs = async (batched: boolean) => {
      const out = captured();
      const config = loadConfig({ LOG_LEVEL: 'info', POOL_THREADS: '1', MODEL_WARMUP_MS: '0', API_KEYS: key.line });
      // Batched: the server's way (its LogStream); else through request.log, to the same kind of stream.
      const app = buildApp(
        config,
        batched ? { logStream: out.stream } : { logger: { level: 'info', stream: out.stream } },
      );
      await app.ready();
      try {
        // With API keys on, the key guard binds the key's name, or why a request was refused, to the
        // request's logger: those bindings are in the line too.
        const auth = { authorization: key.auth };
        await app.inject('/health/live');
        await app.inject({ method: 'POST', url: '/predict?model=xgboost', payload: exampleLoan, headers: auth });
        await app.inject({ method: 'POST', url: '/predict', payload: { credit_score: 'high' }, headers: auth });
        await app.inject({
          method: 'POST',
          url: '/predict',
          payload: '{"broken',
          headers: { ...auth, 'content-type': 'application/json' },
        });
        await app.inject('/no/such/route?q=%22%5C');
        await app.inject({ url: '/health/live', headers: { 'x-request-id': 'client"id\\1' } });
        await app.inject({ method: 'HEAD', url: '/health/ready' });
        await app.inject({ method: 'POST', url: '/predict', payload: exampleLoan, headers: auth });
        await app.inject({
          method: 'POST',
          url: '/predict',
          payload: exampleLoan,
          headers: { authorization: 'Bearer x' },
        });
      } finally {
        await app.close();
      }
      return out
        .text()
        .split('\n')
        .filter((l) => l.includes('"msg":"request completed"'));
    };
    const blank = (line: string) => {
      const o = JSON.parse(line) as { time: unknown; responseTime: unknown };
      expect(typeof o.time).toBe('number');
      expect(typeof o.responseTime).toBe('number');
      return line.replace(/"time":\d+,/, '"time":0,').replace(/"responseTime":[^,]+,/, '"responseTime":0,');
    };
    const [direct, batched] = [await logs(false), await logs(true)];
    expect(direct).toHaveLength(9);
    expect(batched.map(blank)).toEqual(direct.map(blank));
    expect(batched.map((l) => (JSON.parse(l) as { statusCode: number }).statusCode)).toEqual([
      200, 200, 400, 400, 404, 200, 200, 200, 401,
    ]);
    expect(batched[5]).toContain('"reqId":"client\\"id\\\\1"');
    expect(batched[7]).toContain('"key":"request-log-test"');
    expect(batched[8]).toContain('"auth":"invalid"');
  });
});
