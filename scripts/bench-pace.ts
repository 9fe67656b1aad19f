/**
 * What a machine charges a server for being slower than the ceiling: `node --import tsx
 * scripts/bench-pace.ts [--rounds 3] [--duration 5] [--spins 0,10,20,40]`. Runs the ceiling
 * (`scripts/bench-ceiling.mjs`, bare node:http parsing the example loan) once per `SPIN_US` value a
 * round, in a rotating order, each busy-waiting that long per request (`scripts/bench-spin.mjs`, as
 * `npm run bench`'s floor rows do), loads it with autocannon in its own compiled process
 * (`dist/scripts/bench-load.js`: run `npm run build` first; 50 connections, loopback) and reads the
 * server's user and system CPU a request from /proc/<pid>/stat. Prints, per busy-wait, the median
 * req/s, its ratio to the ceiling without a wait in the same round, and the CPU a request.
 *
 * On an ideal machine a busy-wait of w µs adds w µs of user time a request and nothing else, so a
 * server may spend (1 / 0.5 − 1) × the ceiling's CPU a request more than the ceiling and still make
 * half of it (issue 20, item 3). Where the extra system time grows with the wait (the kernel's
 * loopback send wakes a load generator that sat idle waiting for the slower server), or user time
 * grows by more than the wait, the machine itself moves the ratio: this script measures by how much,
 * so that `npm run bench`'s ratio can be read against it. Loopback only, bounded in time; Linux only.
 */
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs, promisify } from 'node:util';
import { LOAN_EXAMPLE } from '../src/loan/schema.js';
import { freePort } from './lib/net.js';
import { processCpuMs } from './lib/soak-judge.js';
import { median } from './lib/stats.js';

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '3' },
    duration: { type: 'string', default: '5' },
    spins: { type: 'string', default: '0,10,20,40' },
  },
});
const ROUNDS = Number(values.rounds);
const DURATION = Number(values.duration);
const SPINS = values.spins
  .split(',')
  .map(Number)
  .filter((w) => Number.isFinite(w) && w >= 0);
if (!SPINS.includes(0)) SPINS.unshift(0);
const body = JSON.stringify(LOAN_EXAMPLE);
const execFileAsync = promisify(execFile);
const scratch = mkdtempSync(join(tmpdir(), 'bench-pace-'));
const bodyFile = join(scratch, 'loan.json');
const optionsFile = join(scratch, 'load.json');
writeFileSync(bodyFile, body);

/** User and system CPU of a process so far, in µs (clock ticks of 10 ms: read over whole runs). */
function cpuMicros(pid: number): { user: number; system: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const user = Number(fields[11]) * 10_000;
  return { user, system: processCpuMs(stat) * 1000 - user };
}

interface Row {
  rps: number;
  ratio: number;
  user: number;
  system: number;
}
const rows = new Map<number, Row[]>(SPINS.map((w) => [w, []]));

async function measure(spinUs: number): Promise<Omit<Row, 'ratio'>> {
  const port = await freePort();
  const child = spawn(process.execPath, ['scripts/bench-ceiling.mjs'], {
    env: { ...process.env, PORT: String(port), SPIN_US: String(spinUs) },
    stdio: 'ignore',
  });
  try {
    const url = `http://127.0.0.1:${port}/`;
    for (let i = 0; ; i++) {
      try {
        await fetch(url, { method: 'POST', body });
        break;
      } catch (error) {
        if (i > 100) throw error;
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    // The load generator in its own compiled process, as `npm run bench` runs it: in this process it
    // would be slower than the ceiling and cap it.
    const load = async (duration: number) => {
      writeFileSync(optionsFile, JSON.stringify({ url, bodyFile, connections: 50, duration, warmup: 0 }));
      const { stdout } = await execFileAsync(process.execPath, ['dist/scripts/bench-load.js', optionsFile]);
      return JSON.parse(stdout.trim().split('\n').at(-1) as string) as { requests_per_s: number; requests: number };
    };
    await load(2); // warm-up: V8 optimises, connections open
    const before = cpuMicros(child.pid as number);
    const result = await load(DURATION);
    const after = cpuMicros(child.pid as number);
    const n = result.requests;
    return {
      rps: result.requests_per_s,
      user: (after.user - before.user) / n,
      system: (after.system - before.system) / n,
    };
  } finally {
    child.kill('SIGTERM');
  }
}

for (let round = 0; round < ROUNDS; round++) {
  const order = SPINS.map((_, i) => SPINS[(i + round) % SPINS.length] as number);
  const results = new Map<number, Omit<Row, 'ratio'>>();
  for (const w of order) {
    const r = await measure(w);
    results.set(w, r);
    console.log(
      `round ${round + 1} SPIN_US=${w}: ${Math.round(r.rps)} req/s, user ${r.user.toFixed(1)} µs, system ${r.system.toFixed(1)} µs a request`,
    );
  }
  const base = results.get(0) as Omit<Row, 'ratio'>;
  for (const [w, r] of results) rows.get(w)?.push({ ...r, ratio: r.rps / base.rps });
}

const f = (xs: number[], digits = 1) => median(xs).toFixed(digits);
const base = rows.get(0) as Row[];
console.log(
  `\nnode ${process.version}, ${ROUNDS} rounds of ${DURATION} s, medians (same-round ratios)\n\n` +
    '| busy-wait a request | req/s | of the ceiling | user µs a request | system µs a request | CPU added − busy-wait |\n' +
    '|---:|---:|---:|---:|---:|---:|',
);
for (const w of SPINS) {
  const r = rows.get(w) as Row[];
  const added = r.map((x, i) => x.user + x.system - ((base[i] as Row).user + (base[i] as Row).system) - w);
  console.log(
    `| ${w} µs | ${Math.round(median(r.map((x) => x.rps)))} | ${(100 * median(r.map((x) => x.ratio))).toFixed(0)} % | ${f(r.map((x) => x.user))} | ${f(r.map((x) => x.system))} | ${w === 0 ? '' : f(added)} |`,
  );
}
rmSync(scratch, { recursive: true, force: true });
