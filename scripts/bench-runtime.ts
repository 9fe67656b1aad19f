/**
 * Runtime benchmark: `npm run bench:runtime [-- --rows 100000 --no-native]`.
 *
 * Per shipped model: rows/s scoring a batch of loans (encoding included), rows/s of the evaluator
 * alone on pre-encoded rows, and the median latency of scoring one loan. Tree models are measured
 * three ways: compiled with single rows as the evaluator chooses by the ensemble's size (the default:
 * the generated code for a small ensemble, the packed layout for a large one), with single rows on the
 * other layout, and with the plain walker. For XGBoost, the same rows are also scored by XGBoost's
 * own C++ predictor, single-threaded (scripts/bench_xgboost_native.py), in the same run, and the
 * ratio is reported; likewise TreeSHAP against XGBoost's `pred_contribs` (first --contribs-rows rows,
 * default 1,000), and per tree model the explainer alone on --explain-rows encoded rows (default 500)
 * against the quadrature scan it replaced. Per model also the median cost of explaining one loan (`?explain=true`:
 * encoding, scoring, exact contributions by field; --explain-calls, default 2,000 loans).
 * Results go to bench-results/runtime.{json,md}.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { DocumentReader } from '../src/runtime/check.js';
import type { RowExplainer } from '../src/runtime/explain.js';
import { loadGradientBoosting } from '../src/runtime/gbm.js';
import { type LoanRecord, loadModelFile, type Model, treeShapPlan } from '../src/runtime/index.js';
import type { TreeEnsemble } from '../src/runtime/trees.js';
import { loadXGBoost } from '../src/runtime/xgboost.js';

const args = process.argv.slice(2);
const option = (name: string, fallback: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] ? (args[i + 1] as string) : fallback;
};
const ROWS = Number(option('rows', '100000'));
const SINGLE_CALLS = Number(option('single-calls', '20000'));
const REPEATS = Number(option('repeats', '5'));
const EXPLAIN_CALLS = Number(option('explain-calls', '2000'));
const CONTRIBS_ROWS = Number(option('contribs-rows', '1000'));
const EXPLAIN_ROWS = Number(option('explain-rows', '500'));
const ARTIFACTS = option('artifacts', 'model-artifacts');
const OUT = option('out', 'bench-results');
const NATIVE = !args.includes('--no-native');
const PYTHON = process.env.PYTHON ?? '/usr/bin/python3';
const MODELS = ['logistic_regression', 'lda', 'gradient_boosting', 'xgboost'];

function best(fn: () => void): number {
  fn(); // warm-up: let V8 optimise before timing
  let bestMs = Number.POSITIVE_INFINITY;
  for (let i = 0; i < REPEATS; i++) {
    const t0 = performance.now();
    fn();
    bestMs = Math.min(bestMs, performance.now() - t0);
  }
  return bestMs;
}

function medianSingleMicros(model: Model, loans: readonly LoanRecord[]): number {
  // Warm-up long enough for V8 to optimise every generated function (each runs once per loan).
  for (let i = 0; i < 60_000; i++) model.score(loans[i % loans.length] as LoanRecord);
  const times = new Float64Array(SINGLE_CALLS);
  let sink = 0;
  for (let i = 0; i < SINGLE_CALLS; i++) {
    const loan = loans[i % loans.length] as LoanRecord;
    const t0 = process.hrtime.bigint();
    sink += model.score(loan).probability;
    times[i] = Number(process.hrtime.bigint() - t0) / 1000;
  }
  if (Number.isNaN(sink)) throw new Error('NaN probability');
  times.sort();
  return times[Math.floor(SINGLE_CALLS / 2)] as number;
}

/** Median µs of `model.explain(loan)` (encoding, margin, contributions by field) over distinct loans. */
function medianExplainMicros(model: Model, loans: readonly LoanRecord[]): number {
  const calls = Math.min(EXPLAIN_CALLS, loans.length);
  for (let i = 0; i < Math.min(calls, 500); i++) model.explain(loans[i] as LoanRecord); // warm-up
  const times = new Float64Array(calls);
  let sink = 0;
  for (let i = 0; i < calls; i++) {
    const loan = loans[i] as LoanRecord;
    const t0 = process.hrtime.bigint();
    sink += model.explain(loan).baseValue;
    times[i] = Number(process.hrtime.bigint() - t0) / 1000;
  }
  if (Number.isNaN(sink)) throw new Error('NaN base value');
  times.sort();
  return times[Math.floor(calls / 2)] as number;
}

interface Row {
  model: string;
  evaluator: string;
  batch_rows_per_s: number;
  evaluator_only_rows_per_s: number;
  evaluator_only_us_per_row: number;
  single_loan_median_us: number;
  /** Explanations do not depend on the evaluator: measured once per model, on its first row. */
  explain_median_us?: number;
  /** Tree models: µs a row of the explainer alone on encoded rows (--explain-rows of them), and of the quadrature scan. */
  explain_rows_us?: number;
  explain_rows_quadrature_us?: number;
}

