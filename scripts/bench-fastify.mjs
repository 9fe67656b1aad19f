// A bare Fastify route for `npm run bench`: the ceiling's work (parse the JSON body, answer a small
// JSON object) through Fastify's defaults, with no plugins, hooks, schemas or logging. What the
// framework alone costs against bare node:http.
import Fastify from 'fastify';

const app = Fastify();
app.post('/', async (request) => ({ model: 'fastify', version: '0', probability_of_default: request.body ? 0.5 : 0 }));
await app.listen({ port: Number(process.env.PORT ?? 0), host: '127.0.0.1' });
console.log(`bare fastify listening on ${app.server.address().port}`);
process.on('SIGTERM', () => app.close().then(() => process.exit(0)));
