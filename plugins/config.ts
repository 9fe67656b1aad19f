import fp from 'fastify-plugin';
import type { Config } from '../src/config.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** The validated configuration (src/config.ts); plugins read it here, never from process.env. */
    config: Config;
  }
}

export default fp<{ config: Config }>(
  async (app, options) => {
    app.decorate('config', options.config);
  },
  { name: 'config' },
);
