/**
 * POST /pools/lifetime on a generated tape, against POST /pools/score on the same tape, side by side:
 *
 *   node --import tsx scripts/bench-lifetime-route.ts [--loans 100000] [--rounds 2] [--model xgboost]
 *
 * The tape is the reference holdout loans repeated to --loans rows (CSV with a header). One app, one thread
 * for tapes (POOL_THREADS=1, the lifetime route's only mode), requests through app.inject; each round runs
 * /pools/score, /pools/lifetime under baseline and under all four scenarios, interleaved (the machine's drift
 * hits all alike). Prints each request's wall and CPU seconds (process.cpuUsage: this process only) and the
 * medians' ratios to /pools/score. Run at normal priority under the bench lock (docs/PERFORMANCE.md).
 */
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { buildApp } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { LOAN_FIELDS } from '../src/loan/record.js';

const { values } = parseArgs({
  options: {
    loans: { type: 'string', default: '100000' },
    rounds: { type: 'string', default: '2' },
    model: { type: 'string', default: 'xgboost' },
  },
});
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

const app = buildApp(
  loadConfig({
    LOG_LEVEL: 'silent',
    POOL_THREADS: '1',
    MODEL_WARMUP_MS: '0',
    POOL_MAX_BYTES: String(tape.length + 1024),
    POOL_MAX_ROWS: String(N + 1),
  }),
  { logger: false },
);
await app.ready();

const REQUESTS: [string, string][] = [
  ['/pools/score', `/pools/score?model=${values.model}`],
  ['/pools/lifetime baseline', `/pools/lifetime?model=${values.model}`],
  [
    '/pools/lifetime 4 scenarios',
    `/pools/lifetime?model=${values.model}&scenario=baseline,adverse,severely_adverse,historical`,
  ],
];
const times = new Map<string, { wall: number[]; cpu: number[] }>(REQUESTS.map(([k]) => [k, { wall: [], cpu: [] }]));
let peak = process.memoryUsage().rss;
// Warm-up: let V8 optimise the readers, the models and the engine.
for (const [, url] of REQUESTS) {
  await app.inject({
    method: 'POST',
    url,
    payload: tape.subarray(0, 2_000_000),
    headers: { 'content-type': 'text/csv' },
  });
}
for (let r = 0; r < ROUNDS; r++) {
  for (const [name, url] of REQUESTS) {
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    const res = await app.inject({ method: 'POST', url, payload: tape, headers: { 'content-type': 'text/csv' } });
    const wall = (performance.now() - t0) / 1000;
    const c = process.cpuUsage(cpu0);
    const cpu = (c.user + c.system) / 1e6;
    peak = Math.max(peak, process.memoryUsage().rss);
    if (res.statusCode !== 200) throw new Error(`${name}: ${res.statusCode} ${res.body.slice(0, 300)}`);
    const t = times.get(name) as { wall: number[]; cpu: number[] };
    t.wall.push(wall);
    t.cpu.push(cpu);
    console.log(`round ${r + 1} ${name.padEnd(28)} ${wall.toFixed(2)} s wall, ${cpu.toFixed(2)} CPU-s`);
  }
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
const base = times.get('/pools/score') as { wall: number[]; cpu: number[] };
for (const [name] of REQUESTS) {
  const t = times.get(name) as { wall: number[]; cpu: number[] };
  console.log(
    `${name.padEnd(28)} ${N} loans: median ${median(t.wall).toFixed(2)} s wall (${Math.round(N / median(t.wall))} loans/s), ` +
      `${median(t.cpu).toFixed(2)} CPU-s; × ${(median(t.cpu) / median(base.cpu)).toFixed(1)} the CPU of /pools/score`,
  );
}
console.log(`tape ${(tape.length / 2 ** 20).toFixed(1)} MB; peak rss ${(peak / 2 ** 20).toFixed(0)} MB`);
await app.close();
