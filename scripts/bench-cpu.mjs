// Server CPU time per request, robust to other load on the machine (unlike req/s):
//   node scripts/bench-cpu.mjs <url> <label> <server pid> [requests]
// POSTs the example loan with 20 connections (20,000 warm-up requests, then the measured ones) and
// reads the server's user+system CPU ticks from /proc/<pid>/stat before and after. Run it a few
// times, interleaving the servers you compare, and keep each one's minimum.
import { readFileSync } from 'node:fs';
import autocannon from 'autocannon';

const [url, label = url, pid, count = '40000'] = process.argv.slice(2);
if (!url || !pid) {
  console.error('usage: node scripts/bench-cpu.mjs <url> <label> <server pid> [requests]');
  process.exit(2);
}
const loan = {
  credit_score: 720,
  first_payment_date: 200603,
  first_time_homebuyer_flag: 'N',
  mi_percent: 0,
  number_of_units: 1,
  occupancy_status: 'P',
  cltv: 80,
  dti: 36,
  original_upb: 250000,
  ltv: 80,
  original_interest_rate: 6.25,
  channel: 'R',
  amortization_type: 'FRM',
  property_state: 'CA',
  property_type: 'SF',
  loan_purpose: 'P',
  original_loan_term: 360,
  number_of_borrowers: 2,
};
const ticks = () => {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return Number(fields[11]) + Number(fields[12]); // utime + stime, in clock ticks (1/100 s)
};
const opts = {
  url,
  method: 'POST',
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify(loan),
  connections: 20,
};
await autocannon({ ...opts, amount: 20000 });
const t0 = ticks();
const r = await autocannon({ ...opts, amount: Number(count) });
const t1 = ticks();
console.log(`${label}: ${(((t1 - t0) * 10000) / Number(count)).toFixed(1)} µs CPU/request (non-2xx ${r.non2xx})`);
