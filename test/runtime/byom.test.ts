/**
 * "Bring your own model" (docs/BRING_YOUR_OWN_MODEL.md): the worked example's artifacts, imported by
 * scripts/import_model.py from an XGBoost booster and a scikit-learn pipeline trained on the
 * breast-cancer data set, against the libraries' own predictions (test/fixtures/byom/reference.json,
 * written by scripts/byom_example.py). Also scripts/check-artifact.ts, the scorer the importer's check runs.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'csv-parse/sync';
import { describe, expect, it } from 'vitest';
import { type LoanRecord, loadModelDocument, loadModelFile, type Model } from '../../src/runtime/index.js';
import { runScript } from '../helpers/net.js';
import { tempDir } from '../helpers/temp.js';

const FIXTURES = fileURLToPath(new URL('../fixtures/byom/', import.meta.url));
const ROOT = fileURLToPath(new URL('../../', import.meta.url));

interface Reference {
  sample: string;
  rows: number;
  kinds: string[];
  models: Record<string, { artifact: string; probability: (number | null)[]; margin: (number | null)[] }>;
}
const reference = JSON.parse(readFileSync(join(FIXTURES, 'reference.json'), 'utf8')) as Reference;
const [header, ...cells] = parse(readFileSync(join(FIXTURES, reference.sample), 'utf8')) as string[][];
const features = header as string[];
/** The sample rows as the service receives named inputs: feature → number, null when the cell is empty. */
const rows: LoanRecord[] = cells.map((r) =>
  Object.fromEntries(features.map((f, j) => [f, r[j] === '' ? null : Number(r[j])])),
);

/** Distance between two numbers in float32 steps (both rounded to float32 first). */
function float32Ulps(a: number, b: number): number {
  const ints = new Int32Array(new Float32Array([a, b]).buffer);
  const ordered = (i: number) => (i < 0 ? -(i & 0x7fffffff) : i);
  return Math.abs(ordered(ints[0] as number) - ordered(ints[1] as number));
}

/** The import check's tolerances (scripts/import_model.py TOLERANCES): XGBoost margins bit-identical and
 * probabilities within 2 float32 ulps; linear probabilities within 1e-12, margins 1e-12 of the terms summed. */
function expectWithinTolerance(model: Model, name: string) {
  const expected = reference.models[name];
  if (!expected) throw new Error(`reference.json has no ${name}`);
  const got = model.scoreMany(rows);
  let compared = 0;
  rows.forEach((row, i) => {
    const p = expected.probability[i];
    const m = expected.margin[i];
    if (p === null || p === undefined || m === null || m === undefined) return; // the library cannot score it
    compared++;
    const gp = got.probability[i] as number;
    const gm = got.margin[i] as number;
    if (model.family === 'xgboost') {
      if (gm !== m) expect.fail(`row ${i} (${reference.kinds[i]}): margin ${gm} !== ${m}`);
      if (float32Ulps(gp, p) > 2) expect.fail(`row ${i}: probability ${gp} vs ${p}`);
    } else {
      const section = JSON.parse(readFileSync(join(FIXTURES, expected.artifact), 'utf8')).model as {
        coefficients: number[];
        intercept: number;
      };
      let terms = 1 + Math.abs(section.intercept);
      section.coefficients.forEach((c, j) => {
        terms += Math.abs(c * ((row[features[j] as string] as number) ?? 0));
      });
      if (!(Math.abs(gp - p) <= 1e-12)) expect.fail(`row ${i}: probability ${gp} vs ${p}`);
      if (!(Math.abs(gm - m) <= 1e-12 * terms)) expect.fail(`row ${i}: margin ${gm} vs ${m}`);
    }
  });
  return compared;
}

