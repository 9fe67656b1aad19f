#!/usr/bin/env node
/**
 * Scores a loan tape on this machine, without the server: the same src/pool code as
 * POST /pools/score, streaming, so a tape of any length runs in flat memory.
 *
 *   npm run score -- tape.csv [--model xgboost] [--out scored.csv] [--lgd 0.35]
 *                    [--format auto|csv|freddie|json] [--on-error fail|skip] [--json]
 *                    [--threads N|auto] [--reasons] [--scenario NAME | --scenario @path.json]
 *
 * CSV and Freddie Mac tapes are scored on `--threads` worker threads (default auto: every core for a
 * tape of 16 MiB or more, one thread for a smaller file, src/cli/threads-option.ts), with the same
 * answer and the same --out file as one thread, byte for byte (src/pool/threads.ts).
 * The pool summary goes to stdout (a table, or JSON with --json), per-loan results to --out (CSV),
 * a progress bar to stderr when it is a terminal. Exit status: 0 scored, 1 the tape was refused,
 * 2 a usage or set-up error. `npm run score -- backtest tape.csv …` backtests a tape with outcomes
 * instead (src/cli/backtest.ts).
 */
import { closeSync, createReadStream, fstatSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { modelWarmupMs, SHIPPED_MODEL_DIR } from '../config.js';
import {
  DEFAULT_LGD,
  feed,
  GROUP_RECORDS,
  locate,
  MAX_SCENARIO_BYTES,
  type OnError,
  poolAnswer,
  poolReport,
  REASON_COLUMNS,
  RESULT_HEADER,
  resultHeader,
  TapeError,
  type TapeFormat,
  TapeRun,
  TapeThreads,
} from '../pool/index.js';
import { ModelRegistry } from '../registry.js';
import { BUILTIN_FAMILIES } from '../runtime/index.js';
import { checkScenario, readsScenario, SCENARIO_NAMES, type Scenario } from '../scenario/index.js';
import { DEFAULT_SCENARIO, requestScenario, ServingError } from '../serving/index.js';
import { lifetimeMain } from './lifetime.js';
import { readSmallFile } from './small-file.js';
import { AUTO_THREADS_BYTES, threadsChoice, threadsUsage } from './threads-option.js';

const USAGE = `usage: npm run score -- <tape | -> [options]

  --model NAME        model to score with (default: xgboost)
  --model-dir DIR     where the model artifacts are (default: the shipped model-artifacts/)
  --out FILE          write per-loan results there (CSV: ${RESULT_HEADER.trim()};
                      an identifier starting with = + - @ tab or CR gets a leading ', as OWASP advises)
  --lgd X             loss given default in (0, 1] (default: ${DEFAULT_LGD})
  --format F          auto (default), csv, freddie or json
  --on-error P        fail (default): any invalid row refuses the tape; skip: score the valid rows
  --max-rows N        refuse tapes with more rows (default: no limit)
${threadsUsage(22, AUTO_THREADS_BYTES.score)}                      (JSON tapes: this thread only)
  --reasons           add each loan's reason codes to --out (columns ${REASON_COLUMNS.join(', ')}:
                      the codes of /predict's top reasons, largest first); ~0.2 ms a loan a core
  --scenario S       the house-price scenario for a model that reads scenario features:
                      ${SCENARIO_NAMES.join(', ')} (default: ${DEFAULT_SCENARIO}), or @FILE, a custom path
                      {"name"?, "national": [quarterly log changes], "states"?: {...}} in JSON (docs/API.md,
                      "Scenarios"); a JSON tape may name its own before its loans, not a different one
  --block-bytes N     bytes of records sent to a worker at a time (default: 1048576), cut at the
                      next group of --group-records records
  --group-records N   records per group of the pool's sums, added group by group in input order on
                      any number of threads (default: ${GROUP_RECORDS}; small only to test)
  --json              print the pool summary as JSON instead of a table
  --no-progress       no progress bar, even on a terminal
  --lifetime          lifetime loss per scenario instead (its options: --lifetime --help)

Environment: MODEL_WARMUP_MS (default 5000; 0: none) bounds the warm-up of each worker's model copy.
`;

class UsageError extends Error {}

function options() {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      model: { type: 'string', default: 'xgboost' },
      'model-dir': { type: 'string', default: SHIPPED_MODEL_DIR },
      out: { type: 'string' },
      lgd: { type: 'string', default: String(DEFAULT_LGD) },
      format: { type: 'string', default: 'auto' },
      'on-error': { type: 'string', default: 'fail' },
      'max-rows': { type: 'string' },
      threads: { type: 'string', default: 'auto' },
      reasons: { type: 'boolean', default: false },
      scenario: { type: 'string' },
      'block-bytes': { type: 'string', default: String(1024 * 1024) },
      'group-records': { type: 'string', default: String(GROUP_RECORDS) },
      json: { type: 'boolean', default: false },
      'no-progress': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(USAGE);
    process.exit(0);
  }
  if (positionals.length !== 1) throw new UsageError('name one tape (or - for standard input)');
  const lgd = Number(values.lgd);
  if (!/^\s*[\d.eE+-]+\s*$/.test(values.lgd) || !(lgd > 0 && lgd <= 1)) {
    throw new UsageError(`--lgd must be a number in (0, 1], got ${JSON.stringify(values.lgd)}`);
  }
  const format = values.format;
  if (!['auto', 'csv', 'freddie', 'json'].includes(format)) {
    throw new UsageError(`--format must be auto, csv, freddie or json, got ${JSON.stringify(format)}`);
  }
  const onError = values['on-error'];
  if (onError !== 'fail' && onError !== 'skip') {
    throw new UsageError(`--on-error must be fail or skip, got ${JSON.stringify(onError)}`);
  }
  const maxRowsText = values['max-rows'];
  const maxRows = maxRowsText === undefined ? Number.POSITIVE_INFINITY : Number(maxRowsText);
  if (!(Number.isInteger(maxRows) || maxRows === Number.POSITIVE_INFINITY) || maxRows < 1) {
    throw new UsageError(`--max-rows must be a whole number, got ${JSON.stringify(maxRowsText)}`);
  }
  const threads = threadsChoice(values.threads, positionals[0] as string, AUTO_THREADS_BYTES.score);
  if ('problem' in threads) throw new UsageError(threads.problem);
  const blockBytes = wholeNumber('--block-bytes', values['block-bytes']);
  const groupRecords = wholeNumber('--group-records', values['group-records']);
  if (values.reasons && values.out === undefined) {
    throw new UsageError('--reasons adds reason codes to the per-loan results: name the file with --out');
  }
  return {
    tape: positionals[0] as string,
    model: values.model,
    modelDir: values['model-dir'],
    out: values.out,
    lgd,
    format: format as TapeFormat | 'auto',
    onError: onError as OnError,
    maxRows,
    json: values.json,
    threads: threads.threads,
    blockBytes,
    groupRecords,
    reasons: values.reasons,
    scenario: scenarioOption(values.scenario),
    progress: !values['no-progress'] && process.stderr.isTTY === true,
  };
}

