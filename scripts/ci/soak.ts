/**
 * Bounded soak on loopback: the service in a child process (NODE_ENV=production WORKERS=1
 * LOG_LEVEL=warn, API keys and a rate limit on, load shedding at its production default) takes a
 * steady rate of mixed valid and invalid requests for SOAK_SECONDS, and must show:
 *
 *   - zero 5xx and zero connection errors or timeouts;
 *   - exactly the status each kind of request should get (200, 400, 401, 403, 404), every time;
 *   - p99 latency under SOAK_P99_MS (5 ms) at the steady rate, end to end, for the requests sent
 *     after the warm-up (all but tapes, which have their own bound SOAK_TAPE_P99_MS), and 99 % of
 *     answers within 5 ms by the service's own request-duration histogram, both judged on the
 *     seconds the machine did not disturb: a bare node:http server in its own process (the control)
 *     answers a steady SOAK_CONTROL_RATE from the same generator, and a second in which it took over
 *     SOAK_CONTROL_MS, or the generator sent late, is shown but not judged; the run goes on, up to
 *     three times SOAK_SECONDS, until half the seconds after the warm-up are undisturbed
 *     (scripts/lib/soak-judge.ts; the CI run of 2026-12-05 failed on a host stall that held every
 *     process, service and generator alike, for up to a second at a time);
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
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { availableParallelism, loadavg } from 'node:os';
import { dirname, resolve } from 'node:path';
import { LOAN_FIELDS } from '../../src/loan/record.js';
import { keyLine, newToken } from '../../src/security/keys.js';
import { freePort, type RunningServer, runServer } from '../lib/net.js';
import {
  type CpuReading,
  disturbance,
  emptySecond,
  foreignBetween,
  type HistogramScrape,
  histogramOverUndisturbed,
  latenciesOf,
  machineCpu,
  percentile,
  processCpuMs,
  type SoakSecond,
  undisturbedSeconds,
} from '../lib/soak-judge.js';

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
// The control: a bare node:http server answering CONTROL_RATE req/s (one every 5 ms, so that a
// stall of the machine longer than that cannot fall between two of them) over its own connections.
const CONTROL_RATE = num('SOAK_CONTROL_RATE', 200);
const CONTROL_MS = num('SOAK_CONTROL_MS', P99_TARGET_MS);
// Other processes' CPU and the host's steal, in a second: at most 150 ms (7.5 % of the two cores).
// Measured during soaks here: 0–70 ms a second on a quiet machine (the kernel's and the per-process
// accounting disagree by that much), 400–800 ms in a second with another busy process.
const FOREIGN_CPU_MS = num('SOAK_FOREIGN_CPU_MS', 150);
const BOUNDS = { controlMs: CONTROL_MS, lateShare: 0.01, foreignCpuMs: FOREIGN_CPU_MS };
// Judged on at least half the seconds after the warm-up; the run goes on up to three times SECONDS for them
// (a CI rehearsal on 2026-12-06 needed 73 s: other processes took ~1.4 cores for 9–18 s at a time).
const MAX_SECONDS = 3 * SECONDS;
const UNDISTURBED_NEEDED = Math.ceil((SECONDS - WARMUP_S) / 2);
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
function serverDurations(text: string): Map<number, number> {
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
  return heapUsedIn(await (await fetch(`${base}/metrics`)).text());
}

function heapUsedIn(metrics: string): number {
  const m = /^nodejs_heap_size_used_bytes (\S+)$/m.exec(metrics);
  return Number(m?.[1] ?? Number.NaN);
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
  /** Control requests that failed (the control's, not the service's: they disturb their second). */
  controlErrors: Map<string, number>;
  /** The control's latencies, all seconds. */
  controlLatencies: number[];
  /** Sends more than 5 ms behind their schedule (the load generator itself falling behind). */
  lateSends: number;
  /** Per second of the run (by send): the service's and the control's requests and latencies. */
  timeline: SoakSecond[];
  /** How long the load ran (s): SECONDS, or more until enough seconds were undisturbed. */
  seconds: number;
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

