import { createHash } from 'node:crypto';
import { parentPort, workerData } from 'node:worker_threads';
import type { Reason } from '../loan/reasons.js';
import { loanRecordRange } from '../registry.js';
import { BUILTIN_FAMILIES, loadModelDocument, type Model } from '../runtime/index.js';
import { BATCH_WARM_PLAN, warmModelNow } from '../runtime/warm.js';
import { partialArrays } from './aggregate.js';
import { BacktestCore, OUTCOME_EXTRAS } from './backtest.js';
import { DelimitedReader } from './delimited.js';
import { TapeError } from './errors.js';
import { LifetimeCore } from './lifetime.js';
import { RunLines } from './lifetime-loans.js';
import { resultLines } from './output.js';
import { PoolScorer, type ScoredBatch } from './scorer.js';
import { SEASONED_EXTRAS } from './seasoned.js';

import type {
  BacktestReply,
  BacktestTask,
  BlockReply,
  BlockTask,
  LifetimeReply,
  LifetimeTask,
  ModelRef,
  WorkerSetup,
} from './threads.js';

/**
 * A tape worker thread (src/pool/threads.ts): reads, validates and scores runs of whole records of a
 * CSV or Freddie Mac tape with the same reader, validator and model code as one thread does, and
 * answers compact columns that the main thread folds in input order.
 */

const setup = workerData as WorkerSetup;
/** Models by sha256, the oldest dropped first: threads.ts keeps the same list for each worker. */
const models = new Map<string, Model>();
/** The scorer's records, made as rows come (scorer.ts slotAt) and reused from run to run (scored `SLOT_ROWS` at a time). */
const SLOT_ROWS = 8192;
const slots: Record<string, unknown>[] = [];

function modelFor(task: BlockTask | LifetimeTask | BacktestTask, ref: ModelRef = task.model): Model {
  const { sha256, source, bytes } = ref;
  const cached = models.get(sha256);
  if (cached !== undefined) return cached;
  if (bytes === undefined) throw new Error(`model ${sha256} was never sent to this tape worker`);
  const digest = createHash('sha256').update(bytes).digest('hex');
  if (digest !== sha256) throw new Error(`the artifact sent for model ${sha256} hashes to ${digest}`);
  const document = JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8'));
  const model = loadModelDocument(document, source, {
    families: BUILTIN_FAMILIES,
    compileTrees: setup.compileTrees,
    // Each worker loads its own copy: packed batches cost it no code generation and no warm-up.
    packBatches: true,
    fieldRange: loanRecordRange,
    sha256,
  });
  if (setup.warmupMs > 0) warmModelNow(model, { ...BATCH_WARM_PLAN, budgetMs: setup.warmupMs });
  models.set(sha256, model);
  if (models.size > setup.cachedModels) models.delete(models.keys().next().value as string);
  return model;
}

/** Growable columns of the loans scored in a block (only when the run's per-loan results are asked for). */
class Columns {
  count = 0;
  row = new Float64Array(1024);
  pd = new Float64Array(1024);
  margin = new Float64Array(1024);
  upb = new Float64Array(1024);
  readonly ids: (string | undefined)[] = [];
  readonly reasons: (readonly Reason[])[] = [];
  lines: string[] = [];

  add(batch: ScoredBatch, task: BlockTask): void {
    if (task.lines) this.lines.push(resultLines(batch));
    if (!task.columns) return;
    const { count, rows, loans, probability, margin } = batch;
    this.reserve(this.count + count);
    for (let i = 0; i < count; i++) {
      const loan = loans[i] as Record<string, unknown>;
      const k = this.count++;
      this.row[k] = rows[i] as number;
      this.pd[k] = probability[i] as number;
      this.margin[k] = margin[i] as number;
      this.upb[k] = loan.original_upb as number;
      const id = loan.loan_sequence_number;
      this.ids.push(typeof id === 'string' ? id : undefined);
      if (batch.reasons !== undefined) this.reasons.push(batch.reasons[i] as readonly Reason[]);
    }
  }

  private reserve(n: number): void {
    if (n <= this.row.length) return;
    let capacity = this.row.length;
    while (capacity < n) capacity *= 2;
    const grow = (a: Float64Array<ArrayBuffer>): Float64Array<ArrayBuffer> => {
      const b = new Float64Array(capacity);
      b.set(a);
      return b;
    };
    this.row = grow(this.row);
    this.pd = grow(this.pd);
    this.margin = grow(this.margin);
    this.upb = grow(this.upb);
  }
}

