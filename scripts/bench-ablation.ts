/**
 * Where a single-loan request's time goes, by ablation: `npm run build && node dist/scripts/bench-ablation.js
 * [--rounds 3] [--requests 20000] [--only name,name] [--baseline <dir holding an older dist/>]` (run compiled, as bench-cpu.ts explains;
 * on an otherwise idle machine).
 *
 * For each piece of the `POST /predict?model=xgboost` path (a hook, the parser, validation, scoring, the
 * serializer, the log line, the metrics…) it copies the compiled service (`dist/`) into a scratch
 * directory and removes that one piece there by a text patch of the compiled JavaScript; the shipped
 * code has no switch that turns a protection off. Every variant runs at once, as its own server at
 * `LOG_LEVEL=info` (stdout to /dev/null); autocannon loads one at a time, 50 connections, the example
 * loan, in rounds (each server once a round, the order rotating), and the server's user+system CPU
 * per request is read from /proc/<pid>/stat. A piece's cost is the median over rounds of (its base's
 * CPU a request − the variant's) in the same round. Not measured in pairs right after the base: a
 * server measured more often than the rest stays warmer and looked 5–15 µs cheaper than all of them. `--baseline <dir>` adds an older build
 * (its dist/ unpatched) as a row: a change's before/after in the same run. A patch whose text is no longer in the build stops the
 * script (the table would otherwise measure nothing): update the patch with the code.
 *
 * `--inject`: instead of HTTP, each variant is scripts/ablation-worker.ts (the app built as src/server.ts
 * builds it, light-my-request injections, no sockets, no load generator): the parts of a request
 * that are the application's, measured in one process and far steadier on a shared machine.
 *
 * Reference rows (HTTP only): the ceiling (scripts/bench-ceiling.mjs) and a bare Fastify route (bench-fastify.mjs).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { LOAN_EXAMPLE } from '../src/loan/schema.js';
import { freePort } from './lib/net.js';
import { processCpuMs } from './lib/soak-judge.js';
import { median } from './lib/stats.js';

const args = process.argv.slice(2);
const option = (name: string, fallback: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] ? (args[i + 1] as string) : fallback;
};
const ROUNDS = Number(option('rounds', '3'));
const REQUESTS = Number(option('requests', '20000'));
const CONNECTIONS = 50;
const BASELINE = option('baseline', '');
const INJECT = args.includes('--inject');
const ONLY = option('only', '')
  .split(',')
  .filter((s) => s !== '');

// dist/scripts/bench-ablation.js → the project directory (two levels up), whose dist/ is copied.
const here = dirname(fileURLToPath(import.meta.url));
const project = resolve(here, '..', '..');
const dist = join(project, 'dist');

interface Patch {
  /** File under dist/. */
  file: string;
  find: string;
  replace: string;
}

interface Variant {
  name: string;
  /** What the row removes, for the table. */
  piece: string;
  patches: Patch[];
  /** The variant this one is compared with (default: the full service). */
  base?: string;
}

/** `app.addHook(<event>, <fn>)` → `(<fn>)`: the hook is no longer registered. */
const unhook = (file: string, head: string): Patch => ({
  file,
  find: `app.addHook(${head}`,
  replace: `(${head.slice(head.indexOf(',') + 2)}`,
});

