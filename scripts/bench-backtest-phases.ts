/**
 * Where a backtest's wall time goes (issue 23 "Speed"): BacktestTape on a 1M-loan tape
 * (scripts/bench-backtest.ts writes it) on two worker threads and on one thread, interleaved, each split into
 * reading + scoring + drift (the chunks pushed; on threads, the runs out) and `end()` (the last runs and the
 * statistics, on this thread whatever the threads). Under the benchmark lock:
 *
 *   flock /work/wt/bench.lock node --import tsx scripts/bench-backtest-phases.ts
 */
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { BacktestTape, TapeThreads } from '../src/pool/index.js';
import { loadModelFile } from '../src/runtime/index.js';
import { checkScenario, type Scenario } from '../src/scenario/index.js';

const tape = readFileSync('/tmp/bench-backtest/tape-1000000-seed7.csv');
const model = await loadModelFile('model-artifacts/xgboost/1.0.0.json');
const pool = new TapeThreads({ size: 2, compileTrees: true, warmupMs: 0 });
const artifact = await pool.artifact(model);
if (!('bytes' in artifact)) throw new Error(artifact.why);
const scenario = checkScenario('historical').scenario as Scenario;
for (const threads of [true, false, true, false]) {
  const t = new BacktestTape({
    model,
    scenario,
    onError: 'fail',
    maxRows: 2e6,
    format: 'csv',
    ...(threads ? { threads: { pool, artifact: artifact.bytes } } : {}),
  });
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  for (let i = 0; i < tape.length; i += 1 << 20) await t.push(tape.subarray(i, i + (1 << 20)));
  const t1 = performance.now();
  const r = await t.end();
  const t2 = performance.now();
  const c = process.cpuUsage(c0);
  console.log(
    `${threads ? '2 threads' : '1 thread '} read+score ${((t1 - t0) / 1000).toFixed(2)} s, end (last runs + statistics) ${((t2 - t1) / 1000).toFixed(2)} s, total ${((t2 - t0) / 1000).toFixed(2)} s wall, ${((c.user + c.system) / 1e6).toFixed(2)} CPU-s, labelled ${r.labelled}`,
  );
}
await pool.close();
