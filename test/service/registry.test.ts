import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { ModelRegistry } from '../../src/registry.js';
import {
  ArtifactError,
  BUILTIN_FAMILIES,
  type FileReader,
  ldaFamily,
  readBoundedFile,
} from '../../src/runtime/index.js';
import { build } from '../helpers/app.js';
import { tempDir } from '../helpers/temp.js';

const linear = (name: string, fields: unknown[], columns: unknown[]) => ({
  format: 'loan-default-model/1',
  name,
  family: 'lda',
  version: '1.0.0',
  label: 'test',
  decision_threshold: 0.1,
  fields,
  columns,
  model: { coefficients: columns.map(() => 0.1), intercept: -3 },
});
const creditScore = [{ name: 'credit_score', kind: 'numeric', missing_values: [9999] }];
const creditColumn = [{ name: 'cs', op: 'numeric', field: 'credit_score', impute: 700 }];

function dir(files: Record<string, unknown>): string {
  const d = tempDir('registry-');
  for (const [file, doc] of Object.entries(files)) writeFileSync(join(d, file), JSON.stringify(doc));
  return d;
}

async function load(files: Record<string, unknown>, families = BUILTIN_FAMILIES) {
  const registry = new ModelRegistry();
  for (const f of families) registry.addFamily(f);
  await registry.loadDirectory(dir(files));
  return registry;
}

describe('model registry', () => {
  it('loads every artifact of the directory by name', async () => {
    const r = await load({
      'a.json': linear('alpha', creditScore, creditColumn),
      'b.json': linear('beta', creditScore, creditColumn),
      'notes.md': {},
    });
    expect(r.names()).toEqual(['alpha', 'beta']);
    expect(r.ready).toBe(true);
  });

  it('refuses two artifacts with the same model name and version', async () => {
    await expect(
      load({
        'a.json': linear('alpha', creditScore, creditColumn),
        'b.json': linear('alpha', creditScore, creditColumn),
      }),
    ).rejects.toThrow(/b\.json: version: alpha 1\.0\.0 is also loaded from .*a\.json/);
  });

  it('refuses a family no plugin contributed', async () => {
    await expect(load({ 'a.json': linear('alpha', creditScore, creditColumn) }, [])).rejects.toThrow(
      /unknown model family "lda" \(known: \)/,
    );
    await expect(load({ 'a.json': linear('alpha', creditScore, creditColumn) }, [ldaFamily])).resolves.toBeInstanceOf(
      ModelRegistry,
    );
  });

  it('refuses a model that reads a field the loan record does not have, or codes it does not know', async () => {
    const fields = [{ name: 'zip_plus_four', kind: 'numeric', missing_values: [] }];
    await expect(
      load({ 'a.json': linear('alpha', fields, [{ name: 'z', op: 'numeric', field: 'zip_plus_four' }]) }),
    ).rejects.toThrow(
      /a\.json: fields\[0\]: reads "zip_plus_four", which is neither a loan-record field nor a scenario feature/,
    );
    const occupancy = [{ name: 'occupancy_status', kind: 'categorical', levels: ['P', 'X'], missing_values: ['9'] }];
    await expect(
      load({
        'a.json': linear('alpha', occupancy, [{ name: 'o', op: 'one_hot', field: 'occupancy_status', level: 'P' }]),
      }),
    ).rejects.toThrow(/X are not valid codes of occupancy_status/);
    const partial = [{ name: 'occupancy_status', kind: 'categorical', levels: ['P', 'I'], missing_values: ['9'] }];
    await expect(
      load({
        'a.json': linear('alpha', partial, [{ name: 'o', op: 'one_hot', field: 'occupancy_status', level: 'P' }]),
      }),
    ).rejects.toThrow(/does not cover the codes S of occupancy_status/);
  });

  it('refuses an empty or missing directory and names a file that is not JSON', async () => {
    await expect(load({})).rejects.toThrow(/no model artifacts/);
    const r = new ModelRegistry();
    await expect(r.loadDirectory('/nonexistent/models')).rejects.toThrow(ArtifactError);
    const d = dir({});
    writeFileSync(join(d, 'x.json'), '{"format": ');
    const r2 = new ModelRegistry();
    r2.addFamily(ldaFamily);
    await expect(r2.loadDirectory(d)).rejects.toThrow(/x\.json: not valid JSON/);
  });
});

