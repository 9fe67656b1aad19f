/**
 * A/B benchmark of two builds of the service: `node --import tsx scripts/bench-ab.ts <dirA> <dirB>
 * [--rounds 3 --duration 8 --connections 50]`, each dir holding a compiled `dist/src/server.js` and
 * `model-artifacts/`. Both servers run at once (LOG_LEVEL=info, stdout discarded, as in `npm run bench`);
 * autocannon loads one at a time, alternating A, B, A, B…, with the same single-loan XGBoost
 * `POST /predict` body, so that drift of the machine hits both alike. Prints req/s and p99 per round
 * and the ratio B/A of the medians. Loopback only, bounded in time.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import autocannon from 'autocannon';
import { LOAN_EXAMPLE } from '../src/loan/schema.js';
import { freePort } from './lib/net.js';

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

async function start(dir: string): Promise<{ child: ChildProcess; url: string }> {
  const port = await freePort();
  const child = spawn(process.execPath, ['dist/src/server.js'], {
    cwd: dir,
    env: { ...process.env, HOST: '127.0.0.1', PORT: String(port), LOG_LEVEL: 'info' },
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

async function load(url: string, duration: number) {
  const r = await autocannon({
    url: `${url}/predict`,
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(LOAN_EXAMPLE),
    connections: CONNECTIONS,
    duration,
  });
  return { rps: r.requests.average, p99: r.latency.p99, non2xx: r.non2xx + r.errors };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
const a = await start(dirA);
const b = await start(dirB);
try {
  await load(a.url, 3); // warm-up, both
  await load(b.url, 3);
  const results: Record<'A' | 'B', { rps: number; p99: number; non2xx: number }[]> = { A: [], B: [] };
  for (let round = 1; round <= ROUNDS; round++) {
    for (const [label, s] of [
      ['A', a],
      ['B', b],
    ] as const) {
      const r = await load(s.url, DURATION);
      results[label].push(r);
      console.log(`round ${round} ${label}: ${r.rps.toFixed(0)} req/s, p99 ${r.p99} ms, non-2xx ${r.non2xx}`);
    }
  }
  const ma = median(results.A.map((r) => r.rps));
  const mb = median(results.B.map((r) => r.rps));
  console.log(`median A ${ma.toFixed(0)} req/s, B ${mb.toFixed(0)} req/s, B/A ${(mb / ma).toFixed(3)}`);
} finally {
  a.child.kill('SIGTERM');
  b.child.kill('SIGTERM');
}
