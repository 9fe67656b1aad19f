/**
 * Bounded soak on loopback: the service in a child process (NODE_ENV=production WORKERS=1
 * LOG_LEVEL=warn, API keys and a rate limit on, load shedding at its production default) takes a
 * steady rate of mixed valid and invalid requests for SOAK_SECONDS, and must show:
 *
 *   - zero 5xx and zero connection errors or timeouts;
 *   - exactly the status each kind of request should get (200, 400, 401, 403, 404), every time;
 *   - p99 latency under SOAK_P99_MS (5 ms) at the steady rate, end to end, for the requests sent
 *     after the warm-up (all but tapes, which have their own bound SOAK_TAPE_P99_MS), and 99 % of
 *     answers within 5 ms by the service's own request-duration histogram;
 *   - stable memory: after the warm-up (the first quarter, at least 10 s), the child's RSS (from
 *     /proc/<pid>/status, sampled every second: median of the last 5 samples against the first 5)
 *     grows by less than SOAK_RSS_GROWTH_MB, and its live V8 heap (nodejs_heap_size_used_bytes from
 *     /metrics right after a full GC, which the soak asks for with SIGUSR2) by less than
 *     SOAK_HEAP_GROWTH_MB between the end of the warm-up and the end of the run;
 *   - the same PDs as the reference predictions before and after, and a clean exit 0 on SIGTERM.
 *
 *   node --import tsx scripts/ci/soak.ts            SOAK_SECONDS=60 (default, at least 20), SOAK_RATE=500 req/s
 *
 * Prints a table of figures, writes test-results/soak.json, and exits 1 if any check fails.
 *
 * The load is open-loop: request n is sent at start + n / SOAK_RATE seconds whatever the answers
 * before it, over a keep-alive pool of SOAK_CONNECTIONS sockets (on a free one, or as soon as one
 * frees), and its latency runs from that send to the end of its response. (autocannon's overallRate
 * was tried first: each connection sends its share of a second back to back at the start of the
 * second, bursts rather than a steady rate; node:http's client cost too much CPU next to the server.)
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { availableParallelism, loadavg } from 'node:os';
import { dirname, resolve } from 'node:path';
import { LOAN_FIELDS } from '../../src/loan/record.js';
import { keyLine, newToken } from '../../src/security/keys.js';
import { freePort, type RunningServer, runServer } from '../lib/net.js';

const num = (name: string, fallback: number) => {
  const raw = process.env[name];
  const n = raw === undefined || raw === '' ? fallback : Number(raw);
  if (!Number.isFinite(n) || n <= 0) {
    console.error(`soak: ${name} must be a positive number, got ${JSON.stringify(raw)}`);
    process.exit(2);
  }
  return n;
};
const SECONDS = num('SOAK_SECONDS', 60);
// 500 req/s: comfortable on the 2-core CI machine with the load generator on the same cores (p99
// 3–4 ms). At 1,000 req/s the service's own histogram still has 99.99 % of answers within 5 ms, but
// end to end p99 measured 5.3–7.3 ms there: the generator and the service take turns on two cores.
const RATE = num('SOAK_RATE', 500);
const CONNECTIONS = num('SOAK_CONNECTIONS', 32);
const P99_TARGET_MS = num('SOAK_P99_MS', 5);
const RSS_GROWTH_MB = num('SOAK_RSS_GROWTH_MB', 32);
const HEAP_GROWTH_MB = num('SOAK_HEAP_GROWTH_MB', 16);
const TAPE_P99_MS = num('SOAK_TAPE_P99_MS', 50);
const OUT = resolve(process.env.SOAK_OUT ?? 'test-results/soak.json');
const WARMUP_S = Math.max(10, SECONDS / 4);
// The memory checks compare the median of 5 samples after the warm-up with the last 5: at least
// 10 s must follow the warm-up, or there is nothing to judge (SOAK_SECONDS=10 was all warm-up).
const MIN_SECONDS = 20;
if (SECONDS < MIN_SECONDS) {
  console.error(
    `soak: SOAK_SECONDS must be at least ${MIN_SECONDS} (the first ${WARMUP_S} s are warm-up, measured from then on), got ${SECONDS}`,
  );
  process.exit(2);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------------------------------------
// The requests: reference loans, their expected PDs, and the mix.

interface Reference {
  loans: Record<string, unknown>[];
  kinds: string[];
  /** The scenario each reference row was scored under (a name or a custom path). */
  scenarios: unknown[];
  models: Record<string, { probability: number[] }>;
}
const reference = JSON.parse(readFileSync('model-artifacts/reference/holdout.json', 'utf8')) as Reference;
const holdout = reference.loans.map((loan, i) => ({ loan, i })).filter(({ i }) => reference.kinds[i] === 'holdout');
const REFERENCE_MODEL = 'logistic_regression/1.0.0'; // linear: exact to 1e-12

