/**
 * HTTP benchmark: `npm run bench [-- --duration 10 --connections 50 --out bench-results --runtime bench-results/runtime.json]`.
 *
 * In one run, back to back on the same machine, with autocannon in this process and the server in a
 * child process: the ceiling (a bare node:http server parsing the same body, scripts/bench-ceiling.mjs),
 * the same server answering the service's exact headers and body, a bare Fastify route
 * (scripts/bench-fastify.mjs), then the service (`node dist/src/server.js`): POST /predict with one loan for each model, a batch of
 * 1,000 loans, and the XGBoost single-loan run again with WORKERS=2; the ceiling runs again right after
 * the XGBoost single-loan row, and single-loan rows compare with the mean of the two ceiling runs. Then
 * `--rounds` (3) pairs of the ceiling and the single XGBoost loan, in alternating order: the median of
 * their ratios is the headline figure (issue 20: at least 50 %, p99 under 5 ms).
 * Reports req/s, p50, p99 and the ratio to the ceiling in bench-results/http.{json,md}. Loopback only, bounded in time.
 */
import { type ChildProcess, execFile, execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { LOAN_EXAMPLE } from '../src/loan/schema.js';
import { freePort } from './lib/net.js';
import { median } from './lib/stats.js';

const args = process.argv.slice(2);
const option = (name: string, fallback: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] ? (args[i + 1] as string) : fallback;
};
const DURATION = Number(option('duration', '10'));
const CONNECTIONS = Number(option('connections', '50'));
const BATCH_CONNECTIONS = Number(option('batch-connections', '4'));
// Issue 20's headline (single XGBoost loan against the ceiling): this many more pairs of runs, in
// alternating order, whose median ratio is the figure reported.
const ROUNDS = Number(option('rounds', '3'));
const OUT = option('out', 'bench-results');
// The evaluators' times per row for the scoring-floor rows: `npm run bench:runtime` writes them there.
const RUNTIME_REPORT = option('runtime', 'bench-results/runtime.json');

const loan = LOAN_EXAMPLE;
const holdout = (() => {
  const reference = JSON.parse(readFileSync('model-artifacts/reference/holdout.json', 'utf8')) as {
    loans: Record<string, unknown>[];
    kinds: string[];
  };
  return reference.loans.filter((_, i) => reference.kinds[i] === 'holdout');
})();
const batch = holdout.slice(0, 1000);
// Single-loan requests that differ, as real traffic does: 1,000 other holdout loans, cycled.
const varied = { bodies: holdout.slice(1000, 2000) };

/**
 * Starts a server on a port chosen here and waits until it answers `readyPath`. Its stdout goes to
 * /dev/null: the service logs every request at info, as in production, where a log collector (not
 * the load generator in this process) reads them.
 */