/**
 * A steady stream at RATE to the service and at CONTROL_RATE to the control, from the same loop,
 * each on its own keep-alive pool, timed from `origin`. Runs SECONDS, then on from whole second to
 * whole second, up to MAX_SECONDS, until UNDISTURBED_NEEDED of the settled seconds after the warm-up
 * are undisturbed.
 */
async function steadyLoad(
  port: number,
  controlPort: number,
  origin: number,
  cpu: () => CpuReading,
): Promise<LoadResult> {
  const result: LoadResult = {
    latencies: [],
    byStatus: new Map(),
    byKind: new Map(),
    errors: new Map(),
    controlErrors: new Map(),
    controlLatencies: [],
    lateSends: 0,
    timeline: Array.from({ length: MAX_SECONDS + 1 }, emptySecond),
    seconds: SECONDS,
  };
  const bytes = plan.map((p) => requestBytes(p.request));
  const controlBytes = requestBytes({ method: 'GET', path: '/control', headers: {} });
  const idle: RawConnection[] = Array.from({ length: CONNECTIONS }, () => new RawConnection(port));
  const controlIdle: RawConnection[] = Array.from({ length: 4 }, () => new RawConnection(controlPort));
  const all = [...idle, ...controlIdle];
  const queue: (() => void)[] = [];
  const controlQueue: (() => void)[] = [];
  const secondOf = (now: number) => Math.min(Math.floor((now - origin) / 1000), result.timeline.length - 1);

  const record = (index: number, second: number, ms: number, outcome: number | string) => {
    const planned = plan[index % plan.length] as Planned;
    if (typeof outcome === 'string') {
      result.errors.set(outcome, (result.errors.get(outcome) ?? 0) + 1);
      return;
    }
    const at = result.timeline[second] as SoakSecond;
    result.latencies.push(ms);
    at[planned.kind === 'tape' ? 'tape' : 'interactive'].push(ms);
    if (ms > P99_TARGET_MS) at.slow++;
    result.byStatus.set(outcome, (result.byStatus.get(outcome) ?? 0) + 1);
    let k = result.byKind.get(planned.kind);
    if (k === undefined) {
      k = { latencies: [], statuses: new Map() };
      result.byKind.set(planned.kind, k);
    }
    k.latencies.push(ms);
    k.statuses.set(outcome, (k.statuses.get(outcome) ?? 0) + 1);
  };
  const recordControl = (second: number, ms: number, outcome: number | string) => {
    const at = result.timeline[second] as SoakSecond;
    if (outcome !== 200) {
      const what = typeof outcome === 'string' ? outcome : `HTTP ${outcome}`;
      result.controlErrors.set(what, (result.controlErrors.get(what) ?? 0) + 1);
      at.controlMaxMs = Number.POSITIVE_INFINITY;
      return;
    }
    at.controlAnswered++;
    at.controlMaxMs = Math.max(at.controlMaxMs, ms);
    result.controlLatencies.push(ms);
  };

  // A request sent now or as soon as a connection of its pool is free; its latency starts at its send.
  let outstanding = 0;
  let drained: (() => void) | undefined;
  const dispatch = (
    pool: RawConnection[],
    waiting: (() => void)[],
    request: Buffer,
    done: (ms: number, outcome: number | string) => void,
  ) => {
    outstanding++;
    const go = () => {
      const connection = pool.pop() as RawConnection;
      const started = performance.now();
      void connection.send(request).then((outcome) => {
        done(performance.now() - started, outcome);
        pool.push(connection);
        waiting.shift()?.();
        if (--outstanding === 0) drained?.();
      });
    };
    if (pool.length > 0) go();
    else waiting.push(go);
  };

  let sent = 0;
  let controlSent = 0;
  let endMs = Number.POSITIVE_INFINITY;
  let lastSecond = 0;
  let reading = cpu();
  for (;;) {
    const elapsed = performance.now() - origin;
    const second = Math.floor(elapsed / 1000);
    if (second !== lastSecond && endMs === Number.POSITIVE_INFINITY) {
      // The machine's CPU over the second just ended (by the clock, as close as the loop allows).
      const now = cpu();
      Object.assign(result.timeline[lastSecond] as SoakSecond, foreignBetween(reading, now));
      reading = now;
      lastSecond = second;
      // Settled: the seconds before the last one (their answers are in, or late enough to disturb).
      const settled = undisturbedSeconds(result.timeline, WARMUP_S, second - 1, BOUNDS).length;
      if (second >= MAX_SECONDS || (second >= SECONDS && settled >= UNDISTURBED_NEEDED)) endMs = second * 1000;
    }
    const horizon = Math.min(elapsed, endMs - 1e-9);
    const due = Math.min(Math.floor((horizon * RATE) / 1000) + 1, Math.ceil((endMs * RATE) / 1000));
    for (; sent < due; sent++) {
      const index = sent;
      const at = secondOf(origin + (index * 1000) / RATE);
      const s = result.timeline[at] as SoakSecond;
      s.sent++;
      if (elapsed - (index * 1000) / RATE > 5) {
        result.lateSends++;
        s.late++;
      }
      dispatch(idle, queue, bytes[index % plan.length] as Buffer, (ms, outcome) => record(index, at, ms, outcome));
    }
    const controlDue = Math.min(
      Math.floor((horizon * CONTROL_RATE) / 1000) + 1,
      Math.ceil((endMs * CONTROL_RATE) / 1000),
    );
    for (; controlSent < controlDue; controlSent++) {
      const at = secondOf(origin + (controlSent * 1000) / CONTROL_RATE);
      (result.timeline[at] as SoakSecond).controlSent++;
      dispatch(controlIdle, controlQueue, controlBytes, (ms, outcome) => recordControl(at, ms, outcome));
    }
    if (elapsed >= endMs) break;
    await sleep(1);
  }
  result.seconds = endMs / 1000;
  result.timeline.length = Math.ceil(result.seconds);
  if (outstanding > 0) await new Promise<void>((r) => (drained = r));
  for (const c of all) c.close();
  return result;
}