const predictToken = newToken();
const opsToken = newToken();
const API_KEYS = `${keyLine('soak-client', predictToken, ['predict'])} ${keyLine('soak-ops', opsToken, ['ops'])}`;
const auth = (token: string) => ({ authorization: `Bearer ${token}`, 'content-type': 'application/json' });

const csvTape = (() => {
  const names = LOAN_FIELDS.map((f) => f.name);
  const cell = (v: unknown) => (v === null || v === undefined ? '' : String(v));
  const rows = holdout.slice(0, 20).map(({ loan }) => names.map((n) => cell(loan[n])).join(','));
  return `${names.join(',')}\n${rows.join('\n')}\n`;
})();

type Kind =
  | 'predict'
  | 'batch'
  | 'all-models'
  | 'invalid'
  | 'no-key'
  | 'wrong-scope'
  | 'unknown-route'
  | 'model-info'
  | 'tape';
interface Request {
  method: 'GET' | 'POST';
  path: string;
  headers: Record<string, string>;
  body?: string;
}
interface Planned {
  kind: Kind;
  expect: number;
  request: Request;
}
/** Each kind of request, its expected status, its weight in the mix (per 1,000), and its requests. */
const KINDS: { kind: Kind; expect: number; weight: number; requests: Request[] }[] = [
  {
    kind: 'predict',
    expect: 200,
    weight: 560,
    requests: holdout.slice(0, 100).map((h) => ({
      method: 'POST' as const,
      path: '/predict',
      headers: auth(predictToken),
      body: JSON.stringify(h.loan),
    })),
  },
  {
    kind: 'batch',
    expect: 200,
    weight: 100,
    requests: [0, 1].map((i) => ({
      method: 'POST' as const,
      path: '/predict',
      headers: auth(predictToken),
      body: JSON.stringify({ loans: holdout.slice(10 * i, 10 * i + 10).map((h) => h.loan) }),
    })),
  },
  {
    kind: 'all-models',
    expect: 200,
    weight: 50,
    requests: [
      {
        method: 'POST',
        path: '/predict?model=all',
        headers: auth(predictToken),
        body: JSON.stringify(holdout[60]?.loan),
      },
    ],
  },
  {
    kind: 'invalid',
    expect: 400,
    weight: 100,
    requests: [
      {
        method: 'POST',
        path: '/predict',
        headers: auth(predictToken),
        body: JSON.stringify({ ...holdout[61]?.loan, credit_score: '700', ltv: -5 }),
      },
      // Schema errors. (A body that is not JSON at all makes Fastify close the connection, as after
      // any body-parser error: that case is in the fuzz test, not in a keep-alive soak.)
      { method: 'POST', path: '/predict', headers: auth(predictToken), body: JSON.stringify({ loans: [] }) },
      {
        method: 'POST',
        path: '/predict?explain=yes',
        headers: auth(predictToken),
        body: JSON.stringify(holdout[62]?.loan),
      },
    ],
  },
  {
    kind: 'no-key',
    expect: 401,
    weight: 50,
    requests: [{ method: 'POST', path: '/predict', headers: { 'content-type': 'application/json' }, body: '{}' }],
  },
  {
    kind: 'wrong-scope',
    expect: 403,
    weight: 50,
    requests: [{ method: 'POST', path: '/predict', headers: auth(opsToken), body: '{}' }],
  },
  {
    kind: 'unknown-route',
    expect: 404,
    weight: 40,
    requests: [{ method: 'GET', path: '/no/such/route', headers: auth(predictToken) }],
  },
  {
    kind: 'model-info',
    expect: 200,
    weight: 48,
    requests: [{ method: 'GET', path: '/models/xgboost', headers: auth(predictToken) }],
  },
  {
    // A 20-loan tape costs ~1–3 ms of server CPU (~8–10 ms before its record slots were made lazily), during which
    // every other request waits: 0.2 % of the mix (2 a second). Its latency has its own bound; the
    // p99 target is for the interactive requests.
    kind: 'tape',
    expect: 200,
    weight: 2,
    requests: [
      {
        method: 'POST',
        path: '/pools/score',
        headers: { ...auth(predictToken), 'content-type': 'text/csv' },
        body: csvTape,
      },
    ],
  },
];
/** One cycle of 1,000 requests, the kinds spread evenly (smooth weighted round robin). */
const plan: Planned[] = (() => {
  const total = KINDS.reduce((a, k) => a + k.weight, 0);
  const current = KINDS.map(() => 0);
  const used = KINDS.map(() => 0);
  const out: Planned[] = [];
  for (let n = 0; n < total; n++) {
    KINDS.forEach((k, i) => {
      current[i] = (current[i] as number) + k.weight;
    });
    let best = 0;
    current.forEach((c, i) => {
      if (c > (current[best] as number)) best = i;
    });
    current[best] = (current[best] as number) - total;
    const k = KINDS[best] as (typeof KINDS)[number];
    const request = k.requests[(used[best] as number) % k.requests.length] as Request;
    used[best] = (used[best] as number) + 1;
    out.push({ kind: k.kind, expect: k.expect, request });
  }
  return out;
})();
const expectedStatuses = new Map<number, number>();
for (const p of plan) expectedStatuses.set(p.expect, (expectedStatuses.get(p.expect) ?? 0) + 1);

