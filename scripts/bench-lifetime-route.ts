/**
 * POST /pools/lifetime on a generated tape, against POST /pools/score on the same tape, side by side:
 *
 *   node --import tsx scripts/bench-lifetime-route.ts [--loans 100000] [--rounds 2] [--model xgboost]
 *        [--threads 1,2] [--only-four | --hazard-ab | --loans-csv] [--builds distA,distB]
 *
 * The tape is the reference holdout loans repeated to --loans rows (CSV with a header). One app per
 * POOL_THREADS value of --threads, requests through app.inject; each round runs, on each app in turn,
 * /pools/score, /pools/lifetime under baseline and under all four scenarios (--only-four: that one alone),
 * interleaved (the machine's drift hits all alike). --hazard-ab: the four scenarios with hazard=timing_only, with
 * the default (house_prices for a model that reads the scenario) and with prepayment=scenario, interleaved.
 * --loans-csv: the four scenarios with hazard=timing_only and ?loans=csv (the per-loan CSV, 0.76 GB for a
 * million loans), sent over 127.0.0.1 and read by a client that counts the bytes and drops them, with
 * REQUEST_TIMEOUT_MS=0 (the upload is read as fast as the answer goes). Prints each request's wall and CPU seconds
 * (process.cpuUsage: every thread of this process, the workers' included), the medians' ratios to
 * /pools/score on one thread, and the peak resident set (all threads). --builds: compiled builds (`npm run build`'s
 * dist/, a copy of an older one) instead of these sources, one app per build and thread count, interleaved
 * (two builds side by side in one run). Run at normal priority under the bench lock (docs/PERFORMANCE.md).
 */
