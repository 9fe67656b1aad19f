import pino from 'pino';
import type { RequestLines } from './request-log.js';

type Destination = ReturnType<typeof pino.destination>;

/**
 * Most bytes of log lines waiting to be written. When stdout is slower than the log (a stalled
 * collector, a pipe nobody reads), chunks beyond it are dropped, and counted (`droppedLines`, the
 * metric `log_lines_dropped_total`), instead of filling the memory without bound.
 */
export const LOG_BACKLOG_BYTES = 16 * 1024 * 1024;

/**
 * sonic-boom (pino's file-descriptor writer) writing each chunk as it comes, asynchronously, taking
 * chunks as bytes (`contentMode: 'buffer'`): a LogStream hands it Buffers. `minLength: 1`, not 0: both
 * write at once, but with 0 its `flush(callback)` calls back at once instead of after the write. At most
 * `maxBacklog` bytes wait (sonic-boom's `maxLength`); a chunk beyond is dropped whole.
 */
export const asyncDestination = (dest: number | string, maxBacklog = LOG_BACKLOG_BYTES): Destination =>
  pino.destination({ dest, sync: false, minLength: 1, contentMode: 'buffer', maxLength: maxBacklog });

/** The same, writing before it returns (tests, and where a line must be on disk at once). */
export const syncDestination = (dest: number | string): Destination =>
  pino.destination({ dest, sync: true, contentMode: 'buffer' });

/**
 * The service's log destination. pino hands over one line per call (RequestLines a batch of lines);
 * each is encoded (UTF-8) into the current chunk, a Buffer, and a chunk of at least `chunkLength` bytes
 * goes to sonic-boom,
 * which writes it asynchronously. Measured (docs/PERFORMANCE.md, "Over HTTP: `npm run bench`", the
 * session of 2026-12-06 15:00–16:20 UTC):
 * - sonic-boom buffering the lines itself (`minLength`) measures its whole pending buffer with
 *   Buffer.byteLength on every write: ~3 µs a line at 4 KiB, three times the cost of formatting it;
 * - lines gathered into a string instead, handed on at 4 KiB, leave sonic-boom one Buffer.byteLength
 *   a chunk, which flattens the string of ~20 lines: ~0.8 µs a request under load, and the string is
 *   encoded once more when written. Here each line is encoded once, while it is fresh.
 * Chunks go out when full, on `flush()` (the server calls it every second) and on `flushSync()` before
 * the process exits. The destination must take Buffers (`asyncDestination`, `syncDestination`).
 */
export class LogStream {
  private chunk: Buffer;
  private used = 0;
  private deferred: RequestLines | undefined;
  private dropped = 0;

  constructor(
    private readonly destination: Destination,
    private readonly chunkLength = 4096,
    private readonly spare = 8192,
  ) {
    this.chunk = this.fresh(0);
    // sonic-boom drops a chunk that would take its backlog past `maxLength` (asyncDestination). (Tests'
    // stand-ins for a destination have no events.)
    if (typeof destination.on === 'function') {
      destination.on('drop', (data: Buffer) => {
        this.dropped += linesIn(data);
      });
    }
  }

  /** Writes to a file descriptor (1: stdout) asynchronously. */
  static toFd(fd: number, chunkLength?: number): LogStream {
    return new LogStream(asyncDestination(fd), chunkLength);
  }

  /** Lines dropped because the destination's backlog was full (LOG_BACKLOG_BYTES). */
  get droppedLines(): number {
    return this.dropped;
  }

  /**
   * Lines kept as fields and formatted later (src/request-log.ts): they are formatted before any line
   * written after them, and on flush.
   */
  defer(lines: RequestLines): void {
    this.deferred = lines;
  }

  /** Formats the deferred lines kept so far into the chunk. */
  flushDeferred(): void {
    this.deferred?.drain(this.append);
  }

  write(line: string): boolean {
    if (this.deferred !== undefined && this.deferred.pending > 0) this.flushDeferred();
    this.append(line);
    return true;
  }

  private readonly append = (text: string): void => {
    // Written where it may fit (UTF-8 takes at least a byte per UTF-16 unit), then checked: Buffer#write
    // stops before a character that does not fit whole, so with more than 3 bytes to spare all of it is
    // there; otherwise its length in bytes says. A text that does not fit goes to a larger chunk, holding
    // what is gathered, so that lines are never cut between chunks.
    const room = this.chunk.length - this.used;
    let written = text.length <= room ? this.chunk.write(text, this.used) : -1;
    if (written < 0 || (room - written <= 3 && written !== Buffer.byteLength(text))) {
      const larger = this.fresh(this.used + Buffer.byteLength(text));
      this.chunk.copy(larger, 0, 0, this.used);
      this.chunk = larger;
      written = this.chunk.write(text, this.used);
    }
    this.used += written;
    if (this.used >= this.chunkLength) this.hand();
  };

  /** Sends what is gathered on its way; `callback` once it is written. */
  flush(callback?: (err?: Error) => void): void {
    this.flushDeferred();
    this.hand();
    this.destination.flush(callback);
  }

  /** Writes everything gathered before returning (at exit). */
  flushSync(): void {
    this.flushDeferred();
    this.hand();
    this.destination.flushSync();
  }

  /**
   * Room for a chunk and `spare` bytes more (8 KiB: a batch of 32 request lines of ~200 bytes), or for
   * `atLeast` bytes and a chunk. sonic-boom holds each chunk's whole buffer until it is written.
   */
  private fresh(atLeast: number): Buffer {
    return Buffer.allocUnsafe(Math.max(this.chunkLength + this.spare, atLeast + this.chunkLength));
  }

  private hand(): void {
    if (this.used === 0) return;
    // sonic-boom keeps the bytes until they are written: the next lines go to a new chunk.
    this.destination.write(this.chunk.subarray(0, this.used) as unknown as string);
    this.chunk = this.fresh(0);
    this.used = 0;
  }
}

/** Lines (line feeds) in a dropped chunk (a Buffer: the destinations here take bytes). */
function linesIn(chunk: Buffer): number {
  let n = 0;
  for (let at = chunk.indexOf(10); at !== -1; at = chunk.indexOf(10, at + 1)) n++;
  return n;
}
