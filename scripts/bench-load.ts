/**
 * One load run of `npm run bench`, in its own process: `node dist/scripts/bench-load.js <options.json>`
 * with { url, bodyFile, connections, duration, warmup? }. The body file holds one JSON body, or
 * `{ "bodies": [...] }`: a list each connection cycles through (different loans). Runs a warm-up of
 * `warmup` seconds (2 unless given; 0 for none), then the measured run, and prints autocannon's
 * figures as one JSON line. Compiled and alone in its process, the load
 * generator is as fast as it can be: a slower client (run through tsx, or sharing its heap with
 * the benchmark's reference data, whose garbage collections pause it) lowers the server's
 * requests per event-loop turn and shows up in the server's figures and in p99.
 */
import { readFileSync } from 'node:fs';
import autocannon from 'autocannon';

const options = JSON.parse(readFileSync(process.argv[2] as string, 'utf8')) as {
  url: string;
  bodyFile: string;
  connections: number;
  duration: number;
  warmup?: number;
};
const body = JSON.parse(readFileSync(options.bodyFile, 'utf8')) as { bodies?: unknown[] };
const opts = {
  url: options.url,
  method: 'POST' as const,
  headers: { 'content-type': 'application/json' },
  ...(Array.isArray(body.bodies)
    ? { requests: body.bodies.map((b) => ({ body: JSON.stringify(b) })) }
    : { body: JSON.stringify(body) }),
  connections: options.connections,
  pipelining: 1,
};
const warmup = options.warmup ?? 2;
if (warmup > 0) await autocannon({ ...opts, duration: warmup }); // warm-up: V8 optimises, connections open
const r = await autocannon({ ...opts, duration: options.duration });
console.log(
  JSON.stringify({
    requests_per_s: r.requests.average,
    requests: r.requests.total,
    p50_ms: r.latency.p50,
    p99_ms: r.latency.p99,
    errors: r.errors + r.timeouts,
    non_2xx: r.non2xx,
  }),
);