// ---------------------------------------------------------------------------------------------
// The server.

function startServer(port: number): RunningServer {
  // --expose-gc and a SIGUSR2 handler: the soak asks for a full collection before it reads the heap,
  // so that it compares live objects, not how far V8 has let garbage pile up.
  const gcOnSignal = `data:text/javascript,process.on('SIGUSR2', () => globalThis.gc && globalThis.gc())`; // no '?': a URL
  const extra = (process.env.SOAK_NODE_ARGS ?? '').split(/\s+/).filter((a) => a !== ''); // e.g. --trace-gc
  return runServer(
    {
      NODE_ENV: 'production',
      WORKERS: '1',
      LOG_LEVEL: 'warn',
      HOST: '127.0.0.1',
      PORT: String(port),
      API_KEYS,
      // A limit the steady rate stays well under: the limiter runs on every request, never refuses.
      RATE_LIMIT_MAX: String(RATE * 60 * 10),
      RATE_LIMIT_WINDOW_MS: '60000',
    },
    [...extra, '--expose-gc', '--import', gcOnSignal],
  );
}

async function pdOf(base: string, loanIndex: number): Promise<number> {
  const row = holdout[loanIndex];
  const res = await fetch(`${base}/predict?model=logistic_regression`, {
    method: 'POST',
    headers: auth(predictToken),
    // Under the scenario the library scored the reference row under.
    body: JSON.stringify({ ...row?.loan, scenario: reference.scenarios[row?.i as number] }),
  });
  if (res.status !== 200) throw new Error(`reference prediction: HTTP ${res.status} ${await res.text()}`);
  return ((await res.json()) as { probability_of_default: number }).probability_of_default;
}

function rssBytes(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m?.[1] ?? Number.NaN) * 1024;
}

/**
 * The service's own request-duration histogram (receipt of the request to the response sent, as
 * /metrics counts it), summed over every route except tapes: requests counted, and how many within
 * each bucket bound. The difference of two scrapes covers the time between them.
 */
async function serverDurations(base: string): Promise<Map<number, number>> {
  const text = await (await fetch(`${base}/metrics`)).text();
  const buckets = new Map<number, number>();
  for (const m of text.matchAll(/^http_request_duration_seconds_bucket\{([^}]*)\} (\S+)$/gm)) {
    const labels = m[1] as string;
    if (labels.includes('route="/pools/score"') || labels.includes('route="/metrics"')) continue;
    const le = /le="([^"]+)"/.exec(labels)?.[1] ?? '';
    const bound = le === '+Inf' ? Number.POSITIVE_INFINITY : Number(le);
    buckets.set(bound, (buckets.get(bound) ?? 0) + Number(m[2]));
  }
  return buckets;
}