const VARIANTS: Variant[] = [
  {
    name: 'request-id',
    piece: 'request id: the generator (client id checked, else req-<n>) and the x-request-id header hook',
    patches: [
      {
        file: 'src/app.js',
        find: "genReqId: requestIdGenerator('x-request-id'),",
        replace: "genReqId: () => 'req-1',",
      },
      {
        file: 'src/app.js',
        find: "reply.header('x-request-id', request.id);",
        replace: '',
      },
    ],
  },
  {
    name: 'headers',
    piece: 'security headers (the onRequest hook copying the precomputed set)',
    patches: [
      {
        file: 'plugins/security/headers.js',
        find: 'for (let i = 0; i < set.length; i++)',
        replace: 'for (let i = 0; i < 0; i++)',
      },
    ],
  },
  {
    name: 'lifecycle',
    piece: 'in-flight count and drain hooks (onRequest, onSend, onResponse)',
    patches: [
      unhook('plugins/lifecycle.js', "'onRequest', (request, _reply, done) => {"),
      unhook('plugins/lifecycle.js', "'onSend', (request, reply, _payload, done) => {"),
      unhook('plugins/lifecycle.js', "'onResponse', (request, _reply, done) => {"),
    ],
  },
  {
    name: 'admin-guard',
    piece: 'admin request guard (onRequest)',
    patches: [unhook('plugins/security/auth.js', "'onRequest', function adminRequestGuard(request, reply, done) {")],
  },
  {
    name: 'route-metrics',
    piece: 'route metrics hook (http_requests_total, http_request_duration_seconds)',
    patches: [unhook('plugins/metrics.js', "'onResponse', (request, reply, done) => {")],
  },
  {
    name: 'model-metrics',
    piece: 'model metrics (latency, count, PD histogram per version)',
    patches: [
      {
        file: 'src/serving/record.js',
        find: 'recorder.observe(model, (performance.now() - t0) / 1000, scores.probability);',
        replace: '',
      },
    ],
  },
  {
    name: 'log-line',
    piece: 'the request log line (kept and formatted in batches, src/request-log.ts)',
    patches: [
      {
        file: 'src/app.js',
        find: "const logRequests = ['trace', 'debug', 'info'].includes(config.logLevel);",
        replace: 'const logRequests = false;',
      },
    ],
  },
  {
    name: 'json-parse',
    piece: 'JSON body parsing (secure-json-parse; the body is still read)',
    patches: [
      {
        file: 'src/security/json-body.js',
        find: "secureJson.parse(body, undefined, { protoAction: 'error', constructorAction: 'error' })",
        replace: '(globalThis.__ablationBody ??= JSON.parse(body))',
      },
    ],
  },
  {
    name: 'ajv',
    piece: 'schema validation of the body and query (Ajv)',
    patches: [{ file: 'src/security/validator.js', find: 'const validate = (data) => {', replace: '$& return true;' }],
  },
  {
    name: 'pre-validation',
    piece: 'the route’s batch-size preValidation hook',
    patches: [
      { file: 'plugins/routes/predict.js', find: 'preValidation: (request, _reply, done) => {', replace: 'x$&' },
    ],
  },
  {
    name: 'record-rules',
    piece: 'loan record rules (src/loan/validate.ts)',
    patches: [{ file: 'src/serving/index.js', find: 'checkRecordRules(loans, options.batch);', replace: '' }],
  },
  {
    name: 'evaluation',
    piece: 'XGBoost evaluation (the encoder still runs)',
    patches: [
      {
        file: 'src/runtime/model.js',
        find: 'this.encoder(loan, this.scratch, 0);\n        const margin = this.evaluator.margin(this.scratch, 0);\n        return',
        replace: 'this.encoder(loan, this.scratch, 0);\n        const margin = -3.5;\n        return',
      },
    ],
  },
  {
    name: 'encoding',
    piece: 'encoding the loan (evaluation also removed; compared with the row above)',
    base: 'evaluation',
    patches: [
      {
        file: 'src/runtime/model.js',
        find: 'this.encoder(loan, this.scratch, 0);\n        const margin = this.evaluator.margin(this.scratch, 0);\n        return',
        replace: 'const margin = -3.5;\n        return',
      },
    ],
  },
  {
    name: 'serializer',
    piece: 'serialising the answer (a constant string instead)',
    patches: [
      {
        file: 'plugins/routes/predict.js',
        find: "httpStatus === '200' ? predictSerializer()",
        replace: "httpStatus === '200' ? (() => globalThis.__ablationAnswer)",
      },
    ],
  },
];

/** Changes tried side by side with the service as built, with `--only <name>` (not in the table). */
const CANDIDATES: Variant[] = [
  ...[16384, 65536].map((n) => ({
    name: `log-chunk-${n / 1024}k`,
    piece: `log lines gathered into ${n / 1024} KiB chunks before each write (src/log-stream.ts)`,
    patches: [{ file: 'src/log-stream.js', find: 'chunkLength = 4096', replace: `chunkLength = ${n}` }],
  })),
  {
    name: 'one-hook-fewer',
    piece: 'the x-request-id header set by the security headers hook instead of a hook of its own',
    patches: [
      { file: 'src/app.js', find: "reply.header('x-request-id', request.id);", replace: '' },
      {
        file: 'src/app.js',
        find: "app.addHook('onRequest', (request, reply, done) => {",
        replace: '((request, reply, done) => {',
      },
      {
        file: 'plugins/security/headers.js',
        find: 'for (let i = 0; i < set.length; i++) {',
        replace: "reply.header('x-request-id', request.id);\n        $&",
      },
    ],
  },
];

// A second copy of the service, unchanged: two identical servers differ by a few µs a request on a
// shared machine (measured: 2–3 µs, one or the other ahead in every round of a run), which is the
// resolution of every other row.
const CONTROL: Variant = { name: 'control', piece: 'nothing: a second, unpatched copy of the service', patches: [] };

