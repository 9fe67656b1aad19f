/**
 * A/B benchmark of two builds of the service: `node --import tsx scripts/bench-ab.ts <dirA> <dirB>
 * [--rounds 3 --duration 8 --connections 50]`, each dir holding a compiled `dist/src/server.js` and
 * `model-artifacts/`. Both servers run at once (LOG_LEVEL=info, stdout discarded, as in `npm run bench`);
 * autocannon loads one at a time, alternating A, B, A, B…, with the same single-loan XGBoost
 * `POST /predict` body (or, with `--different N`, N different holdout loans cycled), so that drift of the machine hits both alike (the order alternating A, B then
 * B, A from round to round). Prints req/s, p99 and the server's CPU a request (user + system time
 * from /proc/<pid>/stat over the run ÷ requests answered) per round, the ratio B/A of the median
 * req/s, and the median over rounds of B's CPU a request − A's: on a shared machine the CPU a request
 * moves less than req/s, because time the server waits for the load generator costs it no CPU.
 * Loopback only, bounded in time.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import autocannon from 'autocannon';
import { LOAN_EXAMPLE } from '../src/loan/schema.js';
import { freePort } from './lib/net.js';
import { processCpuMs } from './lib/soak-judge.js';

const args = process.argv.slice(2);
const option = (name: string, fallback: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] ? (args[i + 1] as string) : fallback;
};
const [dirA, dirB] = args.filter((a, i) => !a.startsWith('--') && !args[i - 1]?.startsWith('--'));
if (!dirA || !dirB) {
  console.error('usage: bench-ab.ts <dirA> <dirB> [--rounds N] [--duration S] [--connections C]');
  process.exit(2);
}
const ROUNDS = Number(option('rounds', '3'));
const DURATION = Number(option('duration', '8'));
const CONNECTIONS = Number(option('connections', '50'));
// `--different N`: N different holdout loans, cycled (as `npm run bench`'s "1,000 different loans" row),
// instead of the example loan every time.
const DIFFERENT = Number(option('different', '0'));
const bodies =
  DIFFERENT > 0
    ? (() => {
        const reference = JSON.parse(readFileSync('model-artifacts/reference/holdout.json', 'utf8')) as {
          loans: unknown[];
          kinds: string[];
        };
        return reference.loans
          .filter((_, i) => reference.kinds[i] === 'holdout')
          .slice(1000, 1000 + DIFFERENT)
          .map((loan) => JSON.stringify(loan));
      })()
    : [JSON.stringify(LOAN_EXAMPLE)];

// `--env-a K=V[,K=V]` / `--env-b …`: environment for one side only (e.g. `--env-b LOG_LEVEL=warn`
// measures what the request log line costs).
const sideEnv = (name: string): Record<string, string> =>
  Object.fromEntries(
    option(name, '')
      .split(',')
      .filter((kv) => kv.includes('='))
      .map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]),
  );

async function start(dir: string, env: Record<string, string>): Promise<{ child: ChildProcess; url: string }> {
  const port = await freePort();
  const child = spawn(process.execPath, ['dist/src/server.js'], {
    cwd: dir,
    env: { ...process.env, HOST: '127.0.0.1', PORT: String(port), LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 300; i++) {
    try {
      if ((await fetch(`${url}/health/ready`)).ok) return { child, url };
    } catch {}
    await new Promise((r) => setTimeout(r, 100));
  }
  child.kill('SIGKILL');
  throw new Error(`${dir}: not ready`);
}

/** User + system CPU of a process so far, in µs. */
const cpuMicros = (pid: number) => processCpuMs(readFileSync(`/proc/${pid}/stat`, 'utf8')) * 1000;

async function load(url: string, duration: number, pid?: number) {
  const before = pid === undefined ? 0 : cpuMicros(pid);
  const r = await autocannon({
    url: `${url}/predict`,
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    connections: CONNECTIONS,
    requests: bodies.map((body) => ({ body })),
    duration,
  });
  const cpu = pid === undefined ? Number.NaN : (cpuMicros(pid) - before) / Math.max(1, r.requests.total);
  return { rps: r.requests.average, p99: r.latency.p99, non2xx: r.non2xx + r.errors, cpu };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
const a = await start(dirA, sideEnv('env-a'));
const b = await start(dirB, sideEnv('env-b'));
try {
  await load(a.url, 3); // warm-up, both
  await load(b.url, 3);
  const results: Record<'A' | 'B', { rps: number; p99: number; non2xx: number; cpu: number }[]> = { A: [], B: [] };
  for (let round = 1; round <= ROUNDS; round++) {
    const order = [
      ['A', a],
      ['B', b],
    ] as const;
    for (const [label, s] of round % 2 === 1 ? order : [...order].reverse()) {
      const r = await load(s.url, DURATION, s.child.pid);
      results[label].push(r);
      console.log(
        `round ${round} ${label}: ${r.rps.toFixed(0)} req/s, p99 ${r.p99} ms, non-2xx ${r.non2xx}, ` +
          `server CPU ${r.cpu.toFixed(1)} µs a request`,
      );
    }
  }
  const ma = median(results.A.map((r) => r.rps));
  const mb = median(results.B.map((r) => r.rps));
  const dcpu = results.B.map((r, i) => r.cpu - (results.A[i]?.cpu ?? Number.NaN));
  console.log(
    `median A ${ma.toFixed(0)} req/s, B ${mb.toFixed(0)} req/s, B/A ${(mb / ma).toFixed(3)}; ` +
      `server CPU a request: A ${median(results.A.map((r) => r.cpu)).toFixed(1)} µs, B ${median(results.B.map((r) => r.cpu)).toFixed(1)} µs, ` +
      `B − A median ${median(dcpu).toFixed(1)} µs (rounds: ${dcpu.map((d) => d.toFixed(1)).join(', ')})`,
  );
} finally {
  a.child.kill('SIGTERM');
  b.child.kill('SIGTERM');
}
