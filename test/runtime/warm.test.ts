/**
 * The warm-up before a model serves (src/runtime/warm.ts): what it runs, that it never fails a load
 * for what a synthetic row meets, and — without timing anything — that it works: after it, scoring
 * loans it has never seen makes V8 neither optimise nor deoptimise anything more (counted with
 * --trace-opt/--trace-deopt in a child process), where a cold model does both.
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { BUILTIN_FAMILIES, loadModelFile, type Model } from '../../src/runtime/index.js';
import { DEFAULT_WARM_PLAN, syntheticInputs, warmModel } from '../../src/runtime/warm.js';
import { tempDir } from '../helpers/temp.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const load = (name: string, version = '1.0.0') =>
  loadModelFile(join(ROOT, `model-artifacts/${name}/${version}.json`), { families: BUILTIN_FAMILIES });

const small = { ...DEFAULT_WARM_PLAN, coverageRows: 2_000, batches: 3, batchRows: 64, singles: 50, explains: 5 };

describe('synthetic inputs', () => {
  it("are deterministic and hold each field to the artifact's range, levels and missing values", async () => {
    const model = await load('xgboost');
    const a = syntheticInputs(model, 500);
    expect(syntheticInputs(model, 500)).toEqual(a);
    expect(syntheticInputs(model, 500, 7)).not.toEqual(a);
    let missing = 0;
    for (const row of a) {
      expect(Object.keys(row)).toEqual(model.fields.map((f) => f.name));
      for (const f of model.fields) {
        const v = row[f.name];
        if (v === null || (f.missingValues as readonly unknown[]).includes(v)) {
          missing++;
          continue;
        }
        if (f.kind === 'categorical') expect(f.levels).toContain(v);
        else {
          expect(v).toBeGreaterThanOrEqual(f.min as number);
          expect(v).toBeLessThanOrEqual(f.max as number);
        }
      }
    }
    expect(missing).toBeGreaterThan(0);
    // Every one of them scores (the encoder accepts them all).
    expect(() => model.scoreMany(a)).not.toThrow();
  });
});

describe('warmModel', () => {
  it('runs the plan: covering rows for tree models, batches, single loans and explanations', async () => {
    const model = await load('xgboost');
    const report = await warmModel(model, small);
    expect(report).toMatchObject({ model: 'xgboost', version: '1.0.0', batches: 3, singles: 50, explains: 5 });
    expect(report.stopped).toBeUndefined();
    // The rows that reach every leaf of the shipped model (74 for its 929 leaves; src/runtime/coverage.ts).
    const covering = model.evaluator.warmRows?.();
    expect((covering?.covered ?? 0) + (covering?.unreachable ?? 0)).toBe(covering?.leaves);
    expect(report.coverageRows).toBe(covering?.count);
    expect(report.coverageRows).toBeGreaterThan(50);
    expect(report.coveragePasses).toBe(Math.max(4, Math.ceil(2_000 / report.coverageRows)));
  });

  it('has no covering rows to run for a linear model', async () => {
    const report = await warmModel(await load('logistic_regression'), small);
    expect(report).toMatchObject({ coverageRows: 0, coveragePasses: 0, batches: 3, singles: 50, explains: 5 });
  });

  it('stops at its time budget, and refuses to start once aborted', async () => {
    const model = await load('xgboost');
    const report = await warmModel(model, { ...small, budgetMs: 0 });
    expect(report.stopped).toBe('budget');
    expect(report.batches + report.coveragePasses).toBe(0);
    const abort = new AbortController();
    abort.abort('stop');
    await expect(warmModel(model, small, abort.signal)).rejects.toBe('stop');
  });

  it('reports, never throws, what a synthetic row meets', async () => {
    const model = await load('lda');
    const failing = Object.create(model) as Model;
    Object.defineProperty(failing, 'scoreMany', {
      value: () => {
        throw new Error('credit_score: refused');
      },
    });
    const report = await warmModel(failing, small);
    expect(report.stopped).toBe('credit_score: refused');
    expect(report.batches).toBe(0);
  });
});

describe('after the warm-up', () => {
  const dir = tempDir('warm-');

  /** Optimisations and deoptimisations V8 reports while scoring holdout loans, cold or warmed. */
  function eventsWhileScoring(warm: boolean): string[] {
    const script = join(dir, `trace-${warm}.mts`);
    writeFileSync(
      script,
      `import { readFileSync, writeSync } from 'node:fs';
import { BUILTIN_FAMILIES, loadModelFile } from ${JSON.stringify(join(ROOT, 'src/runtime/index.ts'))};
import { warmModel } from ${JSON.stringify(join(ROOT, 'src/runtime/warm.ts'))};
const holdout = JSON.parse(readFileSync(${JSON.stringify(join(ROOT, 'model-artifacts/reference/holdout.json'))}, 'utf8'));
// Each loan with the scenario features Python computed for it (what the model reads).
const records = holdout.loans.map((loan, i) => ({ ...loan, ...holdout.features[i] }));
const batches = [0, 1, 2, 3].map((k) => records.slice(k * 1000, k * 1000 + 1000));
const singles = records.slice(4000, 5500);
const model = await loadModelFile(${JSON.stringify(join(ROOT, 'model-artifacts/xgboost/1.0.0.json'))}, { families: BUILTIN_FAMILIES });
if (${warm}) await warmModel(model, { coverageRows: 40000, batches: 8, batchRows: 1024, singles: 2000, explains: 0, budgetMs: 120000 });
// Compilations the warm-up started are installed first: V8 optimises on a background thread, and on a
// machine busy with other work one may complete after the warm-up has ended (seen once in a full test run).
new Function('%FinalizeOptimization()')();
// The phase's marks are written straight to the file descriptor: console.log runs Node's stream code,
// whose helpers V8 may then compile on a background thread and report inside the phase (seen on Node 24:
// Maglev finishing Node's own getDefaultTriggerAsyncId while the loans were scored).
writeSync(1, '=== scoring\\n');
for (const batch of batches) model.scoreMany(batch);
for (const loan of singles) model.score(loan);
writeSync(1, '=== done\\n');
`,
    );
    const out = execFileSync(
      process.execPath,
      ['--trace-opt', '--trace-deopt', '--allow-natives-syntax', '--import', 'tsx', script],
      {
        cwd: ROOT,
        encoding: 'utf8',
        maxBuffer: 256 * 1024 * 1024,
      },
    );
    const phase = out.slice(out.indexOf('=== scoring'), out.indexOf('=== done'));
    expect(phase.length).toBeGreaterThan(0);
    return phase.split('\n').filter((line) => /completed (optimizing|compiling)|bailout/.test(line));
  }

  it('scoring loans it has never seen optimises and deoptimises nothing more (a cold model does both)', () => {
    const cold = eventsWhileScoring(false);
    const warmed = eventsWhileScoring(true);
    expect(cold.length).toBeGreaterThan(3);
    expect(warmed).toEqual([]); // V8's own lines, if any: which function, and why
  }, 120_000);
});