describe('margin bound of loan-record models', () => {
  it('is taken over the ranges the loan record enforces, whatever the artifact documents', async () => {
    // credit_score has no min/max in this artifact, but the loan record allows 300..850: 1e4 × 850.
    const doc = { ...linear('alpha', creditScore, creditColumn), model: { coefficients: [1e4], intercept: -3 } };
    await expect(load({ 'a.json': doc })).rejects.toThrow(
      /a\.json: model: the margin can reach 8500003 in absolute value, over the limit of 1000000/,
    );
    const fine = { ...doc, model: { coefficients: [1e3], intercept: -3 } };
    await expect(load({ 'a.json': fine })).resolves.toBeInstanceOf(ModelRegistry);
  });
});

describe('the shipped artifacts and the loan record', () => {
  it('advertise the same ranges and codes as the request schema, and the contract scenario features', async () => {
    const { LOAN_FIELD_BY_NAME } = await import('../../src/loan/record.js');
    const { loadModelFile } = await import('../../src/runtime/index.js');
    const { CONTRACT } = await import('../../src/contract/index.js');
    const scenarioFields = new Map(CONTRACT.scenario_fields.map((f) => [f.name, f]));
    for (const name of ['logistic_regression', 'lda', 'gradient_boosting', 'xgboost']) {
      const model = await loadModelFile(`model-artifacts/${name}/1.0.0.json`);
      for (const f of model.fields) {
        const record = LOAN_FIELD_BY_NAME.get(f.name);
        const scenario = scenarioFields.get(f.name);
        if (scenario) {
          if (f.kind !== 'numeric') return expect.fail(`${name}: the scenario feature ${f.name} is ${f.kind}`);
          expect([f.name, f.min, f.max, f.missingValues]).toEqual([f.name, scenario.min, scenario.max, []]);
        } else if (f.kind === 'numeric' && record?.kind === 'numeric') {
          expect([f.name, f.min, f.max]).toEqual([f.name, record.min, record.max]);
          expect([f.name, f.missingValues]).toEqual([f.name, record.sentinel === undefined ? [] : [record.sentinel]]);
        } else if (f.kind === 'categorical' && record?.kind === 'code') {
          expect([f.name, [...f.levels].sort()]).toEqual([f.name, Object.keys(record.codes).sort()]);
        } else {
          expect.fail(`${name}: ${f.name} has kind ${f.kind} but the loan record has ${record?.kind}`);
        }
      }
    }
  });
});

/** A reader that reads at once but holds the bytes until `release()`, and says when the first read waits. */
function gatedReader() {
  let open!: () => void;
  const gate = new Promise<void>((resolve) => {
    open = resolve;
  });
  let waiting!: () => void;
  const firstRead = new Promise<void>((resolve) => {
    waiting = resolve;
  });
  let reads = 0;
  const read: FileReader = async (path, options) => {
    reads++;
    const bytes = await readBoundedFile(path, options);
    waiting();
    await gate;
    return bytes;
  };
  return { read, release: () => open(), firstRead, reads: () => reads };
}

describe('reloads asked for while a load runs', () => {
  it('wait for a load that starts after them, so they see a file changed before they asked', async () => {
    const d = dir({ 'a.json': linear('alpha', creditScore, creditColumn) });
    const registry = new ModelRegistry();
    for (const f of BUILTIN_FAMILIES) registry.addFamily(f);
    const gated = gatedReader();
    registry.read = gated.read;

    const first = registry.load(d);
    await gated.firstRead; // the first load is reading a.json (held at the gate)
    const changed = { ...linear('alpha', creditScore, creditColumn), version: '1.0.0', description: 'changed' };
    writeFileSync(join(d, 'a.json'), JSON.stringify(changed));
    const second = registry.load(d);
    const third = registry.load(d);
    gated.release();

    const [s1, s2, s3] = await Promise.all([first, second, third]);
    expect(s1.get('alpha')?.description).toBe('');
    expect(s2.get('alpha')?.description).toBe('changed');
    expect(s3).toBe(s2); // the calls made during the first load share one follow-up load
    expect([s1.generation, s2.generation]).toEqual([1, 2]);
    expect(gated.reads()).toBe(2); // two loads of a one-file directory, not three
    expect(registry.current).toBe(s2);
  });
});