/**
 * The control: a bare node:http server in its own process, a fixed small answer to any request. It
 * exits when its standard input closes, so that it does not outlive the soak however the soak ends.
 */
function startControl(port: number) {
  const code = `require('node:http').createServer((q, s) => { q.resume(); q.on('end', () => { s.writeHead(200, { 'content-type': 'application/json', 'content-length': 11 }); s.end('{"ok":true}'); }); }).listen(${port}, '127.0.0.1', () => console.log('ready')); process.stdin.on('end', () => process.exit(0)).resume();`;
  const child = spawn(process.execPath, ['-e', code], { stdio: ['pipe', 'pipe', 'inherit'] });
  const ready = new Promise<void>((resolve, reject) => {
    child.stdout?.once('data', () => resolve());
    child.once('exit', (c) => reject(new Error(`the control server exited (${c})`)));
  });
  return { child, ready };
}

// ---------------------------------------------------------------------------------------------

async function main(): Promise<number> {
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const server = startServer(port);
  const pid = server.child.pid as number;
  const controlPort = await freePort();
  const control = startControl(controlPort);
  try {
    return await soak(base, port, server, pid, controlPort, control.child.pid as number, control.ready);
  } finally {
    control.child.kill('SIGTERM');
  }
}

async function soak(
  base: string,
  port: number,
  server: RunningServer,
  pid: number,
  controlPort: number,
  controlPid: number,
  controlReady: Promise<void>,
): Promise<number> {
  await controlReady;
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
  const scrapes: HistogramScrape[] = [];
  const origin = performance.now();
  const since = () => (performance.now() - origin) / 1000;
  let sampling = true;
  // RSS every second from /proc (free for the server); the heap and the request-duration histogram
  // from /metrics every 5 s only, as a scrape costs the server a few milliseconds (Prometheus
  // scrapes every 15 s by default).
  const sampler = (async () => {
    for (let i = 0; sampling; i++) {
      const t = since();
      let heap = Number.NaN;
      if (i % 5 === 0) {
        const metrics = await fetch(`${base}/metrics`).then(
          (r) => r.text(),
          () => '',
        );
        heap = heapUsedIn(metrics);
        if (metrics !== '') scrapes.push({ t, buckets: serverDurations(metrics) });
      }
      samples.push({ t, rss: rssBytes(pid), heap });
      await sleep(1000);
    }
  })();

  const loadBefore = loadavg().map((x) => Number(x.toFixed(2)));
  // Live heap at the end of the warm-up (under load) and at the end of the run.
  let liveAfterWarmup = Number.NaN;
  const warmupMark = sleep(WARMUP_S * 1000).then(async () => {
    liveAfterWarmup = await liveHeapBytes(pid, base);
  });
  const ours = [pid, controlPid, process.pid];
  const cpu = (): CpuReading => ({
    ...machineCpu(readFileSync('/proc/stat', 'utf8')),
    oursMs: ours.reduce((a, p) => a + processCpuMs(readFileSync(`/proc/${p}/stat`, 'utf8')), 0),
  });
  const load = await steadyLoad(port, controlPort, origin, cpu);
  await warmupMark;
  sampling = false;
  await sampler;
  // The last scrape counts every answer; the requests it adds were all sent before the load ended.
  scrapes.push({
    t: Math.min(since(), load.seconds - 1e-6),
    buckets: serverDurations(await (await fetch(`${base}/metrics`)).text()),
  });
  const liveEnd = await liveHeapBytes(pid, base);

  const pdAfter = await pdOf(base, checkIndex);
  server.child.kill('SIGTERM');
  const exitCode = await Promise.race([server.exit, sleep(15_000).then(() => 'timeout' as const)]);
  if (exitCode === 'timeout') server.child.kill('SIGKILL');

  // ---- figures
  const { latencies, byStatus, byKind, errors, lateSends, timeline } = load;
  const seconds = load.seconds;
  const judgedSeconds = Math.max(0, timeline.length - WARMUP_S);
  const undisturbed = undisturbedSeconds(timeline, WARMUP_S, timeline.length, BOUNDS);
  const disturbed = timeline
    .map((s, i) => ({ second: i, why: disturbance(s, BOUNDS) }))
    .filter((d) => d.second >= WARMUP_S && d.why !== undefined);
  // Judged: the requests sent in undisturbed seconds after the warm-up.
  const { interactive: interactiveSorted, tape: tapeSorted } = latenciesOf(timeline, undisturbed);
  // Shown: every second after the warm-up, as before the control existed.
  const everySecond = latenciesOf(
    timeline,
    timeline.map((_, i) => i).filter((i) => i >= WARMUP_S),
  );
  const interactiveP99 = percentile(interactiveSorted, 99);
  const tapeP99 = percentile(tapeSorted, 99);
  const controlSorted = Float64Array.from(load.controlLatencies).sort();
  // Server side, after the warm-up, over the 5 s windows whose every second was undisturbed: the
  // share of (non-tape) requests answered within 5 ms. Shown, not a check: a request's time in the
  // service is part of its end-to-end time, so the end-to-end p99 judged above implies it; it tells a
  // slow service from a slow path to it when that p99 fails.
  const server5ms = histogramOverUndisturbed(scrapes, new Set(undisturbed), WARMUP_S, 0.005);
  const serverTotal = server5ms.total;
  const serverShareWithin5ms = serverTotal > 0 ? server5ms.within / serverTotal : Number.NaN;
  const sorted = Float64Array.from(latencies).sort();
  const total = latencies.length;
  const achieved = total / seconds;
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
      check: `undisturbed seconds to judge latency (≥ ${UNDISTURBED_NEEDED})`,
      ok: undisturbed.length >= UNDISTURBED_NEEDED,
      value: `${undisturbed.length} of ${judgedSeconds} after warm-up`,
    },
    {
      check: `p99 < ${P99_TARGET_MS} ms (undisturbed seconds, all but tapes)`,
      ok: interactiveP99 < P99_TARGET_MS,
      value: `${interactiveP99.toFixed(2)} ms of ${interactiveSorted.length}`,
    },
    {
      check: `tapes p99 < ${TAPE_P99_MS} ms (undisturbed seconds)`,
      ok: tapeP99 < TAPE_P99_MS,
      value: `${tapeP99.toFixed(2)} ms of ${tapeSorted.length}`,
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
    seconds,
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
    control: {
      rate: CONTROL_RATE,
      bound_ms: CONTROL_MS,
      answers: controlSorted.length,
      errors: Object.fromEntries(load.controlErrors),
      p50_ms: Number(percentile(controlSorted, 50).toFixed(3)),
      p99_ms: Number(percentile(controlSorted, 99).toFixed(3)),
      max_ms: Number((controlSorted[controlSorted.length - 1] ?? Number.NaN).toFixed(3)),
    },
    undisturbed_seconds: undisturbed.length,
    undisturbed_needed: UNDISTURBED_NEEDED,
    disturbed_seconds: disturbed,
    after_warmup_every_second_ms: {
      interactive_p99: percentile(everySecond.interactive, 99),
      tape_p99: percentile(everySecond.tape, 99),
    },
    server_share_within_5ms_undisturbed: Number(serverShareWithin5ms.toFixed(5)),
    server_windows_undisturbed: server5ms.windows,
    timeline: load.timeline.map((t, i) => ({
      second: i,
      sent: t.sent,
      late: t.late,
      slow: t.slow,
      control_sent: t.controlSent,
      control_answered: t.controlAnswered,
      control_max_ms: Number.isFinite(t.controlMaxMs) ? Number(t.controlMaxMs.toFixed(3)) : null,
      other_cpu_ms: Math.round(t.foreignCpuMs),
      steal_ms: Math.round(t.stealMs),
      disturbed: disturbance(t, BOUNDS) ?? null,
    })),
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
    [
      'duration',
      `${seconds} s (warm-up ${WARMUP_S} s${seconds > SECONDS ? `; ${SECONDS} s asked, run on for undisturbed seconds` : ''})`,
    ],
    ['target rate', `${RATE} req/s over ${CONNECTIONS} connections`],
    ['requests', `${total} (${achieved.toFixed(0)} req/s)`],
    [
      'statuses',
      Object.entries(figures.statuses)
        .map(([s, n]) => `${s}: ${n}`)
        .join(', '),
    ],
    [
      `control (bare node:http, ${CONTROL_RATE} req/s): p50 / p99 / max`,
      `${[percentile(controlSorted, 50), percentile(controlSorted, 99), controlSorted[controlSorted.length - 1] ?? Number.NaN].map((x) => x.toFixed(2)).join(' / ')} ms`,
    ],
    [
      'disturbed seconds after warm-up (not judged)',
      disturbed.length === 0
        ? 'none'
        : `${disturbed.length}: ${disturbed
            .slice(0, 12)
            .map((d) => `${d.second} (${d.why})`)
            .join(', ')}${disturbed.length > 12 ? ', …' : ''}`,
    ],
    [
      'undisturbed, all but tapes: p50 / p99 / p99.9 / max',
      `${[percentile(interactiveSorted, 50), interactiveP99, percentile(interactiveSorted, 99.9), interactiveSorted[interactiveSorted.length - 1] ?? Number.NaN].map((x) => x.toFixed(2)).join(' / ')} ms`,
    ],
    ['undisturbed, tapes: p50 / p99', `${percentile(tapeSorted, 50).toFixed(2)} / ${tapeP99.toFixed(2)} ms`],
    [
      "within 5 ms, by the service's own histogram (undisturbed 5 s windows)",
      serverTotal > 0
        ? `${(100 * serverShareWithin5ms).toFixed(2)} % of ${serverTotal} (${server5ms.windows} windows)`
        : 'no undisturbed window',
    ],
    [
      'every second after warm-up: p99 all but tapes / tapes',
      `${percentile(everySecond.interactive, 99).toFixed(2)} / ${percentile(everySecond.tape, 99).toFixed(2)} ms`,
    ],
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
