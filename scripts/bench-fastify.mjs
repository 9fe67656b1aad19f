// A bare Fastify route for `npm run bench`: the ceiling's work (parse the JSON body, answer a small
// JSON object) through Fastify's defaults, with no plugins, hooks, schemas or logging. What the
// framework alone costs against bare node:http. SPIN_US=<µs> busy-waits that long per request before
// answering (bench-spin.mjs): the least a route scoring a model must add.
import Fastify from 'fastify';
import { spin } from './bench-spin.mjs';

const app = Fastify();
app.post('/', async (request) => {
  spin();
  return { model: 'fastify', version: '0', probability_of_default: request.body ? 0.5 : 0 };
});
await app.listen({ port: Number(process.env.PORT ?? 0), host: '127.0.0.1' });
console.log(`bare fastify listening on ${app.server.address().port}`);
process.on('SIGTERM', () => app.close().then(() => process.exit(0)));
