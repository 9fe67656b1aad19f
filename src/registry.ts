import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { CONTRACT } from './contract/index.js';
import { LOAN_FIELD_BY_NAME } from './loan/record.js';
import { buildRoutes, isObject, type ModelRoute, RoutingError } from './routing.js';
import {
  ArtifactError,
  artifactRange,
  DEFAULT_MAX_ARTIFACT_BYTES,
  type FileReader,
  type LoadOptions,
  loadModelFile,
  type Model,
  type ModelFamily,
  readBoundedFile,
} from './runtime/index.js';
import { type WarmPlan, type WarmReport, warmModel } from './runtime/warm.js';

/**
 * The models the service scores with. Families are contributed by plugins (one per family); `load`
 * then reads the model directory:
 *
 *   MODEL_DIR/<name>/<version>.json   one artifact per version (the layout `npm run train` writes)
 *   MODEL_DIR/<file>.json             also read: a single version, named by its document
 *   MODEL_DIR/routing.json            optional: pinned defaults, A/B splits, shadows (routing.ts)
 *   MODEL_DIR/reference/              the training pipeline's reference predictions and out-of-time models: not served
 *
 * Everything is validated before anything is served: a broken artifact or routing document makes
 * `load` throw (naming the file) and leaves the set in service untouched. A load builds a new
 * immutable `ModelSet` and swaps it in with one assignment, so a request that took the set at its
 * start finishes on the models it started with.
 */
interface RegistryOptions extends Omit<LoadOptions, 'families'> {
  /** Largest artifact or routing file read, in bytes (`MAX_ARTIFACT_BYTES`; default 64 MiB). */
  readonly maxArtifactBytes?: number;
  /** A load taking longer fails (nothing swapped) and frees the way for the next (`MODEL_LOAD_TIMEOUT_MS`). */
  readonly loadTimeoutMs?: number;
  /**
   * Warm every model of a new set before it is swapped in (runtime/warm.ts), so that the first
   * request after a start or a reload runs optimised code; undefined: no warm-up (`MODEL_WARMUP_MS=0`).
   */
  readonly warm?: WarmPlan;
}

/** Default time limit of one load of the model directory (`MODEL_LOAD_TIMEOUT_MS`). */
const DEFAULT_LOAD_TIMEOUT_MS = 60_000;

export class ModelRegistry {
  private readonly families = new Map<string, ModelFamily>();
  private set: ModelSet | undefined;
  /** The load in progress. */
  private running: Promise<ModelSet> | undefined;
  /** The load that starts when `running` settles, shared by every call made meanwhile. */
  private queued: Promise<ModelSet> | undefined;
  /** How files are read (bounded by default, read.ts); replaceable, e.g. by a test that holds a load open. */
  read: FileReader = readBoundedFile;

  constructor(private readonly options: RegistryOptions = {}) {}

  addFamily(family: ModelFamily): void {
    if (this.families.has(family.family)) throw new Error(`model family ${family.family} is registered twice`);
    this.families.set(family.family, family);
  }

  familyNames(): string[] {
    return [...this.families.keys()];
  }

  /**
   * Loads `dir` (and the routing document: `routingFile`, else `dir/routing.json` when present) into a
   * new set, runs `check` on it, and swaps it in. Throws `ArtifactError`/`RoutingError` and keeps the
   * current set when anything is wrong, or when the load takes longer than `loadTimeoutMs`.
   *
   * Every answer reflects the files as they were when it was asked for: loads run one at a time, and a
   * call made while one runs waits for the next, which starts when the running one ends and is shared
   * by every call made meanwhile (so a burst of reloads costs at most two loads, and none returns a
   * load that may have read a file before it changed). Calls sharing a load get the same promise.
   */
  load(dir: string, routingFile?: string, check?: (candidate: ModelSet) => void): Promise<ModelSet> {
    return this.loadSet(dir, routingFile, check, undefined);
  }

  private loadSet(
    dir: string,
    routingFile: string | undefined,
    check: ((candidate: ModelSet) => void) | undefined,
    only: string | undefined,
  ): Promise<ModelSet> {
    if (this.queued) return this.queued;
    if (!this.running) return this.start(dir, routingFile, check, only);
    const queued = this.running
      .then(
        () => undefined,
        () => undefined,
      )
      .then(() => {
        this.queued = undefined;
        return this.start(dir, routingFile, check, only);
      });
    this.queued = queued;
    return queued;
  }

