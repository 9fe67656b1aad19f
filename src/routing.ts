import { LOAN_FIELDS } from './loan/record.js';
import type { LoanRecord, Model } from './runtime/index.js';

/**
 * Traffic routing between the versions of a model: a pinned default, an A/B split by weight that is
 * sticky per loan, and an optional shadow (challenger) scored on the same loans but never returned.
 * The routing document is JSON (ROUTING_FILE, or routing.json in the model directory):
 *
 *   { "models": { "xgboost": { "default": "1.0.0", "split": { "1.0.0": 90, "1.1.0": 10 }, "shadow": "1.1.0" } } }
 *
 * It is validated against the loaded versions, and reloaded with them (registry.ts).
 */

export interface ModelRoute {
  /** The version served when a request names no version and there is no split. */
  readonly default: Model;
  /** Arms of the A/B split, with cumulative integer weights; absent when there is no split. */
  readonly split?: readonly Arm[];
  /** Scored after the response on the same loans; never returned. */
  readonly shadow?: Model;
}

export interface Arm {
  readonly model: Model;
  readonly weight: number;
  /** Sum of the weights of this arm and the ones before it. */
  readonly upTo: number;
}

export class RoutingError extends Error {
  override readonly name = 'RoutingError';
  constructor(
    readonly source: string,
    readonly path: string,
    problem: string,
  ) {
    super(`${source}: ${path ? `${path}: ` : ''}${problem}`);
  }
}

const MAX_WEIGHT = 1_000_000;

/** A JSON object (not an array, not null): what a routing document and its entries must be. */
export const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Validates `document` against the loaded versions (name → versions, ascending) and returns the route
 * of every model name. A name the document does not mention serves its highest version.
 */
export function buildRoutes(
  document: unknown,
  versions: ReadonlyMap<string, readonly Model[]>,
  source: string,
): Map<string, ModelRoute> {
  const fail = (path: string, problem: string): never => {
    throw new RoutingError(source, path, problem);
  };
  const routes = new Map<string, ModelRoute>();
  for (const [name, all] of versions) routes.set(name, { default: all[all.length - 1] as Model });
  if (document === undefined) return routes;
  if (!isObject(document)) return fail('', 'must be a JSON object with a "models" object');
  for (const key of Object.keys(document)) if (key !== 'models') fail(key, 'unknown key (expected only "models")');
  const models = document.models;
  if (!isObject(models)) return fail('models', 'must be an object: model name → routing');

  for (const [name, spec] of Object.entries(models)) {
    const path = `models.${name}`;
    const available = versions.get(name);
    if (!available)
      fail(path, `no model ${JSON.stringify(name)} is loaded (loaded: ${[...versions.keys()].join(', ')})`);
    const byVersion = new Map((available as readonly Model[]).map((m) => [m.version, m]));
    const versionOf = (v: unknown, at: string): Model => {
      if (typeof v !== 'string') return fail(at, 'must be a version string such as "1.0.0"');
      const model = byVersion.get(v);
      if (!model)
        return fail(at, `version ${v} of ${name} is not loaded (loaded: ${[...byVersion.keys()].join(', ')})`);
      return model;
    };
    if (!isObject(spec)) return fail(path, 'must be an object with "default", "split" and/or "shadow"');
    for (const key of Object.keys(spec)) {
      if (key !== 'default' && key !== 'split' && key !== 'shadow') {
        fail(`${path}.${key}`, 'unknown key (expected "default", "split" or "shadow")');
      }
    }
    const route: { default: Model; split?: Arm[]; shadow?: Model } = {
      default:
        spec.default === undefined
          ? (routes.get(name) as ModelRoute).default
          : versionOf(spec.default, `${path}.default`),
    };
    if (spec.split !== undefined) {
      if (!isObject(spec.split)) fail(`${path}.split`, 'must be an object: version → integer weight');
      const arms: Arm[] = [];
      let total = 0;
      for (const [version, weight] of Object.entries(spec.split as Record<string, unknown>)) {
        const at = `${path}.split.${version}`;
        const model = versionOf(version, at);
        if (typeof weight !== 'number' || !Number.isInteger(weight) || weight < 0 || weight > MAX_WEIGHT) {
          fail(at, `weight must be a whole number from 0 to ${MAX_WEIGHT}, got ${JSON.stringify(weight)}`);
        }
        if ((weight as number) === 0) continue;
        total += weight as number;
        arms.push({ model, weight: weight as number, upTo: total });
      }
      if (total === 0) fail(`${path}.split`, 'needs at least one version with a positive weight');
      route.split = arms;
    }
    if (spec.shadow !== undefined) {
      route.shadow = versionOf(spec.shadow, `${path}.shadow`);
      const served = route.split ? route.split.map((a) => a.model) : [route.default];
      if (served.length === 1 && served[0] === route.shadow) {
        fail(
          `${path}.shadow`,
          `${route.shadow.version} is also the only version served: a shadow must be another version`,
        );
      }
    }
    routes.set(name, route);
  }
  return routes;
}

/**
 * FNV-1a over the UTF-16 code units, then murmur3's 32-bit finaliser for avalanche: the same key
 * always lands in the same bucket, and consecutive loan numbers spread evenly.
 */
export function stickyHash(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * What makes a loan "the same loan" for a sticky split: its loan_sequence_number when it has one, else
 * its field values in the loan record's order (so resending the same record lands on the same arm).
 */
export function loanKey(loan: LoanRecord): string {
  const id = loan.loan_sequence_number;
  if (typeof id === 'string' && id !== '') return id;
  let key = '';
  for (const f of LOAN_FIELDS) key += `${JSON.stringify(loan[f.name] ?? null)}|`;
  return key;
}

/** The arm of a split that `key` falls in, for model `name` (salted, so splits of two models are independent). */
export function armFor(name: string, split: readonly Arm[], key: string): Model {
  const total = (split[split.length - 1] as Arm).upTo;
  const bucket = stickyHash(`${name}\u0000${key}`) % total;
  for (const arm of split) if (bucket < arm.upTo) return arm.model;
  return (split[split.length - 1] as Arm).model;
}
