import cluster, { type Worker } from 'node:cluster';
import { readdirSync, readlinkSync } from 'node:fs';
import { AggregatorRegistry } from 'prom-client';
import type { ReloadOutcome } from '../plugins/model-loader.js';
import type { Config } from './config.js';
import { signalsLine, watchLauncher } from './launcher.js';
import { tcpSocketsOn } from './tcp-table.js';

/**
 * WORKERS > 1: this process becomes a primary that forks the workers (each one a complete service
 * listening on the shared port), aggregates their metrics for /metrics, replaces a worker that dies,
 * and shuts all of them down gracefully on SIGTERM / SIGINT.
 *
 * A replacement that cannot start (MODEL_DIR broken since the others loaded it: they keep serving
 * the set they validated) never takes the healthy workers down: the cluster serves with fewer
 * workers, says so (an error line, `cluster_workers_serving` in /metrics), and tries again with a
 * growing delay (REPLACEMENT_BACKOFF_MS), so that the worker comes back once the directory is fixed.
 * Only a cluster left with no worker serving stops (exit 1), as does one whose first workers cannot
 * start.
 */

export const METRICS_REQUEST = 'loan-default:metrics-request';
export const METRICS_RESPONSE = 'loan-default:metrics-response';
export const WORKER_LISTENING = 'loan-default:listening';
/** worker → primary: reload every worker (an admin call reached this one). */
const RELOAD_REQUEST = 'loan-default:reload-request';
/** primary → each worker: reload now. */
export const RELOAD_COMMAND = 'loan-default:reload-command';
/** worker → primary: how its reload went. */
export const RELOAD_RESULT = 'loan-default:reload-result';
/** primary → the asking worker: every worker's outcome. */
const RELOAD_RESPONSE = 'loan-default:reload-response';
/** primary → each worker, shutdown's first step: leave the shared port, keep serving. */
export const STOP_ACCEPTING = 'loan-default:stop-accepting';
/** worker → primary: done (sent after the worker's own notice to the primary that it left the port). */
export const ACCEPTING_STOPPED = 'loan-default:accepting-stopped';

export interface StopAccepting {
  type: typeof STOP_ACCEPTING;
}
export interface AcceptingStopped {
  type: typeof ACCEPTING_STOPPED;
}