describe('POST /admin/models/reload during a reload', () => {
  it('answers with a load that read the files as they were when asked, and counts each load once', async () => {
    const modelDir = tempDir('reload-');
    mkdirSync(join(modelDir, 'lda'));
    const lda = readFileSync('model-artifacts/lda/1.0.0.json', 'utf8');
    writeFileSync(join(modelDir, 'lda', '1.0.0.json'), lda);
    const app = await build({ MODEL_DIR: modelDir, DEFAULT_MODEL: 'lda' });
    const gated = gatedReader();
    app.models.read = gated.read;
    const reload = () =>
      app.inject({ method: 'POST', url: '/admin/models/reload', headers: { 'x-requested-with': 'test' } });

    const first = reload();
    await gated.firstRead;
    writeFileSync(join(modelDir, 'lda', '1.1.0.json'), lda.replace('"version":"1.0.0"', '"version":"1.1.0"'));
    const later = [reload(), reload()];
    gated.release();
    const answers = (await Promise.all([first, ...later])).map((r) => r.json());

    expect(answers.map((a) => a.generation)).toEqual([2, 3, 3]);
    expect(answers[0].models.map((m: { version: string }) => m.version)).toEqual(['1.0.0']);
    for (const a of answers.slice(1)) {
      expect(a.models.map((m: { version: string }) => m.version)).toEqual(['1.0.0', '1.1.0']);
    }
    const text = (await app.inject('/metrics')).body;
    expect(text).toContain('model_reloads_total{result="success"} 2'); // two loads, three requests
    expect(text).toContain('model_set_generation 3');
  });
});

describe('artifact files', () => {
  const registryFor = (options: ConstructorParameters<typeof ModelRegistry>[0] = {}) => {
    const registry = new ModelRegistry(options);
    for (const f of BUILTIN_FAMILIES) registry.addFamily(f);
    return registry;
  };
  const modelFolder = () => {
    const d = tempDir('artifact-files-');
    mkdirSync(join(d, 'alpha'));
    writeFileSync(join(d, 'alpha', '1.0.0.json'), JSON.stringify(linear('alpha', creditScore, creditColumn)));
    return d;
  };

  it('refuses a symlink to /dev/zero at once, naming it, and later reloads still work', async () => {
    const d = modelFolder();
    symlinkSync('/dev/zero', join(d, 'alpha', '1.1.0.json'));
    const registry = registryFor();
    await expect(registry.load(d)).rejects.toThrow(
      /alpha\/1\.1\.0\.json: a character device, not a regular file: an artifact must be a regular file/,
    );
    rmSync(join(d, 'alpha', '1.1.0.json'));
    // A symlink to a regular file is fine (Kubernetes mounts volumes through symlinks).
    const target = join(tempDir('target-'), 'model.json');
    writeFileSync(target, JSON.stringify({ ...linear('alpha', creditScore, creditColumn), version: '1.1.0' }));
    symlinkSync(target, join(d, 'alpha', '1.1.0.json'));
    expect((await registry.load(d)).versions.get('alpha')?.map((m) => m.version)).toEqual(['1.0.0', '1.1.0']);
  });

  it('refuses a FIFO and a directory without reading them, and a FIFO as the routing document', async () => {
    const d = modelFolder();
    execFileSync('mkfifo', [join(d, 'alpha', '1.1.0.json')]);
    await expect(registryFor().load(d)).rejects.toThrow(/1\.1\.0\.json: a FIFO \(named pipe\), not a regular file/);
    rmSync(join(d, 'alpha', '1.1.0.json'));
    mkdirSync(join(d, 'alpha', '1.2.0.json'));
    await expect(registryFor().load(d)).rejects.toThrow(/1\.2\.0\.json: a directory, not a regular file/);
    rmSync(join(d, 'alpha', '1.2.0.json'), { recursive: true });
    execFileSync('mkfifo', [join(d, 'routing.json')]);
    await expect(registryFor().load(d)).rejects.toThrow(/routing\.json: a FIFO \(named pipe\), not a regular file/);
  });

  it('refuses a file over MAX_ARTIFACT_BYTES, by its size', async () => {
    const d = modelFolder();
    const size = readFileSync(join(d, 'alpha', '1.0.0.json')).length;
    await expect(registryFor({ maxArtifactBytes: size - 1 }).load(d)).rejects.toThrow(
      new RegExp(
        `1\\.0\\.0\\.json: the file has ${size} bytes, more than the limit of ${size - 1} \\(MAX_ARTIFACT_BYTES\\)`,
      ),
    );
    await expect(registryFor({ maxArtifactBytes: size }).load(d)).resolves.toBeDefined();
  });

  it('holds the limit while reading, whatever the size fstat gave', async () => {
    // Linux /proc files are regular files that fstat says are empty but read as text, like a file
    // that grows between the check and the read.
    const path = '/proc/self/status';
    expect(statSync(path).size).toBe(0);
    expect((await readBoundedFile(path, { maxBytes: 1_000_000 })).length).toBeGreaterThan(200);
    await expect(readBoundedFile(path, { maxBytes: 200 })).rejects.toThrow(
      /status: the file has over 200 bytes, more than the limit of 200 \(MAX_ARTIFACT_BYTES\)/,
    );
  });

  it('fails a load that runs out of time, keeps the models in service, and lets the next load run', async () => {
    const d = modelFolder();
    const registry = registryFor({ loadTimeoutMs: 100 });
    const served = await registry.load(d);
    registry.read = () => new Promise<Uint8Array>(() => undefined); // a read that never ends (a hung mount)
    await expect(registry.load(d)).rejects.toThrow(
      /took longer than 100 ms \(MODEL_LOAD_TIMEOUT_MS\); nothing was swapped/,
    );
    expect(registry.current).toBe(served);
    registry.read = readBoundedFile;
    expect((await registry.load(d)).generation).toBe(2);
  });
});

