import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { Worker } from 'node:worker_threads';
import type { Reason } from '../loan/reasons.js';
import type { LossOptions } from '../loss/index.js';
import { BUILTIN_FAMILIES, type Model } from '../runtime/index.js';
import { DEFAULT_WARM_PLAN } from '../runtime/warm.js';
import type { Scenario } from '../scenario/index.js';
import type { BacktestPart, BacktestTapeOptions, ByDimension, DriftBy } from './backtest.js';
import type { CellProblem } from './cells.js';
import type { BlockTarget, DelimitedFormat } from './delimited.js';
import { TapeError } from './errors.js';
import { GROUP_RECORDS } from './groups.js';
import type { LifetimePart } from './lifetime.js';
import { type ResultBuffer, type ResultColumns, resultLines } from './output.js';
import { DEFAULT_MAX_LISTED, type ScoredBatch, type ScoredBlock } from './scorer.js';
import { type TapeOptions, type TapeResult, TapeScorer } from './tape.js';

/**
 * Tapes on every core. The main thread detects the format, reads the CSV header and cuts the byte
 * stream into runs of whole records (the reader's own split mode, src/pool/delimited.ts: exactly where
 * one thread would cut, quoted line breaks, CRLF, a byte order mark and a last line without its line
 * feed included); worker threads (worker.ts) read, validate and score each run with the same code
 * and answer compact columns; the main thread folds the runs in input order into the same pool
 * figures, refusals and per-loan results, so the answer is the one-thread answer, byte for byte.
 * At most `maxInFlight` runs are out at a time: the input stream waits (backpressure).
 *
 * JSON tapes are read on the main thread as before (cutting `{"loans": [...]}` at element boundaries
 * would mean scanning every byte there anyway, which is most of the reading).
 */

/** What every worker is started with. */
export interface WorkerSetup {
  readonly compileTrees: boolean;
  /** Most time warming each model a worker loads (runtime/warm.ts; MODEL_WARMUP_MS); 0: none. */
  readonly warmupMs: number;
  /** Models kept per worker (by sha256, oldest dropped first). */
  readonly cachedModels: number;
  /** Tests only: a worker exits when a run holds this text (a crash, on purpose). */
  readonly crashMarker?: string;
}

/** One run of records to score. */
export interface BlockTask {
  readonly model: { readonly sha256: string; readonly source: string; bytes?: Uint8Array };
  readonly format: DelimitedFormat;
  readonly header: readonly string[] | undefined;
  /** Line number of the run's first byte. */
  readonly line: number;
  readonly bytes: Uint8Array;
  readonly lgd: number;
  readonly maxListed: number;
  readonly reasons: boolean;
  /** The resolved scenario the loans are scored under (undefined: the model reads none). */
  readonly scenario: Scenario | undefined;
  /** Answer the per-loan CSV lines (the CLI's --out). */
  readonly lines: boolean;
  /** Answer identifiers (and reasons) for a ResultBuffer (the route's per-loan results). */
  readonly columns: boolean;
  /** Records per group of the sums (groups.ts GROUP_RECORDS): the run holds whole groups. */
  readonly groupRecords: number;
}

/** One run (one group of GROUP_RECORDS records) of a lifetime tape to read, score and project (src/pool/lifetime.ts). */
export interface LifetimeTask {
  readonly kind: 'lifetime';
  readonly model: { readonly sha256: string; readonly source: string; bytes?: Uint8Array };
  readonly format: DelimitedFormat;
  readonly header: readonly string[] | undefined;
  readonly line: number;
  readonly bytes: Uint8Array;
  readonly scenarios: readonly Scenario[];
  readonly loss: LossOptions;
  readonly asOf?: number;
  readonly maxListed: number;
  readonly chunkRows: number;
  readonly groupRecords: number;
  /** Answer the run's per-loan CSV rows too (LifetimePart.lines; src/pool/lifetime-loans.ts). */
  readonly loans?: boolean;
}

