// A bare Fastify route for `npm run bench`: the ceiling's work (parse the JSON body, answer a small
// JSON object) through Fastify's defaults, with no plugins, hooks, schemas or logging. What the
// framework alone costs against bare node:http. SPIN_US=<µs> busy-waits that long per request before
// answering: the least a route scoring a model must add (`npm run bench` uses the evaluator's time).
import Fastify from 'fastify';

const spinNs = BigInt(Math.round(Number(process.env.SPIN_US ?? 0) * 1000));
const app = Fastify();
app.post('/', async (request) => {
  if (spinNs > 0n) {
    const until = process.hrtime.bigint() + spinNs;
    while (process.hrtime.bigint() < until);
  }
  return { model: 'fastify', version: '0', probability_of_default: request.body ? 0.5 : 0 };
});
await app.listen({ port: Number(process.env.PORT ?? 0), host: '127.0.0.1' });
console.log(`bare fastify listening on ${app.server.address().port}`);
process.on('SIGTERM', () => app.close().then(() => process.exit(0)));