describe('warm-up before a set serves (MODEL_WARMUP_MS)', () => {
  const plan = { coverageRows: 500, batches: 2, batchRows: 32, singles: 10, explains: 2, budgetMs: 60_000 };
  const shipped = join(import.meta.dirname, '../../model-artifacts');

  it('warms every version of every model before the swap, at the first load and on a reload', async () => {
    const registry = new ModelRegistry({ warm: plan });
    for (const f of BUILTIN_FAMILIES) registry.addFamily(f);
    const first = await registry.load(shipped);
    const reports = (set: typeof first) => set.warmups.map((w) => `${w.model} ${w.version}`).sort();
    const versions = first
      .all()
      .map((m) => `${m.name} ${m.version}`)
      .sort();
    expect(reports(first)).toEqual(versions);
    for (const w of first.warmups) {
      expect(w.stopped).toBeUndefined();
      expect(w.batches).toBe(2);
      // Tree models run the rows that reach every leaf; linear ones have none.
      const family = first.get(w.model, w.version)?.family;
      expect(w.coverageRows > 0, `${w.model} ${w.version}`).toBe(
        family === 'xgboost' || family === 'gradient_boosting',
      );
    }
    // A reload warms its own new models (the same artifacts make new Model objects), before the swap.
    let servedDuringWarmUp: unknown;
    let warmedBeforeSwap = 0;
    const second = await registry.load(shipped, undefined, (candidate) => {
      servedDuringWarmUp = registry.current;
      warmedBeforeSwap = candidate.warmups.length;
    });
    expect(servedDuringWarmUp).toBe(first);
    expect(warmedBeforeSwap).toBe(versions.length);
    expect(registry.current).toBe(second);
    expect(reports(second)).toEqual(versions);
  }, 60_000);

  it('never makes a load fail: it takes at most half of MODEL_LOAD_TIMEOUT_MS, then stops', async () => {
    const registry = new ModelRegistry({
      loadTimeoutMs: 3000,
      warm: { ...plan, coverageRows: 10_000_000, budgetMs: 60_000 },
    });
    for (const f of BUILTIN_FAMILIES) registry.addFamily(f);
    const set = await registry.load(shipped);
    expect(registry.current).toBe(set);
    expect(set.warmups.length).toBe(set.all().length);
    expect(set.warmups.every((w) => w.stopped === 'budget')).toBe(true);
  }, 30_000);

  it('does nothing without a plan, and the service warms by default (MODEL_WARMUP_MS=0 turns it off)', async () => {
    const registry = new ModelRegistry();
    for (const f of BUILTIN_FAMILIES) registry.addFamily(f);
    expect((await registry.load(shipped)).warmups).toEqual([]);
    const { loadConfig } = await import('../../src/config.js');
    expect(loadConfig({}).modelWarmupMs).toBe(5000);
    expect(loadConfig({ MODEL_WARMUP_MS: '0' }).modelWarmupMs).toBe(0);
    expect(() => loadConfig({ MODEL_WARMUP_MS: '-1' })).toThrow(/MODEL_WARMUP_MS/);
    const warmed = await build({ MODEL_WARMUP_MS: '3000' });
    expect(warmed.models.current.warmups.length).toBe(warmed.models.current.all().length);
    const cold = await build();
    expect(cold.models.current.warmups).toEqual([]);
  }, 60_000);
});

describe('a slow start', () => {
  it('is bounded by MODEL_LOAD_TIMEOUT_MS, not cut short by Fastify’s plugin timeout while the models load and warm up', () => {
    for (const timeout of ['60000', '120000']) {
      const config = loadConfig({ MODEL_LOAD_TIMEOUT_MS: timeout });
      const app = buildApp(config, { logger: false });
      expect(app.initialConfig.pluginTimeout).toBeGreaterThan(config.modelLoadTimeoutMs);
    }
  });
});

