import { connect } from 'node:net';
import { Writable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { afterEach } from 'vitest';
import { buildApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { keyLine, newToken, type Scope } from '../../src/security/keys.js';

/** A fresh API key: the token a client sends and the line the service is configured with. */
export function makeKey(name: string, scopes: Scope[]): { name: string; token: string; line: string; auth: string } {
  const token = newToken();
  return { name, token, line: keyLine(name, token, scopes), auth: `Bearer ${token}` };
}

export const keys = {
  predict: makeKey('scorer', ['predict']),
  admin: makeKey('operator', ['admin']),
  ops: makeKey('prometheus', ['ops']),
  all: makeKey('root', ['predict', 'admin', 'ops']),
};
export const API_KEYS = Object.values(keys)
  .map((k) => k.line)
  .join(' ');

const open: FastifyInstance[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((app) => app.close()));
});

export interface LoggedApp {
  app: FastifyInstance;
  /** Log lines written so far, parsed. */
  lines(): Record<string, unknown>[];
  /** Everything written to the log, as text. */
  text(): string;
}

/**
 * An app on the shipped models with `env`, logging JSON lines at LOG_LEVEL (default info) into
 * memory; closed after the test. `setup` runs before `ready()` (to add routes or hooks).
 */
export async function buildLogged(
  env: Record<string, string> = {},
  setup?: (app: FastifyInstance) => void,
): Promise<LoggedApp> {
  let text = '';
  const stream = new Writable({
    write(chunk, _encoding, callback) {
      text += chunk;
      callback();
    },
  });
  const config = loadConfig({ LOG_LEVEL: 'info', MODEL_WARMUP_MS: '0', ...env });
  const app = buildApp(config, { logger: { level: config.logLevel, stream } });
  open.push(app);
  setup?.(app);
  await app.ready();
  return {
    app,
    text: () => text,
    lines: () =>
      text
        .split('\n')
        .filter((l) => l.trim() !== '')
        .map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

/** Listens on 127.0.0.1, port 0; returns the port. */
export async function listen(app: FastifyInstance, host = '127.0.0.1'): Promise<number> {
  await app.listen({ port: 0, host });
  return (app.server.address() as { port: number }).port;
}

export interface RawExchange {
  /** Bytes received, as text. */
  data: string;
  /** True when the server closed the connection before `waitMs`. */
  closed: boolean;
  /** Milliseconds from the first byte sent to the close (or to `waitMs`). */
  ms: number;
}

/**
 * Writes `parts` on a raw TCP connection (each after `gapMs`) and collects what comes back until the
 * server closes the connection or `waitMs` passes. For what fetch cannot do: stall, lie about
 * Content-Length, never finish.
 */
export function rawExchange(port: number, parts: string[], waitMs = 3000, gapMs = 0): Promise<RawExchange> {
  return new Promise((resolve) => {
    const started = Date.now();
    const socket = connect(port, '127.0.0.1');
    let data = '';
    let finished = false;
    const finish = (closed: boolean) => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      socket.destroy();
      resolve({ data, closed, ms: Date.now() - started });
    };
    socket.on('data', (d) => {
      data += d;
    });
    socket.on('close', () => finish(true));
    socket.on('error', () => finish(true));
    socket.on('connect', async () => {
      for (const part of parts) {
        if (finished) return;
        socket.write(part);
        if (gapMs > 0) await new Promise((r) => setTimeout(r, gapMs));
      }
    });
    const timer = setTimeout(() => finish(false), waitMs);
  });
}

/** The JSON body of a raw HTTP/1.1 response (Content-Length framed). */
export function rawBody(data: string): Record<string, unknown> {
  const body = data.slice(data.indexOf('\r\n\r\n') + 4);
  return JSON.parse(body) as Record<string, unknown>;
}

export function rawStatus(data: string): number {
  return Number(/^HTTP\/1\.1 (\d{3})/.exec(data)?.[1] ?? 0);
}