async function start(
  command: string[],
  env: Record<string, string>,
  readyPath: string,
): Promise<{ child: ChildProcess; port: number }> {
  const port = await freePort();
  const child = spawn(process.execPath, command, {
    env: { ...process.env, HOST: '127.0.0.1', PORT: String(port), LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (d) => {
    stderr += d;
  });
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`server exited with ${child.exitCode}: ${stderr}`);
    try {
      const res = await fetch(`http://127.0.0.1:${port}${readyPath}`, {
        method: readyPath === '/' ? 'POST' : 'GET',
        body: readyPath === '/' ? '{}' : undefined,
      });
      if (res.ok) return { child, port };
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`server did not become ready: ${stderr}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function stop(child: ChildProcess): Promise<void> {
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await exited;
}

interface Row {
  name: string;
  connections: number;
  requests_per_s: number;
  loans_per_s: number;
  p50_ms: number;
  p99_ms: number;
  errors: number;
  non_2xx: number;
  /** Sent the 1,000 different loans: compared with the ceiling on those same bodies. */
  different_loans: boolean;
  ratio_to_ceiling?: number;
}

const execFileAsync = promisify(execFile);
const fmt = (n: number, d = 0) => n.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d });

/** XGBoost's time per row, TypeScript evaluator and C++ predictor, from the last `npm run bench:runtime`. */
const runtime = (() => {
  let report: {
    results: { model: string; evaluator: string; evaluator_only_us_per_row: number }[];
    native?: { batch_us_per_row_inplace: number };
  };
  try {
    report = JSON.parse(readFileSync(RUNTIME_REPORT, 'utf8'));
  } catch {
    return undefined;
  }
  const evaluator = report.results.find((r) => r.model === 'xgboost' && r.evaluator.startsWith('compiled'));
  if (!evaluator || !report.native) return undefined;
  return { evaluatorUs: evaluator.evaluator_only_us_per_row, nativeUs: report.native.batch_us_per_row_inplace };
})();
const work = mkdtempSync(join(tmpdir(), 'bench-'));
let runs = 0;

/** One row: the load generator runs in its own compiled process (scripts/bench-load.ts). */
async function load(
  name: string,
  port: number,
  path: string,
  body: unknown,
  connections: number,
  loansPerRequest = 1,
): Promise<Row> {
  runs++;
  const bodyFile = join(work, `body-${runs}.json`);
  const optionsFile = join(work, `options-${runs}.json`);
  writeFileSync(bodyFile, JSON.stringify(body));
  writeFileSync(
    optionsFile,
    JSON.stringify({ url: `http://127.0.0.1:${port}${path}`, bodyFile, connections, duration: DURATION }),
  );
  const { stdout } = await execFileAsync(process.execPath, ['dist/scripts/bench-load.js', optionsFile]);
  const r = JSON.parse(stdout.trim().split('\n').pop() as string) as {
    requests_per_s: number;
    p50_ms: number;
    p99_ms: number;
    errors: number;
    non_2xx: number;
  };
  const row: Row = {
    name,
    connections,
    requests_per_s: Math.round(r.requests_per_s),
    loans_per_s: Math.round(r.requests_per_s * loansPerRequest),
    p50_ms: r.p50_ms,
    p99_ms: r.p99_ms,
    errors: r.errors,
    non_2xx: r.non_2xx,
    different_loans: body === varied,
  };
  console.log(JSON.stringify(row));
  return row;
}

execFileSync('npm', ['run', 'build'], { stdio: 'inherit' });
const rows: Row[] = [];

// The service's answer to the single-loan XGBoost request, headers and body as sent (less the ones
// node:http writes itself), for the ceiling to send the same bytes.
const probe = await start(['dist/src/server.js'], { WORKERS: '1' }, '/health/ready');
const answer = await fetch(`http://127.0.0.1:${probe.port}/predict?model=xgboost`, {
  method: 'POST',
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify(loan),
});
const answerHeaders = Object.fromEntries(
  [...answer.headers].filter(([k]) => !['date', 'connection', 'keep-alive', 'content-length'].includes(k)),
);
const answerFile = join(work, 'answer.json');
writeFileSync(answerFile, JSON.stringify({ headers: answerHeaders, body: await answer.text() }));
await stop(probe.child);

const ceiling = await start(['scripts/bench-ceiling.mjs'], {}, '/');
const ceilingRow = await load('ceiling: bare node:http, same body', ceiling.port, '/', loan, CONNECTIONS);
rows.push(ceilingRow);
const variedCeilingRow = await load('ceiling, 1,000 different loans', ceiling.port, '/', varied, CONNECTIONS);
rows.push(variedCeilingRow);

const sameBytes = await start(['scripts/bench-ceiling.mjs'], { CEILING_RESPONSE: answerFile }, '/');
rows.push(
  await load(
    `bare node:http answering the service's bytes (${Object.keys(answerHeaders).length} headers, ${answer.headers.get('content-length')}-byte body)`,
    sameBytes.port,
    '/',
    loan,
    CONNECTIONS,
  ),
);
await stop(sameBytes.child);

const fastify = await start(['scripts/bench-fastify.mjs'], {}, '/');
rows.push(await load('bare Fastify route, same body and answer as the ceiling', fastify.port, '/', loan, CONNECTIONS));
await stop(fastify.child);

// The floor of scoring the XGBoost model, as a busy-wait per request: the TypeScript evaluator's time
// per row over a batch of encoded rows (its fastest) and XGBoost's own C++ predictor's, both from the
// last `npm run bench:runtime`. A server scoring this model with either evaluator does at least this.
if (runtime) {
  const evaluator = 'the XGBoost evaluator';
  const native = "XGBoost's C++ predictor";
  const floors: [server: string, script: string, us: number, what: string][] = [
    ['bare node:http', 'scripts/bench-ceiling.mjs', runtime.nativeUs, native],
    ['bare Fastify route', 'scripts/bench-fastify.mjs', runtime.evaluatorUs, evaluator],
    ['bare Fastify route', 'scripts/bench-fastify.mjs', runtime.nativeUs, native],
  ];
  for (const [server, script, us, what] of floors) {
    const spun = await start([script], { SPIN_US: us.toFixed(2) }, '/');
    rows.push(
      await load(`${server} + ${fmt(us, 2)} µs busy-wait (${what} per row)`, spun.port, '/', loan, CONNECTIONS),
    );
    await stop(spun.child);
  }
} else {
  console.log(`${RUNTIME_REPORT} not found: run \`npm run bench:runtime\` for the scoring-floor rows`);
}

const service = await start(['dist/src/server.js'], { WORKERS: '1' }, '/health/ready');
let ceilingAgainRow: Row | undefined;
for (const model of ['xgboost', 'gradient_boosting', 'logistic_regression', 'lda']) {
  rows.push(await load(`POST /predict, 1 loan, ${model}`, service.port, `/predict?model=${model}`, loan, CONNECTIONS));
  if (model === 'xgboost') {
    // The ceiling again, right after: one 10 s window of a shared machine can be slow (a 42.7k and a
    // 53.8k ceiling were measured on the same day), and every ratio hangs on it. Single-loan rows
    // compare with the mean of the two ceiling runs.
    ceilingAgainRow = await load('ceiling again, right after the XGBoost row', ceiling.port, '/', loan, CONNECTIONS);
    rows.push(ceilingAgainRow);
  }
}
// The same loan every time flatters tree models (the CPU learns its path through the trees).
for (const model of ['xgboost', 'gradient_boosting']) {
  rows.push(
    await load(
      `POST /predict, 1 loan, ${model}, 1,000 different loans`,
      service.port,
      `/predict?model=${model}`,
      varied,
      CONNECTIONS,
    ),
  );
}
rows.push(
  await load(
    'POST /predict, batch of 1,000 loans, xgboost',
    service.port,
    '/predict?model=xgboost',
    { loans: batch },
    BATCH_CONNECTIONS,
    1000,
  ),
);

// The headline in pairs: the ceiling's req/s moves by 10–20 % from one window to the next on this
// shared machine (47.5k to 63.5k in three runs of one evening) while the service's moves by ~1 %, so one
// pair of windows decides a ratio near 50 % either way. Each round measures both, in alternating order;
// the median of the rounds' ratios is the figure, and every round's ratio is printed.
interface Round {
  service: Row;
  ceiling: Row;
  ratio: number;
}
const rounds: Round[] = [];
for (let i = 0; i < ROUNDS; i++) {
  const measure = (what: 'service' | 'ceiling') =>
    what === 'service'
      ? load(
          `round ${i + 1}: POST /predict, 1 loan, xgboost`,
          service.port,
          '/predict?model=xgboost',
          loan,
          CONNECTIONS,
        )
      : load(`round ${i + 1}: ceiling`, ceiling.port, '/', loan, CONNECTIONS);
  const first = i % 2 === 0 ? 'ceiling' : 'service';
  const a = await measure(first);
  const b = await measure(first === 'ceiling' ? 'service' : 'ceiling');
  const [serviceRun, ceilingRun] = first === 'service' ? [a, b] : [b, a];
  rounds.push({
    service: serviceRun,
    ceiling: ceilingRun,
    ratio: serviceRun.requests_per_s / ceilingRun.requests_per_s,
  });
}
await stop(ceiling.child);
await stop(service.child);

// The cluster: WORKERS=2 on this machine's cores (autocannon needs CPU too, so expect less than 2×).
const clustered = await start(['dist/src/server.js'], { WORKERS: '2' }, '/health/ready');
rows.push(
  await load('POST /predict, 1 loan, xgboost, WORKERS=2', clustered.port, '/predict?model=xgboost', loan, CONNECTIONS),
);
await stop(clustered.child);

rmSync(work, { recursive: true });
// Requests of one loan compare with the ceiling's; a batch request is another kind of work.
const ceilingRps = (ceilingRow.requests_per_s + (ceilingAgainRow ?? ceilingRow).requests_per_s) / 2;
for (const r of rows) {
  const reference = r.different_loans ? variedCeilingRow.requests_per_s : ceilingRps;
  if (r.loans_per_s === r.requests_per_s) r.ratio_to_ceiling = r.requests_per_s / reference;
}

const machine = `${availableParallelism()} CPUs (${cpus()[0]?.model.trim() ?? 'unknown'}), node ${process.version}`;
const lines = [
  `HTTP benchmark (${new Date().toISOString().slice(0, 10)}), ${machine}; autocannon ${DURATION} s per row after a 2 s warm-up, loopback, load generator and server on the same machine.`,
  '',
  '| run | connections | req/s | loans/s | p50 ms | p99 ms | errors | vs ceiling |',
  '|---|---:|---:|---:|---:|---:|---:|---:|',
  ...rows.map(
    (r) =>
      `| ${r.name} | ${r.connections} | ${fmt(r.requests_per_s)} | ${fmt(r.loans_per_s)} | ${r.p50_ms} | ${r.p99_ms} | ${r.errors + r.non_2xx} | ${r.ratio_to_ceiling === undefined ? '' : `${fmt(100 * r.ratio_to_ceiling)} %`} |`,
  ),
];
// Issue 20's target for single loans: at least half the ceiling, p99 under 5 ms: the rounds' median
// ratio, and the worst p99 of the service in the rows and rounds of one XGBoost loan.
const single = rows.find((r) => r.name === 'POST /predict, 1 loan, xgboost');
// Without rounds (`--rounds 0`), the single row against the mean of the ceiling's two runs.
const headline =
  single?.ratio_to_ceiling === undefined
    ? undefined
    : rounds.length > 0
      ? {
          ratio: median(rounds.map((r) => r.ratio)),
          p99_ms: Math.max(single.p99_ms, ...rounds.map((r) => r.service.p99_ms)),
          of: `the median of ${rounds.length} rounds (${rounds.map((r) => `${fmt(100 * r.ratio)} %`).join(', ')})`,
        }
      : {
          ratio: single.ratio_to_ceiling,
          p99_ms: single.p99_ms,
          of: `against ${fmt(ceilingRps)} req/s, the mean of the ceiling's two runs`,
        };
if (headline && rounds.length > 0) {
  lines.push(
    '',
    `| round | ceiling req/s | service req/s (one XGBoost loan) | ratio | service p99 ms |`,
    '|---|---:|---:|---:|---:|',
    ...rounds.map(
      (r, i) =>
        `| ${i + 1} (${i % 2 === 0 ? 'ceiling first' : 'service first'}) | ${fmt(r.ceiling.requests_per_s)} | ${fmt(r.service.requests_per_s)} | ${fmt(100 * r.ratio)} % | ${r.service.p99_ms} |`,
    ),
  );
}
if (headline) {
  lines.push(
    '',
    `Single loan, XGBoost, one process, ${CONNECTIONS} connections: ${fmt(100 * headline.ratio)} % of the ceiling, ` +
      `${headline.of} (target ≥ 50 %), p99 at most ${headline.p99_ms} ms (target < 5 ms); ${machine}.`,
  );
}
mkdirSync(OUT, { recursive: true });
writeFileSync(
  join(OUT, 'http.json'),
  `${JSON.stringify({ machine, duration_s: DURATION, rows, rounds, headline }, null, 2)}\n`,
);
writeFileSync(join(OUT, 'http.md'), `${lines.join('\n')}\n`);
console.log(`\n${lines.join('\n')}`);
