/**
 * A model family is a unit: one module per family (src/runtime/families/) declaring its loader,
 * description and capabilities; `FAMILIES` is the one TypeScript list, scripts/loanmodel/families.py the
 * one Python list, and the two agree; the service registers one plugin per entry.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { familyPluginName } from '../../plugins/models/family-plugin.js';
import { FAMILIES, type LoanRecord, loadModelDocument, sigmoid } from '../../src/runtime/index.js';
import { build } from '../helpers/app.js';
import { readReference, SHIPPED_MODELS } from '../helpers/reference.js';

const ROOT = new URL('../../', import.meta.url);

describe('family modules', () => {
  it('each declares a unique name, a description and its capabilities', () => {
    const names = FAMILIES.map((f) => f.family);
    expect(new Set(names).size).toBe(names.length);
    for (const f of FAMILIES) {
      expect(f.family).toMatch(/^[a-z][a-z0-9_]*$/);
      expect(f.description.length, f.family).toBeGreaterThan(10);
      expect(Object.keys(f.capabilities).sort(), f.family).toEqual(['acceptsMissing', 'explanation', 'link']);
      expect(typeof f.capabilities.acceptsMissing).toBe('boolean');
      expect(['linear', 'treeshap']).toContain(f.capabilities.explanation);
      expect(['logistic', 'logistic-float32']).toContain(f.capabilities.link);
      expect(typeof f.load).toBe('function');
    }
  });

  it('the Python list (scripts/loanmodel/families.py) is the same families with the same capabilities', () => {
    const code =
      'import json; from scripts.loanmodel.families import FAMILIES; print(json.dumps(list(FAMILIES.items())))';
    const python = JSON.parse(execFileSync('/usr/bin/python3', ['-c', code], { cwd: ROOT, encoding: 'utf8' })) as [
      string,
      { accepts_missing: boolean; explanation: string; link: string },
    ][];
    expect(python.map(([family, c]) => ({ family, ...c }))).toEqual(
      FAMILIES.map((f) => ({
        family: f.family,
        accepts_missing: f.capabilities.acceptsMissing,
        explanation: f.capabilities.explanation,
        link: f.capabilities.link,
      })),
    );
  });

  it("the shipped models behave as their family's capabilities declare (link, explanation)", () => {
    const loan = readReference(SHIPPED_MODELS).records[0] as LoanRecord;
    for (const f of FAMILIES) {
      const doc = JSON.parse(readFileSync(new URL(`model-artifacts/${f.family}/1.0.0.json`, ROOT), 'utf8'));
      const model = loadModelDocument(doc);
      expect(model.capabilities).toBe(f.capabilities);
      const s = model.score(loan);
      const p = f.capabilities.link === 'logistic' ? sigmoid(s.margin) : Math.fround(sigmoid(s.margin));
      expect(s.probability, f.family).toBe(p);
      expect(model.explainable, f.family).toBe(true);
      const e = model.explain(loan);
      if (f.capabilities.explanation === 'linear') expect(e.columns.length).toBe(model.columnCount);
    }
  });
});

describe('family plugins', () => {
  it('the service registers one familyPlugin per family, and the registry holds exactly FAMILIES', async () => {
    const app = await build();
    try {
      for (const f of FAMILIES) expect(app.hasPlugin(familyPluginName(f)), f.family).toBe(true);
      expect(app.models.familyNames()).toEqual(FAMILIES.map((f) => f.family));
      expect(FAMILIES.map(familyPluginName)).toEqual([
        'model-family-logistic-regression',
        'model-family-lda',
        'model-family-gradient-boosting',
        'model-family-xgboost',
      ]);
    } finally {
      await app.close();
    }
  });
});