  private start(
    dir: string,
    routingFile: string | undefined,
    check: ((candidate: ModelSet) => void) | undefined,
    only: string | undefined,
  ): Promise<ModelSet> {
    const families = [...this.families.values()];
    const generation = (this.set?.generation ?? 0) + 1;
    const timeoutMs = this.options.loadTimeoutMs ?? DEFAULT_LOAD_TIMEOUT_MS;
    const abort = new AbortController();
    const warm = this.options.warm;
    const began = performance.now();
    const reading = readModelSet(
      dir,
      routingFile,
      families,
      this.options,
      generation,
      this.read,
      abort.signal,
      only,
    ).then(async (set) => {
      // Inside the time limit, before the swap: the set in service keeps serving while this one warms.
      // It may use half of the load's time limit at most, so a warm-up never makes a valid load fail.
      if (warm !== undefined) {
        const warmUntil = began + timeoutMs / 2;
        for (const model of set.all()) {
          const budgetMs = Math.max(0, Math.min(warm.budgetMs, warmUntil - performance.now()));
          set.warmups.push(await warmModel(model, { ...warm, budgetMs }, abort.signal));
        }
      }
      return set;
    });
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        const problem = `loading the model directory took longer than ${timeoutMs} ms (MODEL_LOAD_TIMEOUT_MS); nothing was swapped`;
        abort.abort(problem);
        reject(new ArtifactError(dir, '', problem));
      }, timeoutMs);
      timer.unref();
    });
    reading.catch(() => undefined); // settles after a timeout too: nobody waits for it then
    const running: Promise<ModelSet> = Promise.race([reading, expired])
      .then((set) => {
        check?.(set); // the caller's own conditions, before anything is swapped
        this.set = set;
        return set;
      })
      .finally(() => {
        clearTimeout(timer);
        if (this.running === running) this.running = undefined;
      });
    this.running = running;
    return running;
  }

  /**
   * For callers that load once (the tape CLIs): `load` without a routing file. With `only`, just the version
   * of that model the routing document makes its default (else its highest) is read, and the routing
   * document's other entries are not checked: a CLI scoring with one model need not load the others (the
   * five shipped versions took ~0.19 s of its 0.35 s start). When that cannot be told from the folder and
   * the document (`only` has no folder, or its entry in the document is not a plain default), everything is
   * loaded and checked as without it.
   */
  async loadDirectory(dir: string, only?: string): Promise<void> {
    await this.loadSet(dir, undefined, undefined, only);
  }

  get ready(): boolean {
    return this.set !== undefined;
  }

  /** The set in service. Take it once per request and use it throughout. */
  get current(): ModelSet {
    if (!this.set) throw new Error('no models loaded yet');
    return this.set;
  }

  /** The default version of `name`, or exactly `version`. */
  get(name: string, version?: string): Model | undefined {
    return this.set?.get(name, version);
  }

  names(): string[] {
    return this.set?.names() ?? [];
  }

  /** The default version of every model. */
  list(): Model[] {
    return this.set?.list() ?? [];
  }
}

/** An immutable set of loaded model versions and their routes. */
export class ModelSet {
  /** name → versions, ascending. */
  readonly versions: ReadonlyMap<string, readonly Model[]>;
  readonly routes: ReadonlyMap<string, ModelRoute>;
  /** 1 for the first load, +1 for every successful reload. */
  readonly generation: number;
  readonly loadedAt: Date;
  readonly routingSource: string | undefined;
  /** What the warm-up did for each model before the set was swapped in (empty without warm-up). */
  readonly warmups: WarmReport[] = [];

  constructor(
    versions: ReadonlyMap<string, readonly Model[]>,
    routes: ReadonlyMap<string, ModelRoute>,
    generation: number,
    routingSource?: string,
  ) {
    this.versions = versions;
    this.routes = routes;
    this.generation = generation;
    this.loadedAt = new Date();
    this.routingSource = routingSource;
  }

  get(name: string, version?: string): Model | undefined {
    if (version === undefined) return this.routes.get(name)?.default;
    return this.versions.get(name)?.find((m) => m.version === version);
  }

  names(): string[] {
    return [...this.versions.keys()];
  }

  list(): Model[] {
    return [...this.routes.values()].map((r) => r.default);
  }

  /** Every loaded version of every model. */
  all(): Model[] {
    return [...this.versions.values()].flat();
  }

  /** Default versions of the models that score loan records (what `"model": "all"` means). */
  loanModels(): Model[] {
    return this.list().filter((m) => m.inputs === 'loan-record');
  }
}

const VERSION_FILE = /^(\d+)\.(\d+)\.(\d+)\.json$/;
/** Not model folders: the training pipeline's reference predictions. */
const RESERVED_DIRS = new Set(['reference']);
const ROUTING_FILE = 'routing.json';

function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < 3; i++) {
    const d = (pa[i] as number) - (pb[i] as number);
    if (d !== 0) return d;
  }
  return 0;
}

