import cluster from 'node:cluster';
import type { FastifyInstance } from 'fastify';
import { buildApp } from './app.js';
import {
  ACCEPTING_STOPPED,
  type AcceptingStopped,
  RELOAD_COMMAND,
  RELOAD_RESULT,
  type ReloadCommand,
  type ReloadResult,
  runPrimary,
  STOP_ACCEPTING,
  type StopAccepting,
  WORKER_LISTENING,
  type WorkerListening,
} from './cluster.js';
import { type Config, ConfigError, loadConfig, SHUTDOWN_FORCE_MARGIN_MS } from './config.js';
import { signalsLine, watchLauncher } from './launcher.js';
import { LogStream } from './log-stream.js';

/**
 * The process: read and validate the configuration, build the app, listen, reload the models and
 * the API keys file on SIGHUP, and shut down gracefully on SIGTERM / SIGINT (stop accepting, finish in-flight
 * requests within DRAIN_TIMEOUT_MS, exit 0; docs/OPERATIONS.md). With WORKERS > 1 the first
 * process becomes the cluster's primary (src/cluster.ts) and every worker runs this same file.
 */
let config: Config;
try {
  config = loadConfig(process.env);
} catch (err) {
  if (err instanceof ConfigError) {
    console.error(err.message);
    process.exit(1);
  }
  throw err;
}

if (config.workers > 1 && cluster.isPrimary) {
  runPrimary(config);
} else {
  await serve(config);
}

async function serve(config: Config): Promise<void> {
  // Logs are gathered into 4 KiB chunks and written asynchronously (log-stream.ts): a synchronous
  // write per line cost ~10 µs a request on our VMs. Flushed every second, and synchronously
  // before the process exits.
  const logStream = LogStream.toFd(1);
  setInterval(() => logStream.flush(), 1000).unref();
  const exit = (code: number): never => {
    logStream.flushSync();
    return process.exit(code);
  };
  const app = buildApp(config, { logStream });
  // Hot reload: SIGHUP (to this process; in a cluster the primary relays it as a command to every
  // worker) loads the model directory again; the old models serve until the new set is validated.
  // Installed before listening, so a command sent while this worker starts is not lost.
  process.on('SIGHUP', () => {
    app.log.info('SIGHUP: reloading the models and the API keys file');
    void app.ready().then(() => Promise.all([app.reloadModels('signal'), app.apiKeys.reload()]));
  });
  if (cluster.isWorker) {
    process.on('message', (message: ReloadCommand | StopAccepting) => {
      if (message?.type === STOP_ACCEPTING) {
        // Shutdown, first step: leave the shared port (the primary then answers new connections
        // with a refusal) before any worker starts answering with `Connection: close`.
        app.stopAccepting();
        process.send?.({ type: ACCEPTING_STOPPED } satisfies AcceptingStopped);
        return;
      }
      if (message?.type !== RELOAD_COMMAND) return;
      void app
        .ready()
        .then(() => {
          // A relayed SIGHUP re-reads the keys file too (every worker also polls it within 2 s).
          if (message.trigger === 'signal') void app.apiKeys.reload();
          return app.reloadModels(message.trigger);
        })
        .then((outcome) => {
          process.send?.({ type: RELOAD_RESULT, id: message.id, outcome } satisfies ReloadResult);
        });
    });
  }
  try {
    await app.listen({ port: config.port, host: config.host });
  } catch (err) {
    app.log.fatal({ err }, 'cannot start');
    console.error(`cannot start: ${(err as Error).message}`);
    exit(1);
  }
  if (!cluster.isWorker) {
    app.log.info(signalsLine(process.pid));
    watchLauncher((message) => {
      app.log.warn(message);
      process.emit('SIGTERM', 'SIGTERM');
    });
  }
  // Start-up lines are worth seeing at once, not a second later.
  logStream.flushSync();
  if (cluster.isWorker) {
    const { port } = app.server.address() as { port: number };
    process.send?.({ type: WORKER_LISTENING, port } satisfies WorkerListening);
  }

  let stopping = false;
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.on(signal, () => {
      if (stopping) {
        // In a cluster, Ctrl-C reaches every worker directly and then again from the primary: a
        // worker keeps draining and leaves forcing an exit to its primary.
        if (cluster.isWorker) return;
        app.log.warn({ signal }, 'second signal: exiting now');
        exit(1);
      }
      stopping = true;
      void shutdown(app, config.drainTimeoutMs, { signal }, exit).then(exit);
    });
  }
}

/**
 * Graceful shutdown (plugins/lifecycle.ts): stop accepting, answer what is in flight with
 * `Connection: close`, wait up to DRAIN_TIMEOUT_MS, close. Resolves with the exit code: 0 when every
 * request in flight was answered, 1 when the limit cut some (logged) or closing failed.
 */
async function shutdown(
  app: FastifyInstance,
  drainTimeoutMs: number,
  context: Record<string, unknown>,
  exit: (code: number) => never,
): Promise<number> {
  app.log.info({ ...context, drain_timeout_ms: drainTimeoutMs }, 'shutting down: finishing in-flight requests');
  // Closing itself should take well under a second; past this something hangs.
  const force = setTimeout(() => {
    app.log.error(`shutdown did not finish within DRAIN_TIMEOUT_MS + ${SHUTDOWN_FORCE_MARGIN_MS / 1000} s: exiting`);
    exit(1);
  }, drainTimeoutMs + SHUTDOWN_FORCE_MARGIN_MS);
  force.unref();
  const drained = await app.drain(drainTimeoutMs);
  if (!drained) {
    app.log.error(
      { in_flight: app.inFlight, drain_timeout_ms: drainTimeoutMs },
      'requests still in flight when DRAIN_TIMEOUT_MS passed: cutting them',
    );
  }
  try {
    await app.close();
  } catch (err) {
    app.log.error({ err }, 'error while closing');
    return 1;
  }
  app.log.info({ drained }, 'stopped');
  return drained ? 0 : 1;
}
