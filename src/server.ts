import { buildApp } from './app.js';
import { ConfigError, loadConfig } from './config.js';

/**
 * The process: read and validate the configuration, build the app, listen, and shut down gracefully
 * on SIGTERM / SIGINT (stop accepting, finish in-flight requests, exit 0).
 */
let config: ReturnType<typeof loadConfig>;
try {
  config = loadConfig(process.env);
} catch (err) {
  if (err instanceof ConfigError) {
    console.error(err.message);
    process.exit(1);
  }
  throw err;
}

const app = buildApp(config);
try {
  await app.listen({ port: config.port, host: config.host });
} catch (err) {
  app.log.fatal({ err }, 'cannot start');
  console.error(`cannot start: ${(err as Error).message}`);
  process.exit(1);
}

let stopping = false;
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.on(signal, () => {
    if (stopping) {
      app.log.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    stopping = true;
    app.log.info({ signal }, 'shutting down: finishing in-flight requests');
    const force = setTimeout(() => {
      app.log.error('shutdown did not finish within 10 s: exiting');
      process.exit(1);
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
          process.exit(0);
        },
        (err: unknown) => {
          app.log.error({ err }, 'error while closing');
          process.exit(1);
        },
      );
  });
}
