/**
 * The backtest mode of the tape CLI (`npm run score -- backtest tape.csv [options]`, issue 23): the same
 * src/pool/backtest.ts as POST /pools/backtest, on this machine, one thread. Prints the summary (the
 * figures, the band table, drift), writes the full report with `--json FILE`, and exits with a status a
 * scheduler can act on:
 *
 *   0  green: the calibration light is green and the score PSI (if the artifact has a baseline) is stable
 *   1  the tape was refused (invalid rows, no outcomes, unreadable)
 *   2  usage or set-up error (bad option, unknown model)
 *   3  amber: the worst of the calibration light and the PSI band is amber (moderate shift)
 *   4  red: the calibration light is red, or the score PSI is a significant shift (≥ 0.25)
 */
import { createReadStream, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { SHIPPED_MODEL_DIR } from '../config.js';
import {
  type BacktestAnswer,
  type BacktestKnobs,
  BacktestTape,
  backtestAnswer,
  backtestSettings,
  feed,
  locate,
  type OnError,
  PerformanceOutcomes,
  TapeError,
  type TapeFormat,
  tapeOptionsOf,
} from '../pool/index.js';
import { ModelRegistry } from '../registry.js';
import { BUILTIN_FAMILIES, type Model } from '../runtime/index.js';
import { ValidationInputError } from '../validation/index.js';

export const BACKTEST_USAGE = `usage: npm run score -- backtest <tape | -> [options]

The tape: CSV with a header (the loan-record fields and default_36m: 1 default within 36 months, 0 none,
empty not known yet) or JSON {"loans": [...]} with a default_36m property (0, 1 or null); or, with
--performance, a Freddie Mac origination file (or a CSV/JSON tape without default_36m) whose outcomes come
from Freddie Mac monthly performance files (the training label rule: 90+ days delinquent or a default-type
zero balance code within 36 months; loans observed less than 36 months are censored, not labelled).

  --model NAME         model to backtest (default: xgboost); --version V for another version
  --model-dir DIR      where the model artifacts are (default: the shipped model-artifacts/)
  --challenger M       a second model on the same loans, NAME or NAME@VERSION (DeLong test of the AUCs)
  --scenario S         scenario of scenario-conditional models (default: historical)
  --by LIST            groups: comma list of vintage, state, fico_band, channel
  --bands LIST         PD band edges from 0 to 1 (default: 0,0.005,0.01,0.02,0.05,0.1,0.2,0.5,1)
  --policy T           test behind the lights: binomial (default), jeffreys, vasicek
  --green P, --red P   green when p >= green (0.05), red when p < red (0.01)
  --overall O          pool (default) or worst (the worst of the pool and every band)
  --rho R              asset correlation of the Vasicek test (default 0.15)
  --alpha A            level of the intervals and of the PSI critical values (default 0.05)
  --psi-bands M,S      PSI bands: moderate from M, significant from S (default 0.1,0.25)
  --epsilon E          share given to a drift bin empty on one side (default 0.0001)
  --drift-by G         the score PSI per group too: first_payment_month or vintage
  --on-error P         fail (default) or skip invalid rows
  --performance FILE   a Freddie Mac monthly performance file (repeat for several); read before the tape
  --format F           auto (default), csv, freddie or json
  --max-rows N         refuse tapes with more rows (default: no limit)
  --json FILE          write the full report (the answer of POST /pools/backtest) to FILE

Exit status: 0 green, 1 tape refused, 2 usage error, 3 amber, 4 red (calibration light or score PSI band).
`;

export const EXIT = { green: 0, refused: 1, usage: 2, amber: 3, red: 4 } as const;

class UsageError extends Error {}

function options(argv: readonly string[]) {
  const { values, positionals } = parseArgs({
    args: [...argv],
    allowPositionals: true,
    options: {
      model: { type: 'string', default: 'xgboost' },
      version: { type: 'string' },
      'model-dir': { type: 'string', default: SHIPPED_MODEL_DIR },
      challenger: { type: 'string' },
      scenario: { type: 'string' },
      by: { type: 'string' },
      bands: { type: 'string' },
      policy: { type: 'string' },
      green: { type: 'string' },
      red: { type: 'string' },
      overall: { type: 'string' },
      rho: { type: 'string' },
      alpha: { type: 'string' },
      'psi-bands': { type: 'string' },
      epsilon: { type: 'string' },
      'drift-by': { type: 'string' },
      'on-error': { type: 'string', default: 'fail' },
      format: { type: 'string', default: 'auto' },
      performance: { type: 'string', multiple: true },
      'max-rows': { type: 'string' },
      json: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) return undefined;
  if (positionals.length !== 1) throw new UsageError('name one tape (or - for standard input)');
  const onError = values['on-error'];
  if (onError !== 'fail' && onError !== 'skip') throw new UsageError(`--on-error must be fail or skip, got ${onError}`);
  const format = values.format;
  const performance = values.performance ?? [];
  if (format !== 'auto' && format !== 'csv' && format !== 'json' && format !== 'freddie') {
    throw new UsageError(`--format must be auto, csv, freddie or json, got ${JSON.stringify(format)}`);
  }
  if (format === 'freddie' && performance.length === 0) {
    throw new UsageError('--format freddie needs --performance: a Freddie Mac origination file has no outcome column');
  }
  const maxRows = values['max-rows'] === undefined ? Number.POSITIVE_INFINITY : Number(values['max-rows']);
  if (!(maxRows >= 1)) throw new UsageError(`--max-rows must be a whole number ≥ 1, got ${values['max-rows']}`);
  let settings: ReturnType<typeof backtestSettings>;
  try {
    settings = backtestSettings(
      { ...values, psi_bands: values['psi-bands'], drift_by: values['drift-by'] } as BacktestKnobs,
      '--',
    );
  } catch (err) {
    if (!(err instanceof ValidationInputError)) throw err;
    throw new UsageError(err.problems.map((p) => `${p.field} ${p.message}`).join('\n'));
  }
  return {
    values,
    tape: positionals[0] as string,
    onError: onError as OnError,
    format: format as 'auto' | TapeFormat,
    performance,
    maxRows,
    settings,
  };
}

const pct = (x: number) => `${(100 * x).toFixed(2)}%`;
const fig = (x: { value: number } | { unavailable: string }, digits = 4) =>
  'value' in x ? x.value.toFixed(digits) : `n/a (${x.unavailable})`;

/** The summary printed on stdout. */
export function backtestSummary(a: BacktestAnswer, source: string): string {
  const lines = [
    `backtest of ${source}: model ${a.model} ${a.version}, scenario ${a.scenario}`,
    `rows ${a.counts.rows}: labelled ${a.counts.labelled}, unlabelled ${a.counts.unlabelled}${a.performance === undefined ? '' : ` (censored ${a.performance.censored}, removed ${a.performance.removed}, without performance ${a.performance.without_performance})`}, refused ${a.counts.refused}`,
    `loans ${a.loans}, defaults ${a.defaults} (${pct(a.defaults / a.loans)})`,
    `AUC ${fig(a.auc)}${'value' in a.auc ? ` [${a.auc.lower.toFixed(4)}, ${a.auc.upper.toFixed(4)}]` : ''}  Gini ${fig(a.gini)}  KS ${fig(a.ks)}  Brier ${a.brier.toFixed(6)}`,
    `calibration: ${a.calibration.light} (${a.calibration.policy.test} test, green p >= ${a.calibration.policy.green}, red p < ${a.calibration.policy.red})`,
    '',
    `${'PD band'.padEnd(16)}${'loans'.padStart(9)}${'defaults'.padStart(10)}${'mean PD'.padStart(10)}${'observed'.padStart(10)}${'p'.padStart(10)}  light`,
  ];
  const p = (r: BacktestAnswer['calibration']['pd_bands']['pool']) =>
    a.calibration.policy.test === 'binomial'
      ? r.binomial_p
      : a.calibration.policy.test === 'jeffreys'
        ? r.jeffreys_p
        : r.vasicek_p;
  for (const r of [...a.calibration.pd_bands.rows, a.calibration.pd_bands.pool]) {
    lines.push(
      `${r.group.padEnd(16)}${String(r.loans).padStart(9)}${String(r.defaults).padStart(10)}${pct(r.mean_pd).padStart(10)}${pct(r.observed_rate).padStart(10)}${p(r).toPrecision(3).padStart(10)}  ${r.light}`,
    );
  }
  lines.push('');
  if (a.challenger !== undefined) {
    const c = a.challenger.comparison;
    lines.push(
      `challenger ${a.challenger.model} ${a.challenger.version}: AUC ${fig(a.challenger.auc)}, difference ${'difference' in c ? `${c.difference.toFixed(4)} (DeLong p ${c.p.toPrecision(3)})` : `n/a (${c.unavailable})`}`,
    );
  }
  if (a.drift === null) lines.push(`drift: n/a (${a.drift_unavailable})`);
  else {
    lines.push(
      `score PSI ${a.drift.score.psi.toFixed(4)} (${a.drift.score.band}; critical ${a.drift.score.critical.toFixed(4)})`,
    );
    for (const [name, s] of Object.entries(a.drift.fields))
      lines.push(`  CSI ${name.padEnd(24)} ${s.psi.toFixed(4)} (${s.band})`);
    for (const g of a.drift.by ?? [])
      lines.push(`  PSI ${g.group.padEnd(24)} ${g.psi.toFixed(4)} (${g.band}; ${g.sample_size} loans)`);
  }
  lines.push(`overall: ${a.light}`);
  return `${lines.join('\n')}\n`;
}

async function run(argv: readonly string[]): Promise<number> {
  const opts = options(argv);
  if (opts === undefined) {
    process.stdout.write(BACKTEST_USAGE);
    return 0;
  }
  const registry = new ModelRegistry({ compileTrees: true, packBatches: true });
  for (const family of BUILTIN_FAMILIES) registry.addFamily(family);
  await registry.loadDirectory(opts.values['model-dir']);
  const find = (name: string, version: string | undefined, option: string): Model => {
    const m = registry.get(name, version);
    if (m === undefined) {
      throw new UsageError(
        `${option}: no model ${name}${version ? `@${version}` : ''}; available: ${registry.names().join(', ')}`,
      );
    }
    return m;
  };
  const model = find(opts.values.model, opts.values.version, '--model');
  const challengerSpec = opts.values.challenger?.split('@');
  const challenger = challengerSpec ? find(challengerSpec[0] ?? '', challengerSpec[1], '--challenger') : undefined;
  const s = opts.settings;
  const performance = opts.performance.length === 0 ? undefined : new PerformanceOutcomes({ maxLoans: opts.maxRows });
  const tape = new BacktestTape({
    ...tapeOptionsOf(s, model, challenger),
    onError: opts.onError,
    maxRows: opts.maxRows,
    format: opts.format,
    ...(performance === undefined ? {} : { performance }),
  });
  const input = opts.tape === '-' ? process.stdin : createReadStream(opts.tape, { highWaterMark: 1024 * 1024 });
  try {
    if (performance !== undefined) await readPerformance(performance, opts.performance);
    await feed(input, (chunk) => tape.push(chunk));
    const answer = backtestAnswer(await tape.end(), model, s.scenarioName, challenger);
    if (opts.values.json !== undefined) writeFileSync(opts.values.json, `${JSON.stringify(answer, null, 2)}\n`);
    process.stdout.write(backtestSummary(answer, opts.tape === '-' ? 'standard input' : opts.tape));
    return EXIT[answer.light];
  } catch (err) {
    if (err instanceof ValidationInputError) {
      process.stderr.write(`${opts.tape}: refused: ${err.message}\n`);
      return EXIT.refused;
    }
    if (!(err instanceof TapeError)) throw err;
    process.stderr.write(`${opts.tape}: refused: ${err.message}\n`);
    const format = tape.format ?? 'csv';
    for (const p of err.details) process.stderr.write(`  ${p.field} ${p.message}\n`);
    for (const r of err.rejected) {
      for (const p of r.problems) process.stderr.write(`  ${locate(format, r.row, p.field)} ${p.message}\n`);
    }
    return EXIT.refused;
  }
}

/** Streams the performance files into `outcomes`, one after the other. */
async function readPerformance(outcomes: PerformanceOutcomes, paths: readonly string[]): Promise<void> {
  for (const path of paths) {
    outcomes.startFile(path);
    await feed(createReadStream(path, { highWaterMark: 1024 * 1024 }), (chunk) => outcomes.push(chunk));
    outcomes.endFile();
  }
}

/** Runs the mode; never throws: answers the exit status. */
export async function backtestCli(argv: readonly string[]): Promise<number> {
  try {
    return await run(argv);
  } catch (err) {
    const usage = err instanceof UsageError;
    process.stderr.write(
      `score backtest: ${(err as Error).message ?? String(err)}\n${usage ? `\n${BACKTEST_USAGE}` : ''}`,
    );
    return EXIT.usage;
  }
}
