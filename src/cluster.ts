import cluster, { type Worker } from 'node:cluster';
import { AggregatorRegistry } from 'prom-client';
import type { ReloadOutcome } from '../plugins/model-loader.js';
import type { Config } from './config.js';

/**
 * WORKERS > 1: this process becomes a primary that forks the workers (each one a complete service
 * listening on the shared port), aggregates their metrics for /metrics, replaces a worker that dies,
 * and shuts all of them down gracefully on SIGTERM / SIGINT.
 */

export const METRICS_REQUEST = 'loan-default:metrics-request';
export const METRICS_RESPONSE = 'loan-default:metrics-response';
export const WORKER_LISTENING = 'loan-default:listening';
/** worker → primary: reload every worker (an admin call reached this one). */
export const RELOAD_REQUEST = 'loan-default:reload-request';
/** primary → each worker: reload now. */
export const RELOAD_COMMAND = 'loan-default:reload-command';
/** worker → primary: how its reload went. */
export const RELOAD_RESULT = 'loan-default:reload-result';
/** primary → the asking worker: every worker's outcome. */
export const RELOAD_RESPONSE = 'loan-default:reload-response';

export interface ReloadRequest {
  type: typeof RELOAD_REQUEST;
  id: string;
  trigger: string;
}
export interface ReloadCommand {
  type: typeof RELOAD_COMMAND;
  id: string;
  trigger: string;
}
export interface ReloadResult {
  type: typeof RELOAD_RESULT;
  id: string;
  outcome: ReloadOutcome;
}
export interface WorkerOutcome {
  pid: number;
  outcome?: ReloadOutcome;
  error?: string;
}
export interface ReloadResponse {
  type: typeof RELOAD_RESPONSE;
  id: string;
  workers: WorkerOutcome[];
}

interface PendingReload {
  waiting: Map<number, number>;
  outcomes: WorkerOutcome[];
  finish(): void;
}

/** How long the primary waits for every worker's reload before answering with what it has. */
const RELOAD_TIMEOUT_MS = 60_000;
let reloadSeq = 0;

/** From a worker: asks the primary to reload every worker, and resolves with each one's outcome. */
export function reloadCluster(trigger: string): Promise<WorkerOutcome[]> {
  return new Promise((resolve, reject) => {
    const id = `${process.pid}:${++reloadSeq}`;
    const onMessage = (message: ReloadResponse) => {
      if (message?.type !== RELOAD_RESPONSE || message.id !== id) return;
      clearTimeout(timer);
      process.off('message', onMessage);
      resolve(message.workers);
    };
    const timer = setTimeout(() => {
      process.off('message', onMessage);
      reject(new Error('the cluster primary did not answer the reload request'));
    }, RELOAD_TIMEOUT_MS + 5_000);
    process.on('message', onMessage);
    process.send?.({ type: RELOAD_REQUEST, id, trigger } satisfies ReloadRequest);
  });
}

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

  // Reloads in progress, by id: the workers still to answer (worker id → pid), the outcomes so far.
  const reloads = new Map<string, PendingReload>();
  const reloadAll = (id: string, trigger: string, done: (outcomes: WorkerOutcome[]) => void) => {
    const workers = Object.values(cluster.workers ?? {}).filter((w): w is Worker => w?.isConnected() === true);
    const pending: PendingReload = {
      waiting: new Map(workers.map((w) => [w.id, w.process.pid ?? 0])),
      outcomes: [],
      finish: () => {
        if (!reloads.delete(id)) return;
        clearTimeout(timer);
        for (const pid of pending.waiting.values())
          pending.outcomes.push({ pid, error: 'no answer (worker busy or gone)' });
        done(pending.outcomes);
      },
    };
    reloads.set(id, pending);
    const timer = setTimeout(pending.finish, RELOAD_TIMEOUT_MS);
    for (const w of workers) w.send({ type: RELOAD_COMMAND, id, trigger } satisfies ReloadCommand);
    if (workers.length === 0) pending.finish();
  };
  const reloadAnswered = (worker: Worker, message: ReloadResult) => {
    const pending = reloads.get(message.id);
    if (pending === undefined || !pending.waiting.delete(worker.id)) return;
    pending.outcomes.push({ pid: worker.process.pid ?? 0, outcome: message.outcome });
    if (pending.waiting.size === 0) pending.finish();
  };
  const logReload = (trigger: string) => (outcomes: WorkerOutcome[]) => {
    const failed = outcomes.filter((o) => !o.outcome?.ok);
    log(
      failed.length === 0 ? 'info' : 'error',
      failed.length === 0 ? 'every worker reloaded its models' : 'model reload failed',
      {
        trigger,
        workers: outcomes.map((o) => ({
          pid: o.pid,
          ok: o.outcome?.ok ?? false,
          generation: o.outcome?.generation,
          error: o.error ?? o.outcome?.error,
        })),
      },
    );
  };

  cluster.on('message', (worker, message: MetricsRequest | WorkerListening | ReloadRequest | ReloadResult) => {
    if (message?.type === RELOAD_RESULT) {
      reloadAnswered(worker, message);
      return;
    }
    if (message?.type === RELOAD_REQUEST) {
      reloadAll(`admin:${message.id}`, message.trigger, (outcomes) => {
        logReload(message.trigger)(outcomes);
        if (worker.isConnected()) {
          worker.send({ type: RELOAD_RESPONSE, id: message.id, workers: outcomes } satisfies ReloadResponse);
        }
      });
      return;
    }
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
    for (const pending of reloads.values()) {
      if (!pending.waiting.delete(worker.id)) continue;
      pending.outcomes.push({ pid: worker.process.pid ?? 0, error: `exited during the reload (${signal ?? code})` });
      if (pending.waiting.size === 0) pending.finish();
    }
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

  // SIGHUP: every worker reloads the model directory (each validates, then swaps; see model-loader).
  let signalSeq = 0;
  process.on('SIGHUP', () => {
    if (stopping) return;
    log('info', 'SIGHUP: reloading the models of every worker');
    reloadAll(`signal:${++signalSeq}`, 'signal', logReload('signal'));
  });

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