/**
 * --scenario: a name, or @FILE holding a custom path in JSON (at most MAX_SCENARIO_BYTES), checked here:
 * the problems are named `--scenario…`. Answers what the option gave (undefined: nothing) and its scenario.
 */
function scenarioOption(text: string | undefined): { spec: unknown; scenario: Scenario } {
  let spec: unknown = text;
  if (text?.startsWith('@')) {
    const path = text.slice(1);
    let bytes: Buffer;
    try {
      bytes = readSmallFile(path, MAX_SCENARIO_BYTES);
    } catch (err) {
      throw new UsageError(
        `--scenario ${text}: ${(err as Error).message} (a custom path file is at most ${MAX_SCENARIO_BYTES} bytes)`,
      );
    }
    try {
      spec = JSON.parse(bytes.toString('utf8'));
    } catch (err) {
      throw new UsageError(`--scenario ${text}: not JSON (${(err as Error).message})`);
    }
  }
  const check = checkScenario(spec ?? DEFAULT_SCENARIO, '--scenario');
  if (check.scenario === undefined) {
    const listed = check.problems.map((p) => `${p.field} ${p.message}`).join('; ');
    throw new UsageError(`${listed}${check.omitted > 0 ? ` (and ${check.omitted} more)` : ''}`);
  }
  return { spec, scenario: check.scenario };
}