/** A scorer and its reader per model, format, header and options, made once: they stay optimised. */
interface Reading {
  readonly scorer: PoolScorer;
  readonly reader: DelimitedReader;
}
const readings = new Map<string, Reading>();
/** Where the scorers put their scored chunks: the run being scored. */
let current: { columns: Columns; task: BlockTask } | undefined;

function readingFor(task: BlockTask, model: Model): Reading {
  const key = JSON.stringify([
    model.sha256,
    task.format,
    task.header,
    task.lgd,
    task.maxListed,
    task.reasons,
    task.groupRecords,
  ]);
  let reading = readings.get(key);
  if (reading === undefined) {
    const scorer = new PoolScorer({
      model,
      lgd: task.lgd,
      onError: 'skip',
      maxRows: Number.POSITIVE_INFINITY,
      maxListed: task.maxListed,
      chunkRows: SLOT_ROWS,
      slots,
      // Each group's sums, answered with the run (the main thread adds them in input order).
      parts: true,
      groupRecords: task.groupRecords,
      reasons: task.reasons,
      onScored: (batch) => current?.columns.add(batch, current.task),
    });
    reading = { scorer, reader: new DelimitedReader(task.format, scorer) };
    readings.set(key, reading);
    if (readings.size > 8) readings.delete(readings.keys().next().value as string);
  }
  return reading;
}

function score(task: BlockTask): BlockReply {
  if (setup.crashMarker !== undefined && Buffer.from(task.bytes).includes(setup.crashMarker)) process.exit(3);
  const model = modelFor(task);
  const columns = new Columns();
  const { scorer, reader } = readingFor(task, model);
  current = { columns, task };
  scorer.useScenario(task.scenario);
  scorer.restart();
  reader.resume(task.header, task.line);
  reader.push(Buffer.from(task.bytes.buffer, task.bytes.byteOffset, task.bytes.byteLength));
  reader.end();
  const outcome = scorer.finish();
  const parts = scorer.takeParts();
  current = undefined;
  const n = columns.count;
  const cut = (a: Float64Array) => a.slice(0, n);
  const lines = task.lines ? Buffer.from(columns.lines.join('')) : undefined;
  return {
    ok: true,
    block: {
      rows: outcome.rows,
      rejectedCount: outcome.rejectedCount,
      rejected: outcome.rejected,
      count: n,
      row: cut(columns.row),
      pd: cut(columns.pd),
      margin: cut(columns.margin),
      upb: cut(columns.upb),
      parts,
      ids: columns.ids,
      ...(task.reasons && task.columns ? { reasons: columns.reasons } : {}),
      ...(lines === undefined ? {} : { lines: new Uint8Array(lines.buffer, lines.byteOffset, lines.byteLength) }),
    },
  };
}

/**
 * Lifetime cores (and their per-loan CSV sinks, when asked) by model and options, the oldest dropped first:
 * kept from run to run (LifetimeCore.restart).
 */
const cores = new Map<string, { core: LifetimeCore; lines: RunLines | undefined }>();

function coreFor(task: LifetimeTask): { core: LifetimeCore; lines: RunLines | undefined } {
  const model = modelFor(task);
  const key = JSON.stringify([
    model.sha256,
    task.scenarios,
    task.loss,
    task.asOf,
    task.maxListed,
    task.chunkRows,
    task.groupRecords,
    task.loans === true,
  ]);
  const kept = cores.get(key);
  if (kept !== undefined) {
    kept.core.restart();
    kept.lines?.take();
    return kept;
  }
  const lines = task.loans === true ? new RunLines(task.scenarios.map((s) => s.name)) : undefined;
  const core = new LifetimeCore({
    model,
    scenarios: task.scenarios,
    loss: task.loss,
    onError: 'skip',
    maxRows: Number.POSITIVE_INFINITY,
    maxListed: task.maxListed,
    chunkRows: task.chunkRows,
    groupRecords: task.groupRecords,
    ...(task.asOf === undefined ? {} : { asOf: task.asOf }),
    ...(lines === undefined ? {} : { loans: lines.sink }),
    oneGroup: true,
  });
  cores.set(key, { core, lines });
  if (cores.size > 4) cores.delete(cores.keys().next().value as string);
  return { core, lines };
}

/** A run of a lifetime tape: one group of records, read, scored under each scenario and projected. */
function project(task: LifetimeTask): LifetimeReply {
  if (setup.crashMarker !== undefined && Buffer.from(task.bytes).includes(setup.crashMarker)) process.exit(3);
  const { core, lines } = coreFor(task);
  const csv = task.format === 'csv';
  const reader = new DelimitedReader(task.format, core, csv ? SEASONED_EXTRAS.csv : {}, SEASONED_EXTRAS.optional);
  reader.resume(task.header, task.line);
  reader.push(Buffer.from(task.bytes.buffer, task.bytes.byteOffset, task.bytes.byteLength));
  reader.end();
  const part = core.part(); // flushes the last chunk: its rows are in `lines` after this
  return { ok: true, part: lines === undefined ? part : { ...part, lines: lines.take() } };
}

