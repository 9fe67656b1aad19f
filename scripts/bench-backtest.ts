/**
 * POST /pools/backtest against POST /pools/score on the same tape with outcomes (issue 23 "Speed": "a backtest
 * of 1M loans with outcomes in about the time /pools/score takes for the same tape, memory bounded"):
 *
 *   nice -n 19 /usr/bin/python3 -m scripts.loanmodel.backtest_tape --n 1000000 --seed 7 \
 *     --out /tmp/bench-backtest/tape-1000000-seed7.csv            # once, outside the lock (about 2 min)
 *   flock /work/wt/bench.lock node --import tsx scripts/bench-backtest.ts [--loans 1000000] [--rounds 3]
 *     [--model xgboost] [--tape FILE]
 *
 * The tape is the training process's (backtest_tape.py: history.py's simulation, seed 7, labelled by the
 * Freddie Mac loader), CSV with the loan-record fields and default_36m. Two apps in this process: one with
 * POOL_THREADS = the machine's cores (the default), one with POOL_THREADS = 1; requests through app.inject.
 * Each round runs, interleaved (the machine's drift hits all alike):
 *   score N     POST /pools/score?scenario=historical (the backtest's scenario: the same scenario features on
 *               every loan) on the default thread pool (the workers' CPU is this process's CPU too)
 *   score 1     POST /pools/score on one thread
 *   backtest N  POST /pools/backtest under `historical` on the default thread pool (CSV runs on the workers, the
 *               statistics at the end on the event loop's thread)
 *   backtest 1  POST /pools/backtest on one thread
 * /pools/score refuses a column it does not know (default_36m is accepted by /pools/backtest only), so the
 * score requests get the same tape without its last column (default_36m): the same loans, 2 bytes a loan
 * fewer. Prints each request's wall and CPU seconds (process.cpuUsage, every thread of the process) and the
 * medians' ratios to /pools/score, and the peak RSS sampled every 20 ms during each kind of request (when the event loop lets the timer run)
 * and at its end.
 */
import { existsSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { buildApp } from '../src/app.js';
import { loadConfig } from '../src/config.js';

const { values } = parseArgs({
  options: {
    loans: { type: 'string', default: '1000000' },
    rounds: { type: 'string', default: '3' },
    model: { type: 'string', default: 'xgboost' },
    tape: { type: 'string' },
  },
});
const N = Number(values.loans);
const ROUNDS = Number(values.rounds);
const path = values.tape ?? `/tmp/bench-backtest/tape-${N}-seed7.csv`;
if (!existsSync(path)) {
  console.error(
    `no tape ${path}: write it first (outside the lock), e.g.\n  nice -n 19 /usr/bin/python3 -m scripts.loanmodel.backtest_tape --n ${N} --seed 7 --out ${path}`,
  );
  process.exit(2);
}
const tape = readFileSync(path);
let rows = -1;
for (let i = tape.indexOf(10); i !== -1; i = tape.indexOf(10, i + 1)) rows++;
if (rows !== N) throw new Error(`${path} holds ${rows} loans, not ${N}`);

/** The tape without its last column (default_36m, the header's last name), for /pools/score. */
function withoutLastColumn(buf: Buffer): Buffer {
  const out = Buffer.allocUnsafe(buf.length);
  let o = 0;
  let start = 0;
  for (let nl = buf.indexOf(10); nl !== -1; nl = buf.indexOf(10, start)) {
    const comma = buf.lastIndexOf(44, nl);
    o += buf.copy(out, o, start, comma > start ? comma : nl);
    out[o++] = 10;
    start = nl + 1;
  }
  return out.subarray(0, o);
}
if (!tape.subarray(0, tape.indexOf(10)).toString().endsWith(',default_36m'))
  throw new Error('default_36m must be the last column');
const scoreTape = withoutLastColumn(tape);

const THREADS = availableParallelism();
const app = (threads: number) =>
  buildApp(
    loadConfig({
      LOG_LEVEL: 'silent',
      POOL_THREADS: String(threads),
      MODEL_WARMUP_MS: '0',
      POOL_MAX_BYTES: String(tape.length + 1024),
      POOL_MAX_ROWS: String(N + 1),
    }),
    { logger: false },
  );
const pooled = app(THREADS);
const single = app(1);
await Promise.all([pooled.ready(), single.ready()]);

const REQUESTS = [
  {
    name: `/pools/score, ${THREADS} threads`,
    app: pooled,
    url: `/pools/score?model=${values.model}&scenario=historical`,
    body: scoreTape,
  },
  {
    name: '/pools/score, 1 thread',
    app: single,
    url: `/pools/score?model=${values.model}&scenario=historical`,
    body: scoreTape,
  },
  {
    name: `/pools/backtest, ${THREADS} threads`,
    app: pooled,
    url: `/pools/backtest?model=${values.model}`,
    body: tape,
  },
  { name: '/pools/backtest, 1 thread', app: single, url: `/pools/backtest?model=${values.model}`, body: tape },
];
type Times = { wall: number[]; cpu: number[]; rss: number };
const times = new Map<string, Times>(REQUESTS.map((r) => [r.name, { wall: [], cpu: [], rss: 0 }]));
// Warm-up: let V8 optimise the readers, the model, the statistics; start the worker threads.
for (const r of REQUESTS) {
  const end = r.body.indexOf(10, Math.min(4_000_000, r.body.length >> 2));
  await r.app.inject({
    method: 'POST',
    url: r.url,
    payload: r.body.subarray(0, end + 1),
    headers: { 'content-type': 'text/csv' },
  });
}
const base = process.memoryUsage().rss;
for (let round = 0; round < ROUNDS; round++) {
  for (const r of REQUESTS) {
    const t = times.get(r.name) as Times;
    const sample = () => {
      t.rss = Math.max(t.rss, process.memoryUsage().rss);
    };
    const sampler = setInterval(sample, 20); // fires only when the event loop is free (between chunks)
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    const res = await r.app.inject({
      method: 'POST',
      url: r.url,
      payload: r.body,
      headers: { 'content-type': 'text/csv' },
    });
    const wall = (performance.now() - t0) / 1000;
    const c = process.cpuUsage(cpu0);
    clearInterval(sampler);
    sample();
    const cpu = (c.user + c.system) / 1e6;
    if (res.statusCode !== 200) throw new Error(`${r.name}: ${res.statusCode} ${res.body.slice(0, 300)}`);
    const body = res.json() as {
      loans?: number;
      loan_count?: number;
      auc?: { value: number };
      psi?: number;
    };
    const loans = body.loans ?? body.loan_count;
    if (loans !== N) throw new Error(`${r.name}: ${loans} loans, not ${N}`);
    t.wall.push(wall);
    t.cpu.push(cpu);
    const extra = body.auc ? `  (AUC ${body.auc.value.toFixed(4)}, PSI ${body.psi?.toFixed(4)})` : '';
    console.log(`round ${round + 1} ${r.name.padEnd(30)} ${wall.toFixed(2)} s wall, ${cpu.toFixed(2)} CPU-s${extra}`);
  }
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
const ref = times.get(REQUESTS[0]?.name as string) as Times;
const ref1 = times.get(REQUESTS[1]?.name as string) as Times;
console.log(
  `\n${N} loans (${(tape.length / 2 ** 20).toFixed(1)} MB), ${ROUNDS} interleaved rounds, Node ${process.version}`,
);
for (const r of REQUESTS) {
  const t = times.get(r.name) as Times;
  console.log(
    `${r.name.padEnd(30)} median ${median(t.wall).toFixed(2)} s wall (${Math.round(N / median(t.wall))} loans/s), ` +
      `${median(t.cpu).toFixed(2)} CPU-s; wall × ${(median(t.wall) / median(ref.wall)).toFixed(2)} and × ${(median(t.wall) / median(ref1.wall)).toFixed(2)} ` +
      `of /pools/score on ${THREADS} and 1 thread(s); CPU × ${(median(t.cpu) / median(ref.cpu)).toFixed(2)}; ` +
      `peak rss ${(t.rss / 2 ** 20).toFixed(0)} MB (${((t.rss - base) / 2 ** 20).toFixed(0)} MB over the idle ${(base / 2 ** 20).toFixed(0)} MB)`,
  );
}
await Promise.all([pooled.close(), single.close()]);