/** One run (one group of GROUP_RECORDS records) of a backtest tape to read, score and bin (src/pool/backtest.ts). */
export interface BacktestTask {
  readonly kind: 'backtest';
  readonly model: ModelRef;
  readonly challenger?: ModelRef;
  readonly format: DelimitedFormat;
  readonly header: readonly string[] | undefined;
  readonly line: number;
  readonly bytes: Uint8Array;
  readonly scenario: Scenario;
  readonly by: readonly ByDimension[];
  readonly backtest?: BacktestTapeOptions['backtest'];
  readonly driftBy?: DriftBy;
  readonly maxListed: number;
  readonly chunkRows: number;
  readonly groupRecords: number;
}

export type BacktestReply = { readonly ok: true; readonly part: BacktestPart } | Extract<BlockReply, { ok: false }>;

/** A model a worker loads (from `bytes`, sent the first time) or holds already (by sha256). */
export interface ModelRef {
  readonly sha256: string;
  readonly source: string;
  bytes?: Uint8Array;
}

export type LifetimeReply = { readonly ok: true; readonly part: LifetimePart } | Extract<BlockReply, { ok: false }>;

export interface BlockColumns extends ScoredBlock, ResultColumns {
  readonly ids: readonly (string | undefined)[];
  readonly reasons?: readonly (readonly Reason[])[];
  /** The per-loan CSV lines (UTF-8), when asked for. */
  readonly lines?: Uint8Array;
}

export type BlockReply =
  | { readonly ok: true; readonly block: BlockColumns }
  | {
      readonly ok: false;
      readonly message: string;
      readonly tape?: { kind: TapeError['kind']; details: readonly CellProblem[] };
    };

export interface TapeThreadsOptions {
  /** Worker threads (at least 1). */
  readonly size: number;
  /** As the registry loads models (COMPILE_TREES). */
  readonly compileTrees: boolean;
  /**
   * Warm each model a worker loads before its first run (MODEL_WARMUP_MS; default 5,000 ms, 0: none):
   * each worker compiles the generated tree code anew, and cold it ran a tape's first runs several
   * times slower (docs/PERFORMANCE.md, "No cold start").
   */
  readonly warmupMs?: number;
  /** Where to say that a tape falls back to one thread, or that a worker was replaced. */
  readonly log?: (message: string) => void;
  /** Tests only: see WorkerSetup.crashMarker. */
  readonly crashMarker?: string;
  /** Tests only: how a worker is started (default: worker.js, or worker.ts through tsx). */
  readonly spawn?: (setup: WorkerSetup) => Worker;
}

interface Task {
  readonly message: BlockTask | LifetimeTask | BacktestTask;
  readonly resolve: (answer: never) => void;
  readonly reject: (err: Error) => void;
}

interface Slot {
  worker: Worker;
  task: Task | undefined;
  /** sha256 of the models this worker holds, oldest first (the worker keeps the same list). */
  readonly models: string[];
  /** The worker said it has started (its modules loaded). */
  ready: boolean;
}

const CACHED_MODELS = 4;
const BUILTIN = new Set(BUILTIN_FAMILIES.map((f) => f.family));

/**
 * The worker: worker.js beside this file; from the TypeScript sources (tests, `npm run score`),
 * worker.ts loaded through tsx, registered in the worker first.
 */
function startWorker(setup: WorkerSetup): Worker {
  if (!import.meta.url.endsWith('.ts'))
    return new Worker(new URL('./worker.js', import.meta.url), { workerData: setup });
  const url = new URL('./worker.ts', import.meta.url).href;
  const boot = `import('tsx/esm/api').then((tsx) => { tsx.register(); return import(${JSON.stringify(url)}); });`;
  return new Worker(boot, { eval: true, workerData: setup });
}