interface ReloadRequest {
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
interface ReloadResponse {
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

/** Replacements within a minute before the next ones are delayed (a crash loop is not service). */
const MAX_RESTARTS_PER_MINUTE = 5;
/** Delay before the next attempt after a replacement failed to start (or in a crash loop): doubles up to the last. */
const REPLACEMENT_BACKOFF_MS = [1000, 2000, 5000, 10_000, 30_000, 60_000] as const;
/** How long shutdown waits for every worker to leave the port before draining anyway. */
const STOP_ACCEPTING_TIMEOUT_MS = 2000;
/**
 * Most time shutdown waits, before any worker leaves the port, for the workers to take the connections
 * the primary holds when it starts (`heldConnections`); DRAIN_TIMEOUT_MS if lower. A worker busy longer
 * than this in one go would not answer STOP_ACCEPTING in time either. With the stop-accepting step (2 s)
 * and a worker's own drain (DRAIN_TIMEOUT_MS + 5 s at most), shutdown stays within the primary's limit
 * (DRAIN_TIMEOUT_MS + 10 s).
 */
const HANDOFF_MAX_MS = 2000;
const HANDOFF_POLL_MS = 10;

/**
 * The connections this process (the primary) holds for the cluster's `port`, as socket inodes, and
 * the length of its listen backlog. Linux's default scheduling is round robin: the primary owns the
 * listening socket, accepts every connection at once and queues it until a worker takes it (one at
 * a time per worker, when that worker's event loop turns), then closes its copy. When the last worker
 * leaves the port, Node closes the port AND every connection still queued: each one a client that
 * completed its handshake and sent its request, reset (ECONNRESET) instead of answered. Read from
 * /proc (a TCP socket of /proc/net/tcp{,6} on the port, not listening, whose inode is one of
 * /proc/self/fd's); elsewhere nothing is known (none held).
 */
function heldConnections(port: number): { held: Set<string>; backlog: number } {
  const held = new Set<string>();
  let backlog = 0;
  const mine = ownSockets();
  if (mine.size === 0) return { held, backlog };
  for (const socket of tcpSocketsOn(port)) {
    if (!mine.has(socket.inode)) continue;
    if (socket.state === '0A') backlog += socket.rxQueue;
    else held.add(socket.inode);
  }
  return { held, backlog };
}

/** The inodes of this process's sockets (/proc/self/fd); empty where that cannot be read. */
function ownSockets(): Set<string> {
  const inodes = new Set<string>();
  let fds: string[];
  try {
    fds = readdirSync('/proc/self/fd');
  } catch {
    return inodes;
  }
  for (const fd of fds) {
    try {
      const inode = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/self/fd/${fd}`))?.[1];
      if (inode !== undefined) inodes.add(inode);
    } catch {
      // Closed meanwhile.
    }
  }
  return inodes;
}

/** A turn of the event loop, poll phase included (in which the primary accepts what is waiting). */
const turn = () => new Promise<void>((resolve) => setTimeout(() => setImmediate(resolve), 0));

/**
 * Waits (at most `maxMs`) until the workers have taken every connection the primary holds for `port`
 * now, those still in its listen backlog included (the primary accepts them first). Resolves with
 * how many it held and how many are left (taken by no worker in time).
 */
async function handOffHeld(port: number, maxMs: number): Promise<{ held: number; left: number }> {
  const started = Date.now();
  await turn();
  let { held, backlog } = heldConnections(port);
  // Connections the kernel completed before the signal and still waiting in the backlog: accepted by now
  // unless the signal came in the same turn; a few more turns, no more (a flood keeps the backlog full).
  for (let i = 0; backlog > 0 && i < 10; i++) {
    await turn();
    const next = heldConnections(port);
    for (const inode of next.held) held.add(inode);
    backlog = next.backlog;
  }
  const count = held.size;
  for (;;) {
    const mine = ownSockets();
    held = new Set([...held].filter((inode) => mine.has(inode)));
    if (held.size === 0 || Date.now() - started >= maxMs) return { held: count, left: held.size };
    await new Promise((resolve) => setTimeout(resolve, HANDOFF_POLL_MS));
  }
}

export function runPrimary(config: Config): void {
  const aggregator = new AggregatorRegistry();
  const listening = new Set<number>();
  const reported = new Set<number>();
  let ready = false;
  let stopping = false;
  /** The shared port (PORT, or the one the workers report when PORT=0). */
  let port = config.port;
  let restarts: number[] = [];
  /** Replacements that failed to start in a row (reset when one starts): the index into the backoff. */
  let failedReplacements = 0;
  let pendingReplacements = 0;

  const fork = (): Worker => cluster.fork();
  const serving = () => listening.size;
  const replaceLater = (reason: string, extra: Record<string, unknown>) => {
    const delay = REPLACEMENT_BACKOFF_MS[Math.min(failedReplacements, REPLACEMENT_BACKOFF_MS.length - 1)] ?? 60_000;
    failedReplacements++;
    pendingReplacements++;
    log(
      'error',
      `${reason}: serving with ${serving()} of ${config.workers} workers; next attempt in ${delay / 1000} s`,
      {
        ...extra,
        workers_serving: serving(),
        workers: config.workers,
        retry_in_ms: delay,
      },
    );
    setTimeout(() => {
      pendingReplacements--;
      if (!stopping) fork();
    }, delay).unref();
  };

  cluster.on('listening', (worker) => {
    listening.add(worker.id);
    if (ready) {
      failedReplacements = 0;
      log(serving() < config.workers ? 'warn' : 'info', `serving with ${serving()} of ${config.workers} workers`, {
        worker_pid: worker.process.pid,
        workers_serving: serving(),
        workers: config.workers,
      });
    }
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
      port = message.port;
      if (!ready && reported.size === config.workers) {
        ready = true;
        log('info', `cluster ready: ${config.workers} workers on http://${config.host}:${message.port}`, {
          workers: config.workers,
        });
        log('info', signalsLine(process.pid));
      }
      return;
    }
    if (message?.type !== METRICS_REQUEST) return;
    aggregator.clusterMetrics().then(
      (text) =>
        worker.send({
          type: METRICS_RESPONSE,
          id: message.id,
          text: `${text}${workersMetric(serving(), config.workers)}`,
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
    const extra = { worker_pid: worker.process.pid, code, signal };
    if (!ready) {
      // One of the first workers could not start (bad artifact, port taken): more will not help.
      log('error', 'a worker failed to start: stopping the cluster', extra);
      stopAll(1);
      return;
    }
    if (serving() === 0 && !wasListening && pendingReplacements === 0) {
      // Nothing serves and the replacement cannot start: there is nothing healthy left to keep.
      log('error', 'no worker is serving and a replacement cannot start: stopping the cluster', extra);
      stopAll(1);
      return;
    }
    if (!wasListening) {
      // The healthy workers keep serving the set they loaded; this one retries later.
      replaceLater('a replacement worker could not start', extra);
      return;
    }
    const now = Date.now();
    restarts = restarts.filter((t) => now - t < 60_000);
    if (restarts.length >= MAX_RESTARTS_PER_MINUTE) {
      replaceLater(`workers keep dying (${restarts.length} restarts in a minute)`, extra);
      return;
    }
    restarts.push(now);
    log('warn', 'a worker died: starting a replacement', extra);
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
      log('error', 'workers did not stop within DRAIN_TIMEOUT_MS + 10 s: killing them');
      for (const w of workers) w.process.kill('SIGKILL');
      process.exit(1);
    }, config.drainTimeoutMs + 10_000);
    force.unref();
    for (const w of workers) {
      w.once('exit', (code) => {
        if (code !== 0) failed = true;
        if (--remaining === 0) done();
      });
    }
    // First the workers take the connections the primary holds (accepted, or waiting in its backlog,
    // before the signal; see heldConnections): the port would close on them. Then every worker leaves
    // the shared port (the primary closes it once the last one has), then each drains its own
    // in-flight requests (src/server.ts) and exits 0. In this order a client told `Connection: close`
    // by one worker cannot reconnect to another still accepting, only to be reset when the port closes.
    const handOff =
      port > 0 && remaining > 0 ? handOffHeld(port, Math.min(HANDOFF_MAX_MS, config.drainTimeoutMs)) : undefined;
    if (handOff === undefined) stopAccepting(workers, signal);
    else {
      void handOff.then(
        ({ held, left }) => {
          if (held > 0) {
            log(
              left === 0 ? 'info' : 'warn',
              `the workers took ${held - left} of the ${held} connections waiting in the primary`,
              {
                held_connections: held,
                left_connections: left,
              },
            );
          }
          stopAccepting(workers, signal);
        },
        () => stopAccepting(workers, signal),
      );
    }
  }

