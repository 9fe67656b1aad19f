import type { FastifyBaseLogger } from 'fastify';
import pino from 'pino';
import type { LogStream } from './log-stream.js';

const S = pino.symbols;
/** pino's info level. */
const INFO = 30;

/**
 * The request line ("request completed": method, URL, status, response time, and the request
 * logger's bindings: `reqId`, and `key` or `auth` once the API key guard has named the caller), kept
 * as fields when a request ends and formatted in batches: byte for byte the line pino writes for
 * `request.log.info({ method, url, statusCode, responseTime }, 'request completed')`, its `time`
 * taken when the request ends. The bindings are the request logger's own, as pino wrote them.
 *
 * Why: formatted one at a time, between requests, the line cost ~5 µs of CPU a request under load
 * against ~1 µs in a tight loop, its code and data evicted from the caches by the rest of each
 * request; kept and formatted 32 at a time, 1–3 µs less a request (docs/PERFORMANCE.md, "Over
 * HTTP", 2026-12-06 17:10–19:00 UTC).
 *
 * Order: the stream formats the kept lines before any other line (an error, a warning) is written,
 * and on `flush()` / `flushSync()` (every second, and at exit): the log stays in the order things
 * happened, and a line waits no longer than before for its chunk to be written.
 *
 * Exactness: strings are written in JSON.stringify's form. (pino 10 on Node < 25 writes a string
 * of up to 100 characters without escaping a lone UTF-16 surrogate, where JSON.stringify escapes it;
 * neither field written here can hold one: the URL is read as Latin-1 and the method is an HTTP
 * token.) A request logger that would write the line otherwise (its own serializers, or info off)
 * writes it itself, through pino, in order. test/service/request-log.test.ts holds the lines to
 * pino's own, byte for byte.
 */
export class RequestLines {
  private count = 0;
  private readonly bindings: string[];
  private readonly methods: string[];
  private readonly urls: string[];
  private readonly statusCodes: Float64Array;
  private readonly responseTimes: Float64Array;
  private readonly times: Float64Array;

  /**
   * @param head `{"level":30` (the logger's info level)
   * @param serializers the root logger's serializers: a request logger with others writes its own line
   * @param end `}` and the logger's end of line
   */
  private constructor(
    private readonly stream: LogStream,
    private readonly head: string,
    private readonly serializers: unknown,
    private readonly end: string,
    private readonly capacity: number,
  ) {
    this.bindings = new Array<string>(capacity).fill('');
    this.methods = new Array<string>(capacity).fill('');
    this.urls = new Array<string>(capacity).fill('');
    this.statusCodes = new Float64Array(capacity);
    this.responseTimes = new Float64Array(capacity);
    this.times = new Float64Array(capacity);
  }

  /**
   * Request lines for `logger` (the app's root logger, a pino logger built with default formatting
   * that writes to `stream`), attached to `stream` so that they are formatted before its other lines.
   * Throws when the logger formats lines in a way these would not match (a programming error: the
   * server builds the logger itself).
   */
  static attach(logger: FastifyBaseLogger, stream: LogStream, capacity = 32): RequestLines {
    const p = logger as unknown as Record<symbol, unknown>;
    const why = [
      [p[S.streamSym] === stream, 'it writes to another stream'],
      [p[S.timeSym] === pino.stdTimeFunctions.epochTime, 'its time is not epoch milliseconds'],
      [p[S.messageKeySym] === 'msg', 'its message key is not "msg"'],
      [!p[S.mixinSym], 'it has a mixin'],
      [!(p[S.formattersSym] as { log?: unknown }).log, 'it has a log formatter'],
      [!p[S.nestedKeySym], 'it nests the fields'],
      [(logger as { msgPrefix?: string }).msgPrefix === undefined, 'it prefixes messages'],
      [!(p[S.hooksSym] as { logMethod?: unknown }).logMethod, 'it has a logMethod hook'],
      [!(p[S.hooksSym] as { streamWrite?: unknown }).streamWrite, 'it has a streamWrite hook'],
      [Reflect.ownKeys(p[S.stringifiersSym] as object).length === 0, 'it redacts'],
    ].filter(([ok]) => !ok);
    if (why.length > 0) {
      throw new Error(`request lines: the logger's lines would differ (${why.map(([, w]) => w).join('; ')})`);
    }
    const serializers = p[S.serializersSym] as Record<string, unknown>;
    for (const key of ['method', 'url', 'statusCode', 'responseTime', 'msg']) {
      if (serializers[key] !== undefined) throw new Error(`request lines: the logger has a serializer for ${key}`);
    }
    const head = (p[S.lsCacheSym] as Record<number, string>)[INFO] as string;
    const lines = new RequestLines(stream, head, serializers, p[S.endSym] as string, capacity);
    stream.defer(lines);
    return lines;
  }

  /** Lines kept, not yet formatted. */
  get pending(): number {
    return this.count;
  }

  /**
   * The line of a request that has ended (its time is now), on `log`, the request's child of the
   * attached logger: kept, and the batch formatted once full.
   */
  add(log: FastifyBaseLogger, method: string, url: string, statusCode: number, responseTime: number): void {
    const p = log as unknown as Record<symbol, unknown>;
    if ((p[S.levelValSym] as number) > INFO) return; // info is off for this request: pino writes nothing
    if (p[S.serializersSym] !== this.serializers) {
      // Serializers of its own (a route's): pino formats it (after the kept lines, in order).
      log.info({ method, url, statusCode, responseTime }, 'request completed');
      return;
    }
    const i = this.count;
    this.bindings[i] = p[S.chindingsSym] as string;
    this.methods[i] = method;
    this.urls[i] = url;
    this.statusCodes[i] = statusCode;
    this.responseTimes[i] = responseTime;
    this.times[i] = Date.now();
    this.count = i + 1;
    if (this.count === this.capacity) this.stream.flushDeferred();
  }

  /**
   * Formats the lines kept, in order, and hands them to `write` as one string (called by the stream:
   * flushDeferred). Consecutive lines mostly share their time, method and URL: those are formatted once
   * while they repeat. One string for the batch is encoded by one call instead of one a line.
   */
  drain(write: (lines: string) => void): void {
    const n = this.count;
    if (n === 0) return;
    this.count = 0;
    let out = '';
    let time = Number.NaN;
    let timeText = '';
    let method = '';
    let methodJson = '""';
    let url = '';
    let urlJson = '""';
    for (let i = 0; i < n; i++) {
      const t = this.times[i] as number;
      if (t !== time) {
        time = t;
        timeText = `${t}`;
      }
      if (this.methods[i] !== method) {
        method = this.methods[i] as string;
        methodJson = JSON.stringify(method);
      }
      if (this.urls[i] !== url) {
        url = this.urls[i] as string;
        urlJson = JSON.stringify(url);
      }
      const responseTime = this.responseTimes[i] as number;
      out += `${this.head},"time":${timeText}${this.bindings[i]},"method":${methodJson},"url":${urlJson},"statusCode":${
        this.statusCodes[i]
      },"responseTime":${Number.isFinite(responseTime) ? responseTime : null},"msg":"request completed"${this.end}`;
      // Strings let go (a URL may be 16 KiB).
      this.bindings[i] = '';
      this.methods[i] = '';
      this.urls[i] = '';
    }
    write(out);
  }
}
