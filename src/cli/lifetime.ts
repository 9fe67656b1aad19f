/**
 * The tape CLI's lifetime mode (`npm run score -- tape.csv --lifetime …`; issue 22, docs/LOSS.md): the same
 * src/pool/lifetime.ts as POST /pools/lifetime, CSV and Freddie Mac tapes on --threads worker threads (the
 * answer of one thread, byte for byte, --loans included: each run's rows come back from its worker and are
 * written in tape order). Prints the lifetime figures per scenario (a table, or the route's JSON with --json), writes the
 * vectors CSV to --vectors and each loan's figures to --loans. Exit status: 0 projected,
 * 1 the tape was refused, 2 a usage or set-up error.
 */

import { once } from 'node:events';
import { createReadStream, createWriteStream, renameSync, rmSync, writeFileSync } from 'node:fs';
import { finished } from 'node:stream/promises';
import { parseArgs } from 'node:util';
import { modelWarmupMs, SHIPPED_MODEL_DIR } from '../config.js';
import {
  DEFAULT_RECOVERY_LAG,
  type LossOptions,
  MAX_PSA_MULTIPLE,
  MAX_RECOVERY_LAG,
  MAX_SDA_MULTIPLE,
} from '../loss/index.js';
import {
  feed,
  locate,
  MAX_SCENARIO_BYTES,
  type OnError,
  TapeError,
  type TapeFormat,
  TapeThreads,
} from '../pool/index.js';
import {
  LIFETIME_DEFAULTS,
  type LifetimeResult,
  LifetimeTape,
  lifetimeAnswer,
  lifetimeChoice,
  MAX_LIFETIME_SCENARIOS,
  resolvedHazard,
  scenarioVectorsCsv,
  tapeScenarioList,
} from '../pool/lifetime.js';
import { LoanCsv } from '../pool/lifetime-loans.js';
import { ModelRegistry } from '../registry.js';
import { BUILTIN_FAMILIES, type Model } from '../runtime/index.js';
import { SCENARIO_NAMES, type Scenario } from '../scenario/index.js';
import { readSmallFile } from './small-file.js';
import { AUTO_THREADS_BYTES, threadsChoice, threadsUsage } from './threads-option.js';

export const LIFETIME_USAGE = `usage: npm run score -- <tape | -> --lifetime [options]

Projects every loan month by month to maturity (docs/LOSS.md) and prints, per scenario, the 12-month,
36-month and lifetime expected loss (undiscounted and discounted at the note rate), lifetime PD and WAL.
A seasoned loan is projected from its age: give the optional columns (CSV) or properties (JSON) loan_age
(months since the first full month of interest) and current_upb (its balance now), both or neither.

  --model NAME          model whose PDs drive the projection (default: xgboost)
  --model-dir DIR       where the model artifacts are (default: the shipped model-artifacts/)
  --scenario A,B        scenarios side by side (${SCENARIO_NAMES.join(', ')}; default ${LIFETIME_DEFAULTS.scenario}),
                        or @FILE: JSON, one custom path {"name"?, "national", "states"?, "rates"?} or a list of up
                        to ${MAX_LIFETIME_SCENARIOS} names and custom paths (docs/API.md "Custom scenarios"); a JSON
                        tape may name its own before its loans, not different ones
  --psa X               PSA multiple, 0 to ${MAX_PSA_MULTIPLE} (1 = 100 % PSA, the default; 0 = no prepayment)
  --cpr X[,Y,...]       annual CPR in [0, 1], or a vector by projection month (the last holds); not with --psa
  --prepayment P        scenario: the simulated history's prepayment (turnover, equity, rate incentive) on the
                        scenario's house prices and market rate; none: no prepayment. Not with --psa or --cpr
  --timing T            timing curve of the default hazard calibrated to the model's PD: seasoning (default),
                        sda or flat
  --hazard H            house_prices: the timing curve × the mark-to-market CLTV multiplier on the scenario's
                        house prices (default when the model reads the scenario); timing_only: the curve alone
                        (default otherwise). Not with --cdr or --sda
  --cdr X[,Y,...]       prescribe the default rate instead: annual CDR in [0, 1], or a vector by projection
                        month (the last holds); not with --sda or --timing
  --sda X               prescribe the default rate instead: SDA multiple, 0 to ${MAX_SDA_MULTIPLE} (2 = 200 % SDA = 2 × the
                        SDA CDR by loan age); not with --cdr or --timing
  --recovery-lag N      months from default to the realised loss, 0 to ${MAX_RECOVERY_LAG} (default ${DEFAULT_RECOVERY_LAG})
  --as-of YYYYMM        month the stratification counts loan age to
  --vectors FILE        write the pool's monthly vectors there (CSV; a scenario column first when several)
${threadsUsage(24, AUTO_THREADS_BYTES.lifetime)}  --loans FILE          write each loan's figures there (CSV, one row per loan per scenario; written in tape
                        order as the tape is read, on the --threads workers too)
  --format F            auto (default), csv, freddie or json
  --on-error P          fail (default): any invalid row refuses the tape; skip: project the valid rows
  --json                print the answer of POST /pools/lifetime (vectors and stratification included)
`;

