/**
 * POST /pools/score (summary only) with POOL_THREADS=1 against POOL_THREADS=N, side by side (issue 20 item 1):
 *
 *   npm run build && flock /work/wt/bench.lock node --import tsx scripts/bench-score-route.ts [--tape FILE] [--rounds 2]
 *     [--dist DIR]
 *
 * Two apps of the compiled build in `--dist` (default dist) in this process, each listening on 127.0.0.1 (port 0);
 * the tape (default: bench-tape.ts's million-loan CSV) is streamed from its file over real HTTP (chunked), and
 * also sent whole through app.inject (one 73 MB chunk, as bench-backtest.ts sends it). Interleaved rounds: 1
 * thread then N, over HTTP and injected. Prints each request's wall and CPU seconds (process.cpuUsage, every
 * thread), the medians and the ratios N/1, and checks that both answer the same bytes.
 */
import { createReadStream, readFileSync, statSync } from 'node:fs';
import { request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { availableParallelism } from 'node:os';
import { resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    tape: { type: 'string', default: '/tmp/bench-tape/loans-1000000-seed7.csv' },
    rounds: { type: 'string', default: '2' },
    dist: { type: 'string', default: 'dist' },
  },
});
const ROUNDS = Number(values.rounds);
const THREADS = availableParallelism();
const dist = (p: string) => pathToFileURL(resolve(values.dist as string, p)).href;
const { buildApp } = await import(dist('src/app.js'));
const { loadConfig } = await import(dist('src/config.js'));
const size = statSync(values.tape).size;

const app = async (threads: number) => {
  const a = buildApp(
    loadConfig({
      LOG_LEVEL: 'silent',
      POOL_THREADS: String(threads),
      POOL_MAX_BYTES: String(size + 1024),
      POOL_MAX_ROWS: '100000000',
    }),
    { logger: false },
  );
  await a.listen({ host: '127.0.0.1', port: 0 });
  return { a, port: (a.server.address() as AddressInfo).port };
};
const apps = { 1: await app(1), [THREADS]: await app(THREADS) } as Record<number, Awaited<ReturnType<typeof app>>>;

const URL_ = '/pools/score?model=xgboost';

/** POSTs the tape from its file over HTTP; answers the body. */
function overHttp(port: number, file: string): Promise<string> {
  return new Promise((done, fail) => {
    const req = request(
      { host: '127.0.0.1', port, path: URL_, method: 'POST', headers: { 'content-type': 'text/csv' } },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d) => {
          body += d;
        });
        res.on('end', () => (res.statusCode === 200 ? done(body) : fail(new Error(`${res.statusCode} ${body}`))));
      },
    );
    req.on('error', fail);
    createReadStream(file).pipe(req);
  });
}
const whole = readFileSync(values.tape);

// Warm-up: starts the workers, optimises the readers and the model.
const warm = whole.subarray(0, whole.indexOf(10, 2_000_000) + 1);
for (const { a } of Object.values(apps)) {
  await a.inject({ method: 'POST', url: URL_, payload: warm, headers: { 'content-type': 'text/csv' } });
}

const results: Record<string, { wall: number[]; cpu: number[]; bodies: Set<string> }> = {};
for (let round = 1; round <= ROUNDS; round++) {
  for (const how of ['http', 'inject'] as const) {
    for (const threads of [1, THREADS]) {
      const { a, port } = apps[threads] as Awaited<ReturnType<typeof app>>;
      const cpu0 = process.cpuUsage();
      const t0 = performance.now();
      const body =
        how === 'http'
          ? await overHttp(port, values.tape as string)
          : (await a.inject({ method: 'POST', url: URL_, payload: whole, headers: { 'content-type': 'text/csv' } }))
              .body;
      const wall = (performance.now() - t0) / 1000;
      const c = process.cpuUsage(cpu0);
      const key = `${how}, ${threads} thread${threads > 1 ? 's' : ''}`;
      results[key] ??= { wall: [], cpu: [], bodies: new Set() };
      results[key].wall.push(wall);
      results[key].cpu.push((c.user + c.system) / 1e6);
      results[key].bodies.add(body);
      console.log(`round ${round}, ${key}: ${wall.toFixed(2)} s wall, ${((c.user + c.system) / 1e6).toFixed(2)} CPU-s`);
    }
  }
}
const median = (xs: number[]) => {
  const s = [...xs].sort((x, y) => x - y);
  const m = s.length >> 1;
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
};
const all = new Set(Object.values(results).flatMap((r) => [...r.bodies]));
console.log(`\nsame answer on every request: ${all.size === 1 ? 'yes' : 'NO'}`);
for (const how of ['http', 'inject']) {
  const one = results[`${how}, 1 thread`] as { wall: number[]; cpu: number[] };
  const many = results[`${how}, ${THREADS} threads`] as { wall: number[]; cpu: number[] };
  console.log(
    `${how}: 1 thread ${median(one.wall).toFixed(2)} s (${median(one.cpu).toFixed(2)} CPU-s), ${THREADS} threads ` +
      `${median(many.wall).toFixed(2)} s (${median(many.cpu).toFixed(2)} CPU-s): ratio ${(median(many.wall) / median(one.wall)).toFixed(2)}`,
  );
}
await Promise.all(Object.values(apps).map(({ a }) => a.close()));
