import fp from 'fastify-plugin';
import type { ModelSet } from '../src/registry.js';
import { FAMILIES } from '../src/runtime/index.js';
import { familyPluginName } from './models/family-plugin.js';

/**
 * Loads MODEL_DIR once the family plugins have registered (a broken artifact makes `ready()` reject
 * with an error naming the file, so the server never starts half-loaded), and reloads it on demand:
 * `app.reloadModels()` is called on SIGHUP (src/server.ts) and by `POST /admin/models/reload`.
 * A reload validates everything first and swaps atomically; on any error the old set keeps serving.
 */

export interface ReloadOutcome {
  readonly ok: boolean;
  /** What asked for it: "signal", "admin", ... */
  readonly trigger: string;
  readonly generation: number;
  readonly durationMs: number;
  /** The versions in service after the reload (the old ones when it failed). */
  readonly models: readonly { name: string; version: string; default: boolean; sha256: string }[];
  readonly error?: string;
}

declare module 'fastify' {
  interface FastifyInstance {
    reloadModels(trigger: string): Promise<ReloadOutcome>;
    /** Called by the metrics plugin: model_info and reload counters follow every load. */
    onModelsLoaded(listener: (set: ModelSet, outcome: ReloadOutcome) => void): void;
  }
}

function describe(set: ModelSet): ReloadOutcome['models'] {
  return set.all().map((m) => ({
    name: m.name,
    version: m.version,
    default: set.get(m.name) === m,
    sha256: m.sha256,
  }));
}

export default fp(
  async (app) => {
    const listeners: ((set: ModelSet, outcome: ReloadOutcome) => void)[] = [];
    app.decorate('onModelsLoaded', (listener: (set: ModelSet, outcome: ReloadOutcome) => void) => {
      listeners.push(listener);
    });

    const { modelDir, routingFile, defaultModel } = app.config;
    const checkDefault = (set: ModelSet) => {
      if (defaultModel === 'all') return;
      const model = set.get(defaultModel);
      // A directory of models of their own features only: there is no loan model to default to, so the
      // service starts without one (GET /models says so) rather than refusing to start.
      if (!model && set.loanModels().length === 0) return;
      if (!model) {
        throw new Error(
          `DEFAULT_MODEL ${JSON.stringify(defaultModel)} is not a loaded model (loaded: ${set.names().join(', ')})`,
        );
      }
      if (model.inputs !== 'loan-record') {
        throw new Error(`DEFAULT_MODEL ${defaultModel} reads arbitrary features, not loan records`);
      }
    };

    const started = performance.now();
    const first = await app.models.load(modelDir, routingFile, checkDefault);
    const outcome = (set: ModelSet, trigger: string, t0: number, error?: string): ReloadOutcome => ({
      ok: error === undefined,
      trigger,
      generation: set.generation,
      durationMs: Math.round((performance.now() - t0) * 10) / 10,
      models: describe(set),
      ...(error === undefined ? {} : { error }),
    });
    const firstOutcome = outcome(first, 'start-up', started);
    app.addHook('onReady', async () => {
      for (const listener of listeners) listener(first, firstOutcome);
    });
    app.log.info(
      {
        models: first.all().map((m) => ({
          name: m.name,
          version: m.version,
          default: first.get(m.name) === m,
          family: m.family,
          inputs: m.inputs,
          sha256: m.sha256.slice(0, 12),
          ...m.evaluator.summary,
        })),
        routing: first.routingSource ?? null,
        warmup: first.warmups,
      },
      'models loaded',
    );

    // One outcome per load: requests that share a load (registry.ts: a reload asked for while another
    // runs waits for the next one, shared by everyone who asked meanwhile) share its answer, and the
    // listeners (metrics: model_reloads_total) hear of each load once.
    const outcomes = new WeakMap<Promise<ModelSet>, Promise<ReloadOutcome>>();
    const settle = async (load: Promise<ModelSet>, trigger: string): Promise<ReloadOutcome> => {
      const t0 = performance.now();
      let result: ReloadOutcome;
      try {
        const set = await load;
        result = outcome(set, trigger, t0);
        app.log.info(
          {
            trigger,
            generation: set.generation,
            duration_ms: result.durationMs,
            models: result.models,
            warmup: set.warmups,
          },
          'models reloaded',
        );
      } catch (err) {
        // Paths relative to MODEL_DIR: the answer names the file without the server's layout.
        const dir = modelDir.endsWith('/') ? modelDir : `${modelDir}/`;
        const message = (err as Error).message.split(dir).join('MODEL_DIR/');
        result = outcome(app.models.current, trigger, t0, message);
        app.log.error(
          { trigger, err: (err as Error).message },
          'model reload failed: the previous models keep serving',
        );
      }
      for (const listener of listeners) listener(app.models.current, result);
      return result;
    };
    app.decorate('reloadModels', (trigger: string): Promise<ReloadOutcome> => {
      const load = app.models.load(modelDir, routingFile, checkDefault);
      let result = outcomes.get(load);
      if (result === undefined) {
        result = settle(load, trigger);
        outcomes.set(load, result);
      }
      return result;
    });
  },
  {
    name: 'model-loader',
    dependencies: ['model-registry', ...FAMILIES.map(familyPluginName)],
  },
);