class UsageError extends Error {}

/** --scenario as lifetimeChoice reads it: the text itself, or the JSON of @FILE (at most MAX_SCENARIO_BYTES). */
function scenarioText(text: string | undefined): string | undefined {
  if (!text?.startsWith('@')) return text;
  let bytes: Buffer;
  try {
    bytes = readSmallFile(text.slice(1), MAX_SCENARIO_BYTES);
  } catch (err) {
    throw new UsageError(
      `--scenario ${text}: ${(err as Error).message} (a scenario file is at most ${MAX_SCENARIO_BYTES} bytes)`,
    );
  }
  const json = bytes.toString('utf8');
  const start = json.trimStart()[0];
  if (start !== '{' && start !== '[') {
    throw new UsageError(`--scenario ${text}: must hold JSON, a custom path {...} or a list [...]`);
  }
  return json;
}

/**
 * A JSON tape's own scenarios (`{"scenario": ..., "loans": [...]}`, as POST /pools/lifetime reads them): not
 * besides a different --scenario; refused as the tape's layout, naming the place, unless valid.
 */
function tapeScenarios(
  spec: unknown,
  fromOption: { readonly text: string; readonly scenarios: readonly Scenario[] } | undefined,
): readonly Scenario[] {
  const own = tapeScenarioList(spec, fromOption, '--scenario');
  if ('conflict' in own) throw new TapeError('layout', own.conflict);
  if (own.problems.length > 0) {
    throw new TapeError('layout', 'the tape names an invalid scenario', { details: own.problems });
  }
  return own.scenarios;
}

/** The option names of the spec fields, for refusals. */
const FLAG: Readonly<Record<string, string>> = {
  scenario: '--scenario',
  psa: '--psa',
  cpr: '--cpr',
  prepayment: '--prepayment',
  timing: '--timing',
  hazard: '--hazard',
  cdr: '--cdr',
  sda: '--sda',
  recovery_lag: '--recovery-lag',
  as_of: '--as-of',
};

function options(argv: readonly string[]) {
  const { values, positionals } = parseArgs({
    args: [...argv],
    allowPositionals: true,
    options: {
      lifetime: { type: 'boolean', default: false },
      model: { type: 'string', default: 'xgboost' },
      'model-dir': { type: 'string', default: SHIPPED_MODEL_DIR },
      scenario: { type: 'string' },
      psa: { type: 'string' },
      cpr: { type: 'string' },
      prepayment: { type: 'string' },
      timing: { type: 'string' },
      hazard: { type: 'string' },
      cdr: { type: 'string' },
      sda: { type: 'string' },
      'recovery-lag': { type: 'string' },
      'as-of': { type: 'string' },
      vectors: { type: 'string' },
      loans: { type: 'string' },
      format: { type: 'string', default: 'auto' },
      threads: { type: 'string', default: 'auto' },
      'on-error': { type: 'string', default: 'fail' },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) return undefined;
  if (positionals.length !== 1) throw new UsageError('name one tape (or - for standard input)');
  const scenario = scenarioText(values.scenario);
  const { choice, problems } = lifetimeChoice({
    scenario,
    psa: values.psa,
    cpr: values.cpr,
    prepayment: values.prepayment,
    timing: values.timing,
    hazard: values.hazard,
    cdr: values.cdr,
    sda: values.sda,
    recovery_lag: values['recovery-lag'],
    as_of: values['as-of'],
  });
  if (choice === undefined) {
    throw new UsageError(
      problems
        .map((p) => {
          const [, name = '', rest = ''] = /^([a-z_]*)(.*)$/s.exec(p.field) ?? [];
          return `${FLAG[name] ?? name}${rest} ${p.message}`;
        })
        .join('; '),
    );
  }
  const format = values.format;
  if (!['auto', 'csv', 'freddie', 'json'].includes(format)) {
    throw new UsageError(`--format must be auto, csv, freddie or json, got ${JSON.stringify(format)}`);
  }
  const onError = values['on-error'];
  if (onError !== 'fail' && onError !== 'skip') {
    throw new UsageError(`--on-error must be fail or skip, got ${JSON.stringify(onError)}`);
  }
  const threads = threadsChoice(values.threads, positionals[0] as string, AUTO_THREADS_BYTES.lifetime);
  if ('problem' in threads) throw new UsageError(threads.problem);
  return {
    tape: positionals[0] as string,
    threads: threads.threads,
    model: values.model,
    modelDir: values['model-dir'],
    choice,
    /** --scenario's text (a file's, for @FILE): a JSON tape may name the same scenarios, not others. */
    scenarioOption: scenario,
    vectors: values.vectors,
    loans: values.loans,
    format: format as TapeFormat | 'auto',
    onError: onError as OnError,
    json: values.json,
  };
}

const usd = (x: number) => x.toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 });
const pct = (x: number) => `${(x * 100).toFixed(4)} %`;

