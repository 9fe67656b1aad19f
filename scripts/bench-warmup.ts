/**
 * Cold start, measured: `node --import tsx scripts/bench-warmup.ts [--out bench-results] [--batches 60]
 * [--singles 1200]` (after `npm run build`). Starts the compiled service twice, without warm-up
 * (MODEL_WARMUP_MS=0) and with the default, and in each, after it is ready and again after a hot
 * reload (POST /admin/models/reload), sends XGBoost requests one at a time on one keep-alive
 * connection: batches of 1,000 different holdout loans, then single loans, then `--tapes` CSV tapes
 * of the 5,000 holdout loans to POST /pools/score (on the tape threads, POOL_THREADS unset: every
 * core). It prints the first request against the steady state (the median of the last ten batches,
 * of single requests 1,000–1,199, of the last five tapes), so "the first request is as fast as the
 * thousandth" is a ratio measured in one run.
 * Loopback only; each server is stopped by its pid.
 */

import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus } from 'node:os';
import { join } from 'node:path';
import { freePort } from './lib/net.js';

const args = process.argv.slice(2);
const option = (name: string, fallback: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && i + 1 < args.length ? (args[i + 1] as string) : fallback;
};
const OUT = option('out', 'bench-results');
const BATCHES = Number(option('batches', '60'));
const SINGLES = Number(option('singles', '1200'));
const TAPES = Number(option('tapes', '12'));

const holdout = JSON.parse(readFileSync('model-artifacts/reference/holdout.json', 'utf8')) as {
  loans: Record<string, unknown>[];
  kinds: string[];
};
const loans = holdout.loans.filter((_, i) => holdout.kinds[i] === 'holdout');
const batchBodies = [0, 1, 2, 3, 4].map((k) => JSON.stringify({ loans: loans.slice(k * 1000, k * 1000 + 1000) }));
const singleBodies = loans.slice(0, 1000).map((loan) => JSON.stringify(loan));
const columns = Object.keys(loans[0] as object);
const tapeBody = `${columns.join(',')}\n${loans.map((l) => columns.map((c) => l[c] ?? '').join(',')).join('\n')}\n`;

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
};

async function post(base: string, path: string, body: string, type = 'application/json'): Promise<number> {
  const t = performance.now();
  const res = await fetch(`${base}${path}`, { method: 'POST', headers: { 'content-type': type }, body });
  const answer = await res.arrayBuffer();
  if (res.status !== 200) {
    throw new Error(`${path} answered ${res.status}: ${Buffer.from(answer).toString().slice(0, 300)}`);
  }
  return performance.now() - t;
}

interface Phase {
  readonly first_batch_ms: number;
  readonly steady_batch_ms: number;
  /** Batches until one took at most 1.5× the steady time. */
  readonly batches_to_settle: number;
  readonly first_single_ms: number;
  readonly first_20_singles_median_ms: number;
  readonly steady_single_ms: number;
  readonly first_tape_ms: number;
  readonly steady_tape_ms: number;
}

async function measure(base: string): Promise<Phase> {
  const batch: number[] = [];
  for (let i = 0; i < BATCHES; i++)
    batch.push(await post(base, '/predict?model=xgboost', batchBodies[i % 5] as string));
  const single: number[] = [];
  for (let i = 0; i < SINGLES; i++)
    single.push(await post(base, '/predict?model=xgboost', singleBodies[i % 1000] as string));
  const tape: number[] = [];
  for (let i = 0; i < TAPES; i++) tape.push(await post(base, '/pools/score?model=xgboost', tapeBody, 'text/csv'));
  const steadyBatch = median(batch.slice(-10));
  return {
    first_batch_ms: batch[0] as number,
    steady_batch_ms: steadyBatch,
    batches_to_settle: batch.findIndex((ms) => ms <= 1.5 * steadyBatch) + 1,
    first_single_ms: single[0] as number,
    first_20_singles_median_ms: median(single.slice(0, 20)),
    steady_single_ms: median(single.slice(1000, 1200)),
    first_tape_ms: tape[0] as number,
    steady_tape_ms: median(tape.slice(-5)),
  };
}

async function run(warm: boolean) {
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const started = performance.now();
  const child = spawn(process.execPath, ['dist/src/server.js'], {
    env: {
      ...process.env,
      PORT: String(port),
      HOST: '127.0.0.1',
      LOG_LEVEL: 'warn',
      ...(warm ? {} : { MODEL_WARMUP_MS: '0' }),
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let errors = '';
  child.stderr?.on('data', (d) => {
    errors += d;
  });
  const exit = new Promise((resolve) => child.once('exit', resolve));
  try {
    for (;;) {
      const ready = await fetch(`${base}/health/ready`).then(
        (r) => r.status === 200,
        () => false,
      );
      if (ready) break;
      if (performance.now() - started > 120_000) throw new Error(`not ready: ${errors}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    const readyMs = performance.now() - started;
    const start = await measure(base);
    const t = performance.now();
    const reload = await fetch(`${base}/admin/models/reload`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{}',
    });
    if (reload.status !== 200) throw new Error(`reload answered ${reload.status}: ${await reload.text()}`);
    const reloadMs = performance.now() - t;
    const afterReload = await measure(base);
    return { warm, ready_ms: readyMs, reload_ms: reloadMs, start, reload: afterReload };
  } finally {
    child.kill('SIGTERM');
    await exit;
  }
}

const results = [];
for (const warm of [false, true]) {
  const r = await run(warm);
  console.log(JSON.stringify(r));
  results.push(r);
}

const machine = `${availableParallelism()} CPUs (${cpus()[0]?.model ?? 'unknown'}), node ${process.version}`;
const f = (x: number, digits = 1) => x.toFixed(digits);
const lines = [
  `Cold start (${new Date().toISOString().slice(0, 10)}), ${machine}; XGBoost, one request at a time on one keep-alive connection, ${BATCHES} batches of 1,000 different holdout loans, ${SINGLES} single loans, then ${TAPES} CSV tapes of the 5,000 holdout loans (POST /pools/score, tape threads: every core), after the start and again after a hot reload (\`scripts/bench-warmup.ts\`).`,
  '',
  '| warm-up | phase | ready / reload ms | first batch ms | steady batch ms | first / steady | batches to settle | first single ms | first 20 singles, median ms | steady single ms | first tape ms | steady tape ms |',
  '|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
];
for (const r of results) {
  for (const [phase, p, ms] of [
    ['start', r.start, r.ready_ms],
    ['hot reload', r.reload, r.reload_ms],
  ] as const) {
    lines.push(
      `| ${r.warm ? 'on (default)' : 'off (MODEL_WARMUP_MS=0)'} | ${phase} | ${f(ms, 0)} | ${f(p.first_batch_ms)} | ${f(p.steady_batch_ms)} | ${f(p.first_batch_ms / p.steady_batch_ms)}× | ${p.batches_to_settle} | ${f(p.first_single_ms, 2)} | ${f(p.first_20_singles_median_ms, 2)} | ${f(p.steady_single_ms, 2)} | ${f(p.first_tape_ms)} | ${f(p.steady_tape_ms)} |`,
    );
  }
}
const md = `${lines.join('\n')}\n`;
process.stdout.write(`\n${md}`);
writeFileSync(join(OUT, 'warmup.md'), md);
writeFileSync(
  join(OUT, 'warmup.json'),
  `${JSON.stringify({ machine, batches: BATCHES, singles: SINGLES, tapes: TAPES, results }, null, 2)}\n`,
);
