import type { ModelSet } from '../registry.js';
import { armFor, loanKey, type ModelRoute } from '../routing.js';
import type { LoanRecord, Model } from '../runtime/index.js';
import { ServingError } from './errors.js';

/**
 * Which model and version answer: the one place that decides it for every route.
 *
 * - A request that names a version is answered by that version, and no shadow runs.
 * - Otherwise each loan is answered by the model's default version or, when the routing has an A/B
 *   split, by the arm its loan key falls in (sticky per loan: routing.ts), and the shadow scores it.
 * - POST /predict may ask for "all" loan models; a tape (POST /pools/score) is scored by one loan
 *   model and one version (the requested one, else the default: no split, no shadow); V2 answers any
 *   model, one version per response (the requested one, else the default).
 * - An unknown model or version is a 404 in one wording (`notFound`), listing what the route serves.
 */

export const notFound = {
  model: (name: string, available: readonly string[]): ServingError =>
    new ServingError(
      'not-found',
      'MODEL_NOT_FOUND',
      `no model named ${JSON.stringify(name.slice(0, 64))}; available: ${available.join(', ')}`,
    ),
  version: (name: string, version: string | undefined, set: ModelSet): ServingError => {
    const loaded = (set.versions.get(name) ?? []).map((m) => m.version);
    return new ServingError(
      'not-found',
      'MODEL_VERSION_NOT_FOUND',
      `model ${name} has no version ${JSON.stringify(String(version).slice(0, 32))}; loaded: ${loaded.join(', ')}`,
    );
  },
};

/** The models of one name chosen for a /predict request. */
export interface Chosen {
  readonly name: string;
  readonly route: ModelRoute;
  /** The version the request asked for, if it did. */
  readonly pinned?: Model;
  /** Every version that may answer (for checks that must hold whichever arm a loan lands in). */
  readonly candidates: readonly Model[];
}

/** The models a /predict request is scored by: one name (maybe one version of it), or every loan model. */
export function chooseModels(set: ModelSet, name: string, version: string | undefined): Chosen[] {
  if (name === 'all') {
    if (version !== undefined) {
      throw new ServingError(
        'invalid',
        'VERSION_WITHOUT_MODEL',
        'version picks a version of one model: name the model too, not "all"',
      );
    }
    return set.loanModels().map((m) => chosenRoute(set, m.name));
  }
  const route = set.routes.get(name);
  if (!route) throw notFound.model(name, [...set.loanModels().map((m) => m.name), 'all']);
  if (route.default.inputs !== 'loan-record') {
    throw new ServingError(
      'invalid',
      'MODEL_NOT_FOR_LOANS',
      `model ${name} reads its own features, not loan records: call POST /v2/models/${name}/infer (Open Inference Protocol)`,
    );
  }
  if (version === undefined) return [chosenRoute(set, name)];
  const pinned = set.get(name, version);
  if (!pinned) throw notFound.version(name, version, set);
  return [{ name, route, pinned, candidates: [pinned] }];
}

function chosenRoute(set: ModelSet, name: string): Chosen {
  const route = set.routes.get(name) as ModelRoute;
  const candidates = route.split ? route.split.map((a) => a.model) : [route.default];
  return { name, route, candidates };
}

/** The version answering each loan: pinned, the default, or its sticky arm of the split. */
export function servedVersions(chosen: Chosen, loans: readonly LoanRecord[]): Model[] {
  const { name, route, pinned } = chosen;
  const split = pinned ? undefined : route.split;
  if (split) return loans.map((loan) => armFor(name, split, loanKey(loan)));
  const model = pinned ?? route.default;
  return loans.length === 1 ? [model] : loans.map(() => model);
}

/** The shadow that scores the loans of a request: none when the request named its version. */
export function shadowOf(route: ModelRoute | undefined, pinned: boolean): Model | undefined {
  return pinned ? undefined : route?.shadow;
}

/** Any loaded model (V2): its default version, or the version named. */
export function findModel(set: ModelSet, name: string, version?: string): Model {
  if (!set.versions.has(name)) throw notFound.model(name, set.names());
  const model = set.get(name, version);
  if (!model) throw notFound.version(name, version, set);
  return model;
}

/** The one loan model and version that score a whole tape: the version named, else the default. */
export function tapeModel(set: ModelSet, name: string, version: string | undefined): Model {
  if (name === 'all') {
    throw new ServingError('invalid', 'VALIDATION_FAILED', '', [
      {
        field: 'query.model',
        message:
          'must name one model: a tape is scored by one model at a time ("all" is for /predict); score it once per model',
      },
    ]);
  }
  const loanModels = set.loanModels().map((m) => m.name);
  if (!set.get(name) || !loanModels.includes(name)) throw notFound.model(name, loanModels);
  const model = set.get(name, version);
  if (model === undefined) throw notFound.version(name, version, set);
  return model;
}