/** A fixed set of tape worker threads, shared by every tape (and tapes in parallel). */
export class TapeThreads {
  readonly size: number;
  private readonly setup: WorkerSetup;
  private readonly log: (message: string) => void;
  private readonly slots: Slot[] = [];
  private readonly queue: Task[] = [];
  private readonly artifacts = new Map<string, Uint8Array>();
  private closed = false;
  private readonly start: (setup: WorkerSetup) => Worker;
  /** Why the workers cannot start, once one failed before it was ready: tapes then stay on one thread. */
  private broken: string | undefined;
  /** Settles when every first worker is ready, or one failed to start. */
  private readonly started: Promise<void>;
  private whenStarted: { resolve: () => void; waiting: number } = { resolve: () => {}, waiting: 0 };
  /** Workers replaced after a crash (for tests and logs). */
  replaced = 0;
  /** Tests only: the crash marker of threads made without one (a service's, built by the app). */
  static crashMarkerForTests: string | undefined;

  constructor(options: TapeThreadsOptions) {
    if (!(Number.isInteger(options.size) && options.size >= 1)) {
      throw new RangeError(`tape threads must be a whole number ≥ 1, got ${options.size}`);
    }
    this.size = options.size;
    this.log = options.log ?? (() => {});
    this.setup = {
      compileTrees: options.compileTrees,
      warmupMs: options.warmupMs ?? DEFAULT_WARM_PLAN.budgetMs,
      cachedModels: CACHED_MODELS,
      ...((options.crashMarker ?? TapeThreads.crashMarkerForTests) === undefined
        ? {}
        : { crashMarker: options.crashMarker ?? TapeThreads.crashMarkerForTests }),
    };
    this.start = options.spawn ?? startWorker;
    this.started = new Promise<void>((resolve) => {
      this.whenStarted = { resolve, waiting: this.size };
    });
    for (let i = 0; i < this.size; i++) this.slots.push(this.spawn());
  }

  private readied(): void {
    if (--this.whenStarted.waiting === 0) this.whenStarted.resolve();
  }

  private spawn(): Slot {
    const worker = this.start(this.setup);
    worker.unref();
    const slot: Slot = { worker, task: undefined, models: [], ready: false };
    worker.on('message', (reply: BlockReply | LifetimeReply | BacktestReply | { ready: true }) => {
      if ('ready' in reply) {
        if (!slot.ready) this.readied();
        slot.ready = true;
        return;
      }
      const task = slot.task;
      slot.task = undefined;
      if (task !== undefined) {
        if (reply.ok) task.resolve(('part' in reply ? reply.part : reply.block) as never);
        else if (reply.tape !== undefined) {
          task.reject(new TapeError(reply.tape.kind, reply.message, { details: reply.tape.details }));
        } else task.reject(new Error(`a tape worker failed: ${reply.message}`));
      }
      this.next(slot);
    });
    const gone = (why: string) => {
      const index = this.slots.indexOf(slot);
      if (index === -1) return;
      const task = slot.task;
      slot.task = undefined;
      task?.reject(new Error(`a tape worker ${why}`));
      if (this.closed) return;
      if (!slot.ready) {
        // It never started: another would not either. Tapes stay on one thread from now on.
        this.broken = `tape worker threads cannot start: a worker ${why}`;
        this.log(this.broken);
        for (const queued of this.queue.splice(0)) queued.reject(new Error(this.broken));
        this.whenStarted.resolve();
        return;
      }
      // Replaced at once: the other tapes go on, the next one has every thread.
      this.replaced++;
      this.log(`tape worker ${why}; replaced`);
      const fresh = this.spawn();
      this.slots[index] = fresh;
      this.next(fresh);
    };
    worker.on('error', (err) => gone(`failed: ${err.message}`));
    worker.on('exit', (code) => gone(`stopped (exit code ${code})`));
    return slot;
  }