describe('bring your own model: the worked example', () => {
  it('has held-out rows, rows with missing values and split-threshold probes', () => {
    expect(rows.length).toBe(reference.rows);
    for (const kind of ['holdout', 'missing', 'all_missing', 'threshold_probe']) {
      expect(reference.kinds).toContain(kind);
    }
    expect(rows.some((r) => Object.values(r).includes(null))).toBe(true);
  });

  it('XGBoost: a features artifact whose names keep their spaces, matching XGBoost on every row', async () => {
    const model = await loadModelFile(join(FIXTURES, 'breast_cancer_xgboost/1.0.0.json'));
    expect(model.inputs).toBe('features');
    expect(model.family).toBe('xgboost');
    expect(model.fields.map((f) => f.name)).toEqual(features);
    expect(model.columns.map((c) => c.name)).toEqual(features);
    expect(features).toContain('mean radius');
    expect(model.fields.every((f) => f.kind === 'numeric' && f.missingValues.length === 0)).toBe(true);
    expect(model.explainable).toBe(true);
    expect(expectWithinTolerance(model, 'breast_cancer_xgboost')).toBe(rows.length);
  });

  it('scikit-learn pipeline: the folded logistic regression matches predict_proba on every complete row', async () => {
    const model = await loadModelFile(join(FIXTURES, 'breast_cancer_logistic/1.0.0.json'));
    expect(model.inputs).toBe('features');
    expect(model.family).toBe('logistic_regression');
    expect(model.fields.map((f) => f.name)).toEqual(features);
    expect(model.explainable).toBe(true); // the scaler's means are the reference
    const complete = reference.models.breast_cancer_logistic?.probability.filter((p) => p !== null).length;
    expect(complete).toBeGreaterThanOrEqual(40);
    expect(expectWithinTolerance(model, 'breast_cancer_logistic')).toBe(complete);
  });

  it('an [N, F] tensor in feature order scores as the named inputs do (the columns are the features)', async () => {
    for (const name of Object.keys(reference.models)) {
      const model = await loadModelFile(join(FIXTURES, `${name}/1.0.0.json`));
      const tensor = model.newRows(rows.length);
      rows.forEach((row, i) => {
        features.forEach((f, j) => {
          tensor[i * features.length + j] = (row[f] as number | null) ?? Number.NaN;
        });
      });
      const fromTensor = model.marginsOfRows(tensor, rows.length);
      expect(Array.from(fromTensor)).toEqual(Array.from(model.scoreMany(rows).margin));
    }
  });

  it('explains a row exactly: contributions per feature add up to the margin', async () => {
    for (const name of Object.keys(reference.models)) {
      const model = await loadModelFile(join(FIXTURES, `${name}/1.0.0.json`));
      const row = rows[0] as LoanRecord;
      const e = model.explain(row);
      const sum = Object.values(e.fields).reduce((a, b) => a + b, e.baseValue);
      expect(Math.abs(sum - e.margin)).toBeLessThan(1e-5);
      expect(Object.keys(e.fields)).toEqual(features);
    }
  });
});

const checkArtifact = (...args: string[]) => runScript('scripts/check-artifact.ts', args, ROOT);

describe('scripts/check-artifact.ts', () => {
  const dir = tempDir('check-artifact-');

  it('scores a features artifact on a CSV as the runtime does, and refuses bad rows and missing columns', async () => {
    const artifact = join(FIXTURES, 'breast_cancer_xgboost/1.0.0.json');
    const bad = join(dir, 'bad.csv');
    writeFileSync(bad, `${features.map((f) => `"${f}"`).join(',')}\n${features.map(() => '0x10').join(',')}\n`);
    const short = join(dir, 'short.csv');
    const others = features.slice(1);
    writeFileSync(short, `${others.join(',')}\n${others.map(() => '1').join(',')}\n`);
    const [ok, refused, absent, usage] = await Promise.all([
      checkArtifact(artifact, join(FIXTURES, reference.sample)),
      checkArtifact(artifact, bad),
      checkArtifact(artifact, short),
      checkArtifact(artifact),
    ]);
    expect(ok.code).toBe(0);
    const out = JSON.parse(ok.stdout);
    const model = await loadModelFile(artifact);
    expect(out).toMatchObject({ name: model.name, family: 'xgboost', inputs: 'features', rows: rows.length });
    expect(out.sha256).toBe(model.sha256);
    expect(out.margin).toEqual(Array.from(model.scoreMany(rows).margin));
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/row 1, column "mean radius": not a finite number: "0x10"/);
    expect(absent.code).toBe(1);
    expect(absent.stderr).toMatch(/no column for feature\(s\) "mean radius"/);
    expect(usage.code).toBe(2);
  });

  it('reads a loan-record artifact with values typed per field kind (categorical codes, numbers, empty = missing)', async () => {
    const doc = {
      format: 'loan-default-model/1',
      name: 'loan_check',
      family: 'logistic_regression',
      version: '1.0.0',
      label: 'test',
      decision_threshold: 0.5,
      fields: [
        { name: 'credit_score', kind: 'numeric', missing_values: [9999] },
        { name: 'occupancy_status', kind: 'categorical', levels: ['P', 'I', 'S'], missing_values: ['9'] },
      ],
      columns: [
        { name: 'credit_score', op: 'numeric', field: 'credit_score', impute: 700, center: 700, scale: 50 },
        { name: 'credit_score_missing', op: 'is_missing', field: 'credit_score' },
        { name: 'occupancy_I', op: 'one_hot', field: 'occupancy_status', level: 'I' },
      ],
      model: { coefficients: [-0.8, 0.3, 0.6], intercept: -3 },
    };
    const artifact = join(dir, 'loan.json');
    writeFileSync(artifact, JSON.stringify(doc));
    const csv = join(dir, 'loans.csv');
    writeFileSync(csv, 'loan_sequence_number,credit_score,occupancy_status\nA,640,I\nB,,P\nC,9999,9\nD,812.5,\n');
    const loans: LoanRecord[] = [
      { credit_score: 640, occupancy_status: 'I' },
      { credit_score: null, occupancy_status: 'P' },
      { credit_score: 9999, occupancy_status: '9' },
      { credit_score: 812.5, occupancy_status: null },
    ];
    const result = await checkArtifact(artifact, csv);
    expect(result.stderr).toBe('');
    const out = JSON.parse(result.stdout);
    expect(out.inputs).toBe('loan-record');
    expect(out.columns_absent).toEqual([]);
    const expected = loadModelDocument(doc).scoreMany(loans);
    expect(out.probability).toEqual(Array.from(expected.probability));
    expect(out.margin).toEqual(Array.from(expected.margin));
  });
});