const reference = JSON.parse(readFileSync(join(ARTIFACTS, 'reference', 'holdout.json'), 'utf8')) as {
  loans: LoanRecord[];
  kinds: string[];
  features?: Record<string, number | null>[];
};
// Each loan with its scenario features (what the scenario-conditional models read), when the file has them.
const pool = reference.loans
  .map((loan, i) => ({ ...loan, ...reference.features?.[i] }) as LoanRecord)
  .filter((_, i) => reference.kinds[i] === 'holdout');
const loans = Array.from({ length: ROWS }, (_, i) => pool[i % pool.length] as LoanRecord);

const results: Row[] = [];
for (const name of MODELS) {
  const path = join(ARTIFACTS, name, '1.0.0.json');
  const modes: Model[] = [await loadModelFile(path)];
  if (name === 'xgboost' || name === 'gradient_boosting') {
    // Single rows on the other layout than the default (packed or generated code), then the plain walker.
    const packedByDefault = modes[0]?.evaluator.summary.single_row === 'packed';
    modes.push(await loadModelFile(path, { packTrees: !packedByDefault }));
    modes.push(await loadModelFile(path, { compileTrees: false }));
  }
  for (const model of modes) {
    const rows = model.newRows(ROWS);
    for (let i = 0; i < ROWS; i++) model.encodeInto(loans[i] as LoanRecord, rows, i);
    const out = new Float64Array(ROWS);
    const batchMs = best(() => model.scoreMany(loans));
    const evalMs = best(() => model.marginsOfRows(rows, ROWS, out));
    const row: Row = {
      model: name,
      evaluator: `${model.evaluator.summary.evaluator}${model.evaluator.summary.single_row === undefined ? '' : `, single rows ${model.evaluator.summary.single_row}`}${model === modes[0] ? ' (default)' : ''}`,
      batch_rows_per_s: Math.round(ROWS / (batchMs / 1000)),
      evaluator_only_rows_per_s: Math.round(ROWS / (evalMs / 1000)),
      evaluator_only_us_per_row: (evalMs * 1000) / ROWS,
      single_loan_median_us: medianSingleMicros(model, pool),
      ...(model === modes[0] && model.explainable ? { explain_median_us: medianExplainMicros(model, pool) } : {}),
    };
    if (model === modes[0] && model.explainable && (name === 'xgboost' || name === 'gradient_boosting')) {
      // The explainer alone on encoded rows, served vs the quadrature scan it replaced, same run.
      const n = Math.min(EXPLAIN_ROWS, ROWS);
      const shap = compareExplainers(name, model.columnCount, rows, n);
      row.explain_rows_us = shap.servedUs;
      row.explain_rows_quadrature_us = shap.quadratureUs;
    }
    results.push(row);
    console.log(JSON.stringify(row));
  }
}

/** A shipped tree model's ensemble, as its loader builds it (for `treeShapPlan` with other options). */
function ensembleOf(name: string, columnCount: number): TreeEnsemble {
  const artifact = join(ARTIFACTS, name, '1.0.0.json');
  const doc = JSON.parse(readFileSync(artifact, 'utf8')) as { model: Record<string, unknown> };
  const load = name === 'xgboost' ? loadXGBoost : loadGradientBoosting;
  return load(new DocumentReader(artifact), doc.model, columnCount);
}

/**
 * TreeSHAP on `n` encoded rows: the served explainer (`treeShapPlan`'s choice, per-block tables for
 * the shipped models) and, for comparison, the quadrature scan it replaced (served until 2026-12),
 * µs a row, best of REPEATS each, interleaved over three rounds.
 */
function compareExplainers(name: string, columnCount: number, rows: Float32Array | Float64Array, n: number) {
  const ensemble = ensembleOf(name, columnCount);
  const served = treeShapPlan(ensemble);
  const scan = treeShapPlan(ensemble, { tableBytes: 0 });
  if (!served || !scan) throw new Error(`${name}: the artifact has no covers`);
  const out = new Float64Array(columnCount + 1);
  const time = (explain: RowExplainer) => () => {
    for (let i = 0; i < n; i++) explain(rows, i * columnCount, out);
  };
  let servedMs = Number.POSITIVE_INFINITY;
  let scanMs = Number.POSITIVE_INFINITY;
  for (let round = 0; round < 3; round++) {
    servedMs = Math.min(servedMs, best(time(served.explain)));
    scanMs = Math.min(scanMs, best(time(scan.explain)));
  }
  return {
    method: served.method,
    tableBytes: served.tableBytes,
    servedUs: (servedMs * 1000) / n,
    quadratureUs: (scanMs * 1000) / n,
  };
}