  private next(slot: Slot): void {
    if (slot.task !== undefined || this.closed) return;
    const task = this.queue.shift();
    if (task === undefined) return;
    slot.task = task;
    const message = task.message;
    const held = (ref: ModelRef): ModelRef => {
      const model = { ...ref };
      if (slot.models.includes(model.sha256)) {
        delete model.bytes;
      } else {
        slot.models.push(model.sha256);
        if (slot.models.length > CACHED_MODELS) slot.models.shift();
      }
      return model;
    };
    const model = held(message.model);
    const challenger =
      'challenger' in message && message.challenger !== undefined ? held(message.challenger) : undefined;
    slot.worker.ref();
    slot.worker.postMessage({ ...message, model, ...(challenger === undefined ? {} : { challenger }) }, [
      message.bytes.buffer as ArrayBuffer,
    ]);
  }

  /** Scores a run of records on the first free worker. */
  run(message: BlockTask): Promise<BlockColumns> {
    return this.queued<BlockColumns>(message);
  }

  /** Reads, scores and projects a run of a lifetime tape on the first free worker. */
  runLifetime(message: LifetimeTask): Promise<LifetimePart> {
    return this.queued<LifetimePart>(message);
  }

  /** Reads, scores and bins a run of a backtest tape on the first free worker. */
  runBacktest(message: BacktestTask): Promise<BacktestPart> {
    return this.queued<BacktestPart>(message);
  }

  private queued<T>(message: BlockTask | LifetimeTask | BacktestTask): Promise<T> {
    if (this.closed) return Promise.reject(new Error('the tape threads are closed'));
    if (this.broken !== undefined) return Promise.reject(new Error(this.broken));
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ message, resolve: resolve as (answer: never) => void, reject });
      for (const slot of this.slots) {
        if (slot.task === undefined) {
          this.next(slot);
          break;
        }
      }
    }).finally(() => {
      // Idle workers do not keep the process alive.
      for (const slot of this.slots) if (slot.task === undefined) slot.worker.unref();
    });
  }

  /**
   * The artifact of `model` for the workers, or why it cannot go to them (then the tape is scored on
   * this thread): a family that is not built in, workers that cannot start, an artifact not read from
   * a file, or a file that changed since it was loaded (its sha256 differs). Waits for the workers
   * started first.
   */
  async artifact(model: Model): Promise<{ bytes: Uint8Array } | { why: string }> {
    if (!BUILTIN.has(model.family)) return { why: `model family ${model.family} is not a built-in one` };
    await this.started;
    if (this.broken !== undefined) return { why: this.broken };
    const cached = this.artifacts.get(model.sha256);
    if (cached !== undefined) return { bytes: cached };
    let bytes: Uint8Array;
    try {
      bytes = await readFile(model.source);
    } catch (err) {
      return { why: `its artifact cannot be read again (${(err as Error).message})` };
    }
    if (createHash('sha256').update(bytes).digest('hex') !== model.sha256) {
      return { why: `its artifact ${model.source} changed since it was loaded` };
    }
    this.artifacts.set(model.sha256, bytes);
    if (this.artifacts.size > CACHED_MODELS) this.artifacts.delete(this.artifacts.keys().next().value as string);
    return { bytes };
  }

  /** Stops every worker (runs still out fail). */
  async close(): Promise<void> {
    this.closed = true;
    for (const task of this.queue.splice(0)) task.reject(new Error('the tape threads are closed'));
    await Promise.all(this.slots.map((s) => s.worker.terminate()));
  }
}

/** A tape, scored on worker threads when given some, else on this thread, with the same answer. */
export interface TapeRunOptions extends Omit<TapeOptions, 'splitTo' | 'onScored'> {
  /** Worker threads, and the model's artifact for them (`TapeThreads.artifact`). */
  readonly threads?: { readonly pool: TapeThreads; readonly artifact: Uint8Array };
  /** Per-loan CSV lines, in input order (the CLI's --out). */
  readonly onLines?: (text: string | Uint8Array) => void;
  /** Per-loan results kept for the answer (the route). */
  readonly results?: ResultBuffer;
  /**
   * Bytes of records per run sent to a worker (default 1 MiB; small in tests, to cut often): a run is sent
   * at the first boundary of a group of records (`groupRecords`) after this many bytes, so it holds whole groups.
   */
  readonly blockBytes?: number;
  /** Most runs out at a time (default twice the threads). */
  readonly maxInFlight?: number;
}