// All the pieces at once except scoring (what is left: Fastify, routing, the handler, the reply).
const combinable = VARIANTS.filter((v) => !['evaluation', 'encoding'].includes(v.name));
const ALL: Variant = {
  name: 'all-but-scoring',
  piece: 'every piece above but encoding and evaluation',
  patches: combinable.flatMap((v) => v.patches),
};

function applyPatches(root: string, patches: readonly Patch[]): void {
  for (const p of patches) {
    const file = join(root, 'dist', p.file);
    const text = readFileSync(file, 'utf8');
    const at = text.indexOf(p.find);
    if (at < 0 || text.indexOf(p.find, at + 1) >= 0) {
      throw new Error(`${p.file}: the patch text is ${at < 0 ? 'missing' : 'ambiguous'}: ${p.find}`);
    }
    writeFileSync(file, text.slice(0, at) + p.replace.replace('$&', p.find) + text.slice(at + p.find.length));
  }
}

/** `from` (a dist/ directory) copied into `root`, with package.json, node_modules and model-artifacts reachable. */
function scratchCopy(root: string, from: string, patches: readonly Patch[]): void {
  mkdirSync(root, { recursive: true });
  cpSync(from, join(root, 'dist'), { recursive: true });
  cpSync(join(project, 'package.json'), join(root, 'package.json'));
  symlinkSync(join(project, 'node_modules'), join(root, 'node_modules'));
  symlinkSync(join(project, 'model-artifacts'), join(root, 'model-artifacts'));
  applyPatches(root, patches);
}

interface Server {
  name: string;
  piece: string;
  base: string;
  child: ChildProcess;
  /** Over HTTP: the URL loaded; with --inject: undefined (the worker injects). */
  url?: string;
  /** With --inject: the answer to the example loan. */
  answer?: string;
  /** CPU µs a request, per round. */
  cpu: number[];
  /** The base's CPU µs a request minus this one's, in the same round, per round. */
  saved: number[];
}

type Named = { name: string; piece: string; base?: string };