describe('never silently wrong (issue 17)', () => {
  const xgboostDoc = () =>
    JSON.parse(readFileSync(join(FIXTURES, 'breast_cancer_xgboost/1.0.0.json'), 'utf8')) as {
      model: { booster: { learner: Record<string, Record<string, unknown>> }; missing?: number };
    };
  /** XGBClassifier(missing=-999) records it in learner.attributes.scikit_learn (a JSON text, NaN allowed). */
  const withMissing = (missing: number | undefined, recorded: string) => {
    const doc = xgboostDoc();
    doc.model.booster.learner.attributes = {
      scikit_learn: `{"n_estimators": 50, "missing": ${recorded}, "kwargs": {}}`,
    };
    if (missing !== undefined) doc.model.missing = missing;
    return doc;
  };
  const sentinel = (value: number) =>
    rows.map((row) => Object.fromEntries(Object.entries(row).map(([k, v]) => [k, v === null ? value : v])));

  it("XGBoost's missing value: a value equal to it in float32 is missing, as NaN is, for rows, tensors and explanations", () => {
    const model = loadModelDocument(withMissing(-999, '-999'));
    const expected = Array.from(loadModelDocument(xgboostDoc()).scoreMany(rows).margin); // = XGBoost's (reference.json)
    expect(Array.from(model.scoreMany(rows).margin)).toEqual(expected); // null still missing
    expect(Array.from(model.scoreMany(sentinel(-999)).margin)).toEqual(expected);
    expect(Array.from(model.scoreMany(sentinel(-999.00001)).margin)).toEqual(expected); // the same float32
    expect(Array.from(model.scoreMany(sentinel(-999.0001)).margin)).not.toEqual(expected); // another float32
    const tensor = model.newRows(rows.length);
    sentinel(-999).forEach((row, i) => {
      features.forEach((f, j) => {
        tensor[i * features.length + j] = row[f] as number;
      });
    });
    expect(Array.from(model.marginsOfRows(tensor, rows.length))).toEqual(expected);
    const i = rows.findIndex((r) => Object.values(r).includes(null));
    expect(model.explain(sentinel(-999)[i] as LoanRecord)).toEqual(model.explain(rows[i] as LoanRecord));
    expect(model.evaluator.summary.missing).toBe(-999);
    // NaN recorded (the default), or a booster without the attribute: NaN only, as before
    expect(Array.from(loadModelDocument(withMissing(undefined, 'NaN')).scoreMany(rows).margin)).toEqual(expected);
  });

  it('refuses an artifact that drops the missing value its booster records', () => {
    expect(() => loadModelDocument(withMissing(undefined, '-999'))).toThrow(
      /model\.missing.*trained with missing=-999.*absent/,
    );
    expect(() => loadModelDocument(withMissing(0, '-999'))).toThrow(/trained with missing=-999/);
    expect(() => loadModelDocument({ ...withMissing(1e39, '1e39') })).toThrow(/float32/);
  });

  it('binary:logitraw starts from base_score as a margin, whatever its value', () => {
    const logitraw = (base: string) => {
      const doc = xgboostDoc();
      doc.model.booster.learner.objective = { name: 'binary:logitraw' };
      (doc.model.booster.learner.learner_model_param as Record<string, unknown>).base_score = base;
      return loadModelDocument(doc);
    };
    const high = logitraw('2.5E0').scoreMany(rows).margin;
    const zero = logitraw('0E0').scoreMany(rows).margin;
    high.forEach((m, i) => {
      expect(Math.abs(m - (zero[i] as number) - 2.5)).toBeLessThan(1e-5);
    });
    expect(() => logitraw('-3.5E0')).not.toThrow();
  });

  it('refuses a value beyond the float32 range for a tree model (the libraries refuse it), not a linear one', async () => {
    const row = { ...(rows[1] as LoanRecord), 'mean area': 1e39 };
    const trees = loadModelDocument(xgboostDoc());
    expect(() => trees.score(row)).toThrow(/mean area.*beyond the float32 range/);
    expect(() => trees.score({ ...row, 'mean area': 3.4028235e38 })).not.toThrow(); // rounds to the largest float32
    const linear = await loadModelFile(join(FIXTURES, 'breast_cancer_logistic/1.0.0.json'));
    const complete = Object.fromEntries(features.map((f) => [f, 1]));
    expect(Number.isFinite(linear.score({ ...complete, 'mean area': 1e39 }).margin)).toBe(true);
  });
});