/** The lifetime figures per scenario, as a table (one column a scenario). */
/** Which default assumption the projection used, in words. */
function assumption(loss: LossOptions, reads: boolean): string {
  const d = loss.defaults ?? { kind: 'model' };
  if (d.kind === 'sda') return `defaults: prescribed, ${d.multiple * 100} % SDA (not the model's PD)`;
  if (d.kind === 'cdr') {
    const v = typeof d.cdr === 'number' ? [d.cdr] : d.cdr;
    const shown = v.length > 6 ? `${v.slice(0, 6).join(', ')}, … (${v.length} months)` : v.join(', ');
    return `defaults: prescribed, CDR ${shown} (not the model's PD)`;
  }
  return `defaults: the model's PD, ${loss.timing} timing, hazard ${resolvedHazard(loss, reads)}`;
}

function report(result: LifetimeResult, model: string, source: string, loss: LossOptions): string {
  const cols = result.scenarios;
  const rows: [string, (s: (typeof cols)[number]) => string][] = [
    ['expected loss 12m', (s) => usd(s.expected_loss_12m)],
    ['expected loss 36m', (s) => usd(s.expected_loss_36m)],
    ['expected loss lifetime', (s) => usd(s.expected_loss_lifetime)],
    ['  discounted 12m', (s) => usd(s.expected_loss_12m_discounted)],
    ['  discounted 36m', (s) => usd(s.expected_loss_36m_discounted)],
    ['  discounted lifetime', (s) => usd(s.expected_loss_lifetime_discounted)],
    ['lifetime loss / balance', (s) => pct(s.initial_balance > 0 ? s.expected_loss_lifetime / s.initial_balance : 0)],
    ['PD 36m (with prepayment)', (s) => pct(s.pd_36m)],
    ['lifetime PD', (s) => pct(s.lifetime_pd)],
    ['WAL (years)', (s) => s.wal_years.toFixed(3)],
    ['loans not placed', (s) => String(s.unplaced.count)],
  ];
  const width = Math.max(
    ...cols.map((s) => s.scenario.length),
    ...rows.flatMap(([, f]) => cols.map((s) => f(s).length)),
  );
  const label = Math.max(...rows.map(([name]) => name.length));
  const line = (name: string, cells: string[]) =>
    `${name.padEnd(label)}  ${cells.map((c) => c.padStart(width)).join('  ')}\n`;
  let out = `${source}: model ${model}, ${result.loanCount} loans projected (${result.rows} rows, ${result.rejectedCount} rejected)\n${assumption(loss, result.modelReadsScenario)}\n\n`;
  out += line(
    '',
    cols.map((s) => s.scenario),
  );
  for (const [name, f] of rows) out += line(name, cols.map(f));
  return out;
}