/** The child's V8 heap in use right after a full collection. */
async function liveHeapBytes(pid: number, base: string): Promise<number> {
  process.kill(pid, 'SIGUSR2');
  await sleep(500);
  return heapUsedBytes(base);
}

async function heapUsedBytes(base: string): Promise<number> {
  const text = await (await fetch(`${base}/metrics`)).text();
  const m = /^nodejs_heap_size_used_bytes (\S+)$/m.exec(text);
  return Number(m?.[1] ?? Number.NaN);
}

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] as number;
}
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? Number.NaN : (s[Math.floor((s.length - 1) / 2)] as number);
};
const mb = (bytes: number) => bytes / (1024 * 1024);

// ---------------------------------------------------------------------------------------------
// The load: open-loop, a steady SOAK_RATE over a keep-alive pool.

interface LoadResult {
  latencies: number[];
  byStatus: Map<number, number>;
  byKind: Map<Kind, { latencies: number[]; statuses: Map<number, number> }>;
  errors: Map<string, number>;
  /** Sends more than 5 ms behind their schedule (the load generator itself falling behind). */
  lateSends: number;
  /** Per second of the run: requests sent, and those answered in more than P99_TARGET_MS. */
  timeline: { sent: number; slow: number }[];
  /** Latencies of the requests sent after the warm-up: tapes, and all the others. */
  afterWarmup: { interactive: number[]; tape: number[] };
}

/**
 * One keep-alive connection speaking just enough HTTP/1.1 for the soak, one request at a time:
 * pre-built request bytes out, status and Content-Length (or chunked) framing in. A few
 * microseconds a request, so that the load generator, which shares the machine's two cores with the
 * service, adds as little as possible to what it measures (node:http's client costs ~10× more).
 */
class RawConnection {
  private socket: Socket;
  private received: Buffer = Buffer.alloc(0);
  private waiting: ((outcome: number | string) => void) | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly port: number) {
    this.socket = this.open();
  }

  private open(): Socket {
    const socket = connect(this.port, '127.0.0.1');
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', () => {});
    socket.on('close', () => {
      if (this.socket === socket) this.finish('ECONNRESET', true);
    });
    return socket;
  }

  send(bytes: Buffer): Promise<number | string> {
    return new Promise((resolve) => {
      this.waiting = resolve;
      this.received = Buffer.alloc(0);
      this.timer = setTimeout(() => this.finish('timeout', true), 10_000);
      this.socket.write(bytes);
    });
  }

  close(): void {
    const socket = this.socket;
    this.socket = undefined as unknown as Socket;
    socket.destroy();
  }

  private finish(outcome: number | string, reconnect: boolean): void {
    clearTimeout(this.timer);
    const resolve = this.waiting;
    this.waiting = undefined;
    if (reconnect && this.socket !== undefined) {
      const old = this.socket;
      this.socket = this.open();
      old.destroy();
    }
    resolve?.(outcome);
  }

  private onData(chunk: Buffer): void {
    this.received = this.received.length === 0 ? chunk : Buffer.concat([this.received, chunk]);
    const end = this.received.indexOf('\r\n\r\n');
    if (end < 0) return;
    const head = this.received.toString('latin1', 0, end).toLowerCase();
    const status = Number(head.slice(9, 12));
    const length = /\r\ncontent-length: *(\d+)/.exec(head);
    let complete: boolean;
    if (length) complete = this.received.length >= end + 4 + Number(length[1]);
    else if (/\r\ntransfer-encoding: *chunked/.test(head)) {
      complete = this.received.subarray(this.received.length - 5).toString('latin1') === '0\r\n\r\n';
    } else complete = true;
    if (complete) this.finish(status, /\r\nconnection: *close/.test(head));
  }
}

/** The bytes of a planned request. */
function requestBytes(r: Request): Buffer {
  const body = r.body === undefined ? undefined : Buffer.from(r.body);
  const headers = { host: '127.0.0.1', ...r.headers, ...(body ? { 'content-length': String(body.length) } : {}) };
  const head = `${r.method} ${r.path} HTTP/1.1\r\n${Object.entries(headers)
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join('')}\r\n`;
  return body ? Buffer.concat([Buffer.from(head, 'latin1'), body]) : Buffer.from(head, 'latin1');
}

