/**
 * Lifetime-loss engine benchmark: `node --import tsx scripts/bench-lifetime.ts [--loans 200000] [--workers 1] [--scenarios a,b]
 * [--hazard timing_only|house_prices] [--prepayment psa|scenario]` (defaults: timing_only, 100 % PSA).
 *
 * Runs src/loss over N synthetic 30-year loans (age 0, 360 months, recovery lag 12, PSA 100 %, seasoning
 * timing) under every scenario preset and `historical`, streaming them into one pool per scenario, and prints
 * loan-scenarios per second and the resident memory before and after (bounded: the pool is fixed-size monthly
 * arrays). House-price paths are computed once per state (presets) or state × first-payment quarter
 * (historical) and shared, as a route would. With --workers W the scenarios are split over W child processes ; each scenario's
 * CPU time is measured in the process that runs it (process.cpuUsage), so the per-CPU-second figure holds
 * on a shared machine where wall time does not.
 * Run on an otherwise idle machine, at normal priority (docs/PERFORMANCE.md, "Lifetime loss").
 */

import { fork } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { CONTRACT } from '../src/contract/index.js';
import { type Hazard, type LoanTerms, monthlyHpi, monthlyMarketRate, PoolLoss, plan } from '../src/loss/index.js';
import { seededRandom } from '../src/runtime/random.js';
import { checkScenario, SCENARIO_NAMES, type Scenario } from '../src/scenario/index.js';

const args = process.argv.slice(2);
const option = (name: string, fallback: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] ? (args[i + 1] as string) : fallback;
};
const LOANS = Number(option('loans', '200000'));
const WORKERS = Number(option('workers', '1'));
const NAMES = option('scenarios', SCENARIO_NAMES.join(',')).split(',');
const HAZARD = option('hazard', 'timing_only') as Hazard;
const PREPAYMENT =
  option('prepayment', 'psa') === 'scenario'
    ? ({ kind: 'scenario' } as const)
    : ({ kind: 'psa', multiple: 1 } as const);
const TERM = 360;
const LAG = 12;

interface BenchLoan {
  readonly terms: LoanTerms;
  readonly state: string;
  readonly fpd: number;
}

function loans(n: number): BenchLoan[] {
  const r = seededRandom(22); // the same loans every run
  const states = CONTRACT.us_states;
  const out: BenchLoan[] = [];
  for (let i = 0; i < n; i++) {
    const balance = Math.round(50_000 + r() * 600_000);
    const ltv = 40 + r() * 57;
    out.push({
      terms: {
        balance,
        rate: 3 + Math.round(r() * 48) / 8,
        term: TERM,
        age: 0,
        pd: Math.exp(Math.log(1e-4) + r() * Math.log(0.3 / 1e-4)),
        value: balance / (ltv / 100),
        miPct: ltv > 80 ? 25 : 0,
      },
      state: states[Math.floor(r() * states.length)] as string,
      fpd: (1999 + Math.floor(r() * 12)) * 100 + 1 + Math.floor(r() * 12),
    });
  }
  return out;
}

/** Projects every loan under one scenario; returns [wall seconds, CPU seconds, expected lifetime loss]. */
function runScenario(name: string, tape: readonly BenchLoan[]): [number, number, number] {
  const scenario = checkScenario(name).scenario as Scenario;
  const pool = new PoolLoss(
    plan({ timing: 'seasoning', hazard: HAZARD, prepayment: PREPAYMENT, recoveryLag: LAG }),
    TERM + LAG,
  );
  const paths = new Map<string, Float64Array>();
  const rates = new Map<number, Float64Array | undefined>();
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  for (const loan of tape) {
    const key =
      scenario.kind === 'historical'
        ? `${loan.state}${Math.floor(loan.fpd / 100)}${Math.floor(((loan.fpd % 100) - 1) / 3)}`
        : loan.state;
    let path = paths.get(key);
    if (!path) {
      path = monthlyHpi({ property_state: loan.state, first_payment_date: loan.fpd }, scenario, TERM).ratio;
      paths.set(key, path);
    }
    let market: Float64Array | undefined;
    if (PREPAYMENT.kind === 'scenario') {
      if (!rates.has(loan.fpd))
        rates.set(loan.fpd, monthlyMarketRate({ first_payment_date: loan.fpd }, scenario, TERM));
      market = rates.get(loan.fpd);
    }
    pool.add(loan.terms, path, market);
  }
  const answer = pool.answer();
  const cpu = process.cpuUsage(cpu0);
  return [(performance.now() - t0) / 1000, (cpu.user + cpu.system) / 1e6, answer.expected_loss_lifetime];
}

interface Result {
  name: string;
  seconds: number;
  cpu: number;
  loss: number;
}

function runAll(names: readonly string[], n: number): Result[] {
  const tape = loans(n);
  runScenario(names[0] as string, tape.slice(0, Math.min(n, 20_000))); // warm-up: let V8 optimise
  return names.map((name) => {
    const [seconds, cpu, loss] = runScenario(name, tape);
    return { name, seconds, cpu, loss };
  });
}

if (args.includes('--child')) {
  process.send?.(runAll(NAMES, LOANS));
} else {
  const rss0 = process.memoryUsage().rss;
  const t0 = performance.now();
  let results: Result[];
  if (WORKERS <= 1) {
    results = runAll(NAMES, LOANS);
  } else {
    const groups: string[][] = Array.from({ length: WORKERS }, () => []);
    NAMES.forEach((name, i) => {
      groups[i % WORKERS]?.push(name);
    });
    const parts = await Promise.all(
      groups.map(
        (names) =>
          new Promise<Result[]>((resolve, reject) => {
            const child = fork(
              fileURLToPath(import.meta.url),
              [
                '--child',
                '--loans',
                String(LOANS),
                '--scenarios',
                names.join(','),
                '--hazard',
                HAZARD,
                '--prepayment',
                PREPAYMENT.kind,
              ],
              {
                execArgv: ['--import', 'tsx'],
              },
            );
            child.once('message', (m) => resolve(m as Result[]));
            child.once('error', reject);
          }),
      ),
    );
    results = parts.flat();
  }
  const wall = (performance.now() - t0) / 1000;
  for (const r of results) {
    console.log(
      `${r.name.padEnd(17)} ${LOANS} loans in ${r.seconds.toFixed(2)} s: ${Math.round(LOANS / r.seconds)} loans/s wall, ${r.cpu.toFixed(2)} CPU-s: ${Math.round(LOANS / r.cpu)} loans per CPU-second (lifetime EL ${(r.loss / 1e6).toFixed(1)} M)`,
    );
  }
  const total = LOANS * results.length;
  console.log(
    `all ${results.length} scenarios, ${WORKERS} worker(s): ${total} loan-scenarios in ${wall.toFixed(2)} s wall (tape generation included): ${Math.round(total / wall)} loan-scenarios/s; 1M loans × ${results.length} scenarios ≈ ${((1e6 * results.length) / (total / wall)).toFixed(1)} s`,
  );
  const cpuSeconds = results.reduce((sum, r) => sum + r.cpu, 0);
  console.log(
    `engine CPU ${cpuSeconds.toFixed(2)} s: ${Math.round(total / cpuSeconds)} loan-scenarios per CPU-second; on 2 free cores 1M loans × ${results.length} scenarios ≈ ${((1e6 * results.length) / (total / cpuSeconds) / 2).toFixed(1)} s`,
  );
  console.log(
    `rss ${(rss0 / 2 ** 20).toFixed(0)} MB at start, ${(process.memoryUsage().rss / 2 ** 20).toFixed(0)} MB at the end`,
  );
}