/** A JSON tape's own scenario, under the route's rule (not another than --scenario); refused as the tape's layout. */
function tapeScenario(spec: unknown, fromOption: unknown): Scenario {
  try {
    return requestScenario(spec, fromOption, { body: 'the tape', query: '--scenario' });
  } catch (err) {
    if (!(err instanceof ServingError)) throw err;
    const details = err.details ?? [];
    throw new TapeError('layout', err.message || 'the tape names an invalid scenario', {
      details,
      omitted: err.omitted,
    });
  }
}

function wholeNumber(option: string, text: string): number {
  const n = Number(text);
  if (!/^\s*\d+\s*$/.test(text) || !(n >= 1 && Number.isSafeInteger(n))) {
    throw new UsageError(`${option} must be a whole number ≥ 1, got ${JSON.stringify(text)}`);
  }
  return n;
}

/** A one-line progress bar on stderr, redrawn at most five times a second. */
function progressBar(total: number | undefined) {
  const started = performance.now();
  let last = 0;
  const draw = (bytes: number, rows: number, force = false) => {
    const now = performance.now();
    if (!force && now - last < 200) return;
    last = now;
    const rate = Math.round(rows / Math.max((now - started) / 1000, 1e-3)).toLocaleString('en-US');
    const done = `${rows.toLocaleString('en-US')} rows, ${rate} rows/s`;
    if (total === undefined || total === 0) {
      process.stderr.write(`\r${done}\u001b[K`);
      return;
    }
    const share = Math.min(1, bytes / total);
    const width = 30;
    const filled = Math.round(share * width);
    process.stderr.write(
      `\r[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${(share * 100).toFixed(0).padStart(3)}%  ${done}\u001b[K`,
    );
  };
  return { draw, clear: () => process.stderr.write('\r\u001b[K') };
}

async function main(): Promise<number> {
  const opts = options();
  // The workers start first: their start (a thread, the modules) overlaps this thread's loading the models.
  const threads =
    opts.threads > 1
      ? new TapeThreads({ size: opts.threads, compileTrees: true, warmupMs: modelWarmupMs() })
      : undefined;
  try {
    // One tape per process: packed batches need no code generation and no warm-up (runtime/evaluator.ts).
    const registry = new ModelRegistry({ compileTrees: true, packBatches: true });
    for (const family of BUILTIN_FAMILIES) registry.addFamily(family);
    // Only the model asked for (and its default version): the others would cost the start ~0.1 s.
    await registry.loadDirectory(opts.modelDir, opts.model);
    const model = registry.get(opts.model);
    if (model === undefined) {
      throw new UsageError(`no model named ${JSON.stringify(opts.model)}; available: ${registry.names().join(', ')}`);
    }
    if (opts.reasons && !model.explainable) {
      throw new UsageError(`--reasons: model ${model.name} cannot explain (${model.explainUnavailable})`);
    }
    if (opts.scenario.spec !== undefined && !readsScenario(model.fields)) {
      process.stderr.write(`score: --scenario: model ${model.name} reads no scenario features; it is ignored\n`);
    }
    return await scoreTape(opts, model, threads);
  } finally {
    await threads?.close();
  }
}

