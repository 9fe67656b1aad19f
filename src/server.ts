import cluster from 'node:cluster';
import { buildApp } from './app.js';
import {
  RELOAD_COMMAND,
  RELOAD_RESULT,
  type ReloadCommand,
  type ReloadResult,
  runPrimary,
  WORKER_LISTENING,
  type WorkerListening,
} from './cluster.js';
import { type Config, ConfigError, loadConfig } from './config.js';
import { LogStream } from './log-stream.js';

/**
 * The process: read and validate the configuration, build the app, listen, reload the models and
 * the API keys file on SIGHUP, and shut down gracefully on SIGTERM / SIGINT (stop accepting, finish in-flight requests, exit 0). With WORKERS > 1 the first
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
  const app = buildApp(config, { logger: { level: config.logLevel, stream: logStream } });
  // Hot reload: SIGHUP (to this process; in a cluster the primary relays it as a command to every
  // worker) loads the model directory again; the old models serve until the new set is validated.
  // Installed before listening, so a command sent while this worker starts is not lost.
  process.on('SIGHUP', () => {
    app.log.info('SIGHUP: reloading the models and the API keys file');
    void app.ready().then(() => Promise.all([app.reloadModels('signal'), app.apiKeys.reload()]));
  });
  if (cluster.isWorker) {
    process.on('message', (message: ReloadCommand) => {
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
      app.log.info({ signal }, 'shutting down: finishing in-flight requests');
      const force = setTimeout(() => {
        app.log.error('shutdown did not finish within 10 s: exiting');
        exit(1);
      }, 10_000);
      force.unref();
      app
        .drain(8_000)
        .then((drained) => {
          if (!drained) app.log.warn('requests still in flight after 8 s: closing anyway');
          return app.close();
        })
        .then(
          () => {
            app.log.info('stopped');
            exit(0);
          },
          (err: unknown) => {
            app.log.error({ err }, 'error while closing');
            exit(1);
          },
        );
    });
  }
}
