import cluster, { type Worker } from 'node:cluster';
import { AggregatorRegistry } from 'prom-client';
import type { Config } from './config.js';

/**
 * WORKERS > 1: this process becomes a primary that forks the workers (each one a complete service
 * listening on the shared port), aggregates their metrics for /metrics, replaces a worker that dies,
 * and shuts all of them down gracefully on SIGTERM / SIGINT.
 */

export const METRICS_REQUEST = 'loan-default:metrics-request';
export const METRICS_RESPONSE = 'loan-default:metrics-response';
export const WORKER_LISTENING = 'loan-default:listening';

export interface WorkerListening {
  type: typeof WORKER_LISTENING;
  port: number;
}

export interface MetricsRequest {
  type: typeof METRICS_REQUEST;
  id: string;
}
export interface MetricsResponse {
  type: typeof METRICS_RESPONSE;
  id: string;
  text?: string;
  contentType?: string;
  error?: string;
}

/** JSON log lines in pino's shape, so the primary's lines read like the workers'. */
function log(level: 'info' | 'warn' | 'error', msg: string, extra: Record<string, unknown> = {}) {
  const levels = { info: 30, warn: 40, error: 50 };
  console.log(
    JSON.stringify({ level: levels[level], time: Date.now(), pid: process.pid, role: 'primary', ...extra, msg }),
  );
}

/** Replacements allowed within a minute before the primary gives up (a crash loop is not service). */
const MAX_RESTARTS_PER_MINUTE = 5;

export function runPrimary(config: Config): void {
  const aggregator = new AggregatorRegistry();
  const listening = new Set<number>();
  const reported = new Set<number>();
  let ready = false;
  let stopping = false;
  let restarts: number[] = [];

  const fork = (): Worker => cluster.fork();

  cluster.on('listening', (worker) => {
    listening.add(worker.id);
  });

  cluster.on('message', (worker, message: MetricsRequest | WorkerListening) => {
    if (message?.type === WORKER_LISTENING) {
      // Reported by the worker itself: with PORT=0 the 'listening' event only knows the port asked for.
      reported.add(worker.id);
      if (!ready && reported.size === config.workers) {
        ready = true;
        log('info', `cluster ready: ${config.workers} workers on http://${config.host}:${message.port}`, {
          workers: config.workers,
        });
      }
      return;
    }
    if (message?.type !== METRICS_REQUEST) return;
    aggregator.clusterMetrics().then(
      (text) =>
        worker.send({
          type: METRICS_RESPONSE,
          id: message.id,
          text,
          contentType: aggregator.contentType,
        } satisfies MetricsResponse),
      (err: Error) =>
        worker.send({ type: METRICS_RESPONSE, id: message.id, error: err.message } satisfies MetricsResponse),
    );
  });

  cluster.on('exit', (worker, code, signal) => {
    const wasListening = listening.delete(worker.id);
    if (stopping) return;
    if (!wasListening) {
      // A worker that could not even start (bad artifact, port taken): more of them will not help.
      log('error', 'a worker failed to start: stopping the cluster', { worker_pid: worker.process.pid, code, signal });
      stopAll(1);
      return;
    }
    const now = Date.now();
    restarts = restarts.filter((t) => now - t < 60_000);
    if (restarts.length >= MAX_RESTARTS_PER_MINUTE) {
      log('error', `workers keep dying (${restarts.length} restarts in a minute): stopping the cluster`);
      stopAll(1);
      return;
    }
    restarts.push(now);
    log('warn', 'a worker died: starting a replacement', { worker_pid: worker.process.pid, code, signal });
    fork();
  });

  function stopAll(exitCode: number, signal: NodeJS.Signals = 'SIGTERM') {
    if (stopping) return;
    stopping = true;
    const workers = Object.values(cluster.workers ?? {}).filter((w): w is Worker => w !== undefined);
    let failed = exitCode !== 0;
    let remaining = workers.length;
    const done = () => {
      log('info', 'stopped');
      process.exit(failed ? 1 : 0);
    };
    if (remaining === 0) done();
    const force = setTimeout(() => {
      log('error', 'workers did not stop within 12 s: killing them');
      for (const w of workers) w.process.kill('SIGKILL');
      process.exit(1);
    }, 12_000);
    force.unref();
    for (const w of workers) {
      w.once('exit', (code) => {
        if (code !== 0) failed = true;
        if (--remaining === 0) done();
      });
      // Each worker drains its own in-flight requests (src/server.ts) and exits 0.
      w.process.kill(signal);
    }
  }

  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.on(signal, () => {
      if (stopping) {
        log('warn', 'second signal: exiting now', { signal });
        process.exit(1);
      }
      log('info', 'shutting down: stopping every worker', { signal });
      stopAll(0);
    });
  }

  log('info', `starting ${config.workers} workers`);
  for (let i = 0; i < config.workers; i++) fork();
}