/** XGBoost's C++ predictor on the same encoded rows, and our compiled evaluator on exactly those. */
let native: Record<string, number | string> | undefined;
if (NATIVE) {
  const dir = join(tmpdir(), `bench-native-${process.pid}`);
  mkdirSync(dir, { recursive: true });
  try {
    const dump = join(dir, 'rows.f64');
    const stdout = execFileSync(
      PYTHON,
      [
        'scripts/bench_xgboost_native.py',
        '--artifact',
        join(ARTIFACTS, 'xgboost', '1.0.0.json'),
        '--rows',
        String(ROWS),
        '--dump-rows',
        dump,
        '--contribs-rows',
        String(CONTRIBS_ROWS),
      ],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] },
    );
    native = JSON.parse(stdout.trim().split('\n').pop() as string) as Record<string, number | string>;
    const model = await loadModelFile(join(ARTIFACTS, 'xgboost', '1.0.0.json'));
    const bytes = readFileSync(dump);
    const f64 = new Float64Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 8);
    const n = f64.length / model.columnCount;
    const rows = Float32Array.from(f64);
    const out = new Float64Array(n);
    const ms = best(() => model.marginsOfRows(rows, n, out));
    native.typescript_us_per_row_same_rows = (ms * 1000) / n;
    native.ratio_native_over_typescript =
      (native.batch_us_per_row_inplace as number) / (native.typescript_us_per_row_same_rows as number);
    const shap = compareExplainers('xgboost', model.columnCount, rows, Number(native.contribs_rows));
    Object.assign(native, {
      explain_method: shap.method,
      explain_table_bytes: shap.tableBytes,
      typescript_explain_us_per_row_same_rows: shap.servedUs,
      typescript_explain_quadrature_us_per_row_same_rows: shap.quadratureUs,
      ratio_pred_contribs_over_typescript_explain: Number(native.contribs_us_per_row) / shap.servedUs,
    });
    console.log(JSON.stringify(native));
  } catch (err) {
    console.error(`native XGBoost comparison skipped: ${(err as Error).message.split('\n')[0]}`);
    native = undefined;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const fmt = (n: number) => n.toLocaleString('en-US', { maximumFractionDigits: 2 });
const lines = [
  `Runtime benchmark, ${ROWS.toLocaleString('en-US')} loans, node ${process.version}, best of ${REPEATS} (${new Date().toISOString().slice(0, 10)})`,
  '',
  '| model | evaluator | batch rows/s (with encoding) | evaluator rows/s | µs/row (evaluator) | single loan median µs | explained loan median µs |',
  '|---|---|---:|---:|---:|---:|---:|',
  ...results.map(
    (r) =>
      `| ${r.model} | ${r.evaluator} | ${fmt(r.batch_rows_per_s)} | ${fmt(r.evaluator_only_rows_per_s)} | ${fmt(r.evaluator_only_us_per_row)} | ${fmt(r.single_loan_median_us)} | ${r.explain_median_us === undefined ? '—' : fmt(r.explain_median_us)} |`,
  ),
];
for (const r of results) {
  if (r.explain_rows_us === undefined || r.explain_rows_quadrature_us === undefined) continue;
  lines.push(
    '',
    `TreeSHAP alone, ${r.model}, ${fmt(Math.min(EXPLAIN_ROWS, ROWS))} encoded rows: ${fmt(r.explain_rows_us)} µs/row ` +
      `(quadrature scan, before: ${fmt(r.explain_rows_quadrature_us)} µs/row, ` +
      `${fmt(r.explain_rows_quadrature_us / r.explain_rows_us)}× faster).`,
  );
}
if (native) {
  lines.push(
    '',
    `XGBoost ${native.xgboost_version} C++ predictor, 1 thread, same ${fmt(Number(native.rows))} rows: ` +
      `${fmt(Number(native.batch_us_per_row_inplace))} µs/row (inplace_predict), ` +
      `${fmt(Number(native.batch_us_per_row_dmatrix))} µs/row (DMatrix), single row ${fmt(Number(native.single_row_us_median))} µs median; ` +
      `TypeScript compiled evaluator: ${fmt(Number(native.typescript_us_per_row_same_rows))} µs/row ` +
      `→ ${fmt(Number(native.ratio_native_over_typescript))}× the native speed.`,
    '',
    `TreeSHAP, same first ${fmt(Number(native.contribs_rows))} rows: XGBoost pred_contribs (1 thread) ` +
      `${fmt(Number(native.contribs_us_per_row))} µs/row; TypeScript (${native.explain_method}, ` +
      `${fmt(Number(native.explain_table_bytes) / 1e6)} MB) ${fmt(Number(native.typescript_explain_us_per_row_same_rows))} µs/row ` +
      `→ **${fmt(Number(native.ratio_pred_contribs_over_typescript_explain))}× faster than pred_contribs**; ` +
      `the quadrature scan (before) ${fmt(Number(native.typescript_explain_quadrature_us_per_row_same_rows))} µs/row.`,
  );
}
mkdirSync(OUT, { recursive: true });
writeFileSync(
  join(OUT, 'runtime.json'),
  `${JSON.stringify({ rows: ROWS, node: process.version, results, native }, null, 2)}\n`,
);
writeFileSync(join(OUT, 'runtime.md'), `${lines.join('\n')}\n`);
console.log(`\n${lines.join('\n')}`);

// The CLI on a million loans, one thread against every core (scripts/bench-tape.ts); --no-tape skips it.
if (!args.includes('--no-tape')) {
  const { spawnSync } = await import('node:child_process');
  spawnSync(process.execPath, ['--import', 'tsx', 'scripts/bench-tape.ts'], { stdio: 'inherit' });
}