async function readModelSet(
  dir: string,
  routingFile: string | undefined,
  families: ModelFamily[],
  options: RegistryOptions,
  generation: number,
  read: FileReader,
  signal: AbortSignal,
  only?: string,
): Promise<ModelSet> {
  let entries: { name: string; isDirectory(): boolean; isFile(): boolean }[];
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (err) {
    throw new ArtifactError(dir, '', `cannot read the model directory: ${(err as Error).message}`);
  }
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));

  // Every artifact path, with the name and version its place in the tree promises (if any).
  let files: VersionFile[] = [];
  for (const entry of entries) {
    const path = join(dir, entry.name);
    if (entry.isFile() && entry.name.endsWith('.json') && entry.name !== ROUTING_FILE) files.push({ path });
    if (!entry.isDirectory() || RESERVED_DIRS.has(entry.name) || entry.name.startsWith('.')) continue;
    const inner = (await readdir(path)).filter((f) => f.endsWith('.json')).sort();
    for (const file of inner) {
      const m = VERSION_FILE.exec(file);
      if (!m) {
        throw new ArtifactError(
          join(path, file),
          '',
          `a model folder holds one <MAJOR.MINOR.PATCH>.json per version; ${JSON.stringify(file)} is not one`,
        );
      }
      files.push({ path: join(path, file), name: entry.name, version: `${m[1]}.${m[2]}.${m[3]}` });
    }
  }
  if (files.length === 0) {
    throw new ArtifactError(dir, '', 'no model artifacts (<name>/<version>.json or *.json) in the model directory');
  }
  const routingPath = routingFile ?? join(dir, ROUTING_FILE);
  const routing = await readRouting(routingPath, routingFile, options, read, signal);
  const narrowed = only === undefined ? undefined : onlyVersion(files, only, routing.document);
  if (narrowed !== undefined) files = narrowed.files;

  const versions = new Map<string, Model[]>();
  for (const file of files) {
    const model = await loadModelFile(file.path, {
      ...options,
      families,
      fieldRange: loanRecordRange,
      read,
      signal,
      ...(options.maxArtifactBytes === undefined ? {} : { maxBytes: options.maxArtifactBytes }),
    });
    if (file.name !== undefined && model.name !== file.name) {
      throw new ArtifactError(file.path, 'name', `is ${JSON.stringify(model.name)} but the folder says ${file.name}`);
    }
    if (file.version !== undefined && model.version !== file.version) {
      throw new ArtifactError(file.path, 'version', `is ${model.version} but the file name says ${file.version}`);
    }
    if (model.inputs === 'loan-record') checkAgainstLoanRecord(model);
    const list = versions.get(model.name) ?? [];
    const clash = list.find((m) => m.version === model.version);
    if (clash) {
      throw new ArtifactError(
        file.path,
        'version',
        `${model.name} ${model.version} is also loaded from ${clash.source}`,
      );
    }
    if (list.length > 0 && (list[0] as Model).inputs !== model.inputs) {
      throw new ArtifactError(
        file.path,
        'inputs',
        `differs from ${(list[0] as Model).source}: one name, one kind of input`,
      );
    }
    list.push(model);
    versions.set(model.name, list);
  }
  for (const list of versions.values()) list.sort((a, b) => compareVersions(a.version, b.version));

  const routes = buildRoutes(narrowed === undefined ? routing.document : narrowed.routing, versions, routingPath);
  return new ModelSet(versions, routes, generation, routing.source);
}

interface VersionFile {
  readonly path: string;
  /** The name and version the file's place in the tree promises (<name>/<version>.json), if any. */
  readonly name?: string;
  readonly version?: string;
}

/** The routing document at `routingPath` (parsed, not checked), or undefined when there is none. */
async function readRouting(
  routingPath: string,
  routingFile: string | undefined,
  options: RegistryOptions,
  read: FileReader,
  signal: AbortSignal,
): Promise<{ document: unknown; source: string | undefined }> {
  // Anything at the path counts (a FIFO or a device is refused by the read, not taken for "absent").
  const exists = await stat(routingPath).then(
    () => true,
    () => false,
  );
  if (!exists) {
    if (routingFile !== undefined) throw new RoutingError(routingFile, '', 'ROUTING_FILE does not exist');
    return { document: undefined, source: undefined };
  }
  let text: string;
  try {
    const bytes = await read(routingPath, { maxBytes: options.maxArtifactBytes ?? DEFAULT_MAX_ARTIFACT_BYTES, signal });
    text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8');
  } catch (err) {
    throw new RoutingError(
      routingPath,
      '',
      err instanceof ArtifactError ? err.problem : `cannot read the file: ${(err as Error).message}`,
    );
  }
  try {
    return { document: JSON.parse(text), source: routingPath };
  } catch (err) {
    throw new RoutingError(routingPath, '', `not valid JSON: ${(err as Error).message}`);
  }
}

