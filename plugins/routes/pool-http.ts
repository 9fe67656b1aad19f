import type { IncomingMessage } from 'node:http';
import { Readable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { locate, type PoolAnswer, type TapeError, type TapeFormat, TapeThreads } from '../../src/pool/index.js';
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
 * The tape parsers of the pools plugin's scope: JSON and CSV bodies handed over as streams (refused at
 * once when the headers already tell they are too big or encoded), any other type a 415.
 */
export function addTapeParsers(app: FastifyInstance, maxBytes: number): void {
  const streamBody = tapeStream(maxBytes);
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', streamBody);
  app.addContentTypeParser('text/csv', streamBody);
  app.addContentTypeParser('*', (request, _payload, done) => {
    const type = String(request.headers['content-type'] ?? 'none').slice(0, 100);
    done(
      new HttpError(
        415,
        'FST_ERR_CTP_INVALID_MEDIA_TYPE',
        `content type ${JSON.stringify(type)} is not supported here; send text/csv (a CSV or Freddie Mac tape) or application/json ({"loans": [...]})`,
      ),
    );
  });
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
 * A tape request's body as a stream, whether it is JSON, and the format asked for (`?format=`), refused
 * (400) when the body is empty or the format contradicts the content type.
 */
export function tapeBody(
  request: { body: unknown; headers: IncomingMessage['headers'] },
  format: string | undefined,
): { body: Readable; json: boolean; asked: TapeFormat | undefined } {
  const body = request.body;
  if (!(body instanceof Readable)) {
    throw new HttpError(400, 'INVALID_TAPE', 'the body is empty: send a loan tape (text/csv or application/json)');
  }
  const json = request.headers['content-type']?.toLowerCase().startsWith('application/json') === true;
  const asked = format as TapeFormat | undefined;
  if (asked !== undefined && (asked === 'json') !== json) {
    throw validationFailed([
      {
        field: 'query.format',
        message: `${JSON.stringify(asked)} does not match the content type: send ${asked === 'json' ? 'application/json' : 'text/csv'}`,
      },
    ]);
  }
  return { body, json, asked };
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