/** Backtest cores and their readers by models and options, the oldest dropped first: kept from run to run. */
const backtests = new Map<string, { core: BacktestCore; reader: DelimitedReader }>();

/** A run of a backtest tape: one group of records, read, validated, scored (and the challenger) and binned. */
function backtestRun(task: BacktestTask): BacktestReply {
  if (setup.crashMarker !== undefined && Buffer.from(task.bytes).includes(setup.crashMarker)) process.exit(3);
  const model = modelFor(task);
  const challenger = task.challenger === undefined ? undefined : modelFor(task, task.challenger);
  const key = JSON.stringify([
    model.sha256,
    challenger?.sha256,
    task.format,
    task.scenario,
    task.by,
    task.backtest,
    task.driftBy,
    task.maxListed,
    task.chunkRows,
    task.groupRecords,
  ]);
  let held = backtests.get(key);
  if (held === undefined) {
    const core = new BacktestCore({
      model,
      ...(challenger === undefined ? {} : { challenger }),
      scenario: task.scenario,
      by: task.by,
      ...(task.backtest === undefined ? {} : { backtest: task.backtest }),
      ...(task.driftBy === undefined ? {} : { driftBy: task.driftBy }),
      onError: 'skip',
      maxRows: Number.POSITIVE_INFINITY,
      maxListed: task.maxListed,
      chunkRows: task.chunkRows,
      groupRecords: task.groupRecords,
      collect: true,
    });
    held = { core, reader: new DelimitedReader(task.format, core, task.format === 'csv' ? OUTCOME_EXTRAS.csv : {}) };
    backtests.set(key, held);
    if (backtests.size > 4) backtests.delete(backtests.keys().next().value as string);
  }
  const { core, reader } = held;
  core.restart();
  reader.resume(task.header, task.line);
  reader.push(Buffer.from(task.bytes.buffer, task.bytes.byteOffset, task.bytes.byteLength));
  reader.end();
  return { ok: true, part: core.part() };
}

function failed(err: unknown): Extract<BlockReply, { ok: false }> {
  const e = err as Error;
  return {
    ok: false,
    message: e.message ?? String(err),
    ...(err instanceof TapeError ? { tape: { kind: err.kind, details: err.details } } : {}),
  };
}

const port = parentPort;
port?.postMessage({ ready: true });
port?.on('message', (task: BlockTask | LifetimeTask | BacktestTask) => {
  if ('kind' in task && task.kind === 'backtest') {
    let reply: BacktestReply;
    try {
      reply = backtestRun(task);
    } catch (err) {
      reply = failed(err);
    }
    const transfer: ArrayBuffer[] = [];
    if (reply.ok) {
      const p = reply.part;
      for (const a of [p.pd, p.outcome, p.challenger, ...p.groups.map((g) => g.index)]) {
        if (a !== undefined) transfer.push(a.buffer as ArrayBuffer);
      }
      const d = p.drift;
      if (d !== undefined) {
        for (const a of [d.score, ...d.fields.map((f) => f.counts), ...d.groups.map((g) => g.counts)]) {
          transfer.push(a.buffer as ArrayBuffer);
        }
      }
    }
    port.postMessage(reply, transfer);
    return;
  }
  if ('kind' in task && task.kind === 'lifetime') {
    let reply: LifetimeReply;
    try {
      reply = project(task);
    } catch (err) {
      reply = failed(err);
    }
    const transfer = reply.ok
      ? reply.part.pools.flatMap((p) => p.partial.arrays.map((a) => a.buffer as ArrayBuffer))
      : [];
    if (reply.ok && reply.part.lines !== undefined) transfer.push(reply.part.lines.buffer as ArrayBuffer);
    port.postMessage(reply, transfer);
    return;
  }
  let reply: BlockReply;
  try {
    reply = score(task as BlockTask);
  } catch (err) {
    reply = failed(err);
  }
  const transfer: ArrayBuffer[] = [];
  if (reply.ok) {
    const b = reply.block;
    for (const a of [b.row, b.pd, b.margin, b.upb, ...b.parts.flatMap((p) => partialArrays(p.pool))]) {
      transfer.push(a.buffer as ArrayBuffer);
    }
  }
  port.postMessage(reply, transfer);
});