async function steadyLoad(port: number): Promise<LoadResult> {
  const result: LoadResult = {
    latencies: [],
    byStatus: new Map(),
    byKind: new Map(),
    errors: new Map(),
    lateSends: 0,
    timeline: Array.from({ length: Math.ceil(SECONDS) + 1 }, () => ({ sent: 0, slow: 0 })),
    afterWarmup: { interactive: [], tape: [] },
  };
  const bytes = plan.map((p) => requestBytes(p.request));
  const idle: RawConnection[] = Array.from({ length: CONNECTIONS }, () => new RawConnection(port));
  const all = [...idle];
  const queue: (() => void)[] = [];
  const loadStart = performance.now();

  const record = (index: number, second: number, ms: number, outcome: number | string) => {
    const planned = plan[index % plan.length] as Planned;
    if (typeof outcome === 'string') {
      result.errors.set(outcome, (result.errors.get(outcome) ?? 0) + 1);
      return;
    }
    result.latencies.push(ms);
    if (second >= WARMUP_S) result.afterWarmup[planned.kind === 'tape' ? 'tape' : 'interactive'].push(ms);
    if (ms > P99_TARGET_MS) (result.timeline[second] as { slow: number }).slow++;
    result.byStatus.set(outcome, (result.byStatus.get(outcome) ?? 0) + 1);
    let k = result.byKind.get(planned.kind);
    if (k === undefined) {
      k = { latencies: [], statuses: new Map() };
      result.byKind.set(planned.kind, k);
    }
    k.latencies.push(ms);
    k.statuses.set(outcome, (k.statuses.get(outcome) ?? 0) + 1);
  };

  // Request `index`, sent now or as soon as a connection is free; its latency starts at its send.
  let outstanding = 0;
  let drained: (() => void) | undefined;
  const send = (index: number) => {
    outstanding++;
    const second = Math.min(Math.floor((performance.now() - loadStart) / 1000), result.timeline.length - 1);
    (result.timeline[second] as { sent: number }).sent++;
    const go = () => {
      const connection = idle.pop() as RawConnection;
      const started = performance.now();
      void connection.send(bytes[index % plan.length] as Buffer).then((outcome) => {
        record(index, second, performance.now() - started, outcome);
        idle.push(connection);
        queue.shift()?.();
        if (--outstanding === 0) drained?.();
      });
    };
    if (idle.length > 0) go();
    else queue.push(go);
  };

  const total = Math.round(RATE * SECONDS);
  let sent = 0;
  while (sent < total) {
    const elapsed = performance.now() - loadStart;
    const due = Math.min(total, Math.floor((elapsed * RATE) / 1000) + 1);
    for (; sent < due; sent++) {
      if (elapsed - (sent * 1000) / RATE > 5) result.lateSends++;
      send(sent);
    }
    await sleep(1);
  }
  if (outstanding > 0) await new Promise<void>((r) => (drained = r));
  for (const c of all) c.close();
  return result;
}

// ---------------------------------------------------------------------------------------------

