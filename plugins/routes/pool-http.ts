import type { IncomingMessage } from 'node:http';
import { Readable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import {
  locate,
  MAX_SCENARIO_BYTES,
  type PoolAnswer,
  TapeError,
  type TapeFormat,
  TapeThreads,
} from '../../src/pool/index.js';
import { MultipartReader, multipartBoundary, type PartSink } from '../../src/pool/multipart.js';
import { capProblems } from '../../src/problems.js';
import { HttpError, summarise, validationFailed } from '../errors.js';
import { plainDecimal } from '../schemas.js';

/** HTTP of POST /pools/score (plugins/routes/pools.ts): tape bodies as streams, Accept, refusals. */

/** Whether the client asked for CSV: text/csv listed (not with q=0) before any JSON type. */
export function prefersCsv(accept: string | undefined): boolean {
  if (!accept) return false;
  for (const part of accept.split(',')) {
    const [type = '', ...params] = part.split(';').map((s) => s.trim().toLowerCase());
    if (params.some((p) => /^q=0(\.0*)?$/.test(p))) continue;
    if (type === 'text/csv') return true;
    if (type === 'application/json' || type === 'application/*' || type === '*/*') return false;
  }
  return false;
}

const sharedThreads = new WeakMap<object, { threads?: TapeThreads }>();

/**
 * The POOL_THREADS tape worker threads of the app, shared by its tape routes (POST /pools/score and
 * POST /pools/lifetime): started with the first CSV or Freddie Mac tape (a service that never takes one
 * starts none), stopped when the app closes.
 */
export function tapeThreads(app: FastifyInstance): () => TapeThreads {
  let shared = sharedThreads.get(app.config);
  if (shared === undefined) {
    shared = {};
    sharedThreads.set(app.config, shared);
  }
  const holder = shared;
  app.addHook('onClose', async () => {
    await holder.threads?.close();
  });
  return () =>
    (holder.threads ??= new TapeThreads({
      size: app.config.poolThreads,
      compileTrees: app.config.compileTrees,
      warmupMs: app.config.modelWarmupMs,
      log: (message) => app.log.warn(message),
    }));
}

export const tooManyBytes = (maxBytes: number) =>
  new HttpError(
    413,
    'FST_ERR_CTP_BODY_TOO_LARGE',
    `the tape is larger than the limit of ${maxBytes} bytes (POOL_MAX_BYTES)`,
  );

/**
 * A body parser that hands the body over as a stream; it refuses at once what the headers already tell is
 * too big (`Content-Length` over `maxBytes`) or encoded.
 */
export function tapeStream(maxBytes: number) {
  return (
    request: { headers: IncomingMessage['headers'] },
    payload: IncomingMessage,
    done: (err: Error | null, body?: unknown) => void,
  ) => {
    const encoding = request.headers['content-encoding'];
    if (encoding !== undefined && encoding !== 'identity') {
      done(
        new HttpError(
          415,
          'FST_ERR_CTP_INVALID_MEDIA_TYPE',
          `content encoding ${JSON.stringify(encoding.slice(0, 40))} is not supported; send the tape uncompressed`,
        ),
      );
      return;
    }
    if (Number(request.headers['content-length']) > maxBytes) {
      done(tooManyBytes(maxBytes));
      return;
    }
    done(null, payload);
  };
}

/**
 * The tape parsers of a tape route's plugin scope: JSON, CSV and multipart/form-data bodies handed over as
 * streams (refused at once when the headers already tell they are too big or encoded), any other type a 415.
 */
export function addTapeParsers(app: FastifyInstance, maxBytes: number): void {
  const streamBody = tapeStream(maxBytes);
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', streamBody);
  app.addContentTypeParser('text/csv', streamBody);
  // A scenario part and a tape (POST /pools/score, /pools/lifetime), or performance files and a tape
  // (POST /pools/backtest): every byte counts against POOL_MAX_BYTES.
  app.addContentTypeParser('multipart/form-data', streamBody);
  app.addContentTypeParser('*', (request, _payload, done) => {
    const type = String(request.headers['content-type'] ?? 'none').slice(0, 100);
    done(
      new HttpError(
        415,
        'FST_ERR_CTP_INVALID_MEDIA_TYPE',
        `content type ${JSON.stringify(type)} is not supported here; send text/csv (a CSV or Freddie Mac tape), application/json ({"loans": [...]}) or multipart/form-data (docs/API.md)`,
      ),
    );
  });
}

/** Where the two scenarios of a conflict are (SCENARIO_CONFLICT's message): a scenario part and the query. */
export const SCENARIO_PART = { body: 'the scenario part', query: 'the query' };
/** … a JSON tape's own and the scenario part. */
export const TAPE_AND_PART = { body: 'the tape', query: 'the scenario part' };

/** A refusal of a multipart body's layout, naming the part. */
export const partRefusal = (field: string, message: string) =>
  new TapeError('layout', `${field} ${message}`, { details: [{ field, message }] });

/** What a multipart body's `tape` part is read as: `?format=`, else its content type, else detected. */
export function tapePartFormat(
  type: string | undefined,
  asked: TapeFormat | undefined,
): { format: TapeFormat | 'auto'; candidates: TapeFormat[] } {
  const isJson = type?.startsWith('application/json') === true;
  const isCsv = type?.startsWith('text/csv') === true;
  if (asked !== undefined && ((isJson && asked !== 'json') || (isCsv && asked === 'json'))) {
    throw validationFailed([
      {
        field: 'query.format',
        message: `${JSON.stringify(asked)} does not match the tape part's content type ${type}`,
      },
    ]);
  }
  if (asked !== undefined) return { format: asked, candidates: [asked] };
  if (isJson) return { format: 'json', candidates: ['json'] };
  return { format: 'auto', candidates: isCsv ? ['csv', 'freddie'] : ['csv', 'freddie', 'json'] };
}

/**
 * A multipart/form-data body of POST /pools/score or /pools/lifetime, read as it arrives: an optional
 * `scenario` part first, JSON as a JSON tape's own `"scenario"` holds it (a custom path, a name in
 * quotes, for the lifetime route a list; at most MAX_SCENARIO_BYTES), then the `tape` part (CSV, Freddie
 * Mac or JSON). So a CSV tape can be scored under a custom path longer than a query holds.
 * `startTape` is called at the tape part's headers with the scenario part's value (parsed; undefined
 * without one) and the part's content type, and answers the tape its bytes go to. Refusals name the
 * part (`body.scenario`, `body.tape`); every byte of the body counts against `maxBytes`.
 */
export function scenarioAndTape(
  contentType: string | undefined,
  maxBytes: number,
  startTape: (scenario: unknown, type: string | undefined) => { push(chunk: Buffer): Promise<void> | undefined },
): { push(chunk: Buffer): Promise<void> | undefined; end(): void } {
  const boundary = multipartBoundary(contentType);
  if (boundary === undefined) {
    throw validationFailed([
      { field: 'headers.content-type', message: 'multipart/form-data needs a boundary parameter (1 to 70 characters)' },
    ]);
  }
  let scenario: unknown;
  let sawScenario = false;
  let tapeStarted = false;
  const reader = new MultipartReader(boundary, (part): PartSink => {
    if (part.name === 'scenario') {
      if (tapeStarted) {
        throw partRefusal('body.scenario', 'must come before the tape part: the loans are scored as they are read');
      }
      if (sawScenario) throw partRefusal('body.scenario', 'is given twice: send one scenario part');
      sawScenario = true;
      const pieces: Buffer[] = [];
      let size = 0;
      return {
        push: (chunk) => {
          size += chunk.length;
          if (size > MAX_SCENARIO_BYTES) {
            throw partRefusal('body.scenario', `is longer than ${MAX_SCENARIO_BYTES} bytes`);
          }
          pieces.push(chunk); // copied once, by Buffer.concat at the part's end
        },
        end: () => {
          const text = Buffer.concat(pieces)
            .toString('utf8')
            .replace(/^\uFEFF/, '');
          if (text.trim() === '')
            throw partRefusal('body.scenario', 'is empty: leave the part out for the default scenario');
          try {
            // null is no scenario, as in a JSON tape: the query's, else the default.
            scenario = (JSON.parse(text) as unknown) ?? undefined;
          } catch (err) {
            throw partRefusal(
              'body.scenario',
              `must be JSON, as a JSON tape's "scenario": a custom path {...}, a name in quotes ("adverse"), or for POST /pools/lifetime a list of them (${(err as Error).message})`,
            );
          }
        },
      };
    }
    if (part.name === 'tape') {
      if (tapeStarted) throw partRefusal('body.tape', 'is given twice: send one tape');
      tapeStarted = true;
      const tape = startTape(scenario, part.contentType);
      return { push: (chunk) => tape.push(chunk), end: () => {} };
    }
    throw partRefusal(
      `body.${part.name.slice(0, 40)}`,
      'is not a part of this request: send `scenario` (optional, first) and `tape` (the loans)',
    );
  });
  let received = 0;
  return {
    push: (chunk) => {
      received += chunk.length;
      if (received > maxBytes) throw new TapeError('too_many_bytes', `the body is larger than ${maxBytes} bytes`);
      return reader.push(chunk);
    },
    end: () => {
      reader.end();
      if (!tapeStarted) throw partRefusal('body.tape', 'is required: a part named tape with the loans');
    },
  };
}

/** The answer to a tape that could not be scored. */
export function tapeRefusal(
  err: TapeError,
  format: TapeFormat,
  limits: { maxBytes: number; maxRows: number },
): HttpError {
  switch (err.kind) {
    case 'invalid_rows': {
      const details = err.rejected.flatMap((r) =>
        r.problems.map((p) => ({ field: locate(format, r.row, p.field), message: p.message })),
      );
      const { items, omitted } = capProblems(details);
      const n = err.rejectedCount;
      return validationFailed(
        items,
        omitted,
        `${n} invalid row${n === 1 ? '' : 's'} (${err.message}; the first ${err.rejected.length} in details); ` +
          `nothing was scored: fix them, or send ?on_error=skip to score the valid rows. ${summarise(items, omitted)}`,
      );
    }
    case 'layout':
      return validationFailed(err.details, err.omitted);
    case 'too_many_rows':
      return new HttpError(413, 'TAPE_TOO_LARGE', `a tape holds at most ${limits.maxRows} rows (POOL_MAX_ROWS)`);
    case 'too_many_bytes':
      return tooManyBytes(limits.maxBytes);
    case 'unreadable':
      return new HttpError(400, 'INVALID_TAPE', err.message);
  }
}

/** `?lgd=`: a number in (0, 1], written as a plain decimal. */
export function parseLgd(text: string): number {
  const lgd = plainDecimal(text);
  if (!(lgd > 0 && lgd <= 1)) {
    throw validationFailed([
      {
        field: 'query.lgd',
        message: `must be a number in (0, 1], the loss given default as a share of the original balance, got ${JSON.stringify(text)}`,
      },
    ]);
  }
  return lgd;
}

/**
 * A tape request's body as a stream, whether it is JSON or multipart/form-data (scenarioAndTape), and the
 * format asked for (`?format=`), refused (400) when the body is empty or the format contradicts the content
 * type (of a multipart body's tape part: tapePartFormat).
 */
export function tapeBody(
  request: { body: unknown; headers: IncomingMessage['headers'] },
  format: string | undefined,
): { body: Readable; json: boolean; multipart: boolean; asked: TapeFormat | undefined } {
  const body = request.body;
  if (!(body instanceof Readable)) {
    throw new HttpError(400, 'INVALID_TAPE', 'the body is empty: send a loan tape (text/csv or application/json)');
  }
  const type = request.headers['content-type']?.toLowerCase() ?? '';
  const json = type.startsWith('application/json');
  const multipart = /^\s*multipart\/form-data/.test(type);
  const asked = format as TapeFormat | undefined;
  if (!multipart && asked !== undefined && (asked === 'json') !== json) {
    throw validationFailed([
      {
        field: 'query.format',
        message: `${JSON.stringify(asked)} does not match the content type: send ${asked === 'json' ? 'application/json' : 'text/csv'}`,
      },
    ]);
  }
  return { body, json, multipart, asked };
}

/**
 * The pool figures of a CSV answer, as X-Pool-* headers. X-Pool-Scenario (when the model reads one) is
 * the scenario's name percent-encoded (a custom path's name is the client's text: any character).
 */
export function poolHeaders(answer: PoolAnswer): Record<string, string> {
  return {
    'x-pool-model': `${answer.model}@${answer.version}`,
    ...(answer.scenario === undefined ? {} : { 'x-pool-scenario': encodeURIComponent(answer.scenario) }),
    'x-pool-format': answer.format,
    'x-pool-lgd': String(answer.lgd),
    'x-pool-rows': String(answer.rows),
    'x-pool-loan-count': String(answer.loan_count),
    'x-pool-rows-rejected': String(answer.rejected.count),
    'x-pool-total-original-upb': String(answer.total_original_upb),
    'x-pool-average-pd': String(answer.average_pd),
    'x-pool-upb-weighted-pd': String(answer.upb_weighted_pd),
    'x-pool-expected-loss': String(answer.expected_loss),
  };
}
