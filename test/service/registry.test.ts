import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ModelRegistry } from '../../src/registry.js';
import { ArtifactError, BUILTIN_FAMILIES, ldaFamily } from '../../src/runtime/index.js';

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
  const d = mkdtempSync(join(tmpdir(), 'registry-'));
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
    ).rejects.toThrow(/a\.json: fields\[0\]: reads "zip_plus_four", which is not a loan-record field/);
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

describe('the shipped artifacts and the loan record', () => {
  it('advertise the same ranges and codes as the request schema', async () => {
    const { LOAN_FIELD_BY_NAME } = await import('../../src/loan/record.js');
    const { loadModelFile } = await import('../../src/runtime/index.js');
    for (const name of ['logistic_regression', 'lda', 'gradient_boosting', 'xgboost']) {
      const model = await loadModelFile(`model-artifacts/${name}/1.0.0.json`);
      for (const f of model.fields) {
        const record = LOAN_FIELD_BY_NAME.get(f.name);
        if (f.kind === 'numeric' && record?.kind === 'numeric') {
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