/** Bytes of records per run of the score route and CLI; the slice a large chunk is read in by every target. */
export const DEFAULT_BLOCK_BYTES = 1024 * 1024;

/**
 * Runs out on worker threads, folded in the order they were sent (each fold waits for the ones before);
 * at most `max` out at a time: `full` says when the input should wait for `room()`. The first failure
 * stops the folding and is thrown from then on. RunSplitter sends the runs of every tape target through it.
 */
export class RunsInOrder {
  private inFlight = 0;
  /** The most runs ever out at once (tests check the bound). */
  maxInFlightSeen = 0;
  /** Runs sent. */
  sent = 0;
  private tail: Promise<void> = Promise.resolve();
  private failure: { error: unknown } | undefined;
  private waiting: (() => void) | undefined;

  constructor(readonly max: number) {}

  get full(): boolean {
    return this.inFlight >= this.max;
  }

  /** Throws the first failure of a run, if any. */
  check(): void {
    if (this.failure !== undefined) throw this.failure.error;
  }

  /** Settles when fewer than `max` runs are out (rejects with a run's failure). */
  room(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const check = () => {
        if (this.failure !== undefined) reject(this.failure.error);
        else if (this.inFlight < this.max) resolve();
        else this.waiting = check;
      };
      check();
    });
  }

  /** A run sent: `fold` gets its answer once every run sent before it is folded. */
  add<T>(running: Promise<T>, fold: (answer: T) => void): void {
    running.catch(() => {}); // its failure is the tail's
    this.sent++;
    this.inFlight++;
    this.maxInFlightSeen = Math.max(this.maxInFlightSeen, this.inFlight);
    this.tail = this.tail.then(async () => {
      try {
        fold(await running);
      } catch (err) {
        this.failure ??= { error: err };
        throw err;
      } finally {
        this.inFlight--;
        const waiting = this.waiting;
        this.waiting = undefined;
        waiting?.();
      }
    });
    this.tail.catch(() => {}); // read by done() or the next check
  }

  /** Settles when every run sent is folded; rejects with the first failure. */
  done(): Promise<void> {
    return this.tail;
  }
}

/**
 * How every tape target on worker threads (TapeRun here, LifetimeTape in lifetime.ts, BacktestTape in
 * backtest.ts) takes its input: the reader hands on the data records (split mode, `block`), which are cut
 * into runs of whole groups of `cutRecords` records (a run holds whole groups, whose sums a worker answers) of
 * at least `minBytes` (0: one group a run; the last run may be smaller), and sent by `send` in input order,
 * never more than the bound of `runs` out at a time: the input waits meanwhile (`push` answers a promise),
 * and runs cut while there is no room wait here, in order. A chunk larger than `sliceBytes` is read that
 * much at a time, waiting for room between, so that it is cut into runs as a stream is (read at once, a
 * request body injected whole would wait as one run for one worker, or all its runs at once).
 */
export class RunSplitter {
  private pieces: Uint8Array[] = [];
  private pieceBytes = 0;
  private firstLine = 0;
  private lastRecord = 0;
  /** Runs cut and not yet sent (no room): sent in order as runs fold. */
  private readonly ready: { readonly bytes: Uint8Array; readonly line: number }[] = [];

  /** The runs out, folded in input order: at most `maxInFlight` (default twice the threads) at a time. */
  readonly runs: RunsInOrder;

  constructor(
    private readonly options: {
      readonly maxInFlight?: number | undefined;
      readonly threads?: { readonly pool: TapeThreads } | undefined;
      readonly cutRecords: number;
      readonly minBytes: number;
      /** Chunks larger than this are read a slice at a time (Infinity: never). */
      readonly sliceBytes: number;
      readonly send: (bytes: Uint8Array, line: number) => void;
    },
  ) {
    this.runs = new RunsInOrder(Math.max(1, options.maxInFlight ?? 2 * (options.threads?.pool.size ?? 1)));
  }

