import { TapeError } from './errors.js';

/**
 * A `multipart/form-data` body (RFC 7578) read as a stream: each part's bytes are handed to the sink its
 * headers chose, as they arrive, never held whole (POST /pools/backtest: a loan tape and Freddie Mac
 * performance files in one request; POST /pools/score and /pools/lifetime: a scenario and a tape).
 * Memory: the part headers (at most 16 KiB) and a tail of the boundary's length kept between chunks.
 * The preamble and epilogue are ignored. A malformed body is a `layout` TapeError naming `body` and the
 * reason. A sink may answer a promise (a tape on worker threads with no room): the reader then waits
 * for it before it reads on, and `push` answers a promise that settles when the chunk is read, so that
 * the input waits too (stream.ts `feed`).
 */

export interface PartInfo {
  /** The form field name (`Content-Disposition: form-data; name="..."`). */
  readonly name: string;
  readonly filename?: string;
  /** The part's `Content-Type`, lower case without parameters, when given. */
  readonly contentType?: string;
  /** The part's position in the body, from 0. */
  readonly index: number;
}

export interface PartSink {
  /** A piece of the part's bytes; a promise when the reader must wait before it hands on more. */
  push(chunk: Buffer): Promise<void> | undefined | void;
  end(): void;
}

const MAX_HEADER_BYTES = 16 * 1024;
const HEADER_END = Buffer.from('\r\n\r\n');

/** The boundary of a `multipart/form-data` content type, or undefined. */
export function multipartBoundary(contentType: string | undefined): string | undefined {
  if (contentType === undefined || !/^\s*multipart\/form-data\s*;/i.test(contentType)) return undefined;
  const m = /;\s*boundary\s*=\s*(?:"([^"]{1,70})"|([^\s;"]{1,70}))/i.exec(contentType);
  return m ? (m[1] ?? m[2]) : undefined;
}

function refuse(message: string): never {
  throw new TapeError('layout', `the multipart body cannot be read: ${message}`, {
    details: [{ field: 'body', message }],
  });
}

export class MultipartReader {
  /** CRLF "--" boundary: what ends a part (the body is read as if it started with CRLF). */
  private readonly delimiter: Buffer;
  private state: 'preamble' | 'after' | 'headers' | 'body' | 'done' = 'preamble';
  private pending: Buffer = Buffer.from('\r\n');
  private sink: PartSink | undefined;
  private parts = 0;
  /** A sink's promise is pending: the caller must wait for push's promise before it pushes again. */
  private waiting = false;

  constructor(
    boundary: string,
    private readonly onPart: (part: PartInfo) => PartSink,
  ) {
    this.delimiter = Buffer.from(`\r\n--${boundary}`);
  }

  /** Reads a chunk; a promise when a sink made it wait (read nothing more until it settles). */
  push(chunk: Buffer): Promise<void> | undefined {
    if (this.waiting) throw new Error('MultipartReader.push called before its last promise settled');
    if (this.state === 'done') return undefined;
    const buf = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    this.pending = Buffer.alloc(0);
    return this.read(buf);
  }

  private read(from: Buffer): Promise<void> | undefined {
    let buf: Buffer | undefined = from;
    while (buf !== undefined) {
      const rest = this.step(buf);
      if (rest instanceof Promise) {
        this.waiting = true;
        return rest.finally(() => {
          this.waiting = false;
        });
      }
      buf = rest;
    }
    return undefined;
  }

  /** The body is over: it must have ended with the closing boundary. */
  end(): void {
    if (this.state !== 'done') {
      refuse(
        this.state === 'preamble'
          ? 'no part: the body holds no boundary line of the content type'
          : 'it ends before its closing boundary (--boundary--)',
      );
    }
  }

  /**
   * Reads what it can of `buf`: the bytes left to read (a state changed), undefined (wait for more), or
   * a promise (a sink made it wait; the rest is read when it settles, and the promise settles after).
   */
  private step(buf: Buffer): Buffer | undefined | Promise<void> {
    const d = this.delimiter;
    switch (this.state) {
      case 'preamble': {
        const at = buf.indexOf(d);
        if (at < 0) {
          this.pending = buf.subarray(Math.max(0, buf.length - d.length + 1));
          return undefined;
        }
        this.state = 'after';
        return buf.subarray(at + d.length);
      }
      case 'after': {
        // After a boundary: "--" closes the body; otherwise optional white space, then CRLF and headers.
        let i = 0;
        while (i < buf.length && (buf[i] === 0x20 || buf[i] === 0x09)) i++;
        if (buf.length - i < 2) {
          if (buf.length > 1024) refuse('a boundary line is followed by neither CRLF nor --');
          this.pending = buf;
          return undefined;
        }
        if (buf[i] === 0x2d && buf[i + 1] === 0x2d) {
          this.state = 'done';
          return undefined;
        }
        if (buf[i] !== 0x0d || buf[i + 1] !== 0x0a) refuse('a boundary line is followed by neither CRLF nor --');
        this.state = 'headers';
        return buf.subarray(i + 2);
      }
      case 'headers': {
        const at = buf.indexOf(HEADER_END);
        if (at < 0) {
          if (buf.length > MAX_HEADER_BYTES)
            refuse(`the headers of part ${this.parts} exceed ${MAX_HEADER_BYTES} bytes`);
          this.pending = buf;
          return undefined;
        }
        this.sink = this.onPart(this.partInfo(buf.toString('latin1', 0, at)));
        this.parts++;
        this.state = 'body';
        return buf.subarray(at + HEADER_END.length);
      }
      case 'body': {
        const sink = this.sink as PartSink;
        const at = buf.indexOf(d);
        if (at < 0) {
          // Keep what may be the start of the delimiter; hand on the rest.
          const keep = Math.min(buf.length, d.length - 1);
          this.pending = buf.subarray(buf.length - keep);
          return buf.length > keep ? (sink.push(buf.subarray(0, buf.length - keep)) ?? undefined) : undefined;
        }
        const wait = at > 0 ? sink.push(buf.subarray(0, at)) : undefined;
        const rest = buf.subarray(at + d.length);
        const close = () => {
          this.sink = undefined;
          sink.end();
          this.state = 'after';
        };
        if (wait === undefined) {
          close();
          return rest;
        }
        return wait.then(() => {
          close();
          return this.read(rest);
        });
      }
      case 'done':
        return undefined;
    }
  }

  private partInfo(headers: string): PartInfo {
    let name: string | undefined;
    let filename: string | undefined;
    let contentType: string | undefined;
    for (const line of headers.split('\r\n')) {
      const colon = line.indexOf(':');
      if (colon < 0) continue;
      const key = line.slice(0, colon).trim().toLowerCase();
      const value = line.slice(colon + 1).trim();
      if (key === 'content-disposition') {
        if (!/^form-data\s*(;|$)/i.test(value)) refuse(`part ${this.parts}: Content-Disposition must be form-data`);
        name = /;\s*name\s*=\s*(?:"([^"]*)"|([^\s;]+))/i
          .exec(value)
          ?.slice(1)
          .find((x) => x !== undefined);
        filename = /;\s*filename\s*=\s*(?:"([^"]*)"|([^\s;]+))/i
          .exec(value)
          ?.slice(1)
          .find((x) => x !== undefined);
      } else if (key === 'content-type') {
        contentType = value.split(';')[0]?.trim().toLowerCase();
      }
    }
    if (name === undefined || name === '') refuse(`part ${this.parts} has no Content-Disposition name`);
    return {
      name,
      index: this.parts,
      ...(filename === undefined ? {} : { filename }),
      ...(contentType === undefined ? {} : { contentType }),
    };
  }
}