async function main(): Promise<number> {
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const server = startServer(port);
  const pid = server.child.pid as number;
  let ready = false;
  for (let i = 0; i < 300 && !ready; i++) {
    await sleep(100);
    ready = await fetch(`${base}/health/ready`).then(
      (r) => r.status === 200,
      () => false,
    );
  }
  if (!ready) throw new Error(`the server did not become ready:\n${server.output()}`);
  // Load shedding arms itself a second after start-up: wait for it, so that it is part of the soak.
  await sleep(1500);

  const checkIndex = 0;
  const expectedPd = reference.models[REFERENCE_MODEL]?.probability[holdout[checkIndex]?.i as number] as number;
  const pdBefore = await pdOf(base, checkIndex);

  const samples: { t: number; rss: number; heap: number }[] = [];
  const started = Date.now();
  let sampling = true;
  // RSS every second from /proc (free for the server); the heap from /metrics every 5 s only, as a
  // scrape costs the server a few milliseconds (Prometheus scrapes every 15 s by default).
  const sampler = (async () => {
    for (let i = 0; sampling; i++) {
      const t = (Date.now() - started) / 1000;
      const heap = i % 5 === 0 ? await heapUsedBytes(base).catch(() => Number.NaN) : Number.NaN;
      samples.push({ t, rss: rssBytes(pid), heap });
      await sleep(1000);
    }
  })();

  const loadBefore = loadavg().map((x) => Number(x.toFixed(2)));
  // Live heap at the end of the warm-up (under load) and at the end of the run.
  let liveAfterWarmup = Number.NaN;
  let durationsAfterWarmup = new Map<number, number>();
  const warmupMark = sleep(WARMUP_S * 1000).then(async () => {
    durationsAfterWarmup = await serverDurations(base);
    liveAfterWarmup = await liveHeapBytes(pid, base);
  });
  const load = await steadyLoad(port);
  await warmupMark;
  const durationsEnd = await serverDurations(base);
  const liveEnd = await liveHeapBytes(pid, base);
  // Server side, after the warm-up: the share of (non-tape) requests answered within 5 ms.
  const serverTotal =
    (durationsEnd.get(Number.POSITIVE_INFINITY) ?? 0) - (durationsAfterWarmup.get(Number.POSITIVE_INFINITY) ?? 0);
  const serverWithin = (durationsEnd.get(0.005) ?? 0) - (durationsAfterWarmup.get(0.005) ?? 0);
  const serverShareWithin5ms = serverTotal > 0 ? serverWithin / serverTotal : Number.NaN;
  sampling = false;
  await sampler;

  const pdAfter = await pdOf(base, checkIndex);
  server.child.kill('SIGTERM');
  const exitCode = await Promise.race([server.exit, sleep(15_000).then(() => 'timeout' as const)]);
  if (exitCode === 'timeout') server.child.kill('SIGKILL');

  // ---- figures
  const { latencies, byStatus, byKind, errors, lateSends } = load;
  const interactiveSorted = Float64Array.from(load.afterWarmup.interactive).sort();
  const tapeSorted = Float64Array.from(load.afterWarmup.tape).sort();
  const interactiveP99 = percentile(interactiveSorted, 99);
  const tapeP99 = percentile(tapeSorted, 99);
  const sorted = Float64Array.from(latencies).sort();
  const total = latencies.length;
  const achieved = total / SECONDS;
  const fivexx = [...byStatus].filter(([s]) => s >= 500).reduce((a, [, n]) => a + n, 0);
  const wrongStatus = [...byKind].flatMap(([kind, k]) =>
    [...k.statuses]
      .filter(([status]) => status !== plan.find((p) => p.kind === kind)?.expect)
      .map(([status, n]) => `${kind}: ${n} × ${status}`),
  );
  const post = samples.filter((s) => s.t >= WARMUP_S);
  const first = post.slice(0, 5);
  const last = post.slice(-5);
  const rssStart = median(first.map((s) => s.rss));
  const rssEnd = median(last.map((s) => s.rss));
  const heaped = post.filter((s) => Number.isFinite(s.heap));
  const heapStart = heaped[0]?.heap ?? Number.NaN;
  const heapEnd = heaped[heaped.length - 1]?.heap ?? Number.NaN;
  const rssPeak = Math.max(...samples.map((s) => s.rss));
  // Expected share of each status in the mix vs what came back.
  const mix = [...expectedStatuses].map(([status, n]) => ({
    status,
    expectedShare: n / plan.length,
    got: byStatus.get(status) ?? 0,
  }));
  const unexpected = [...byStatus].filter(([s]) => !expectedStatuses.has(s));
  const errorLines = server
    .output()
    .split('\n')
    .filter((l) => /"level":(50|60)/.test(l));
  const shedLines = server
    .output()
    .split('\n')
    .filter((l) => l.includes('overloaded'));

  const checks = [
    { check: 'zero 5xx', ok: fivexx === 0, value: `${fivexx}` },
    {
      check: 'no connection errors or timeouts',
      ok: errors.size === 0,
      value: errors.size === 0 ? '0' : JSON.stringify(Object.fromEntries(errors)),
    },
    {
      check: 'each kind answered with its status',
      ok: unexpected.length === 0 && wrongStatus.length === 0,
      value: wrongStatus.length === 0 ? 'yes' : wrongStatus.slice(0, 5).join('; '),
    },
    {
      check: `steady rate ≥ 95 % of ${RATE} req/s`,
      ok: achieved >= 0.95 * RATE,
      value: `${achieved.toFixed(0)} req/s`,
    },
    {
      check: 'sends on schedule (< 1 % over 5 ms late)',
      ok: lateSends < total / 100,
      value: `${lateSends} late`,
    },
    {
      check: `p99 < ${P99_TARGET_MS} ms (after warm-up, all but tapes)`,
      ok: interactiveP99 < P99_TARGET_MS,
      value: `${interactiveP99.toFixed(2)} ms`,
    },
    {
      check: 'server side: ≥ 99 % within 5 ms (its own histogram)',
      ok: serverShareWithin5ms >= 0.99,
      value: `${(100 * serverShareWithin5ms).toFixed(2)} % of ${serverTotal}`,
    },
    {
      check: `tapes p99 < ${TAPE_P99_MS} ms (after warm-up)`,
      ok: tapeP99 < TAPE_P99_MS,
      value: `${tapeP99.toFixed(2)} ms`,
    },
    {
      check: `RSS growth after warm-up < ${RSS_GROWTH_MB} MB`,
      ok: mb(rssEnd - rssStart) < RSS_GROWTH_MB,
      value: `${mb(rssEnd - rssStart).toFixed(1)} MB`,
    },
    {
      check: `live heap growth after warm-up < ${HEAP_GROWTH_MB} MB`,
      ok: mb(liveEnd - liveAfterWarmup) < HEAP_GROWTH_MB,
      value: `${mb(liveAfterWarmup).toFixed(1)} → ${mb(liveEnd).toFixed(1)} MB after a full GC`,
    },
    {
      check: 'reference PD before and after (1e-12)',
      ok: Math.abs(pdBefore - expectedPd) <= 1e-12 && pdAfter === pdBefore,
      value: `${pdAfter} (reference ${expectedPd})`,
    },
    { check: 'no error lines in the log', ok: errorLines.length === 0, value: `${errorLines.length}` },
    { check: 'clean exit on SIGTERM', ok: exitCode === 0, value: String(exitCode) },
  ];

  const figures = {
    when: new Date().toISOString(),
    node: process.version,
    // Other work on the machine skews latency (client and server share it): shown, not corrected.
    load_average_before_after: [loadBefore, loadavg().map((x) => Number(x.toFixed(2)))],
    cpus: availableParallelism(),
    seconds: SECONDS,
    target_rate: RATE,
    connections: CONNECTIONS,
    requests: total,
    achieved_rate: Number(achieved.toFixed(1)),
    statuses: Object.fromEntries([...byStatus].sort(([a], [b]) => a - b)),
    mix: mix.map((m) => ({
      status: m.status,
      expected_share: Number(m.expectedShare.toFixed(3)),
      share: Number((m.got / Math.max(1, total)).toFixed(3)),
    })),
    late_sends: lateSends,
    server_share_within_5ms_after_warmup: Number(serverShareWithin5ms.toFixed(5)),
    timeline: load.timeline.map((t, i) => ({ second: i, ...t })),
    kinds: Object.fromEntries(
      [...byKind].map(([kind, k]) => {
        const ks = Float64Array.from(k.latencies).sort();
        return [
          kind,
          {
            requests: k.latencies.length,
            statuses: Object.fromEntries(k.statuses),
            p50_ms: Number(percentile(ks, 50).toFixed(3)),
            p99_ms: Number(percentile(ks, 99).toFixed(3)),
          },
        ];
      }),
    ),
    after_warmup_ms: {
      interactive: {
        requests: interactiveSorted.length,
        p50: percentile(interactiveSorted, 50),
        p99: interactiveP99,
        p999: percentile(interactiveSorted, 99.9),
        max: interactiveSorted[interactiveSorted.length - 1],
      },
      tape: {
        requests: tapeSorted.length,
        p50: percentile(tapeSorted, 50),
        p99: tapeP99,
        max: tapeSorted[tapeSorted.length - 1],
      },
    },
    latency_ms: {
      p50: percentile(sorted, 50),
      p90: percentile(sorted, 90),
      p99: percentile(sorted, 99),
      p999: percentile(sorted, 99.9),
      max: sorted[sorted.length - 1],
    },
    memory_mb: {
      warmup_seconds: WARMUP_S,
      rss_after_warmup: Number(mb(rssStart).toFixed(1)),
      rss_end: Number(mb(rssEnd).toFixed(1)),
      rss_peak: Number(mb(rssPeak).toFixed(1)),
      heap_after_warmup: Number(mb(heapStart).toFixed(1)),
      heap_end: Number(mb(heapEnd).toFixed(1)),
      live_heap_after_warmup_full_gc: Number(mb(liveAfterWarmup).toFixed(1)),
      live_heap_end_full_gc: Number(mb(liveEnd).toFixed(1)),
    },
    shed_warnings: shedLines.length,
    bounds: {
      p99_ms: P99_TARGET_MS,
      tape_p99_ms: TAPE_P99_MS,
      rss_growth_mb: RSS_GROWTH_MB,
      heap_growth_mb: HEAP_GROWTH_MB,
    },
    samples: samples.map((s) => ({
      t: Number(s.t.toFixed(1)),
      rss_mb: Number(mb(s.rss).toFixed(1)),
      ...(Number.isFinite(s.heap) ? { heap_mb: Number(mb(s.heap).toFixed(1)) } : {}),
    })),
    checks,
    passed: checks.every((c) => c.ok),
  };
  mkdirSync(dirname(OUT), { recursive: true });
  writeFileSync(OUT, `${JSON.stringify(figures, null, 2)}\n`);
  // In Biome's format, so that `npm run lint` (which also reads test-results/) stays clean after a soak.
  spawnSync(resolve('node_modules/.bin/biome'), ['format', '--write', OUT], { stdio: 'ignore' });
  if (process.env.SOAK_SERVER_LOG) writeFileSync(process.env.SOAK_SERVER_LOG, server.output());

  const rows: [string, string][] = [
    ['duration', `${SECONDS} s (warm-up ${WARMUP_S} s)`],
    ['target rate', `${RATE} req/s over ${CONNECTIONS} connections`],
    ['requests', `${total} (${achieved.toFixed(0)} req/s)`],
    [
      'statuses',
      Object.entries(figures.statuses)
        .map(([s, n]) => `${s}: ${n}`)
        .join(', '),
    ],
    [
      'after warm-up, all but tapes: p50 / p99 / p99.9 / max',
      `${[percentile(interactiveSorted, 50), interactiveP99, percentile(interactiveSorted, 99.9), interactiveSorted[interactiveSorted.length - 1] ?? Number.NaN].map((x) => x.toFixed(2)).join(' / ')} ms`,
    ],
    ['after warm-up, tapes: p50 / p99', `${percentile(tapeSorted, 50).toFixed(2)} / ${tapeP99.toFixed(2)} ms`],
    [
      'whole run: p50 / p90 / p99 / p99.9 / max',
      `${['p50', 'p90', 'p99', 'p999', 'max'].map((k) => (figures.latency_ms[k as keyof typeof figures.latency_ms] as number).toFixed(2)).join(' / ')} ms`,
    ],
    [
      'RSS after warm-up → end (peak)',
      `${figures.memory_mb.rss_after_warmup} → ${figures.memory_mb.rss_end} MB (${figures.memory_mb.rss_peak})`,
    ],
    [
      'heap used (sampled) after warm-up → end',
      `${figures.memory_mb.heap_after_warmup} → ${figures.memory_mb.heap_end} MB`,
    ],
    [
      'live heap after a full GC: warm-up end → run end',
      `${figures.memory_mb.live_heap_after_warmup_full_gc} → ${figures.memory_mb.live_heap_end_full_gc} MB`,
    ],
    ['load-shedding warnings', String(shedLines.length)],
    [
      'machine load average (1/5/15 min) before → after',
      `${figures.load_average_before_after[0]?.join(' ')} → ${figures.load_average_before_after[1]?.join(' ')}`,
    ],
    [`answers over ${P99_TARGET_MS} ms, per second`, load.timeline.map((t) => t.slow).join(' ')],
  ];
  const width = Math.max(...rows.map(([k]) => k.length), ...checks.map((c) => c.check.length));
  console.log('\nsoak: figures');
  for (const [k, v] of rows) console.log(`  ${k.padEnd(width)}  ${v}`);
  console.log('\nsoak: checks');
  for (const c of checks) console.log(`  ${c.ok ? 'PASS' : 'FAIL'}  ${c.check.padEnd(width)}  ${c.value}`);
  console.log(`\nsoak: ${figures.passed ? 'OK' : 'FAILED'} (figures in ${OUT})`);
  if (!figures.passed && errorLines.length > 0) console.log(errorLines.slice(0, 5).join('\n'));
  return figures.passed ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(`soak: FAILED: ${(err as Error).stack ?? String(err)}`);
    process.exit(1);
  },
);
