import cluster from 'node:cluster';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { reloadCluster, type WorkerOutcome } from '../../src/cluster.js';
import { HttpError } from '../errors.js';
import { ErrorSchema } from '../schemas.js';

/**
 * Model management. `POST /admin/models/reload` loads MODEL_DIR (and the routing document) again,
 * validates everything, and swaps atomically; on any error the models in service keep serving and the
 * answer is 422 RELOAD_FAILED naming the file and the problem. In a cluster every worker reloads and
 * the answer lists each one. Needs the `admin` scope when API keys are configured.
 */

const LoadedVersion = Type.Object({
  name: Type.String(),
  version: Type.String(),
  default: Type.Boolean(),
  sha256: Type.String(),
});

const WorkerResult = Type.Object({
  pid: Type.Integer(),
  ok: Type.Boolean(),
  generation: Type.Optional(Type.Integer()),
  error: Type.Optional(Type.String()),
});

const ReloadAnswer = Type.Object({
  status: Type.Literal('reloaded'),
  generation: Type.Integer({
    description:
      'Successful loads of the model directory: 1 at start-up, +1 per successful load (requests that shared a load share its number)',
  }),
  duration_ms: Type.Number(),
  models: Type.Array(LoadedVersion, { description: 'The versions now in service' }),
  workers: Type.Optional(Type.Array(WorkerResult, { description: 'In a cluster (WORKERS > 1): every worker' })),
});

const admin: FastifyPluginAsyncTypebox = async (app) => {
  app.post(
    '/admin/models/reload',
    {
      config: { auth: 'admin' },
      schema: {
        tags: ['admin'],
        summary: 'Reload the model directory without a restart (validated first; the old models serve on failure)',
        description:
          'The same as sending SIGHUP. Requests in flight finish on the models they started with. ' +
          'A broken artifact or routing document leaves every model in service as it was: 422 RELOAD_FAILED ' +
          'names the file and the problem, `model_reloads_total{result="failure"}` counts it. ' +
          'A reload asked for while another runs waits for the next load, which starts after it (so it reads the files ' +
          'as they are then) and is shared, with its answer, by every request made meanwhile; metrics count loads, not requests.',
        response: { 200: ReloadAnswer, 422: ErrorSchema },
      },
    },
    async () => {
      if (cluster.isWorker && typeof process.send === 'function') {
        let workers: WorkerOutcome[];
        try {
          workers = await reloadCluster('admin');
        } catch (err) {
          throw new HttpError(422, 'RELOAD_FAILED', (err as Error).message);
        }
        const failed = workers.find((w) => !w.outcome?.ok);
        if (failed) {
          throw new HttpError(
            422,
            'RELOAD_FAILED',
            `worker ${failed.pid}: ${failed.error ?? failed.outcome?.error}; the previous models keep serving`,
          );
        }
        const mine = workers.find((w) => w.pid === process.pid)?.outcome ?? workers[0]?.outcome;
        return {
          status: 'reloaded' as const,
          generation: mine?.generation ?? 0,
          duration_ms: Math.max(...workers.map((w) => w.outcome?.durationMs ?? 0)),
          models: [...(mine?.models ?? [])],
          workers: workers.map((w) => ({
            pid: w.pid,
            ok: w.outcome?.ok ?? false,
            ...(w.outcome ? { generation: w.outcome.generation } : {}),
            ...(w.error || w.outcome?.error ? { error: w.error ?? w.outcome?.error } : {}),
          })),
        };
      }
      const outcome = await app.reloadModels('admin');
      if (!outcome.ok) {
        throw new HttpError(422, 'RELOAD_FAILED', `${outcome.error}; the previous models keep serving`);
      }
      return {
        status: 'reloaded' as const,
        generation: outcome.generation,
        duration_ms: outcome.durationMs,
        models: [...outcome.models],
      };
    },
  );
};

export default admin;