  /** Split mode: records from the reader, starting at `line` with record number `record` (to cut at groups). */
  block(bytes: Uint8Array, line: number, record: number): void {
    const cut = this.options.cutRecords;
    // A group starts: the pieces held are whole groups, a run once they reach minBytes.
    const starts = this.pieces.length > 0 && Math.floor(record / cut) !== Math.floor(this.lastRecord / cut);
    if (starts && this.pieceBytes >= this.options.minBytes) this.cut();
    if (this.pieces.length === 0) this.firstLine = line;
    this.pieces.push(bytes);
    this.pieceBytes += bytes.length;
    this.lastRecord = record;
    this.sendReady();
  }

  /**
   * Reads a chunk with `read` (which hands the records on through `block`, or throws the tape's refusal);
   * answers a promise when the input should wait.
   */
  push(chunk: Buffer, read: (chunk: Buffer) => void): Promise<void> | undefined {
    this.runs.check();
    if (chunk.length > this.options.sliceBytes) return this.pushInSlices(chunk, read);
    return this.pushSlice(chunk, read);
  }

  private pushSlice(chunk: Buffer, read: (chunk: Buffer) => void): Promise<void> | undefined {
    try {
      read(chunk);
    } catch (err) {
      return this.failAfterEarlierRuns(err);
    }
    this.sendReady();
    if (this.ready.length > 0) return this.drain().then(() => (this.runs.full ? this.runs.room() : undefined));
    return this.runs.full ? this.runs.room() : undefined;
  }

  private async pushInSlices(chunk: Buffer, read: (chunk: Buffer) => void): Promise<void> {
    const slice = this.options.sliceBytes;
    for (let at = 0; at < chunk.length; at += slice) {
      this.runs.check();
      const wait = this.pushSlice(chunk.subarray(at, at + slice), read);
      if (wait !== undefined) await wait;
    }
  }

  /** Reads the end of the input with `endInput`, then sends what is held and waits for every run to fold. */
  async end(endInput: () => void): Promise<void> {
    this.runs.check();
    try {
      endInput();
    } catch (err) {
      return this.failAfterEarlierRuns(err);
    }
    this.cut();
    await this.drain();
    await this.runs.done();
  }

  /**
   * One thread would have read every earlier record before meeting this error (and failed on an earlier
   * row first, a refused row or too many rows): so do the runs out and held, then this. With nothing out or
   * held (always so on one thread) it is thrown at once: a reader that pushes without awaiting (the
   * backtest's multipart parts) must not get a rejected promise nobody reads.
   */
  private failAfterEarlierRuns(err: unknown): Promise<never> {
    if (this.runs.sent === 0 && this.ready.length === 0 && this.pieces.length === 0) throw err;
    return this.afterEarlierRuns(err);
  }

  private async afterEarlierRuns(err: unknown): Promise<never> {
    this.cut();
    await this.drain().catch(() => {}); // a run's failure: done() throws it
    await this.runs.done();
    throw err;
  }

  /** The pieces held become one run, to send. */
  private cut(): void {
    if (this.pieces.length === 0) return;
    this.ready.push({ bytes: joinPieces(this.pieces, this.pieceBytes), line: this.firstLine });
    this.pieces = [];
    this.pieceBytes = 0;
  }

  /** Sends the runs cut while there is room. */
  private sendReady(): void {
    while (this.ready.length > 0 && !this.runs.full) {
      const run = this.ready.shift() as (typeof this.ready)[number];
      this.options.send(run.bytes, run.line);
    }
  }

  /** Sends every run cut, waiting for room (rejects with a run's failure). */
  private async drain(): Promise<void> {
    for (this.sendReady(); this.ready.length > 0; this.sendReady()) await this.runs.room();
  }
}