/**
 * `loadDirectory(dir, only)`: the files to read for model `only` alone (the one version its routing makes
 * its default, and the loose top-level files, whose names only their documents tell), and the routing
 * document reduced to that default; undefined when that cannot be told, so that everything is loaded and
 * checked: `only` has no folder here, the document is not an object of models, or its entry for `only`
 * is anything but absent or a plain `{"default": "<a version in the folder>"}` (a split or a shadow serves
 * other versions too; a bad default must be refused as the whole load refuses it).
 */
function onlyVersion(
  files: VersionFile[],
  only: string,
  document: unknown,
): { files: VersionFile[]; routing: unknown } | undefined {
  const own = files.filter((f) => f.name === only);
  if (own.length === 0) return undefined;
  const loose = files.filter((f) => f.name === undefined);
  let entry: unknown;
  if (document !== undefined) {
    if (!isObject(document) || !isObject(document.models)) return undefined;
    entry = document.models[only];
  }
  if (entry === undefined) {
    const highest = own.reduce((a, b) => (compareVersions(a.version as string, b.version as string) >= 0 ? a : b));
    return { files: [highest, ...loose], routing: undefined };
  }
  if (!isObject(entry) || Object.keys(entry).length !== 1 || typeof entry.default !== 'string') return undefined;
  const pinned = own.find((f) => f.version === entry.default);
  if (pinned === undefined) return undefined;
  return { files: [pinned, ...loose], routing: { models: { [only]: { default: entry.default } } } };
}

/** The contract's scenario features (computed by the service from the request's scenario), by name. */
const SCENARIO_FIELD_BY_NAME = new Map(CONTRACT.scenario_fields.map((f) => [f.name, f]));

/**
 * The ranges the margin bound is checked over (runtime/bounds.ts): for a loan-record model, the loan
 * record's and the scenario features' (the request schema, the tape readers and the scenario rules hold
 * every input to them); for a model of arbitrary features, the artifact's own `min`/`max`.
 */
export const loanRecordRange: NonNullable<LoadOptions['fieldRange']> = (field, inputs) => {
  if (inputs === 'features') return artifactRange(field);
  const loanField = LOAN_FIELD_BY_NAME.get(field.name) ?? SCENARIO_FIELD_BY_NAME.get(field.name);
  return loanField?.kind === 'numeric' ? { min: loanField.min, max: loanField.max } : undefined;
};

/**
 * Every field a model reads must be a loan-record field of a compatible kind and codes, or one of the
 * contract's scenario features (numeric).
 */
function checkAgainstLoanRecord(model: Model): void {
  model.fields.forEach((f, i) => {
    const path = `fields[${i}]`;
    if (SCENARIO_FIELD_BY_NAME.has(f.name)) {
      if (f.kind !== 'numeric') {
        throw new ArtifactError(model.source, path, `${f.name} is a scenario feature, which is numeric`);
      }
      if (f.missingValues.length > 0) {
        // A computed value equal to a sentinel would be imputed: a scenario feature is missing only as NaN.
        throw new ArtifactError(
          model.source,
          `${path}.missing_values`,
          `${f.name} is a scenario feature, which has no sentinel`,
        );
      }
      return;
    }
    const loanField = LOAN_FIELD_BY_NAME.get(f.name);
    if (!loanField) {
      throw new ArtifactError(
        model.source,
        path,
        `reads ${JSON.stringify(f.name)}, which is neither a loan-record field nor a scenario feature (an artifact of arbitrary features says "inputs": "features")`,
      );
    }
    if (f.kind === 'numeric' && loanField.kind !== 'numeric') {
      throw new ArtifactError(model.source, path, `${f.name} is numeric in the artifact but a code in the loan record`);
    }
    if (f.kind === 'categorical') {
      if (loanField.kind !== 'code') {
        throw new ArtifactError(
          model.source,
          path,
          `${f.name} is categorical in the artifact but not a code in the loan record`,
        );
      }
      const unknown = f.levels.filter((l) => !(l in loanField.codes));
      if (unknown.length > 0) {
        throw new ArtifactError(
          model.source,
          `${path}.levels`,
          `${unknown.join(', ')} are not valid codes of ${f.name}`,
        );
      }
      // A code the loan record accepts but the model would refuse must not reach the encoder.
      const known = new Set([...f.levels, ...f.missingValues]);
      const refused = Object.keys(loanField.codes).filter((c) => !known.has(c));
      if (refused.length > 0) {
        throw new ArtifactError(
          model.source,
          `${path}.levels`,
          `does not cover the codes ${refused.join(', ')} of ${f.name}`,
        );
      }
    }
  });
}
