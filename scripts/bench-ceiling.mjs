// The ceiling for `npm run bench`: a bare node:http server that reads and parses the same JSON body
// and answers a small JSON object. No Node server doing more per request can beat it.
import { createServer } from 'node:http';

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
    const payload = JSON.stringify({ model: 'ceiling', version: '0', probability_of_default: body ? 0.5 : 0 });
    res.writeHead(200, {
      'content-type': 'application/json; charset=utf-8',
      'content-length': Buffer.byteLength(payload),
    });
    res.end(payload);
  });
});
server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  console.log(`ceiling listening on ${server.address().port}`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