describe('loadDirectory(dir, only): one model for a CLI', () => {
  const versioned = (name: string, version: string) => ({ ...linear(name, creditScore, creditColumn), version });
  /** A model directory in the `<name>/<version>.json` layout; a string is written as it is (a broken file). */
  function tree(files: Record<string, unknown>): string {
    const d = tempDir('registry-only-');
    for (const [file, doc] of Object.entries(files)) {
      mkdirSync(join(d, file, '..'), { recursive: true });
      writeFileSync(join(d, file), typeof doc === 'string' ? doc : JSON.stringify(doc));
    }
    return d;
  }
  const registry = () => {
    const r = new ModelRegistry();
    for (const f of BUILTIN_FAMILIES) r.addFamily(f);
    return r;
  };
  const models = {
    'alpha/1.0.0.json': versioned('alpha', '1.0.0'),
    'alpha/2.0.0.json': versioned('alpha', '2.0.0'),
    'beta/1.0.0.json': versioned('beta', '1.0.0'),
  };

  it('reads only the default version of that model (its highest), not the other models', async () => {
    const d = tree({ ...models, 'beta/2.0.0.json': '{ not json' });
    const r = registry();
    await r.loadDirectory(d, 'alpha');
    expect(r.names()).toEqual(['alpha']);
    expect(r.current.versions.get('alpha')?.map((m) => m.version)).toEqual(['2.0.0']);
    expect(r.get('alpha')?.version).toBe('2.0.0');
    // The whole directory is refused: beta's broken version is read then.
    await expect(registry().loadDirectory(d)).rejects.toThrow(/beta\/2\.0\.0\.json: not valid JSON/);
  });

  it('takes the version the routing document pins, and leaves the other entries unchecked', async () => {
    const routing = { models: { alpha: { default: '1.0.0' }, beta: { default: '7.0.0' } } };
    const d = tree({ ...models, 'routing.json': routing });
    const r = registry();
    await r.loadDirectory(d, 'alpha');
    expect(r.get('alpha')?.version).toBe('1.0.0');
    expect(r.names()).toEqual(['alpha']);
    await expect(registry().loadDirectory(d)).rejects.toThrow(
      /models\.beta\.default: version 7\.0\.0 of beta is not loaded/,
    );
  });

  it('loads and checks everything when one version cannot be told, as without it', async () => {
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ alpha: { default: 2 } }, /models\.alpha\.default: must be a version string/],
      [{ alpha: { default: '3.0.0' } }, /models\.alpha\.default: version 3\.0\.0 of alpha is not loaded/],
      [
        { alpha: { default: '1.0.0', shadow: '9.0.0' } },
        /models\.alpha\.shadow: version 9\.0\.0 of alpha is not loaded/,
      ],
      [
        { alpha: { split: { '1.0.0': 1, '9.0.0': 1 } } },
        /models\.alpha\.split\.9\.0\.0: version 9\.0\.0 of alpha is not loaded/,
      ],
      [{ alpha: 'latest' } as Record<string, unknown>, /models\.alpha: must be an object/],
    ];
    for (const [entries, refusal] of cases) {
      const d = tree({ ...models, 'routing.json': { models: entries } });
      await expect(registry().loadDirectory(d, 'alpha')).rejects.toThrow(refusal);
    }
    await expect(registry().loadDirectory(tree({ ...models, 'routing.json': [] }), 'alpha')).rejects.toThrow(
      /must be a JSON object/,
    );
    // A split serves both versions: both are loaded, with the others.
    const split = registry();
    await split.loadDirectory(
      tree({ ...models, 'routing.json': { models: { alpha: { split: { '1.0.0': 1, '2.0.0': 1 } } } } }),
      'alpha',
    );
    expect(split.names()).toEqual(['alpha', 'beta']);
    // A name with no folder: everything, so that a caller can list what there is.
    const unknown = registry();
    await unknown.loadDirectory(tree(models), 'gamma');
    expect(unknown.names()).toEqual(['alpha', 'beta']);
  });

  it('still reads the loose top-level artifacts, whose names only their documents tell', async () => {
    const r = registry();
    await r.loadDirectory(tree({ ...models, 'loose.json': versioned('alpha', '5.0.0') }), 'alpha');
    expect(r.current.versions.get('alpha')?.map((m) => m.version)).toEqual(['2.0.0', '5.0.0']);
    expect(r.get('alpha')?.version).toBe('5.0.0'); // the highest, as the whole directory would serve
    const all = registry();
    await all.loadDirectory(tree({ ...models, 'loose.json': versioned('alpha', '5.0.0') }));
    expect(all.get('alpha')?.version).toBe('5.0.0');
  });
});