/**
 * A tape to score, on worker threads when given some (CSV and Freddie Mac tapes: the reader cuts the data
 * records into runs of whole groups of records, groups.ts GROUP_RECORDS, each read and scored on a worker, folded
 * here in input order), else on this thread, with the same answer byte for byte.
 */
export class TapeRun implements BlockTarget {
  private readonly tape: TapeScorer;
  private readonly options: TapeRunOptions;
  private readonly runs: RunsInOrder;
  private readonly splitter: RunSplitter;
  /** The reader cuts its runs at every group of records too (delimited.ts): a run is sent at a group's start. */
  readonly cutRecords: number;

  constructor(options: TapeRunOptions) {
    this.options = options;
    const { onLines, results } = options;
    const blockBytes = options.blockBytes ?? DEFAULT_BLOCK_BYTES;
    this.cutRecords = options.groupRecords ?? GROUP_RECORDS;
    this.splitter = new RunSplitter({
      maxInFlight: options.maxInFlight,
      threads: options.threads,
      cutRecords: this.cutRecords,
      minBytes: blockBytes,
      sliceBytes: options.threads === undefined ? Number.POSITIVE_INFINITY : blockBytes,
      send: (bytes, line) => this.send(bytes, line),
    });
    this.runs = this.splitter.runs;
    const onScored =
      onLines === undefined && results === undefined
        ? undefined
        : (batch: ScoredBatch) => {
            results?.add(batch);
            onLines?.(resultLines(batch));
          };
    this.tape = new TapeScorer({
      ...options,
      ...(onScored === undefined ? {} : { onScored }),
      ...(options.threads === undefined ? {} : { splitTo: this }),
    });
  }

  /** The most runs ever out at once (tests check the bound). */
  get maxInFlightSeen(): number {
    return this.runs.maxInFlightSeen;
  }
  /** Runs sent to workers. */
  get blocks(): number {
    return this.runs.sent;
  }
  get format(): TapeResult['format'] | undefined {
    return this.tape.format;
  }
  get bytes(): number {
    return this.tape.bytes;
  }
  get rows(): number {
    return this.tape.rows;
  }
  get rejectedCount(): number {
    return this.tape.rejectedCount;
  }

  /** Takes a chunk; answers a promise when the input should wait (runs out at the bound). */
  push(chunk: Buffer): Promise<void> | undefined {
    return this.splitter.push(chunk, (c) => this.tape.push(c));
  }

  async end(): Promise<TapeResult> {
    await this.splitter.end(() => this.tape.endInput());
    return this.tape.result();
  }

  /** Split mode: a run of whole records of one group from the reader (RunSplitter cuts the runs). */
  block(bytes: Buffer, line: number, record: number): void {
    this.splitter.block(bytes, line, record);
  }

  /** Sends one run of whole groups to a worker; its answer is folded in input order. */
  private send(bytes: Uint8Array, line: number): void {
    const threads = this.options.threads;
    if (threads === undefined) return;
    const { model, lgd, onLines, results, reasons } = this.options;
    const format = this.tape.format as DelimitedFormat;
    const running = threads.pool.run({
      model: { sha256: model.sha256, source: model.source, bytes: threads.artifact },
      format,
      header: this.tape.header,
      line,
      bytes,
      lgd,
      maxListed: this.options.maxListed ?? DEFAULT_MAX_LISTED,
      reasons: reasons === true,
      scenario: this.tape.scenario,
      lines: onLines !== undefined,
      columns: results !== undefined,
      groupRecords: this.cutRecords,
    });
    this.runs.add(running, (block) => {
      if (this.tape.addBlock(block)) {
        if (block.lines !== undefined) onLines?.(block.lines);
        results?.addColumns(block, lgd);
      }
    });
  }
}

/** Pieces of a run copied into one transferable buffer of `length` bytes. */
export function joinPieces(pieces: readonly Uint8Array[], length: number): Uint8Array {
  const bytes = new Uint8Array(length);
  let at = 0;
  for (const p of pieces) {
    bytes.set(p, at);
    at += p.length;
  }
  return bytes;
}
