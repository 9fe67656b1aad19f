/**
 * One variant of scripts/bench-ablation.ts in `--inject` mode: the service's app (this copy's
 * dist/src/app.js, patched or not) built as src/server.ts builds it, logging at info to /dev/null,
 * answering `{ n }` messages from its parent by injecting `n` single-loan XGBoost `POST /predict`
 * requests (50 at a time) and replying with the process CPU µs a request they took. No sockets and
 * no load generator sharing the machine: far steadier than CPU per request over HTTP.
 */
import { openSync } from 'node:fs';
import { buildApp } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { LOAN_EXAMPLE } from '../src/loan/schema.js';
import { LogStream } from '../src/log-stream.js';

const config = loadConfig({ ...process.env, LOG_LEVEL: 'info' });
const logStream = LogStream.toFd(openSync('/dev/null', 'w'));
const app = buildApp(config, { logStream });
await app.ready();
const payload = JSON.stringify(LOAN_EXAMPLE);
const request = {
  method: 'POST' as const,
  url: '/predict?model=xgboost',
  headers: { 'content-type': 'application/json' },
  payload,
};

async function run(n: number): Promise<void> {
  for (let done = 0; done < n; done += 50) {
    const wave = await Promise.all(Array.from({ length: Math.min(50, n - done) }, () => app.inject(request)));
    for (const res of wave) if (res.statusCode !== 200) throw new Error(`status ${res.statusCode}: ${res.body}`);
  }
}

process.on('message', (message: { n: number }) => {
  const t0 = process.cpuUsage();
  run(message.n).then(
    () => {
      const d = process.cpuUsage(t0);
      process.send?.({ us: (d.user + d.system) / message.n });
    },
    (err: Error) => process.send?.({ error: err.message }),
  );
});
process.send?.({ answer: (await app.inject(request)).body });