  /** Every worker leaves the shared port; once all have (or STOP_ACCEPTING_TIMEOUT_MS passed), each gets `signal`. */
  function stopAccepting(workers: Worker[], signal: NodeJS.Signals) {
    const waiting = new Set(workers.filter((w) => w.isConnected()).map((w) => w.id));
    let drained = false;
    const drainAll = () => {
      if (drained) return;
      drained = true;
      cluster.off('message', onStopped);
      cluster.off('exit', onStopped);
      clearTimeout(timer);
      for (const w of workers) if (!w.isDead()) w.process.kill(signal);
    };
    const onStopped = (worker: Worker, message?: unknown) => {
      if (typeof message === 'object' && (message as AcceptingStopped | null)?.type !== ACCEPTING_STOPPED) return;
      waiting.delete(worker.id);
      if (waiting.size === 0) drainAll();
    };
    const timer = setTimeout(drainAll, STOP_ACCEPTING_TIMEOUT_MS);
    cluster.on('message', onStopped);
    cluster.on('exit', onStopped);
    for (const w of workers) if (waiting.has(w.id)) w.send({ type: STOP_ACCEPTING } satisfies StopAccepting);
    if (waiting.size === 0) drainAll();
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

  watchLauncher((message) => {
    log('warn', message);
    stopAll(0);
  });
  log('info', `starting ${config.workers} workers`);
  for (let i = 0; i < config.workers; i++) fork();
}

/** The primary's own series, added to the cluster's /metrics: workers serving against WORKERS. */
function workersMetric(serving: number, configured: number): string {
  return (
    '# HELP cluster_workers_serving Workers of the cluster listening on the port (WORKERS when all are up).\n' +
    `# TYPE cluster_workers_serving gauge\ncluster_workers_serving ${serving}\n` +
    '# HELP cluster_workers_configured WORKERS: workers the cluster runs when all are up.\n' +
    `# TYPE cluster_workers_configured gauge\ncluster_workers_configured ${configured}\n`
  );
}