export async function lifetimeMain(argv: readonly string[]): Promise<number> {
  let opts: ReturnType<typeof options>;
  try {
    opts = options(argv);
  } catch (err) {
    if (!(err instanceof UsageError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS'))) throw err;
    process.stderr.write(`score --lifetime: ${(err as Error).message}\n\n${LIFETIME_USAGE}`);
    return 2;
  }
  if (opts === undefined) {
    process.stdout.write(LIFETIME_USAGE);
    return 0;
  }
  const registry = new ModelRegistry({ compileTrees: true, packBatches: true });
  for (const family of BUILTIN_FAMILIES) registry.addFamily(family);
  await registry.loadDirectory(opts.modelDir, opts.model); // only the model asked for, as the scoring CLI
  const model = registry.get(opts.model);
  if (model === undefined) {
    process.stderr.write(
      `score --lifetime: no model named ${JSON.stringify(opts.model)}; available: ${registry.names().join(', ')}\n`,
    );
    return 2;
  }
  const threads =
    opts.threads > 1 && opts.format !== 'json'
      ? new TapeThreads({ size: opts.threads, compileTrees: true, warmupMs: modelWarmupMs() })
      : undefined;
  try {
    return await project(opts, model, threads);
  } finally {
    await threads?.close();
  }
}

async function project(
  opts: NonNullable<ReturnType<typeof options>>,
  model: Model,
  threads: TapeThreads | undefined,
): Promise<number> {
  const artifact = threads === undefined ? undefined : await threads.artifact(model);
  if (artifact !== undefined && 'why' in artifact)
    process.stderr.write(`score --lifetime: one thread: ${artifact.why}\n`);
  // --loans: streamed to a temporary file as the tape is read, renamed at the end (removed if refused).
  const loansTemporary = opts.loans === undefined ? undefined : `${opts.loans}.partial-${process.pid}`;
  const loansOut = loansTemporary === undefined ? undefined : createWriteStream(loansTemporary);
  loansOut?.on('error', () => {}); // reported below, from loansOut.errored
  const tape = new LifetimeTape({
    model,
    ...opts.choice,
    onError: opts.onError,
    maxRows: Number.POSITIVE_INFINITY,
    format: opts.format,
    ...(threads !== undefined && artifact !== undefined && 'bytes' in artifact
      ? { threads: { pool: threads, artifact: artifact.bytes } }
      : {}),
    ...(loansOut === undefined
      ? {}
      : {
          loans: new LoanCsv(
            opts.choice.scenarios.map((s) => s.name),
            (text) => loansOut.write(text),
          ),
        }),
    bodyScenarios: (spec) =>
      tapeScenarios(
        spec,
        opts.scenarioOption === undefined ? undefined : { text: opts.scenarioOption, scenarios: opts.choice.scenarios },
      ),
  });
  const input = opts.tape === '-' ? process.stdin : createReadStream(opts.tape, { highWaterMark: 1024 * 1024 });
  let result: LifetimeResult;
  try {
    await feed(input, (chunk) => {
      if (loansOut?.errored) throw loansOut.errored;
      const pushed = tape.push(chunk);
      // Runs fold (and write their rows) while the reader waits for room: look at the file once they have.
      const drained = () => (loansOut?.writableNeedDrain ? once(loansOut, 'drain').then(() => {}) : undefined);
      return pushed === undefined ? drained() : pushed.then(drained);
    });
    result = await tape.end();
    if (loansOut !== undefined) {
      loansOut.end();
      await finished(loansOut);
      renameSync(loansTemporary as string, opts.loans as string);
    }
  } catch (err) {
    if (loansOut !== undefined) {
      loansOut.destroy();
      rmSync(loansTemporary as string, { force: true });
      if (loansOut.errored) {
        process.stderr.write(`score --lifetime: cannot write --loans ${opts.loans}: ${loansOut.errored.message}\n`);
        return 2;
      }
    }
    if (!(err instanceof TapeError)) throw err;
    process.stderr.write(`${opts.tape}: refused: ${err.message}\n`);
    const format = tape.format ?? 'csv';
    for (const p of err.details) process.stderr.write(`  ${p.field} ${p.message}\n`);
    for (const r of err.rejected) {
      for (const p of r.problems) process.stderr.write(`  ${locate(format, r.row, p.field)} ${p.message}\n`);
    }
    if (err.kind === 'invalid_rows') process.stderr.write('  (--on-error skip projects the valid rows)\n');
    return 1;
  }
  if (opts.vectors !== undefined) {
    // Written whole then renamed: a failed run leaves no half-written file.
    const temporary = `${opts.vectors}.partial-${process.pid}`;
    writeFileSync(temporary, scenarioVectorsCsv(result.scenarios));
    renameSync(temporary, opts.vectors);
  }
  const source = opts.tape === '-' ? 'standard input' : opts.tape;
  process.stdout.write(
    opts.json
      ? `${JSON.stringify(lifetimeAnswer(model, opts.choice, result), null, 2)}\n`
      : report(result, `${model.name} ${model.version}`, source, opts.choice.loss),
  );
  return 0;
}
