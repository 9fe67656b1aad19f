// The ceiling for `npm run bench`: a bare node:http server that reads and parses the same JSON body
// and answers a small JSON object. No Node server doing more per request can beat it.
// With CEILING_RESPONSE=<file> (JSON: { headers, body }) it answers those headers and that body
// instead: the bytes the service sends, so the benchmark can tell what its answer costs on the wire
// from what the service does to produce it. SPIN_US=<µs> busy-waits that long per request before
// answering (bench-spin.mjs).
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { spin } from './bench-spin.mjs';

const fixed = process.env.CEILING_RESPONSE ? JSON.parse(readFileSync(process.env.CEILING_RESPONSE, 'utf8')) : undefined;

const server = createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    let body;
    try {
      body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    } catch {
      res.writeHead(400).end();
      return;
    }
    spin();
    const payload = fixed
      ? fixed.body
      : JSON.stringify({ model: 'ceiling', version: '0', probability_of_default: body ? 0.5 : 0 });
    res.writeHead(200, {
      ...fixed?.headers,
      'content-type': fixed?.headers['content-type'] ?? 'application/json; charset=utf-8',
      'content-length': Buffer.byteLength(payload),
    });
    res.end(payload);
  });
});
server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  console.log(`ceiling listening on ${server.address().port}`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
