// Server CPU time per request, robust to other load on the machine (unlike req/s):
//   npm run build && node dist/scripts/bench-cpu.js <url> <label> <server pid> [requests]
// Run compiled, not through tsx: a slower client lowers how many requests the server handles per
// event-loop turn and so raises its CPU per request (~15 % through tsx, measured).
// POSTs the example loan with 20 connections (20,000 warm-up requests, then the measured ones) and
// reads the server's user+system CPU ticks from /proc/<pid>/stat before and after. Run it a few
// times, interleaving the servers you compare, and keep each one's minimum.
import { readFileSync } from 'node:fs';
import autocannon from 'autocannon';
import { LOAN_EXAMPLE } from '../src/loan/schema.js';
import { processCpuMs } from './lib/soak-judge.js';

const loan = LOAN_EXAMPLE;

const [url, label = url, pid, count = '40000'] = process.argv.slice(2);
if (!url || !pid) {
  console.error('usage: node dist/scripts/bench-cpu.js <url> <label> <server pid> [requests]');
  process.exit(2);
}
/** The server's user + system CPU so far, in ms. */
const cpuMs = () => processCpuMs(readFileSync(`/proc/${pid}/stat`, 'utf8'));
const opts = {
  url,
  method: 'POST' as const,
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify(loan),
  connections: 20,
};
await autocannon({ ...opts, amount: 20000 });
const t0 = cpuMs();
const r = await autocannon({ ...opts, amount: Number(count) });
const t1 = cpuMs();
console.log(`${label}: ${(((t1 - t0) * 1000) / Number(count)).toFixed(1)} µs CPU/request (non-2xx ${r.non2xx})`);