/** With --inject: scripts/ablation-worker.ts of the copy in `cwd`, driven over IPC. */
async function startWorker(v: Named, cwd: string, nodeArgs: string[]): Promise<Server> {
  const child = spawn(process.execPath, [...nodeArgs, 'dist/scripts/ablation-worker.js'], {
    cwd,
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  const ready = await new Promise<{ answer: string }>((resolve, reject) => {
    child.once('message', resolve);
    child.once('exit', (code) => reject(new Error(`${v.name}: exited with ${code}`)));
  });
  return { name: v.name, piece: v.piece, base: v.base ?? 'full', child, cpu: [], saved: [], answer: ready.answer };
}

const injected = (server: Server, n: number) =>
  new Promise<number>((resolve, reject) => {
    server.child.once('message', (m: { us?: number; error?: string }) =>
      m.us === undefined ? reject(new Error(`${server.name}: ${m.error}`)) : resolve(m.us),
    );
    server.child.send({ n });
  });

async function start(v: Named, cwd: string, command: string[], readyPath: string): Promise<Server> {
  if (INJECT && readyPath !== '/') return startWorker(v, cwd, command.slice(0, -1));
  const port = await freePort();
  const child = spawn(process.execPath, command, {
    cwd,
    env: { ...process.env, HOST: '127.0.0.1', PORT: String(port), LOG_LEVEL: 'info' },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const base = `http://127.0.0.1:${port}`;
  const url = readyPath === '/' ? `${base}/` : `${base}/predict?model=xgboost`;
  for (let i = 0; i < 300; i++) {
    try {
      const res = await fetch(`${base}${readyPath}`, readyPath === '/' ? { method: 'POST', body: '{}' } : {});
      if (res.ok) return { name: v.name, piece: v.piece, base: v.base ?? 'full', child, url, cpu: [], saved: [] };
    } catch {}
    await new Promise((r) => setTimeout(r, 100));
  }
  child.kill('SIGKILL');
  throw new Error(`${v.name}: not ready`);
}

/** A server's user + system CPU so far, in ms. */
const cpuMs = (pid: number) => processCpuMs(readFileSync(`/proc/${pid}/stat`, 'utf8'));

const body = JSON.stringify(LOAN_EXAMPLE);
const load = (url: string, amount: number) =>
  autocannon({
    url,
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body,
    connections: CONNECTIONS,
    amount,
  });

/** Server CPU µs a request over `REQUESTS` requests, after a short warm-up. */
async function measure(server: Server): Promise<number> {
  if (server.url === undefined) {
    await injected(server, 2000);
    return injected(server, REQUESTS);
  }
  await load(server.url, 2000);
  const pid = server.child.pid as number;
  const t0 = cpuMs(pid);
  const r = await load(server.url, REQUESTS);
  const t1 = cpuMs(pid);
  if (r.non2xx + r.errors > 0) throw new Error(`${server.name}: ${r.non2xx} non-2xx, ${r.errors} errors`);
  return ((t1 - t0) * 1000) / REQUESTS;
}

const work = mkdtempSync(join(tmpdir(), 'ablation-'));
const servers: Server[] = [];
try {
  const chosen = [CONTROL, ...VARIANTS, ALL, ...CANDIDATES].filter((v) =>
    ONLY.length === 0 ? !CANDIDATES.includes(v) : ONLY.includes(v.name),
  );
  const full = await start(
    { name: 'full', piece: 'the service as built' },
    project,
    ['dist/src/server.js'],
    '/health/ready',
  );
  servers.push(full);
  // The full service's own answer for this loan: what the serializer variant sends, byte for byte.
  const answer =
    full.answer ??
    (await (
      await fetch(full.url as string, { method: 'POST', headers: { 'content-type': 'application/json' }, body })
    ).text());
  const patched = async (v: Variant, from: string) => {
    const root = join(work, v.name);
    scratchCopy(root, from, v.patches);
    writeFileSync(join(root, 'dist', 'answer.mjs'), `globalThis.__ablationAnswer = ${JSON.stringify(answer)};\n`);
    return start(v, root, ['--import', './dist/answer.mjs', 'dist/src/server.js'], '/health/ready');
  };
  for (const v of chosen) servers.push(await patched(v, dist));
  if (BASELINE) {
    const before = { name: 'before', piece: `the build in ${BASELINE} (before the change)`, patches: [] };
    servers.push(await patched(before, join(resolve(BASELINE), 'dist')));
  }
  if (ONLY.length === 0 && !INJECT) {
    const references = [
      ['fastify', 'bare Fastify route, same body (reference)', 'scripts/bench-fastify.mjs'],
      ['ceiling', 'bare node:http, same body (reference)', 'scripts/bench-ceiling.mjs'],
    ] as const;
    for (const [name, piece, script] of references) servers.push(await start({ name, piece }, project, [script], '/'));
  }
  const byName = new Map(servers.map((s) => [s.name, s]));
  for (const s of servers) await (s.url === undefined ? injected(s, 10000) : load(s.url, 10000)); // warm-up
  const others = servers.filter((s) => s !== full);
  for (let round = 0; round < ROUNDS; round++) {
    // Every server once a round, in an order that rotates: each has been idle as long as the others
    // when its turn comes (a server measured more often than the rest runs warmer and looks cheaper).
    const order = servers.map((_, i) => servers[(i + round) % servers.length] as Server);
    for (const s of order) s.cpu.push(await measure(s));
    for (const s of others) {
      s.saved.push(((byName.get(s.base) as Server).cpu[round] as number) - (s.cpu[round] as number));
    }
    console.error(
      `round ${round + 1}/${ROUNDS}: ${order.map((s) => `${s.name} ${s.cpu.at(-1)?.toFixed(1)}`).join(', ')}`,
    );
  }
  const rss = (s: Server) =>
    Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${s.child.pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;
  console.error(`peak RSS, MiB: ${servers.map((s) => `${s.name} ${rss(s).toFixed(0)}`).join(', ')}`);
  const fullUs = median(full.cpu);
  console.log(
    `\nServer CPU a request, POST /predict?model=xgboost, the example loan, ${INJECT ? 'app.inject, 50 at a time, one process' : `HTTP, ${CONNECTIONS} connections`}, LOG_LEVEL=info; ` +
      `${REQUESTS} requests a measurement, ${ROUNDS} rounds, each server once a round; medians ` +
      `(${new Date().toISOString().slice(0, 10)}, Node ${process.version}, ${availableParallelism()} cores)\n`,
  );
  console.log('| variant | removes | µs CPU / request | base − variant, µs (per round) | share of the full request |');
  console.log('|---|---|---:|---:|---:|');
  console.log(`| full | ${full.piece} | ${fullUs.toFixed(1)} | | 100 % |`);
  for (const s of others) {
    const saved = median(s.saved);
    const rounds = s.saved.map((x) => x.toFixed(1)).join(', ');
    const base = s.base === 'full' ? '' : ` (vs ${s.base})`;
    console.log(
      `| ${s.name}${base} | ${s.piece} | ${median(s.cpu).toFixed(1)} | ${saved.toFixed(1)} (${rounds}) | ${((saved / fullUs) * 100).toFixed(0)} % |`,
    );
  }
} finally {
  for (const s of servers) s.child.kill('SIGTERM');
  rmSync(work, { recursive: true, force: true });
}