async function scoreTape(
  opts: ReturnType<typeof options>,
  model: NonNullable<ReturnType<ModelRegistry['get']>>,
  threads: TapeThreads | undefined,
): Promise<number> {
  const artifact = threads === undefined ? undefined : await threads.artifact(model);
  if (artifact !== undefined && 'why' in artifact) {
    process.stderr.write(`score: one thread: ${artifact.why}\n`);
  }

  const input = opts.tape === '-' ? process.stdin : createReadStream(opts.tape, { highWaterMark: 1024 * 1024 });
  const size = opts.tape === '-' ? undefined : fstatSafe(opts.tape);
  // Results go to a temporary file renamed at the end: a refused tape leaves no half-written output.
  const temporary = opts.out === undefined ? undefined : `${opts.out}.partial-${process.pid}`;
  const fd = temporary === undefined ? undefined : openSync(temporary, 'w');
  if (fd !== undefined) writeSync(fd, resultHeader(opts.reasons));

  const tape = new TapeRun({
    model,
    lgd: opts.lgd,
    onError: opts.onError,
    maxRows: opts.maxRows,
    format: opts.format,
    reasons: opts.reasons,
    scenario: opts.scenario.scenario,
    bodyScenario: (spec) => tapeScenario(spec, opts.scenario.spec),
    blockBytes: opts.blockBytes,
    groupRecords: opts.groupRecords,
    ...(fd === undefined ? {} : { onLines: (lines: string | Uint8Array) => writeLines(fd, lines) }),
    ...(threads !== undefined && artifact !== undefined && 'bytes' in artifact
      ? { threads: { pool: threads, artifact: artifact.bytes } }
      : {}),
  });
  const bar = opts.progress ? progressBar(size) : undefined;
  try {
    await feed(input, (chunk) => {
      const wait = tape.push(chunk);
      bar?.draw(tape.bytes, tape.rows);
      return wait;
    });
    const result = await tape.end();
    bar?.draw(tape.bytes, tape.rows, true);
    bar?.clear();
    if (fd !== undefined && temporary !== undefined && opts.out !== undefined) {
      closeSync(fd);
      renameSync(temporary, opts.out);
    }
    const answer = poolAnswer(model, opts.lgd, result);
    const source = opts.tape === '-' ? 'standard input' : opts.tape;
    process.stdout.write(opts.json ? `${JSON.stringify(answer, null, 2)}\n` : poolReport(answer, source));
    return 0;
  } catch (err) {
    bar?.clear();
    if (fd !== undefined && temporary !== undefined) {
      closeSync(fd);
      rmSync(temporary, { force: true });
    }
    if (!(err instanceof TapeError)) throw err;
    process.stderr.write(`${opts.tape}: refused: ${err.message}\n`);
    const format = tape.format ?? 'csv';
    for (const p of err.details) process.stderr.write(`  ${p.field} ${p.message}\n`);
    for (const r of err.rejected) {
      for (const p of r.problems) process.stderr.write(`  ${locate(format, r.row, p.field)} ${p.message}\n`);
    }
    if (err.rejectedCount > err.rejected.length) {
      process.stderr.write(`  ... and ${err.rejectedCount - err.rejected.length} more invalid rows\n`);
    }
    if (err.kind === 'invalid_rows') process.stderr.write('  (--on-error skip scores the valid rows)\n');
    return 1;
  }
}

function writeLines(fd: number, lines: string | Uint8Array): void {
  if (typeof lines === 'string') writeSync(fd, lines);
  else writeSync(fd, lines);
}

function fstatSafe(path: string): number | undefined {
  try {
    const fd = openSync(path, 'r');
    try {
      return fstatSync(fd).size;
    } finally {
      closeSync(fd);
    }
  } catch {
    return undefined;
  }
}

// `score backtest …`: the backtest mode (src/cli/backtest.ts), its own options and exit statuses;
// --lifetime: the lifetime-loss mode (src/cli/lifetime.ts), with its own options.
const args = process.argv.slice(2);
const mode =
  args[0] === 'backtest'
    ? import('./backtest.js').then((m) => m.backtestCli(args.slice(1)))
    : args.includes('--lifetime')
      ? lifetimeMain(args)
      : main();
mode.then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    if (err instanceof UsageError) {
      process.stderr.write(`score: ${err.message}\n\n${USAGE}`);
    } else {
      process.stderr.write(`score: ${(err as Error).message ?? String(err)}\n`);
    }
    process.exitCode = 2;
  },
);
