import { cpSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { freePort, runServer } from '../../scripts/lib/net.js';
import { ModelRegistry } from '../../src/registry.js';
import { armFor, buildRoutes, loanKey, stickyHash } from '../../src/routing.js';
import { BUILTIN_FAMILIES, type LoanRecord, loadModelFile, type Model } from '../../src/runtime/index.js';
import { build, exampleLoan, holdoutLoans, withScenario } from '../helpers/app.js';
import { tempDir } from '../helpers/temp.js';

const ARTIFACT = (name: string, version: string) => `model-artifacts/${name}/${version}.json`;
const v100 = await loadModelFile(ARTIFACT('xgboost', '1.0.0'));
const v110 = await loadModelFile(ARTIFACT('xgboost', '1.1.0'));

/** A model directory with the given xgboost versions (and lda), plus an optional routing document. */
function modelDir(versions: string[], routing?: unknown): string {
  const dir = tempDir('versions-');
  cpSync(ARTIFACT('lda', '1.0.0'), join(dir, 'lda', '1.0.0.json'), { recursive: true });
  for (const v of versions) addVersion(dir, v);
  if (routing !== undefined) writeFileSync(join(dir, 'routing.json'), JSON.stringify(routing));
  return dir;
}

/** Writes xgboost `version` into `dir`: 1.0.0 and 1.1.0 are the shipped ones, any other a relabelled 1.1.0. */
function addVersion(dir: string, version: string): void {
  const source = version === '1.0.0' ? '1.0.0' : '1.1.0';
  const doc = JSON.parse(readFileSync(ARTIFACT('xgboost', source), 'utf8'));
  doc.version = version;
  cpSync(ARTIFACT('xgboost', source), join(dir, 'xgboost', `${version}.json`), { recursive: true });
  writeFileSync(join(dir, 'xgboost', `${version}.json`), JSON.stringify(doc));
}

const withIds: LoanRecord[] = holdoutLoans.slice(0, 2000).map((l, i) => ({ ...l, loan_sequence_number: `F10Q${i}` }));

describe('model directory layout', () => {
  const registry = async (dir: string) => {
    const r = new ModelRegistry();
    for (const f of BUILTIN_FAMILIES) r.addFamily(f);
    await r.load(dir);
    return r;
  };

  it('loads <name>/<version>.json, skips reference/, and defaults to the highest version', async () => {
    const r = await registry('model-artifacts');
    expect(r.names().sort()).toEqual(['gradient_boosting', 'lda', 'logistic_regression', 'xgboost']);
    expect(r.current.versions.get('xgboost')?.map((m) => m.version)).toEqual(['1.0.0', '1.1.0']);
    // The shipped routing.json pins xgboost to 1.0.0; without it the highest version is the default.
    expect(r.get('xgboost')?.version).toBe('1.0.0');
    const unpinned = await registry(modelDir(['1.0.0', '1.1.0', '1.10.0', '1.9.0']));
    expect(unpinned.get('xgboost')?.version).toBe('1.10.0'); // numeric order, not string order
    expect(unpinned.get('xgboost', '1.9.0')?.version).toBe('1.9.0');
  });

  it('refuses a file whose place in the tree disagrees with its document', async () => {
    const dir = modelDir(['1.0.0']);
    cpSync(ARTIFACT('xgboost', '1.1.0'), join(dir, 'xgboost', '2.0.0.json'));
    await expect(registry(dir)).rejects.toThrow(
      /xgboost\/2\.0\.0\.json: version: is 1\.1\.0 but the file name says 2\.0\.0/,
    );
    const misplaced = modelDir([]);
    cpSync(ARTIFACT('xgboost', '1.1.0'), join(misplaced, 'other', '1.1.0.json'), { recursive: true });
    await expect(registry(misplaced)).rejects.toThrow(
      /other\/1\.1\.0\.json: name: is "xgboost" but the folder says other/,
    );
    const stray = modelDir(['1.0.0']);
    writeFileSync(join(stray, 'xgboost', 'latest.json'), '{}');
    await expect(registry(stray)).rejects.toThrow(/"latest\.json" is not one/);
  });
});

describe('routing documents', () => {
  const versions = new Map([['xgboost', [v100, v110] as Model[]]]);
  const routes = (doc: unknown) => buildRoutes(doc, versions, 'routing.json');

  it('pins, splits and shadows', () => {
    const r = routes({
      models: { xgboost: { default: '1.0.0', split: { '1.0.0': 3, '1.1.0': 1 }, shadow: '1.1.0' } },
    }).get('xgboost');
    expect(r?.default).toBe(v100);
    expect(r?.split?.map((a) => [a.model.version, a.weight, a.upTo])).toEqual([
      ['1.0.0', 3, 3],
      ['1.1.0', 1, 4],
    ]);
    expect(r?.shadow).toBe(v110);
    expect(routes(undefined).get('xgboost')?.default).toBe(v110);
  });

  it.each([
    [{ models: { nope: {} } }, /models\.nope: no model "nope" is loaded/],
    [
      { models: { xgboost: { default: '2.0.0' } } },
      /models\.xgboost\.default: version 2\.0\.0 of xgboost is not loaded/,
    ],
    [
      { models: { xgboost: { split: { '1.0.0': 0 } } } },
      /models\.xgboost\.split: needs at least one version with a positive weight/,
    ],
    [{ models: { xgboost: { split: { '1.0.0': 1.5 } } } }, /split\.1\.0\.0: weight must be a whole number/],
    [{ models: { xgboost: { shadow: '1.0.0', default: '1.0.0' } } }, /shadow: 1\.0\.0 is also the only version served/],
    [{ models: { xgboost: { canary: '1.1.0' } } }, /models\.xgboost\.canary: unknown key/],
    [{ routes: {} }, /routes: unknown key/],
  ])('refuses %j', (doc, message) => {
    expect(() => routes(doc)).toThrow(message);
  });

  it('hashes loans to arms stickily and in proportion', () => {
    const split = routes({ models: { xgboost: { split: { '1.0.0': 70, '1.1.0': 30 } } } }).get('xgboost')?.split ?? [];
    const arms = withIds.map((l) => armFor('xgboost', split, loanKey(l)));
    const share = arms.filter((m) => m === v110).length / arms.length;
    // 2,000 loans at 30 %: the binomial standard deviation is 1 point; allow 4.
    expect(share).toBeGreaterThan(0.26);
    expect(share).toBeLessThan(0.34);
    expect(withIds.map((l) => armFor('xgboost', split, loanKey(l)))).toEqual(arms);
    // Without a loan number the record itself is the key: the same record, the same arm.
    const { loan_sequence_number: _, ...anonymous } = exampleLoan;
    expect(loanKey(anonymous)).toBe(loanKey({ ...anonymous }));
    expect(loanKey(anonymous)).not.toBe(loanKey({ ...anonymous, credit_score: 691 }));
    // The hash is pinned (FNV-1a + murmur3's finaliser, computed independently): changing it would
    // move loans between arms of every running experiment.
    expect([stickyHash('F10Q1'), stickyHash(''), stickyHash('xgboost\u0000F06Q10000042')]).toEqual([
      1476038574, 2872998923, 1280926332,
    ]);
  });
});

describe('versions over HTTP', () => {
  it('lists versions, serves a named version, and says which version answered', async () => {
    const app = await build();
    const list = (await app.inject('/models/xgboost/versions')).json();
    expect(list.default_version).toBe('1.0.0');
    expect(list.routing).toBe('routing.json');
    expect(list.versions.map((v: { version: string; default: boolean }) => [v.version, v.default])).toEqual([
      ['1.0.0', true],
      ['1.1.0', false],
    ]);
    expect(list.versions[1].source).toBe('xgboost/1.1.0.json');

    const loan = holdoutLoans[7] as LoanRecord;
    const pinned = await app.inject({ method: 'POST', url: '/predict?version=1.1.0', payload: loan });
    expect(pinned.json()).toMatchObject({
      model: 'xgboost',
      version: '1.1.0',
      probability_of_default: v110.score(withScenario(loan)).probability,
    });
    const inBody = await app.inject({ method: 'POST', url: '/predict', payload: { ...loan, version: '1.1.0' } });
    expect(inBody.json().version).toBe('1.1.0');
    const byDefault = await app.inject({ method: 'POST', url: '/predict', payload: loan });
    expect(byDefault.json()).toMatchObject({
      version: '1.0.0',
      probability_of_default: v100.score(withScenario(loan)).probability,
    });
    const models = (await app.inject('/models')).json().models;
    expect(models.find((m: { name: string }) => m.name === 'xgboost')).toMatchObject({
      version: '1.0.0',
      versions: ['1.0.0', '1.1.0'],
      inputs: 'loan-record',
    });
    const detail = await app.inject('/models/xgboost/versions/1.1.0');
    expect(detail.json()).toMatchObject({ name: 'xgboost', version: '1.1.0', columns: v110.columnCount });
  });

  it('refuses unknown versions and contradictions with a clear 4xx', async () => {
    const app = await build();
    const cases: [string, Record<string, unknown>, number, string, RegExp][] = [
      [
        '/predict?version=9.9.9',
        exampleLoan,
        404,
        'MODEL_VERSION_NOT_FOUND',
        /no version "9\.9\.9"; loaded: 1\.0\.0, 1\.1\.0/,
      ],
      [
        '/predict?version=1.1.0',
        { ...exampleLoan, version: '1.0.0' },
        400,
        'VERSION_CONFLICT',
        /1\.0\.0" in the body but "1\.1\.0" in the query/,
      ],
      ['/predict?model=all&version=1.0.0', exampleLoan, 400, 'VERSION_WITHOUT_MODEL', /name the model too/],
      ['/predict?version=latest', exampleLoan, 400, 'VALIDATION_FAILED', /query\.version/],
    ];
    for (const [url, payload, status, code, message] of cases) {
      const res = await app.inject({ method: 'POST', url, payload });
      expect(res.statusCode, url).toBe(status);
      expect(res.json().code, url).toBe(code);
      expect(res.json().message, url).toMatch(message);
    }
    expect((await app.inject('/models/xgboost/versions/3.0.0')).statusCode).toBe(404);
    // A pool is scored by one version: the default, or the one asked for.
    const tape = `${Object.keys(exampleLoan).join(',')}\n${Object.values(exampleLoan).join(',')}\n`;
    const pool = (url: string) =>
      app.inject({ method: 'POST', url, payload: tape, headers: { 'content-type': 'text/csv' } });
    expect((await pool('/pools/score')).json().version).toBe('1.0.0');
    const challenger = (await pool('/pools/score?version=1.1.0')).json();
    expect(challenger).toMatchObject({ version: '1.1.0', loan_count: 1 });
    expect(challenger.average_pd).toBe(v110.score(withScenario(exampleLoan)).probability);
    expect((await pool('/pools/score?version=2.0.0')).json().code).toBe('MODEL_VERSION_NOT_FOUND');
    expect((await app.inject('/models/nope/versions')).json().code).toBe('MODEL_NOT_FOUND');
  });
});

describe('A/B split and shadow', () => {
  const routing = { models: { xgboost: { default: '1.0.0', split: { '1.0.0': 70, '1.1.0': 30 }, shadow: '1.1.0' } } };

  it('splits a batch by weight, sticky per loan, each loan scored by its arm', async () => {
    const app = await build({ MODEL_DIR: modelDir(['1.0.0', '1.1.0'], routing) });
    const res = await app.inject({ method: 'POST', url: '/predict', payload: { loans: withIds } });
    expect(res.statusCode).toBe(200);
    const results = res.json().results as {
      version: string;
      probability_of_default: number;
      loan_sequence_number: string;
    }[];
    const challenger = results.filter((r) => r.version === '1.1.0').length / results.length;
    expect(challenger).toBeGreaterThan(0.26);
    expect(challenger).toBeLessThan(0.34);
    results.forEach((r, i) => {
      const model = r.version === '1.1.0' ? v110 : v100;
      expect(r.probability_of_default).toBe(model.score(withScenario(withIds[i] as LoanRecord)).probability);
    });
    // The same loans one by one land on the same arms.
    for (let i = 0; i < 50; i++) {
      const one = await app.inject({ method: 'POST', url: '/predict', payload: withIds[i] });
      expect(one.json().version).toBe(results[i]?.version);
    }
    // An explicit version bypasses the split.
    const pinned = await app.inject({
      method: 'POST',
      url: '/predict?version=1.0.0',
      payload: { loans: withIds.slice(0, 200) },
    });
    expect(new Set(pinned.json().results.map((r: { version: string }) => r.version))).toEqual(new Set(['1.0.0']));
  });

  it('scores the shadow on the same loans without showing it, and compares in metrics', async () => {
    const app = await build({
      MODEL_DIR: modelDir(['1.0.0', '1.1.0'], { models: { xgboost: { default: '1.0.0', shadow: '1.1.0' } } }),
    });
    const loans = withIds.slice(0, 300);
    const res = await app.inject({ method: 'POST', url: '/predict', payload: { loans } });
    const results = res.json().results as Record<string, unknown>[];
    expect(new Set(results.map((r) => r.version))).toEqual(new Set(['1.0.0']));
    for (const r of results) {
      expect(
        Object.keys(r)
          .filter((k) => k !== 'out_of_domain')
          .sort(),
      ).toEqual([
        'above_cutoff',
        'cutoff',
        'cutoff_source',
        'loan_sequence_number',
        'log_odds',
        'model',
        'probability_of_default',
        'scenario',
        'version',
      ]);
    }
    expect(res.body).not.toContain('1.1.0');
    await new Promise((r) => setImmediate(r)); // the shadow runs after the answer
    const text = (await app.inject('/metrics')).body;
    const labels = 'model="xgboost",champion="1.0.0",shadow="1.1.0"';
    const agree = Number(text.match(new RegExp(`model_shadow_loans_total\\{${labels},agree="true"\\} (\\d+)`))?.[1]);
    const disagree = Number(
      text.match(new RegExp(`model_shadow_loans_total\\{${labels},agree="false"\\} (\\d+)`))?.[1],
    );
    expect(agree + disagree).toBe(loans.length);
    const expected = loans.filter(
      (l) =>
        v100.score(withScenario(l)).probability >= v100.decisionThreshold ===
        v110.score(withScenario(l)).probability >= v110.decisionThreshold,
    ).length;
    expect(agree).toBe(expected);
    expect(text).toContain(`model_shadow_pd_difference_count{${labels}} ${loans.length}`);
    // The shadow's loans are not counted as served predictions of 1.1.0.
    expect(text).toContain('model_predictions_total{model="xgboost",version="1.1.0"} 0');
    expect(text).toContain(`model_predictions_total{model="xgboost",version="1.0.0"} ${loans.length}`);
  });
});

describe('hot reload', () => {
  it('swaps in a new version on POST /admin/models/reload; a broken artifact leaves the old set serving', async () => {
    const dir = modelDir(['1.0.0']);
    const app = await build({ MODEL_DIR: dir });
    const loan = holdoutLoans[3] as LoanRecord;
    expect((await app.inject({ method: 'POST', url: '/predict', payload: loan })).json().version).toBe('1.0.0');

    addVersion(dir, '1.2.0');
    const ok = await app.inject({
      method: 'POST',
      url: '/admin/models/reload',
      headers: { 'x-requested-with': 'test' },
    });
    expect(ok.statusCode).toBe(200);
    expect(ok.json()).toMatchObject({ status: 'reloaded', generation: 2 });
    expect(ok.json().models).toContainEqual(
      expect.objectContaining({ name: 'xgboost', version: '1.2.0', default: true }),
    );
    const after = (await app.inject({ method: 'POST', url: '/predict', payload: loan })).json();
    expect(after).toMatchObject({
      version: '1.2.0',
      probability_of_default: v110.score(withScenario(loan)).probability,
    });

    writeFileSync(join(dir, 'xgboost', '1.3.0.json'), '{"format": "loan-default-model/1", "name": "xgb');
    const bad = await app.inject({
      method: 'POST',
      url: '/admin/models/reload',
      headers: { 'x-requested-with': 'test' },
    });
    expect(bad.statusCode).toBe(422);
    expect(bad.json().code).toBe('RELOAD_FAILED');
    expect(bad.json().message).toMatch(
      /^MODEL_DIR\/xgboost\/1\.3\.0\.json: not valid JSON.*the previous models keep serving$/,
    );
    expect(bad.body).not.toContain(dir); // no server paths in answers
    expect((await app.inject({ method: 'POST', url: '/predict', payload: loan })).json().version).toBe('1.2.0');

    rmSync(join(dir, 'xgboost', '1.3.0.json'));
    writeFileSync(join(dir, 'routing.json'), JSON.stringify({ models: { xgboost: { default: '7.0.0' } } }));
    const badRouting = await app.inject({
      method: 'POST',
      url: '/admin/models/reload',
      headers: { 'x-requested-with': 'test' },
    });
    expect(badRouting.statusCode).toBe(422);
    expect(badRouting.json().message).toMatch(
      /MODEL_DIR\/routing\.json: models\.xgboost\.default: version 7\.0\.0 of xgboost is not loaded/,
    );

    const text = (await app.inject('/metrics')).body;
    expect(text).toContain('model_reloads_total{result="success"} 1');
    expect(text).toContain('model_reloads_total{result="failure"} 2');
    expect(text).toContain('model_set_generation 2');
    expect(text).toContain('model_info{model="xgboost",version="1.2.0",family="xgboost",default="true"} 1');
  });

  it('reloads under load with no failed request; each client sees the old version, then the new one', async () => {
    const dir = modelDir(['1.0.0']);
    const app = await build({ MODEL_DIR: dir });
    const base = await app.listen({ host: '127.0.0.1', port: 0 });
    const loan = JSON.stringify(holdoutLoans[11]);
    const statuses = new Map<number, number>();
    let stop = false;
    const client = async () => {
      const seen: string[] = [];
      while (!stop) {
        const res = await fetch(`${base}/predict`, {
          method: 'POST',
          body: loan,
          headers: { 'content-type': 'application/json' },
        });
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
        seen.push(((await res.json()) as { version: string }).version);
      }
      return seen;
    };
    const clients = Array.from({ length: 8 }, client);
    await new Promise((r) => setTimeout(r, 300));
    addVersion(dir, '1.2.0');
    const reload = await fetch(`${base}/admin/models/reload`, {
      method: 'POST',
      headers: { 'x-requested-with': 'test' },
    });
    expect(reload.status).toBe(200);
    writeFileSync(join(dir, 'xgboost', '1.3.0.json'), '{}');
    expect(
      (await fetch(`${base}/admin/models/reload`, { method: 'POST', headers: { 'x-requested-with': 'test' } })).status,
    ).toBe(422);
    await new Promise((r) => setTimeout(r, 300));
    stop = true;
    const seen = await Promise.all(clients);
    expect([...statuses.keys()]).toEqual([200]);
    for (const versions of seen) {
      const firstNew = versions.indexOf('1.2.0');
      expect(firstNew).toBeGreaterThan(0); // served by 1.0.0 before the swap ...
      expect(versions.slice(firstNew).every((v) => v === '1.2.0')).toBe(true); // ... and never again after it
      expect(versions.slice(0, firstNew).every((v) => v === '1.0.0')).toBe(true);
    }
  });

  it('reloads on SIGHUP, in one process and in every worker of a cluster', async () => {
    for (const workers of ['1', '2']) {
      const dir = modelDir(['1.0.0']);
      const port = await freePort();
      const server = runServer({ PORT: String(port), MODEL_DIR: dir, WORKERS: workers });
      try {
        const url = `http://127.0.0.1:${port}`;
        const up = async () =>
          fetch(`${url}/health/ready`).then(
            (r) => r.status === 200,
            () => false,
          );
        const started = () => (workers === '1' ? up() : server.output().includes('cluster ready'));
        for (let i = 0; i < 150 && !(await started()); i++) await new Promise((r) => setTimeout(r, 100));
        addVersion(dir, '1.2.0');
        server.child.kill('SIGHUP');
        const generation = async () =>
          Number((await (await fetch(`${url}/metrics`)).text()).match(/^model_set_generation (\d+)/m)?.[1]);
        // In a cluster the gauge is the minimum over workers: 2 only once every worker has reloaded.
        for (let i = 0; i < 100 && (await generation()) !== 2; i++) await new Promise((r) => setTimeout(r, 100));
        expect(await generation(), `WORKERS=${workers}`).toBe(2);
        const versions = (await (await fetch(`${url}/models/xgboost/versions`)).json()) as { default_version: string };
        expect(versions.default_version).toBe('1.2.0');
        if (workers === '2') {
          // The admin call reaches one worker; the primary has every worker reload and lists them.
          const res = await fetch(`${url}/admin/models/reload`, {
            method: 'POST',
            headers: { 'x-requested-with': 'test' },
          });
          const body = (await res.json()) as { generation: number; workers: { ok: boolean }[] };
          expect(res.status).toBe(200);
          expect(body.workers).toHaveLength(2);
          expect(body.workers.every((w) => w.ok)).toBe(true);
          expect(body.generation).toBe(3);
        }
      } finally {
        server.child.kill('SIGTERM');
        expect(await server.exit).toBe(0);
      }
    }
  }, 60_000);
});
