/**
 * The contract between the Python training code and the TypeScript service
 * (src/contract/loan-contract.json, docs/ARCHITECTURE.md, "The contract between Python and TypeScript"), checked from this side:
 * - the encoding fixture (test/fixtures/encoding.json, written by scripts/encoding_fixture.py from the
 *   Python encoder): every edge-case loan through every shipped artifact's encoder, column by column,
 *   so a drift names the artifact, the loan and the column (scripts/tests/test_encoding.py checks the
 *   Python encoder against the same file);
 * - the model name and version patterns, on the cases the fixture records with Python's verdict.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { MODEL_NAME, MODEL_VERSION } from '../../src/contract/index.js';
import { compileEncoder } from '../../src/runtime/features.js';
import { type LoanRecord, loadModelDocument } from '../../src/runtime/index.js';

interface Fixture {
  loans: { case: string; loan: LoanRecord }[];
  artifacts: Record<string, { columns: string[]; rows: (number | null)[][] }>;
  names: { text: string; valid: boolean }[];
  versions: { text: string; valid: boolean }[];
}

const fixture = JSON.parse(readFileSync(new URL('../fixtures/encoding.json', import.meta.url), 'utf8')) as Fixture;
const artifact = (key: string): unknown =>
  JSON.parse(readFileSync(new URL(`../../model-artifacts/${key}.json`, import.meta.url), 'utf8'));

/** "artifact, loan, column: TypeScript x, Python y" for every cell that differs (NaN equals NaN, -0 is not 0). */
function columnDrifts(
  key: string,
  columns: readonly string[],
  got: (loan: number) => ArrayLike<number>,
  want: (loan: number) => ArrayLike<number>,
): string[] {
  const drifts: string[] = [];
  fixture.loans.forEach(({ case: name }, i) => {
    const g = got(i);
    const w = want(i);
    columns.forEach((column, j) => {
      if (!Object.is(g[j], w[j])) {
        drifts.push(`${key}, loan "${name}", column ${column}: TypeScript ${g[j]}, Python ${w[j]}`);
      }
    });
  });
  return drifts;
}

describe('encoding fixture (the Python encoder) against the TypeScript encoder', () => {
  it('covers every shipped artifact and a loan per code, sentinel, null and range end', () => {
    expect(Object.keys(fixture.artifacts).sort()).toEqual([
      'gradient_boosting/1.0.0',
      'lda/1.0.0',
      'logistic_regression/1.0.0',
      'xgboost/1.0.0',
      'xgboost/1.1.0',
    ]);
    expect(fixture.loans.length).toBeGreaterThan(100);
  });

  for (const [key, expected] of Object.entries(fixture.artifacts)) {
    it(`${key}: every loan, column by column`, () => {
      const model = loadModelDocument(artifact(key), key);
      expect(model.columns.map((c) => c.name)).toEqual(expected.columns);
      const want = (i: number) => (expected.rows[i] as (number | null)[]).map((x) => (x === null ? Number.NaN : x));
      // The encoder in doubles: exactly the Python encoder's IEEE doubles.
      const encoder = compileEncoder(model.fields, model.columns);
      const row = new Float64Array(expected.columns.length);
      const doubles = columnDrifts(
        key,
        expected.columns,
        (i) => {
          encoder(fixture.loans[i]?.loan as LoanRecord, row, 0);
          return row;
        },
        want,
      );
      expect(doubles).toEqual([]);
      // The row the model scores (float32 for tree models): the same values in its type.
      const round = model.newRows(1) instanceof Float32Array ? Math.fround : (x: number) => x;
      const rows = columnDrifts(
        key,
        expected.columns,
        (i) => model.encode(fixture.loans[i]?.loan as LoanRecord),
        (i) => want(i).map(round),
      );
      expect(rows).toEqual([]);
    });
  }
});

describe('model name and version patterns', () => {
  it('accept and refuse what the Python importer does', () => {
    for (const { text, valid } of fixture.names) expect([text, MODEL_NAME.test(text)]).toEqual([text, valid]);
    for (const { text, valid } of fixture.versions) expect([text, MODEL_VERSION.test(text)]).toEqual([text, valid]);
  });
});