import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import { resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import * as sourceApp from '../src/app.js';
import * as sourceConfig from '../src/config.js';
import { LOAN_FIELDS } from '../src/loan/record.js';

const { values } = parseArgs({
  options: {
    loans: { type: 'string', default: '100000' },
    rounds: { type: 'string', default: '2' },
    model: { type: 'string', default: 'xgboost' },
    threads: { type: 'string', default: '1' },
    'only-four': { type: 'boolean', default: false },
    'hazard-ab': { type: 'boolean', default: false },
    'loans-csv': { type: 'boolean', default: false },
    builds: { type: 'string' },
  },
});
const THREADS = values.threads.split(',').map(Number);
const N = Number(values.loans);
const ROUNDS = Number(values.rounds);

const reference = JSON.parse(readFileSync('model-artifacts/reference/holdout.json', 'utf8')) as {
  loans: Record<string, unknown>[];
  kinds: string[];
};
const holdout = reference.loans.filter((_, i) => reference.kinds[i] === 'holdout');
const names = LOAN_FIELDS.map((f) => f.name);
const lines = [names.join(',')];
for (let i = 0; i < N; i++) {
  const loan = holdout[i % holdout.length] as Record<string, unknown>;
  lines.push(names.map((n) => (loan[n] === null || loan[n] === undefined ? '' : String(loan[n]))).join(','));
}
const tape = Buffer.from(`${lines.join('\n')}\n`);

interface Build {
  readonly label: string;
  readonly app: typeof sourceApp;
  readonly config: typeof sourceConfig;
}
const builds: Build[] = values.builds
  ? await Promise.all(
      values.builds.split(',').map(async (dir) => ({
        label: `${dir}, `,
        app: (await import(pathToFileURL(resolve(dir, 'src/app.js')).href)) as typeof sourceApp,
        config: (await import(pathToFileURL(resolve(dir, 'src/config.js')).href)) as typeof sourceConfig,
      })),
    )
  : [{ label: '', app: sourceApp, config: sourceConfig }];
/** One app per build and thread count; `name` labels its rows. */
const apps: { name: string; threads: number; app: Awaited<ReturnType<typeof sourceApp.buildApp>> }[] = [];
for (const build of builds) {
  for (const threads of THREADS) {
    const app = build.app.buildApp(
      build.config.loadConfig({
        LOG_LEVEL: 'silent',
        POOL_THREADS: String(threads),
        POOL_MAX_BYTES: String(tape.length + 1024),
        POOL_MAX_ROWS: String(N + 1),
        // --loans-csv reads the upload only as fast as it projects and sends the answer: past 120 s it would be cut.
        ...(values['loans-csv'] ? { REQUEST_TIMEOUT_MS: '0' } : {}),
      }),
      { logger: false },
    );
    await app.ready();
    if (values['loans-csv']) await app.listen({ port: 0, host: '127.0.0.1' });
    apps.push({ name: `${build.label}${threads} thread${threads === 1 ? '' : 's'}`, threads, app });
  }
}

const FOUR = `/pools/lifetime?model=${values.model}&scenario=baseline,adverse,severely_adverse,historical`;
const REQUESTS: [string, string][] = values['hazard-ab']
  ? [
      ['4 scenarios, hazard=timing_only', `${FOUR}&hazard=timing_only`],
      ['4 scenarios, default hazard', FOUR],
      ['4 scenarios, default hazard, prepayment=scenario', `${FOUR}&prepayment=scenario`],
    ]
  : values['loans-csv']
    ? [['/pools/lifetime 4 scenarios, hazard=timing_only, loans=csv', `${FOUR}&hazard=timing_only&loans=csv`]]
    : values['only-four']
      ? [['/pools/lifetime 4 scenarios', FOUR]]
      : [
          ['/pools/score', `/pools/score?model=${values.model}`],
          ['/pools/lifetime baseline', `/pools/lifetime?model=${values.model}`],
          ['/pools/lifetime 4 scenarios', FOUR],
        ];
type App = Awaited<ReturnType<typeof sourceApp.buildApp>>;
/** --loans-csv: over a socket, the body counted and dropped (app.inject would hold all of it). */
function overSocket(app: App, url: string, payload: Buffer): Promise<{ statusCode: number; body: string }> {
  const port = (app.server.address() as { port: number }).port;
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, method: 'POST', path: url, headers: { 'content-type': 'text/csv' } },
      (res) => {
        let bytes = 0;
        res.on('data', (d: Buffer) => {
          bytes += d.length;
        });
        res.on('end', () => resolve({ statusCode: res.complete ? (res.statusCode ?? 0) : 0, body: `${bytes} bytes` }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}
const post = (app: App, url: string, payload: Buffer) =>
  values['loans-csv']
    ? overSocket(app, url, payload)
    : app.inject({ method: 'POST', url, payload, headers: { 'content-type': 'text/csv' } });
const key = (name: string, app: string) => `${name} on ${app}`;
const times = new Map<string, { wall: number[]; cpu: number[] }>();
let peak = process.memoryUsage().rss;
// Warm-up: let V8 optimise the readers, the models and the engine (on this thread and the workers).
for (const { name: id, threads, app } of apps) {
  for (const [name, url] of REQUESTS) {
    times.set(key(name, id), { wall: [], cpu: [] });
    await post(app, url, tape.subarray(0, tape.lastIndexOf(10, Math.min(tape.length, 2_000_000 * threads)) + 1));
  }
}
for (let r = 0; r < ROUNDS; r++) {
  for (const { name: id, app } of apps) {
    for (const [name, url] of REQUESTS) {
      const cpu0 = process.cpuUsage();
      const t0 = performance.now();
      const res = await post(app, url, tape);
      const wall = (performance.now() - t0) / 1000;
      const c = process.cpuUsage(cpu0);
      const cpu = (c.user + c.system) / 1e6;
      peak = Math.max(peak, process.memoryUsage().rss);
      if (res.statusCode !== 200) throw new Error(`${name}: ${res.statusCode} ${res.body.slice(0, 300)}`);
      const t = times.get(key(name, id)) as { wall: number[]; cpu: number[] };
      t.wall.push(wall);
      t.cpu.push(cpu);
      console.log(`round ${r + 1} ${key(name, id).padEnd(42)} ${wall.toFixed(2)} s wall, ${cpu.toFixed(2)} CPU-s`);
    }
  }
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
const base = times.get(key(REQUESTS[0]?.[0] as string, apps[0]?.name as string)) as { wall: number[]; cpu: number[] };
for (const [name, t] of times) {
  console.log(
    `${name.padEnd(42)} ${N} loans: median ${median(t.wall).toFixed(2)} s wall (${Math.round(N / median(t.wall))} loans/s), ` +
      `${median(t.cpu).toFixed(2)} CPU-s; × ${(median(t.wall) / median(base.wall)).toFixed(2)} the wall time of the first`,
  );
}
console.log(`tape ${(tape.length / 2 ** 20).toFixed(1)} MB; peak rss ${(peak / 2 ** 20).toFixed(0)} MB`);
for (const { app } of apps) await app.close();
